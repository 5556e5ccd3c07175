#!/usr/bin/env python3
"""Benchmark applying migrations: gosling against other runners (not a timed test).

Run through tests/bench/run, which installs the contenders, builds, and starts a throwaway
PostgreSQL (tests/lib/pg.sh: PGHOST = its socket dir, PGPORT, PGUSER) before calling this.

Workloads, for N = 100, 1,000 and 10,000 generated migrations (a table, an index and three
inserts each, the same statements for every tool, in each tool's own file format):
  up      apply all N to an empty database
  noop    run again with everything applied
  verify  gosling verify (dbmate and sql-migrate: status; they keep no checksums)
each at 0 ms (TCP to 127.0.0.1) and through tests/bench/latency_proxy.py at 1 and 5 ms round
trip, one proxy per latency, each calibrated and checked at the start (a round trip adds the
latency; 4 MB up or down adds the same, not more).  Then one migration returning 3,000,000
rows, for gosling's peak RSS.

Contenders: gosling (CLI, and the same binary as a Lambda bootstrap served {} by the local
Runtime API, tests/lambda/runtime_api.py), psql sending the same SQL as one query at 0 ms
(each migration in BEGIN ... COMMIT: the server's own work, the baseline), psql statement by
statement in one session, dbmate, sql-migrate, and a Node runner of the seeds' kind
(tests/bench/node_runner.js, `pg`, one transaction per file).

    tests/bench/apply.py --out tests/bench/results [--sizes 100,1000,10000] [--reps 5,3,1]
                         [--latencies 0,1,5] [--rows 3000000] [--link host|x86_64]
                         [--tools gosling,lambda,psql1,psql,dbmate,sql-migrate,node]
"""
import argparse, csv, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "tests", "bench")
NODE_DIR = os.path.join(ROOT, "build", "bench", "node")
DBMATE = os.path.join(NODE_DIR, "node_modules", "@dbmate", "linux-x64", "bin", "dbmate")
SQL_MIGRATE = shutil.which("sql-migrate") or "/usr/bin/sql-migrate"
TIME = "/usr/bin/time"

UP = [
    "CREATE TABLE bench_{v} (\n    id bigint PRIMARY KEY,\n    label text NOT NULL,\n"
    "    created_at timestamptz NOT NULL DEFAULT now()\n);",
    "CREATE INDEX bench_{v}_label_idx ON bench_{v} (label);",
    "INSERT INTO bench_{v} (id, label) VALUES (1, 'one');",
    "INSERT INTO bench_{v} (id, label) VALUES (2, 'two; with a semicolon');",
    "INSERT INTO bench_{v} (id, label) VALUES (3, 'three');",
]
DOWN = ["DROP TABLE bench_{v};"]
FORMATS = {  # tool: (up annotation, down annotation); None = up statements only
    "goose": ("-- +goose Up", "-- +goose Down"),
    "dbmate": ("-- migrate:up", "-- migrate:down"),
    "sqlmigrate": ("-- +migrate Up", "-- +migrate Down"),
    "node": None,
}
TOOLS = ["gosling", "lambda", "psql1", "psql", "dbmate", "sql-migrate", "node"]
LABEL = {
    "gosling": "gosling (CLI)",
    "lambda": "gosling (Lambda, local Runtime API)",
    "psql1": "psql, same SQL as one query (baseline)",
    "psql": "psql, same SQL, statement by statement",
    "dbmate": "dbmate",
    "sql-migrate": "sql-migrate",
    "node": "Node runner (pg, a transaction per file)",
}
SHORT = {"gosling": "gosling CLI", "lambda": "gosling Lambda", "psql1": "psql, one query",
         "psql": "psql, per statement", "dbmate": "dbmate",
         "sql-migrate": "sql-migrate", "node": "Node pg runner"}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def psql_admin(sql, db="postgres"):
    """Through the socket (PGHOST), never through the proxy."""
    return sh(["psql", "-c", "SET client_min_messages = warning", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
              stdout=subprocess.PIPE, text=True).stdout.strip()


def generate(base, n):
    for fmt, ann in FORMATS.items():
        d = os.path.join(base, fmt)
        os.makedirs(d)
        for v in range(1, n + 1):
            up = "\n".join(s.format(v=v) for s in UP)
            down = "\n".join(s.format(v=v) for s in DOWN)
            text = up + "\n" if ann is None else "%s\n%s\n\n%s\n%s\n" % (ann[0], up, ann[1], down)
            with open(os.path.join(d, "%06d_bench_%d.sql" % (v, v)), "w") as f:
                f.write(text)
    with open(os.path.join(base, "all.sql"), "w") as f:
        for v in range(1, n + 1):
            f.write("BEGIN;\n" + "\n".join(s.format(v=v) for s in UP) + "\nCOMMIT;\n")
    # the same, as one simple query: psql's \; ends a statement without sending it
    with open(os.path.join(base, "all.sql")) as f, open(os.path.join(base, "one.sql"), "w") as g:
        g.write(f.read().replace(";\n", "\\;\n")[:-3] + ";\n")


def zip_size(out, files):
    """Deflate level 9, as goslingc zip does; FILES: [(path, name in zip)]."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path, name in files:
            z.write(path, name)
    return os.path.getsize(out)


def build_gosling(base, link):
    src, out = os.path.join(base, "bundle.c"), os.path.join(base, "gosling")
    sh([os.path.join(ROOT, "build", "goslingc"), "build", "--quiet", "--out", src, os.path.join(base, "goose")])
    env = dict(os.environ, GOSLING_TEST_ARCH=link)
    sh(["bash", "-c", '. "$1"; gosling_link "$2" "$3"', "_", os.path.join(ROOT, "tests", "lib", "gosling.sh"),
        out, src], env=env)
    stripped = os.path.join(base, "bootstrap")
    sh(["strip", "-o", stripped, out])
    return out, os.path.getsize(stripped), zip_size(os.path.join(base, "gosling.zip"), [(stripped, "bootstrap")])


def artifact_sizes(base, tool, n):
    """(binary bytes, deployment zip bytes) of what a Lambda would carry, or None."""
    def tree(d, prefix):
        return [(os.path.join(r, f), os.path.join(prefix, os.path.relpath(os.path.join(r, f), d)))
                for r, _, fs in os.walk(d) for f in sorted(fs)]
    z = os.path.join(base, tool + ".zip")
    if tool == "dbmate":
        return os.path.getsize(DBMATE), zip_size(z, [(DBMATE, "dbmate")] + tree(os.path.join(base, "dbmate"), "db/migrations"))
    if tool == "sql-migrate":
        return os.path.getsize(SQL_MIGRATE), zip_size(z, [(SQL_MIGRATE, "sql-migrate")] +
                                                     tree(os.path.join(base, "sqlmigrate"), "migrations"))
    if tool == "node":
        files = [(os.path.join(BENCH, "node_runner.js"), "index.js")] + tree(os.path.join(base, "node"), "migrations")
        for m in sorted(os.listdir(os.path.join(NODE_DIR, "node_modules"))):
            if m.startswith(("pg", "postgres-", "split2", "xtend")):
                files += tree(os.path.join(NODE_DIR, "node_modules", m), "node_modules/" + m)
        sz = sum(os.path.getsize(p) for p, _ in files)
        return sz, zip_size(z, files)
    return None


class Proxy:
    def __init__(self, port, delay_ms, log):
        self.log = log
        self.p = subprocess.Popen([sys.executable, os.path.join(BENCH, "latency_proxy.py"), "--target",
                                   "127.0.0.1:%s" % port, "--delay-ms", str(delay_ms), "--log", log],
                                  stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())

    def take(self):
        """The records of the connections accepted since the last take, once each has one
        (the client's EOF can reach a busy proxy a little after the client exited)."""
        until = time.monotonic() + 10
        while True:
            lines = []
            if os.path.exists(self.log):
                with open(self.log) as f:
                    lines = [json.loads(line) for line in f if line.endswith("\n")]
            accepted = {x["accepted"] for x in lines if "accepted" in x}
            recs = [x for x in lines if "id" in x]
            if accepted <= {x["id"] for x in recs} or time.monotonic() > until:
                break
            time.sleep(0.02)
        if os.path.exists(self.log):
            os.unlink(self.log)
        return recs

    def stop(self):
        self.p.terminate()
        self.p.wait()


BULK_BYTES = 4000000


def timed_queries(port, tmp, pings, bulk):
    """psql's \\timing of each query in one session through PORT: PINGS `SELECT 1`, then, if
    BULK, a query of BULK_BYTES (up) and one returning BULK_BYTES (down).  Each time runs from
    the query sent to its result read: one round trip plus the bytes.  Returns (ping ms list,
    up ms, down ms)."""
    script = os.path.join(tmp, "timed.sql")
    with open(script, "w") as f:
        f.write("\\timing on\n" + "SELECT 1;\n" * pings)
        if bulk:
            f.write("SELECT length('%s');\nSELECT repeat('x', %d);\n" % ("x" * BULK_BYTES, BULK_BYTES))
    out = sh(["psql", "-X", "-q", "-A", "-t", "-d", "postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable" % port,
              "-f", script], stdout=subprocess.PIPE, text=True).stdout
    ms = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time: ")]
    return ms[:pings], (ms[pings] if bulk else None), (ms[pings + 1] if bulk else None)


def measure_proxy(port, proxy_port, tmp, bulk, rounds=3):
    """Medians over ROUNDS, direct and through the proxy interleaved: (added per round trip,
    added to the bulk query up, added to the bulk query down, direct up, direct down), ms."""
    dp, pp, du, pu, dd, pd = [], [], [], [], [], []
    for _ in range(rounds):
        for port_, ping, up, down in ((port, dp, du, dd), (proxy_port, pp, pu, pd)):
            p, u, d = timed_queries(port_, tmp, 100, bulk)
            ping.append(statistics.median(p))
            if bulk:
                up.append(u)
                down.append(d)
    m = statistics.median
    rtt = m(pp) - m(dp)
    if not bulk:
        return rtt, None, None, None, None
    return rtt, m(pu) - m(du), m(pd) - m(dd), m(du), m(dd)


def calibrate(port, rtt_ms, tmp):
    """Start a proxy whose added round trip, measured with psql against direct, is RTT_MS
    ± 10% (a loaded machine may add wake-up time to each chunk), then check that it delays
    bytes, not work: a 4 MB query up and a 4 MB result down must each take their direct time
    plus one round trip, like `SELECT 1`.  Returns (proxy, a dict of what was measured)."""
    delay = rtt_ms / 2
    for attempt in range(4):
        proxy = Proxy(port, delay, os.path.join(tmp, "conns%g.jsonl" % rtt_ms))
        added = measure_proxy(port, proxy.port, tmp, False)[0]
        proxy.take()
        print("proxy %g ms: %.3f ms each way adds %.2f ms per round trip" % (rtt_ms, delay, added), flush=True)
        if abs(added - rtt_ms) <= 0.1 * rtt_ms or attempt == 3:
            break
        proxy.stop()
        # damped, and never below a quarter of the delay asked for: on a loaded machine one
        # measurement can be far off
        delay = min(rtt_ms / 2, max(rtt_ms / 8, delay - (added - rtt_ms) / 4))
    rtt, up, down, direct_up, direct_down = measure_proxy(port, proxy.port, tmp, True)
    proxy.take()
    print("proxy %g ms: round trip +%.2f ms; 4 MB up +%.2f ms (direct %.1f ms); 4 MB down +%.2f ms (direct %.1f ms)"
          % (rtt_ms, rtt, up, direct_up, down, direct_down), flush=True)
    return proxy, dict(target=rtt_ms, delay=delay, rtt=rtt, up=up, down=down, direct_up=direct_up,
                       direct_down=direct_down)


def command(tool, action, base, db, host, port, gosling, tmp):
    """(argv, env) for one run; None when the tool has no such action."""
    url = "postgres://postgres@%s:%d/%s?sslmode=disable" % (host, port, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DB_", "DATABASE_URL", "AWS_"))}
    env["DATABASE_URL"] = url
    if tool == "gosling":
        return [gosling, "up" if action in ("up", "noop") else "verify"], env
    if tool == "lambda":
        ev = '{"command": "verify"}' if action == "verify" else "{}"
        return [sys.executable, os.path.join(ROOT, "tests", "lambda", "runtime_api.py"), "--event", ev,
                "--log", os.path.join(tmp, "rapi.json"), "--at-end", "close", "--timeout", "900", "--",
                TIME, "-f", "%M", "-o", os.path.join(tmp, "rss"), gosling], env
    if tool == "psql1":
        if action == "up":
            return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", os.path.join(base, "one.sql")], env
        return None
    if tool == "psql":
        if action == "up":
            return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", os.path.join(base, "all.sql")], env
        if action == "noop":  # the floor for a no-op: connect and one query
            return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", "SELECT 1"], env
        return None
    if tool == "dbmate":
        return [DBMATE, "--url", url, "--migrations-dir", os.path.join(base, "dbmate"), "--no-dump-schema",
                "migrate" if action in ("up", "noop") else "status"], env
    if tool == "sql-migrate":
        cfg = os.path.join(tmp, "dbconfig.yml")
        with open(cfg, "w") as f:
            f.write("bench:\n  dialect: postgres\n  datasource: host=%s port=%d dbname=%s user=postgres sslmode=disable\n"
                    "  dir: %s\n" % (host, port, db, os.path.join(base, "sqlmigrate")))
        return [SQL_MIGRATE, "up" if action in ("up", "noop") else "status", "-config=" + cfg, "-env=bench"], env
    if tool == "node":
        if action == "verify":
            return None
        env["NODE_PATH"] = os.path.join(NODE_DIR, "node_modules")
        return ["node", os.path.join(BENCH, "node_runner.js"), os.path.join(base, "node")], env
    raise ValueError(tool)


def run_one(tool, action, base, db, host, port, gosling, tmp):
    """Run once; returns (seconds, peak RSS KiB, t0 monotonic ns) or raises."""
    cmd = command(tool, action, base, db, host, port, gosling, tmp)
    if cmd is None:
        return None
    argv, env = cmd
    rss = os.path.join(tmp, "rss")
    if os.path.exists(rss):
        os.unlink(rss)
    if tool != "lambda":
        argv = [TIME, "-f", "%M", "-o", rss] + argv
    t0 = time.monotonic_ns()
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = (time.monotonic_ns() - t0) / 1e9
    out = p.stdout.decode(errors="replace")
    if tool == "lambda":
        with open(os.path.join(tmp, "rapi.json")) as f:
            log = json.load(f)
        inv = log["invocations"][0] if log["invocations"] else {}
        if inv.get("kind") != "response":
            raise RuntimeError("lambda %s: %s\n%s" % (action, json.dumps(inv)[:2000], out[-2000:]))
        wall = (inv["answered_t_ms"] - inv["served_t_ms"]) / 1e3
    elif p.returncode != 0:
        raise RuntimeError("%s %s exited %d:\n%s" % (tool, action, p.returncode, out[-3000:]))
    with open(rss) as f:
        kib = int(f.read().split()[-1])
    return wall, kib, t0


def skipped(spec, n, lat, tool):
    for item in filter(None, spec.split(",")):
        sn, sl, st = item.split(":")
        if int(sn) == n and st == tool and (sl == "*" or float(sl) == lat):
            return True
    return False


# The Lambda face runs the CLI's engine; at N = 10,000 the runners that pay round trips per
# statement run direct only (through 5 ms, 80,000 round trips are 15 minutes of waiting).
DEFAULT_SKIP = ",".join(["10000:*:lambda", "10000:*:node"] +
                        ["10000:%s:%s" % (l, t) for l in ("1", "5") for t in ("psql", "dbmate", "sql-migrate")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(BENCH, "results"))
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--reps", default="5,3,1", help="repetitions per size (slow tools: see --slow-reps)")
    ap.add_argument("--slow-reps", default="3,1,1",
                    help="repetitions per size for the Node runner, and for psql, dbmate and sql-migrate "
                         "through the proxy (a round trip per statement)")
    ap.add_argument("--skip", default=DEFAULT_SKIP,
                    help="N:LATENCY:TOOL runs left out (LATENCY may be *; default: %s)" % DEFAULT_SKIP)
    ap.add_argument("--rows", type=int, default=3000000,
                    help="rows a single migration returns, for its peak RSS (0: leave it out)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--link", default="host", help="gosling build: host or x86_64 (tests/lib/gosling.sh)")
    ap.add_argument("--latencies", default="0,1,5", help="round-trip ms: 0 direct, >0 through a proxy each")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    reps = dict(zip(sizes, [int(r) for r in a.reps.split(",")]))
    slow_reps = dict(zip(sizes, [int(r) for r in a.slow_reps.split(",")]))
    tools = [t for t in a.tools.split(",") if t]
    for t in tools:
        if t not in TOOLS:
            sys.exit("unknown tool %s (%s)" % (t, ", ".join(TOOLS)))
    tools = [t for t in tools if not (t == "dbmate" and not os.path.exists(DBMATE)) and
             not (t == "sql-migrate" and not os.path.exists(SQL_MIGRATE)) and
             not (t == "node" and not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg")))]
    latencies = [float(x) for x in a.latencies.split(",")]
    port = int(os.environ["PGPORT"])
    os.makedirs(a.out, exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[:3]
    started = time.time()

    tmp = tempfile.mkdtemp(prefix="gosling-bench.")
    proxies = {}   # latency -> (Proxy, what calibrate measured)
    rows_result = None
    samples = {}   # (n, lat, tool, action) -> list of (wall, kib, round trips, conns, first byte s, first query s)
    sizes_of = {}  # (n, tool) -> (binary, zip)
    try:
        for lat in latencies:
            if lat > 0:
                proxies[lat] = calibrate(port, lat, tmp)
        for n in sizes:
            base = os.path.join(tmp, "n%d" % n)
            generate(base, n)
            gosling = None
            if "gosling" in tools or "lambda" in tools:
                gosling, b, z = build_gosling(base, a.link)
                sizes_of[(n, "gosling")] = (b, z)
            for t in tools:
                s = artifact_sizes(base, t, n)
                if s:
                    sizes_of[(n, t)] = s
            order = list(tools)
            for r in range(max(reps[n], slow_reps.get(n, 0))):
                for lat in latencies:
                    for tool in order:
                        slow = tool == "node" or lat > 0 and tool in ("psql", "dbmate", "sql-migrate")
                        want = slow_reps[n] if slow else reps[n]
                        if r >= want or skipped(a.skip, n, lat, tool) or tool == "psql1" and lat > 0:
                            continue
                        db = "b%d_%s_%d" % (n, tool.replace("-", "_"), r)
                        psql_admin("DROP DATABASE IF EXISTS %s" % db)
                        psql_admin("CREATE DATABASE %s TEMPLATE template0" % db)
                        proxy = proxies[lat][0] if lat > 0 else None
                        p = proxy.port if proxy else port
                        for action in ("up", "noop", "verify"):
                            res = run_one(tool, action, base, db, "127.0.0.1", p, gosling, tmp)
                            if res is None:
                                continue
                            wall, kib, t0 = res
                            rt = conns = fb = fq = sent = got_b = None
                            if proxy:
                                recs = proxy.take()
                                conns = len(recs)
                                rt = sum(c["turns_after_query"] for c in recs)
                                sent = sum(c["c2s_bytes"] for c in recs)
                                got_b = sum(c["s2c_bytes"] for c in recs)
                                if tool != "lambda" and recs:
                                    fb = (min(c["t_first_byte"] for c in recs if c["t_first_byte"]) - t0) / 1e9
                                    qs = [c["t_first_query"] for c in recs if c["t_first_query"]]
                                    fq = (min(qs) - t0) / 1e9 if qs else None
                            if action == "up":
                                got = int(psql_admin("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND "
                                                     "relname LIKE 'bench\\_%'", db))
                                if got != n:
                                    raise RuntimeError("%s up at N=%d left %d tables" % (tool, n, got))
                            samples.setdefault((n, lat, tool, action), []).append((wall, kib, rt, conns, fb, fq, sent, got_b))
                            print("N=%-5d %4.1fms %-12s %-6s %8.3fs %6.1fMB%s" % (
                                n, lat, tool, action, wall, kib / 1024,
                                "" if rt is None else " %d round trips, %d conns" % (rt, conns)), flush=True)
                        psql_admin("DROP DATABASE %s" % db)
                    order = order[1:] + order[:1]  # rotate: no tool always runs first
        if a.rows:
            rows_result = rows_run(a, tmp, port)
    finally:
        for proxy, _ in proxies.values():
            proxy.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = open("/proc/loadavg").read().split()[:3]
    report(a, sizes, latencies, tools, reps, slow_reps, samples, sizes_of, {l: c for l, (_, c) in proxies.items()},
           rows_result, load_before, load_after, time.time() - started)


def rows_run(a, tmp, port):
    """gosling up of one migration returning A.ROWS rows, and psql running the same SQL, at
    0 ms: {tool: (seconds, peak RSS KiB)}."""
    base = os.path.join(tmp, "rows")
    sql = "SELECT g, md5(g::text) FROM generate_series(1, %d) g;" % a.rows
    os.makedirs(os.path.join(base, "goose"))
    with open(os.path.join(base, "goose", "000001_rows.sql"), "w") as f:
        f.write("-- +goose Up\n%s\n" % sql)
    with open(os.path.join(base, "one.sql"), "w") as f:
        f.write(sql + "\n")
    gosling = build_gosling(base, a.link)[0]
    out = {}
    for tool in ("gosling", "psql1"):
        db = "rows_%s" % tool
        psql_admin("DROP DATABASE IF EXISTS %s" % db)
        psql_admin("CREATE DATABASE %s TEMPLATE template0" % db)
        wall, kib, _ = run_one(tool, "up", base, db, "127.0.0.1", port, gosling, tmp)
        psql_admin("DROP DATABASE %s" % db)
        out[tool] = (wall, kib)
        print("rows=%d %-8s %8.3fs %6.1fMB" % (a.rows, tool, wall, kib / 1024), flush=True)
    return out


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def lat_label(lat, cal):
    """A column's name: the latency asked for and, through the proxy, the round trip it added."""
    if lat == 0:
        return "0 ms"
    return "%g ms (+%.2f)" % (lat, cal[lat]["rtt"]) if lat in cal else "%g ms" % lat


def report(a, sizes, latencies, tools, reps, slow_reps, samples, sizes_of, cal, rows_result, lb, la, secs):
    rows = []
    for n in sizes:
        for lat in latencies:
            for tool in tools:
                for action in ("up", "noop", "verify"):
                    s = samples.get((n, lat, tool, action))
                    if not s:
                        continue
                    rows.append(dict(n=n, latency_ms=lat,
                                     added_rtt_ms=cal[lat]["rtt"] if lat in cal else 0.0,
                                     tool=tool, action=action, runs=len(s),
                                     median_s=med([x[0] for x in s]), peak_rss_kib=max(x[1] for x in s),
                                     round_trips=med([x[2] for x in s]), connections=med([x[3] for x in s]),
                                     start_to_first_byte_ms=None if med([x[4] for x in s]) is None else med([x[4] for x in s]) * 1e3,
                                     start_to_first_query_ms=None if med([x[5] for x in s]) is None else med([x[5] for x in s]) * 1e3,
                                     sent_bytes=med([x[6] for x in s]), received_bytes=med([x[7] for x in s])))
    # baselines, at 0 ms: for up, the same SQL as one query; for noop and verify, connect and SELECT 1
    base_up = {r["n"]: r["median_s"] for r in rows if r["tool"] == "psql1" and r["latency_ms"] == 0 and r["action"] == "up"}
    base_noop = {r["n"]: r["median_s"] for r in rows if r["tool"] == "psql" and r["latency_ms"] == 0 and r["action"] == "noop"}
    for r in rows:
        b = base_up.get(r["n"]) if r["action"] == "up" else base_noop.get(r["n"])
        r["x_baseline"] = r["median_s"] / b if b else None
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("%.6g" % v if isinstance(v, float) else v) for k, v in r.items()})
    # gnuplot data: one block per (tool, latency) for the up action, titles on one line
    titles, styles = [], []
    with open(os.path.join(a.out, "time-vs-n.dat"), "w") as f:
        for tool in tools:
            for k, lat in enumerate(latencies):
                pts = [(r["n"], r["median_s"]) for r in rows if r["tool"] == tool and r["latency_ms"] == lat and r["action"] == "up"]
                if pts:
                    titles.append('"%s, %s"' % (SHORT[tool], lat_label(lat, cal)))
                    styles.append("%d %d" % (TOOLS.index(tool), k))
                    f.write("# %s\n" % titles[-1])
                    for n, t in pts:
                        f.write("%d %.6f\n" % (n, t))
                    f.write("\n\n")
    with open(os.path.join(a.out, "time-vs-n.titles"), "w") as f:
        f.write(" ".join(titles) + "\n")
    with open(os.path.join(a.out, "time-vs-n.styles"), "w") as f:
        f.write(" ".join(styles) + "\n")

    def kb(v):
        return "—" if v is None else ("%.1f MB" % (v / 1e6) if v >= 1e6 else "%.0f kB" % (v / 1e3))

    def fmt(v, spec, unit=""):
        return "—" if v is None else (spec % v) + unit

    def get(n, lat, tool, action):
        for r in rows:
            if (r["n"], r["latency_ms"], r["tool"], r["action"]) == (n, lat, tool, action):
                return r
        return None

    counted = min([l for l in latencies if l > 0], default=None)  # where round trips are counted
    L = []
    L.append("# Applying migrations: gosling against other runners\n")
    L.append("Produced by `tests/bench/run` (apply.py %s) on %s (%s). Machine: %s, %d cores, shared; load "
             "average %s before, %s after (1, 5, 15 min). Run took %.0f s.\n" % (
                 " ".join(x for x in sys.argv[1:] if x not in ("--out", a.out)),
                 time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), platform_line(), cpu_model(),
                 os.cpu_count(), "/".join(lb), "/".join(la), secs))
    L.append("PostgreSQL 15, throwaway (`initdb`, `fsync=off`), over TCP on 127.0.0.1. Each migration: "
             "a table, an index, three inserts (5 statements); the same statements for every tool. "
             "Every `up` starts from an empty database (created from template0 outside the timing); "
             "`noop` runs `up` again with everything applied; `verify` is gosling's drift check "
             "(dbmate and sql-migrate: `status`, which checks no checksums). "
             "Medians of %s runs for N = %s (the Node runner, and psql, dbmate and sql-migrate through "
             "the proxy: %s; the runs column says), contenders interleaved (order rotated every round); "
             "left out: %s.\n" % (
                 "/".join(str(reps[n]) for n in sizes), "/".join(str(n) for n in sizes),
                 "/".join(str(slow_reps[n]) for n in sizes), a.skip or "nothing"))
    L.append("**Baseline** (the × columns): for `up`, psql sending the same SQL as **one query** at 0 ms "
             "(each migration in BEGIN … COMMIT, statements joined with psql's `\\;`): the server's own "
             "work, the floor for any client; for `noop` and `verify`, `psql -c 'SELECT 1'` at 0 ms "
             "(connect and one query). psql statement by statement is listed beside it.\n")
    if cal:
        L.append("**Latency**: each column above 0 ms goes through its own `tests/bench/latency_proxy.py`, "
                 "calibrated at the start of the run so that the round trip it adds, measured with psql's "
                 "`\\timing` of `SELECT 1` × 100 in one session (median of 3 sessions, against direct), is "
                 "the target ± 10%; the column is labelled with that measured figure. Then each proxy is "
                 "checked for what it must not do, cost time per byte: a 4 MB query up and a 4 MB result "
                 "down must each take their direct time plus one round trip.\n")
        L.append("| target round trip | one-way delay set | added: `SELECT 1` | added: 4 MB query up | "
                 "added: 4 MB result down | direct: up / down |")
        L.append("|---:|---:|---:|---:|---:|---:|")
        for lat in sorted(cal):
            c = cal[lat]
            L.append("| %g ms | %.3f ms | %.2f ms | %.2f ms | %.2f ms | %.1f / %.1f ms |" % (
                lat, c["delay"], c["rtt"], c["up"], c["down"], c["direct_up"], c["direct_down"]))
        L.append("")
    L.append("Figures: wall time (gosling Lambda: the invocation, `/next` answered to `/response` "
             "received, as Lambda bills it; process start is in [Cold start](../../../docs/benchmarks.md#cold-start)); "
             "× = time / the baseline's time at 0 ms for the same N; peak RSS (`/usr/bin/time -f %%M`, "
             "the largest of the runs); round trips after the connection is set up (client→server "
             "turns from the first query on, summed over connections, counted by the proxy at %s); "
             "start → first query: exec to the first query message leaving the client (at %s, so "
             "it includes the connection handshake's round trips).\n" % (
                 lat_label(counted, cal) if counted else "—", lat_label(counted, cal) if counted else "—"))
    for action, title in (("up", "apply N migrations to an empty database"),
                          ("noop", "nothing to do (all applied)"), ("verify", "verify / status")):
        L.append("\n## %s\n" % title)
        head = "| N | tool |" + "".join(" %s | × |" % lat_label(l, cal) for l in latencies) + \
            " runs | peak RSS | round trips | conns | sent | start → first query |"
        L.append(head)
        L.append("|---:|---|" + "---:|---:|" * len(latencies) + "---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            for tool in tools:
                rs = [get(n, l, tool, action) for l in latencies]
                if not any(rs):
                    continue
                rc = get(n, counted, tool, action) if counted else None
                rss = max(r["peak_rss_kib"] for r in rs if r)
                name = LABEL[tool] if not (tool == "psql" and action != "up") else "psql -c 'SELECT 1' (baseline)"
                cells = "".join(" %s | %s |" % (fmt(r and r["median_s"], "%.3f", " s"), fmt(r and r["x_baseline"], "%.2f"))
                                for r in rs)
                L.append("| %s | %s |%s %s | %s | %s | %s | %s | %s |" % (
                    "{:,}".format(n), name, cells, "/".join(str(r["runs"] if r else 0) for r in rs),
                    fmt(rss / 1024, "%.1f", " MB"), fmt(rc and rc["round_trips"], "%d"),
                    fmt(rc and rc["connections"], "%d"), kb(rc and rc["sent_bytes"]),
                    fmt(rc and rc["start_to_first_query_ms"], "%.1f", " ms")))
    if rows_result:
        L.append("\n## one migration returning {:,} rows\n".format(a.rows))
        L.append("`SELECT g, md5(g::text) FROM generate_series(1, {:,}) g` as the only statement of one "
                 "migration, applied at 0 ms; psql runs the same statement (its peak RSS is the whole "
                 "result, which psql holds to print it).\n".format(a.rows))
        L.append("| tool | time | × psql | peak RSS |")
        L.append("|---|---:|---:|---:|")
        for tool in ("gosling", "psql1"):
            wall, kib = rows_result[tool]
            L.append("| %s | %.3f s | %.2f | %.1f MB |" % ("gosling (CLI)" if tool == "gosling" else "psql",
                                                         wall, wall / rows_result["psql1"][0], kib / 1024))
    L.append("\n## Artifact sizes\n")
    L.append("What a Lambda function would carry: gosling's stripped bootstrap (migrations compiled in; "
             "`--link %s`) and its zip; dbmate's and sql-migrate's binaries plus the migration files; "
             "the Node runner, `pg` and its dependencies plus the files (the runtime provides node). "
             "Zips: deflate level 9.\n" % a.link)
    L.append("| N | tool | binary / files | zip |")
    L.append("|---:|---|---:|---:|")
    for n in sizes:
        for tool in ("gosling", "dbmate", "sql-migrate", "node"):
            s = sizes_of.get((n, tool))
            if s:
                name = "gosling bootstrap, stripped" if tool == "gosling" else LABEL[tool]
                L.append("| {:,} | {} | {:,} B | {:,} B |".format(n, name, s[0], s[1]))
    L.append("\n## Outcome\n")
    L.extend(outcomes(rows, sizes, tools, get, rows_result, a.rows))
    L.append("\n![time against N](time-vs-n.png)\n")
    text = "\n".join(L) + "\n"
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    print(text)


def outcomes(rows, sizes, tools, get, rows_result, nrows):
    out = []
    g1 = get(1000, 1, "gosling", "up")
    if g1:
        for other in ("dbmate", "sql-migrate"):
            o = get(1000, 1, other, "up")
            if o:
                x = o["median_s"] / g1["median_s"]
                out.append("- 1,000 migrations at 1 ms: gosling %.3f s, %s %.3f s: **%.1f× faster** (target ≥ 10×: %s)"
                           % (g1["median_s"], other, o["median_s"], x, "holds" if x >= 10 else "SHORT"))
        p0 = get(1000, 0, "psql1", "up")
        short = [o for o in ("dbmate", "sql-migrate") if get(1000, 1, o, "up")
                 and get(1000, 1, o, "up")["median_s"] / g1["median_s"] < 10]
        if p0 and short:
            w = p0["median_s"] / 1000 * 1e3
            for o in short:
                r = get(1000, 1, o, "up")
                k = r["round_trips"] / 1000 if r["round_trips"] else None
                out.append("  - why %s falls short: the server's own work (psql, one query, at 0 ms) is %.1f ms per "
                           "migration on this machine, and %s pays %s round trips per migration, so at 1 ms a client "
                           "that adds nothing to the server's work can be at most (%.1f + %s × 1) / %.1f = %s× faster."
                           % (o, w, o, "%.0f" % k if k else "?", w, "%.0f" % k if k else "k", w,
                              "%.1f" % ((w + k) / w) if k else "?"))
    for n in sizes:
        p0 = get(n, 0, "psql1", "up")
        gs = [get(n, l, "gosling", "up") for l in (1, 5)]
        if p0 and any(gs):
            out.append("- {:,} migrations: gosling ".format(n) + ", ".join(
                "at %g ms %.3f s = **%.2f×** the baseline" % (g["latency_ms"], g["median_s"], g["x_baseline"])
                for g in gs if g) + " (psql, one query, at 0 ms: %.3f s; target ≤ 1.5×: %s)" % (
                p0["median_s"], "holds" if all(g["x_baseline"] <= 1.5 for g in gs if g) else "SHORT"))
    big = max(sizes)
    rss = [r for r in rows if r["tool"] in ("gosling", "lambda") and r["n"] == big]
    if rss:
        m = max(r["peak_rss_kib"] for r in rss) / 1024
        out.append("- gosling's peak RSS at N = {:,}, any command, any latency: **%.1f MB** (target < 16 MB: %s)".format(big)
                   % (m, "holds" if m < 16 else "SHORT"))
    if rows_result:
        m = rows_result["gosling"][1] / 1024
        out.append("- gosling's peak RSS for one migration returning {:,} rows: **%.1f MB** (target < 16 MB: %s)".format(nrows)
                   % (m, "holds" if m < 16 else "SHORT"))
    noop = [(r["n"], r["round_trips"]) for r in rows if r["tool"] == "gosling" and r["action"] == "noop"
            and r["latency_ms"] > 0 and r["round_trips"] is not None]
    if noop:
        lat = min(r["latency_ms"] for r in rows if r["latency_ms"] > 0)
        noop = [(r["n"], r["round_trips"]) for r in rows if r["tool"] == "gosling" and r["action"] == "noop"
                and r["latency_ms"] == lat]
        same = len(set(rt for _, rt in noop)) == 1
        out.append("- no-op run: %s round trips after the connection for N = %s (target O(1): %s)" % (
            "/".join("%d" % rt for _, rt in noop), "/".join("{:,}".format(n) for n, _ in noop),
            "holds" if same else "SHORT"))
    return out


def platform_line():
    try:
        return subprocess.run(["uname", "-srm"], stdout=subprocess.PIPE, text=True).stdout.strip()
    except OSError:
        return "?"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    sys.exit(main())
