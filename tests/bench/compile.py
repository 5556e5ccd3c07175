#!/usr/bin/env python3
"""Benchmark goslingc build on generated migrations (not a timed test).

Each migration holds a table, an index and three inserts, in Up and Down.  For
N = 1,000 and 10,000 it prints the median wall time of several runs, peak RSS
and the size of the generated C, plus the 10k/1k time ratio: linear growth is a
ratio near 10.

    tests/bench/compile.py [--runs 5] [--sizes 1000,10000]
    GOSLINGC=/path/to/other/goslingc tests/bench/compile.py   # another build
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


def generate(d, n):
    for v in range(1, n + 1):
        with open(os.path.join(d, f"{v:06d}_bench_{v}.sql"), "w") as f:
            f.write(TEMPLATE.format(v=v))


def run_once(d, out):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run([GOSLINGC, "build", "--quiet", "--out", out, d], check=True)
    wall = time.perf_counter() - t
    os.unlink(out)  # force a full write next time
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1000,10000")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
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
