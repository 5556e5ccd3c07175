#!/usr/bin/env python3
"""The fleet benchmark (issue 19; not a timed test): migrate, then verify head-only, N tenant
schemas of one PostgreSQL database, driven the way a Step Functions Distributed Map drives the
function: one invocation per target through the local Runtime API (tests/lambda/runtime_api.py),
CONCURRENCY bootstraps at once, each a warm sandbox serving its share of the targets.

tests/bench/fleet.sh starts the server and builds the bootstrap; it runs this:

    fleet.py --bin GOSLING --server-log LOG --work DIR --out DIR [--sizes 100,300,1000]
             [--concurrency 4] [--reps 3] [--check]

For each N and round, in a database of its own (fleet_nN_rR): `up` of tenant_1..tenant_N, then
`{"command": "verify", "head_only": true}` of each.  Per phase: the wall time (all bootstraps
started to all exited), each invocation's time (/next answered to the answer received, as
Lambda bills it), and from the server's log (log_connections, log_statement=all) the
connections and statements per target; before it, the same phase with no target (the fixed
cost of starting and stopping the bootstraps).  Per N, time per tenant ((wall - fixed) / N,
the rounds' medians) against the first size's, measured in the same run: linear growth is a
ratio near 1.

The targets are dealt round-robin to the bootstraps beforehand (the map hands them out as
children finish; with targets of one kind the two differ little).  --check: the results are
checked (every target answered, its history complete, verify head-only at one connection per
target) and printed as TAP; the figures go to --out as always.
"""
import argparse, json, os, re, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAPI = os.path.join(ROOT, "tests", "lambda", "runtime_api.py")
BUNDLE = os.path.join(ROOT, "tests", "bench", "fleet")
# What the bootstrap must not inherit from the shell (fleet.sh's and tests/fleet.sh's list).
UNSET = ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "GOSLING_LOG_LEVEL", "_X_AMZN_TRACE_ID",
         "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
         "AWS_REGION", "AWS_DEFAULT_REGION", "GOSLING_SCHEMA", "GOSLING_LOCK_KEY",
         "GOSLING_TARGET_DATABASES", "GOSLING_TARGET_SECRET_ARNS", "GOSLING_TARGET_HOSTS",
         "GOSLING_TARGET_PORTS", "DATABASE_URL")


def psql(db, sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def pct(xs, p):
    """The p-th percentile, nearest rank."""
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def statement_kind(text):
    """A statement's shape: its literals and schema names replaced, so tenants' statements group."""
    t = re.sub(r"'(?:[^']|'')*'", "'…'", text.strip())
    t = re.sub(r'"?tenant_[0-9]+"?', "tenant_…", t)
    t = re.sub(r"\b[0-9]+\b", "…", t)
    return re.sub(r"\s+", " ", t)[:110]


def server_log_since(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace").splitlines()


def run_phase(args, n, db, command):
    """One phase of one size: every target once, CONCURRENCY bootstraps at once."""
    targets = ["tenant_%d" % i for i in range(1, n + 1)]  # none: the fixed cost alone
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update({"PGDATABASE": db, "GOSLING_TARGET_SCHEMAS": "tenant_[0-9]+"})
    work = os.path.join(args.work, "%s-%d-%d" % (command.get("command"), n, time.monotonic_ns()))
    os.makedirs(work, exist_ok=True)
    procs = []
    offset = os.path.getsize(args.server_log)
    shares = [targets[w::args.concurrency] for w in range(args.concurrency)]
    for w, share in enumerate(shares):
        ev = os.path.join(work, "w%d.events" % w)
        with open(ev, "w") as f:
            json.dump([{"body": dict(command, target={"id": t, "schema": t})} for t in share], f)
    t0 = time.perf_counter()
    for w in range(len(shares)):
        procs.append(subprocess.Popen(
            [sys.executable, RAPI, "--events", os.path.join(work, "w%d.events" % w),
             "--log", os.path.join(work, "w%d.json" % w), "--timeout", str(max(120, n)), "--", args.bin],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "w%d.err" % w), "w")))
    for p in procs:
        p.wait()
    wall = time.perf_counter() - t0
    invs = []
    for w in range(len(shares)):
        with open(os.path.join(work, "w%d.json" % w)) as f:
            invs += json.load(f)["invocations"]
    lines = server_log_since(args.server_log, offset)
    conns = sum(1 for l in lines if "connection authorized:" in l and "database=%s" % db in l)
    stmts = [l.split("LOG:  ", 1)[1] for l in lines if re.search(r"LOG:  (statement|execute [^:]*):", l)]
    kinds = {}
    for s in stmts:
        k = statement_kind(s.split(": ", 1)[1])
        kinds[k] = kinds.get(k, 0) + 1
    ms = [i["elapsed_ms"] for i in invs if i.get("elapsed_ms") is not None]
    return {
        "n": n, "command": command["command"], "wall_s": wall, "invocations": invs,
        "answered": sum(1 for i in invs if i.get("kind") == "response"),
        "errors": [(i.get("error_type"), (i.get("body") or {}).get("errorMessage")) for i in invs if i.get("kind") != "response"],
        "median_ms": statistics.median(ms) if ms else float("nan"), "p95_ms": pct(ms, 95) if ms else float("nan"),
        "connections": conns, "statements": len(stmts), "kinds": kinds,
    }


def fixed_cost(args, db):
    """What a phase costs with no target (the bootstraps and their Runtime APIs started and
    stopped): the median of three, measured beside each size."""
    return statistics.median(run_phase(args, 0, db, {"command": "up"})["wall_s"] for _ in range(3))


def histories_complete(db, n, versions):
    """How many of the N tenants hold their tables and a history of every version."""
    return int(psql(db, "SELECT count(*) FROM pg_namespace n WHERE n.nspname ~ '^tenant_[0-9]+$' "
                        "AND to_regclass(quote_ident(n.nspname) || '.project_task_counts') IS NOT NULL"
                        " AND (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.gosling_migrations',"
                        " n.nspname), false, true, '')))[1]::text::int = " + str(versions)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--server-log", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="100,300,1000")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    versions = len([f for f in os.listdir(BUNDLE) if f.endswith(".sql")])
    load0 = os.getloadavg()
    t_run = time.time()

    runs = {n: [] for n in sizes}
    for rep in range(args.reps):
        # interleaved, the order rotated each round, so that load on a shared machine falls
        # on every size alike
        for n in sizes[rep % len(sizes):] + sizes[:rep % len(sizes)]:
            db = "fleet_n%d_r%d" % (n, rep + 1)
            psql("postgres", "CREATE DATABASE %s" % db)
            fixed = fixed_cost(args, db)
            up = run_phase(args, n, db, {"command": "up"})
            up["complete"] = histories_complete(db, n, versions)
            verify = run_phase(args, n, db, {"command": "verify", "head_only": True})
            verify["head_only_answers"] = sum(
                1 for i in verify["invocations"] if i.get("kind") == "response" and (i.get("body") or {}).get("version_after") == versions
                and len((i.get("body") or {}).get("migrations") or []) == 1)
            for r in (up, verify):
                r["fixed_s"] = fixed
                print("fleet: round %d N=%d %-6s wall %.2f s (fixed %.2f s), %.1f ms/tenant, median %.1f ms, p95 %.1f ms, "
                      "%.2f connections and %.2f statements per target, %d/%d answered" % (
                          rep + 1, n, r["command"], r["wall_s"], fixed, (r["wall_s"] - fixed) * 1000 / n, r["median_ms"],
                          r["p95_ms"], r["connections"] / n, r["statements"] / n, r["answered"], n), file=sys.stderr)
            runs[n].append((up, verify))

    # Per size and phase: median wall and fixed cost over the rounds, every invocation's time
    # pooled, connections and statements per target over every round.
    rows = []
    for n in sizes:
        pair = []
        for k in (0, 1):
            rs = [r[k] for r in runs[n]]
            ms = [i["elapsed_ms"] for r in rs for i in r["invocations"] if i.get("elapsed_ms") is not None]
            wall = statistics.median(r["wall_s"] for r in rs)
            fixed = statistics.median(r["fixed_s"] for r in rs)
            pair.append({
                "n": n, "command": rs[0]["command"], "rounds": len(rs), "targets": n * len(rs),
                "wall_s": wall, "fixed_s": fixed, "per_tenant_ms": (wall - fixed) * 1000 / n,
                "median_ms": statistics.median(ms), "p95_ms": pct(ms, 95),
                "connections": sum(r["connections"] for r in rs) / len(rs),
                "statements": sum(r["statements"] for r in rs) / len(rs),
                "answered": sum(r["answered"] for r in rs), "errors": [e for r in rs for e in r["errors"]],
                "kinds": rs[-1]["kinds"], "complete": sum(r.get("complete", 0) for r in rs),
                "head_only_answers": sum(r.get("head_only_answers", 0) for r in rs),
            })
        rows.append(tuple(pair))
    load1 = os.getloadavg()

    os.makedirs(args.out, exist_ok=True)
    base = rows[0]
    with open(os.path.join(args.out, "fleet.csv"), "w") as f:
        f.write("n,command,concurrency,wall_s,fixed_s,ms_per_tenant,ratio_per_tenant,median_ms,p95_ms,"
                "connections_per_target,statements_per_target,answered,rounds,median_ratio\n")
        for pair in rows:
            for k, r in enumerate(pair):
                f.write("%d,%s,%d,%.3f,%.3f,%.2f,%.3f,%.2f,%.2f,%.3f,%.3f,%d,%d,%.3f\n" % (
                    r["n"], r["command"], args.concurrency, r["wall_s"], r["fixed_s"], r["per_tenant_ms"],
                    r["per_tenant_ms"] / base[k]["per_tenant_ms"], r["median_ms"], r["p95_ms"],
                    r["connections"] / r["n"], r["statements"] / r["n"], r["answered"], r["rounds"], r["median_ms"] / base[k]["median_ms"]))

    md = ["# The fleet: N tenant schemas, one invocation each", "",
          "Produced by `tests/bench/fleet.sh` on %s (%s). Machine: %d cores, shared; load average "
          "%.2f/%.2f/%.2f before, %.2f/%.2f/%.2f after (1, 5, 15 min). Run took %.0f s." % (
              time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_run)), " ".join(os.uname()[i] for i in (0, 2, 4)),
              os.cpu_count(), *load0, *load1, time.time() - t_run), "",
          "PostgreSQL 15, throwaway (`initdb`, `fsync=off`, `log_connections`, `log_statement=all`), over its Unix "
          "socket. The bundle: `tests/bench/fleet/`, %d migrations (tables, indexes, an enum, a PL/pgSQL trigger "
          "function, a view, seed rows). Each N in a database of its own: `up` of tenant_1 … tenant_N "
          "(schema targets), then `{\"command\": \"verify\", \"head_only\": true}` of each. %d bootstraps "
          "(the host build) at once, each a warm sandbox serving N/%d targets through its own "
          "`tests/lambda/runtime_api.py`, one invocation per target; the first invocation of each includes no "
          "process start (init ends at the first `/next`)." % (versions, args.concurrency, args.concurrency), "",
          "%d rounds, the sizes interleaved (the order rotated each round), each N in a database of its "
          "own per round; wall and fixed are the rounds' medians, the per-target figures pool every "
          "invocation. Wall: the bootstraps started to all exited. Per target: `/next` answered to the answer received (what "
          "Lambda bills). Connections and statements: the server's log over the phase (`connection authorized`, "
          "`statement:`/`execute:` lines: top-level statements, the session's settings included). Fixed: the same "
          "phase with no target (the bootstraps and their Runtime APIs started and stopped), median of 3, "
          "measured before each N. Per tenant: (wall − fixed) / N. Ratio: per tenant against N = %d's in "
          "the same run; linear growth is 1. The per-target median does not depend on the fixed cost's "
          "noise, which at the smallest N is of the order of a head-only verify's whole phase: its ratio "
          "is the steadier sign of linear growth." % (args.reps, sizes[0]), "",
          "| N | command | wall | fixed | per tenant | × N = %d | per target: median | × N = %d | p95 | connections / target | statements / target | answered |" % (sizes[0], sizes[0]),
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for pair in rows:
        for k, r in enumerate(pair):
            md.append("| %s | %s | %.2f s | %.2f s | %.2f ms | %.2f | %.1f ms | %.2f | %.1f ms | %.2f | %.2f | %d/%d |" % (
                format(r["n"], ","), r["command"] + (" (head-only)" if k else ""), r["wall_s"], r["fixed_s"],
                r["per_tenant_ms"], r["per_tenant_ms"] / base[k]["per_tenant_ms"],
                r["median_ms"], r["median_ms"] / base[k]["median_ms"], r["p95_ms"], r["connections"] / r["n"], r["statements"] / r["n"], r["answered"], r["targets"]))
    last = rows[-1]
    for k, title in ((1, "verify (head-only)"), (0, "up")):
        r = last[k]
        md += ["", "Statements per target, %s, N = %s:" % (title, format(r["n"], ",")), "",
               "| per target | statement |", "|---:|---|"]
        for s, c in sorted(r["kinds"].items(), key=lambda kv: -kv[1])[:20 if k else 12]:
            md.append("| %.2f | `%s` |" % (c / r["n"], s.replace("|", "\\|")))
    with open(os.path.join(args.out, "fleet.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))

    if args.check:
        t = 0
        bad = 0

        def ok(cond, what):
            nonlocal t, bad
            t += 1
            bad += 0 if cond else 1
            print("%s %d - %s" % ("ok" if cond else "not ok", t, what))
        for up, verify in rows:
            n = up["n"]
            ok(up["answered"] == up["targets"] and not up["errors"], "N=%d: up answered for every target %s" % (n, up["errors"][:2] or ""))
            ok(up["complete"] == up["targets"], "N=%d: every tenant holds its tables and a history of %d versions (%d do)" % (n, versions, up["complete"]))
            ok(verify["answered"] == verify["targets"], "N=%d: verify answered for every target" % n)
            ok(verify["head_only_answers"] == verify["targets"], "N=%d: each verify answered head-only: one migration, at version %d" % (n, versions))
            ok(verify["connections"] == n, "N=%d: verify opened one connection per target (%d)" % (n, verify["connections"]))
            ok(0 < verify["statements"] <= 4 * n, "N=%d: verify sent at most 4 statements per target (%.2f)" % (n, verify["statements"] / n))
        ok(rows[0][1]["statements"] * rows[-1][1]["n"] == rows[-1][1]["statements"] * rows[0][1]["n"],
           "verify's statements per target do not grow with N")
        print("1..%d" % t)
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
