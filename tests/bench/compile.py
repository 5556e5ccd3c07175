#!/usr/bin/env python3
"""Benchmark goslingc build on generated migrations (not a timed test).

Each migration holds a table, an index and three inserts, in Up and Down.  For
N = 1,000 and 10,000 it prints the median wall time of several runs, peak RSS
and the size of the generated C, plus the 10k/1k time ratio: linear growth is a
ratio near 10.

    tests/bench/compile.py [--runs 5] [--sizes 1000,10000]
    GOSLINGC=/path/to/other/goslingc tests/bench/compile.py   # another build

With --lint it measures what the safety lint costs instead: each migration also
alters the previous one's table (an index without CONCURRENTLY, a volatile
DEFAULT, a rename: three findings per file, printed), and every size is built
alternately with --lint=off and with the lint on (warnings to /dev/null); it
prints both medians and the lint's share of the build time.  On a shared, loaded
machine wall and even CPU time are noisy; --instructions counts the instructions
each build executes instead (valgrind's callgrind, one run each, slow but exact).
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOSLINGC = os.environ.get("GOSLINGC", os.path.join(ROOT, "build", "goslingc"))  # compare builds

TEMPLATE = """-- +goose Up
CREATE TABLE bench_{v} (
    id bigint PRIMARY KEY,
    label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bench_{v}_label_idx ON bench_{v} (label);
INSERT INTO bench_{v} (id, label) VALUES (1, 'one');
INSERT INTO bench_{v} (id, label) VALUES (2, 'two; with a semicolon');
INSERT INTO bench_{v} (id, label) VALUES (3, 'three');

-- +goose Down
DROP TABLE bench_{v};
"""


LINT_EXTRA = """-- +goose Up
CREATE INDEX bench_{p}_created_idx ON bench_{p} (created_at);
ALTER TABLE bench_{p} ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
ALTER TABLE bench_{p} RENAME COLUMN label TO title;
"""


def generate(d, n, lint=False):
    for v in range(1, n + 1):
        text = TEMPLATE.format(v=v)
        if lint and v > 1:
            text = text.replace("-- +goose Up\n", LINT_EXTRA.format(p=v - 1), 1)
        with open(os.path.join(d, f"{v:06d}_bench_{v}.sql"), "w") as f:
            f.write(text)


def lint_cost(a, sizes):
    """Median build time (wall and CPU) with --lint=off and with the lint on, alternating runs,
    for the plain template (no finding) and the one with three findings per file."""
    print(f"{'template':>9} {'migrations':>10} {'findings':>9} {'wall off':>9} {'wall on':>8} {'share':>6}"
          f" {'cpu off':>8} {'cpu on':>7} {'share':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for lint in (False, True):
            for n in sizes:
                d = os.path.join(tmp, f"m{n}{lint}")
                os.mkdir(d)
                generate(d, n, lint=lint)
                out = os.path.join(tmp, "bundle.c")
                runs = {"off": ([], []), "on": ([], [])}
                for _ in range(a.runs):
                    for key, flags in (("off", ["--lint=off"]), ("on", [])):
                        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
                        t = time.perf_counter()
                        subprocess.run([GOSLINGC, "build", *flags, "--out", out, d], check=True,
                                       stderr=subprocess.DEVNULL)
                        runs[key][0].append(time.perf_counter() - t)
                        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        runs[key][1].append(ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime)
                        os.unlink(out)
                r = subprocess.run([GOSLINGC, "lint", "--json", d], capture_output=True, text=True)
                findings = r.stdout.split('"findings": ')[1].split(",")[0]
                if a.instructions:
                    ir = {}
                    for key, flags in (("off", ["--lint=off"]), ("on", [])):
                        v = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                                            GOSLINGC, "build", *flags, "--out", out, d],
                                           capture_output=True, text=True, check=True)
                        ir[key] = int(v.stderr.split("Collected : ")[1].split()[0])
                        os.unlink(out)
                    print(f"{'findings' if lint else 'plain':>9} {n:>10} {findings:>9} instructions: off"
                          f" {ir['off']:,} on {ir['on']:,} share {(ir['on'] - ir['off']) / ir['off'] * 100:.1f}%")
                    continue
                w0, w1 = (statistics.median(runs[k][0]) for k in ("off", "on"))
                c0, c1 = (statistics.median(runs[k][1]) for k in ("off", "on"))
                print(f"{'findings' if lint else 'plain':>9} {n:>10} {findings:>9} {w0:>9.3f} {w1:>8.3f}"
                      f" {(w1 - w0) / w0 * 100:>5.1f}% {c0:>8.3f} {c1:>7.3f} {(c1 - c0) / c0 * 100:>5.1f}%")
    print("share: (on - off) / off, the lint's cost relative to a build without it")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--lint", action="store_true", help="measure the safety lint's cost")
    ap.add_argument("--instructions", action="store_true", help="with --lint: count instructions (callgrind)")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    if a.lint:
        return lint_cost(a, sizes)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            d = os.path.join(tmp, f"m{n}")
            os.mkdir(d)
            generate(d, n)
            out = os.path.join(tmp, f"bundle{n}.c")
            times = []
            rss = 0
            for _ in range(a.runs):
                wall, maxrss, _ = run_once(d, out)
                times.append(wall)
                rss = max(rss, maxrss)
            subprocess.run([GOSLINGC, "build", "--quiet", "--out", out, d], check=True)
            size = os.path.getsize(out)
            src = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            rows.append((n, statistics.median(times), rss, size, src))
    print(f"{'migrations':>10} {'median s':>9} {'peak RSS':>10} {'gen/bundle.c':>13} {'sources':>10}")
    for n, t, rss, size, src in rows:
        print(f"{n:>10} {t:>9.3f} {rss / 1024:>8.1f}MB {size / 1e6:>11.2f}MB {src / 1e6:>8.2f}MB")
    if len(rows) >= 2:
        (n0, t0, *_), (n1, t1, *_) = rows[0], rows[-1]
        print(f"time ratio {n1}/{n0}: {t1 / t0:.1f} (linear = {n1 / n0:.0f})")
    print("note: peak RSS is the largest of any goslingc run so far (RUSAGE_CHILDREN)")


if __name__ == "__main__":
    sys.exit(main())
