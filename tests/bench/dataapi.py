#!/usr/bin/env python3
"""The RDS Data API benchmark (issue 18): calls and time of `gosling up` over the Data API.

Run through tests/bench/dataapi.sh, which builds, starts a throwaway PostgreSQL (PGHOST, PGPORT)
and makes a test CA and the stand-in's certificate; this starts the local Data API stand-in
(tests/rdsdata/data_api.js) with latencyMs set (NODE_PATH: tests/rdsdata's pg).

For each N, apply.py's generated migrations (the same generator: a table, an index and three
inserts each, 5 statements, in goose's format) applied to an empty database, contenders
interleaved (order rotated every round):
  dataapi   gosling up over the stand-in: each call answered LATENCY ms late (the latency of
            one Data API call), so wall time = the server's work + calls x LATENCY
  proxy     gosling up over libpq through apply.py's latency_proxy.py, calibrated at the start
            (as apply.py does) so that one round trip adds LATENCY ms
  libpq     gosling up over libpq direct (TCP 127.0.0.1)
  psql1     psql sending the same SQL as one query, direct: the server's own work, the baseline
Counted from the stand-in's log (one JSON line per call): calls by operation, the characters of
SQL sent (sql_chars; the generated SQL is ASCII, so bytes); from the migration files: SQL bytes,
the issue's bound ceil(SQL bytes / 60 KiB) and calls / that.  After the last round of each N,
`status` and `verify` over the Data API on the applied database: calls and time.

    tests/bench/dataapi.py --out DIR --work TMP --sizes 100,1000 --reps 3,3 --latency-ms 20
        --ca CA.crt --key SERVER.key --cert SERVER.crt [--check]
"""
import argparse, collections, csv, json, math, os, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apply  # noqa: E402  (generate, build_gosling, calibrate, psql_admin, platform_line, cpu_model)

CAP = 60 * 1024  # runtime/dataapi_impl.h's DO_CAP
# What a migration adds to its DO block beyond its statements' text (runtime/dataapi_blocks.c's
# pack_unit_chars): three checksums of 64 hex digits and a comma (195), its version, statement
# count and name with their separators, and the quoting of its statements (E'', a comma each).
ROW_CHARS = 256
# gosling's own calls in an up of an empty database: the lease, the tables, the history table,
# the newest row after, the lease's release
OWN_CALLS = 5
ORDER = ["psql1", "dataapi", "proxy", "libpq"]
LABEL = {"psql1": "psql, same SQL as one query, direct (baseline)", "dataapi": "gosling over the Data API stand-in",
         "proxy": "gosling over libpq through the latency proxy", "libpq": "gosling over libpq, direct"}


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DB_", "DATABASE_URL", "AWS_"))}


def api_calls(log):
    """The stand-in's log since it was last emptied, emptied again."""
    with open(log) as f:
        recs = [json.loads(line) for line in f if line.endswith("\n")]
    open(log, "w").close()
    return recs


def start_standin(a):
    """data_api.js answering each call a.latency_ms late; sets a.endpoint, a.api_log and the
    credentials and ARNs the runs use."""
    a.akid, a.skey, a.region = "AKIDEXAMPLEDABENCH", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzDABENCHKEY", "eu-west-2"
    a.cluster = "arn:aws:rds:%s:123456789012:cluster:gosling-bench" % a.region
    a.secret = "arn:aws:secretsmanager:%s:123456789012:secret:gosling/bench-AbCdEf" % a.region
    cfg, a.api_log = os.path.join(a.work, "api.json"), os.path.join(a.work, "api.log")
    with open(cfg, "w") as f:
        json.dump({"accessKeyId": a.akid, "secretAccessKey": a.skey, "region": a.region,
                   "clusters": [{"resourceArn": a.cluster, "secretArn": a.secret,
                                 "pg": {"host": os.environ["PGHOST"], "port": int(os.environ["PGPORT"]),
                                        "user": "postgres"}}],
                   "timeScale": 1, "latencyMs": a.latency_ms}, f)
    open(a.api_log, "w").close()
    p = subprocess.Popen(["node", os.path.join(apply.ROOT, "tests", "rdsdata", "data_api.js"), "--config", cfg,
                          "--key", a.key, "--cert", a.cert, "--log", a.api_log, "--faults",
                          os.path.join(a.work, "api.faults")], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("port "):
        raise RuntimeError("the Data API stand-in did not start")
    a.endpoint = "https://localhost:%d" % int(line.split()[1])
    return p


def run(a, tool, action, base, db, proxy_port):
    """One run: (seconds, the output) or raises."""
    bin_ = os.path.join(base, "gosling")
    env = clean_env()
    url = "postgres://postgres@127.0.0.1:%d/%s?sslmode=disable"
    if tool == "psql1":
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url % (int(os.environ["PGPORT"]), db),
                "-f", os.path.join(base, "one.sql")]
    elif tool == "dataapi":
        env.update(AWS_REGION=a.region, AWS_ACCESS_KEY_ID=a.akid, AWS_SECRET_ACCESS_KEY=a.skey, SSL_CERT_FILE=a.ca,
                   DB_CLUSTER_ARN=a.cluster, DB_SECRET_ARN=a.secret, AWS_ENDPOINT_URL_RDS_DATA=a.endpoint,
                   DB_NAME=db, PGHOST="/nonexistent", PGPORT="1")
        argv = [bin_, action]
    else:
        env["DATABASE_URL"] = url % (proxy_port if tool == "proxy" else int(os.environ["PGPORT"]), db)
        argv = [bin_, action]
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError("%s %s (%s) exited %d:\n%s" % (tool, action, db, p.returncode, out[-3000:]))
    return wall, out


def counts(recs):
    ops = collections.Counter(r.get("operation") for r in recs)
    return dict(calls=len(recs), execute=ops["ExecuteStatement"], begin=ops["BeginTransaction"],
                commit=ops["CommitTransaction"], rollback=ops["RollbackTransaction"],
                sent=sum(r.get("sql_chars") or 0 for r in recs), longest=max([r.get("sql_chars") or 0 for r in recs] or [0]),
                not_ok=sum(1 for r in recs if r.get("status") != 200))


def applied(db, n):
    return apply.psql_admin("SELECT (SELECT count(*) FROM gosling_migrations) || '/' || "
                            "(SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\\_%%')", db) == "%d/%d" % (n, n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for o in ("out", "work", "ca", "key", "cert"):
        ap.add_argument("--" + o, required=True)
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--reps", default="3,1")
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    reps = dict(zip(sizes, [int(r) for r in a.reps.split(",")]))
    started, load0 = time.time(), os.getloadavg()
    tmp = os.path.join(a.work, "bench")
    os.makedirs(tmp, exist_ok=True)
    standin = start_standin(a)

    proxy, cal = apply.calibrate(int(os.environ["PGPORT"]), a.latency_ms, tmp)
    samples = collections.defaultdict(list)  # (n, tool): [dict]
    reads = {}  # (n, action): dict
    facts = {}
    seq = 0
    try:
        for n in sizes:
            base = os.path.join(tmp, "n%d" % n)
            apply.generate(base, n)
            gdir = os.path.join(base, "goose")
            sql_bytes = sum(os.path.getsize(os.path.join(gdir, f)) for f in os.listdir(gdir))
            apply.build_gosling(base, "host")
            facts[n] = dict(sql_bytes=sql_bytes, bound=math.ceil(sql_bytes / CAP))
            last_da = None
            for r in range(reps[n]):
                order = ORDER[r % len(ORDER):] + ORDER[:r % len(ORDER)]
                for tool in order:
                    seq += 1
                    db = "b%d" % seq
                    apply.psql_admin("CREATE DATABASE %s TEMPLATE template0" % db)
                    api_calls(a.api_log)
                    proxy.take()
                    wall, _ = run(a, tool, "up", base, db, proxy.port)
                    s = dict(wall=wall)
                    if tool == "dataapi":
                        s.update(counts(api_calls(a.api_log)))
                        s["applied"] = applied(db, n)
                        last_da = db
                    elif tool == "proxy":
                        recs = proxy.take()
                        s.update(round_trips=sum(c["turns_after_query"] for c in recs), conns=len(recs),
                                 sent=sum(c["c2s_bytes"] for c in recs))
                    samples[(n, tool)].append(s)
                    print("N=%d %s: %.3f s %s" % (n, tool, wall, json.dumps({k: v for k, v in s.items() if k != "wall"})),
                          flush=True)
                    if tool != "dataapi":
                        apply.psql_admin("DROP DATABASE %s" % db)
            for action in ("status", "verify"):
                api_calls(a.api_log)
                wall, out = run(a, "dataapi", action, base, last_da, None)
                reads[(n, action)] = dict(wall=wall, **counts(api_calls(a.api_log)))
                print("N=%d dataapi %s: %.3f s %s" % (n, action, wall, json.dumps(reads[(n, action)])), flush=True)
    finally:
        proxy.stop()
        standin.terminate()
        standin.wait()
    secs = time.time() - started
    rows = report(a, sizes, reps, samples, reads, facts, cal, load0, secs)
    if a.check:
        sys.exit(check(a, sizes, samples, reads, facts, rows))


def med(xs):
    return statistics.median(xs) if xs else None


def summary(sizes, samples, facts):
    rows = []
    for n in sizes:
        d = samples[(n, "dataapi")][-1]
        base = med([s["wall"] for s in samples[(n, "psql1")]])
        row = dict(n=n, sql_bytes=facts[n]["sql_bytes"], bound=facts[n]["bound"], calls=d["calls"], execute=d["execute"],
                   begin=d["begin"], commit=d["commit"], rollback=d["rollback"], sent=d["sent"],
                   ratio=d["calls"] / facts[n]["bound"], over=d["calls"] - facts[n]["bound"], baseline_s=base,
                   proxy_round_trips=samples[(n, "proxy")][-1]["round_trips"])
        for tool in ORDER:
            row[tool + "_s"] = med([s["wall"] for s in samples[(n, tool)]])
            row[tool + "_x"] = row[tool + "_s"] / base
            row[tool + "_runs"] = len(samples[(n, tool)])
        rows.append(row)
    return rows


def report(a, sizes, reps, samples, reads, facts, cal, load0, secs):
    rows = summary(sizes, samples, facts)
    lat = a.latency_ms
    with open(os.path.join(a.out, "dataapi.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    load1 = os.getloadavg()
    L = []
    L.append("# gosling over the RDS Data API: calls and time (issue 18)\n")
    L.append("Produced by `tests/bench/dataapi.sh` on %s UTC (%s). Machine: %s, %d cores, shared; load average "
             "%.2f/%.2f/%.2f before, %.2f/%.2f/%.2f after (1, 5, 15 min). Run took %.0f s.\n" % (
                 time.strftime("%Y-%m-%d %H:%M", time.gmtime()), apply.platform_line(), apply.cpu_model(),
                 os.cpu_count(), *load0, *load1, secs))
    L.append("PostgreSQL 15, throwaway (`initdb`, `fsync=off`). Migrations: `tests/bench/apply.py`'s generator (a "
             "table, an index, three inserts each; goose format), applied with `gosling up` to an empty database "
             "(gosling linked against the host's shared libraries). The Data API stand-in "
             "(`tests/rdsdata/data_api.js`, HTTPS, SigV4 checked) answers each call %g ms late (`latencyMs`); the "
             "libpq proxy (`tests/bench/latency_proxy.py`) was calibrated as apply.py does: %.3f ms each way, "
             "measured %.2f ms added per `SELECT 1` round trip, 4 MB up +%.2f ms, 4 MB down +%.2f ms. "
             "Medians of %s runs for N = %s, contenders interleaved. Baseline (×): psql sending the same SQL as "
             "one query, direct. SQL bytes: the migration files' bytes; bound: ⌈SQL bytes / 60 KiB⌉ "
             "(issue 18: calls at most this + a small constant); SQL sent: characters of `sql` in every call "
             "(the DO blocks, history rows and gosling's own statements).\n" % (
                 lat, cal["delay"], cal["rtt"], cal["up"], cal["down"], "/".join(str(reps[n]) for n in sizes),
                 "/".join("{:,}".format(n) for n in sizes)))
    L.append("| N | SQL bytes | bound ⌈bytes/60 KiB⌉ | Data API calls | ExecuteStatement | Begin / Commit / Rollback "
             "| calls / bound | calls − bound | SQL sent | sent per migration |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        L.append("| {:,} | {:,} | {} | {} | {} | {} / {} / {} | {:.2f} | {} | {:,} | {:,.0f} |".format(
            r["n"], r["sql_bytes"], r["bound"], r["calls"], r["execute"], r["begin"], r["commit"], r["rollback"],
            r["ratio"], r["over"], r["sent"], r["sent"] / r["n"]))
    L.append("")
    L.append("| N | contender | wall | × baseline | runs | notes |")
    L.append("|---:|---|---:|---:|---:|---|")
    for r in rows:
        for tool in ORDER:
            note = ""
            if tool == "dataapi":
                note = "%d calls × %g ms = %.2f s of simulated latency" % (r["calls"], lat, r["calls"] * lat / 1e3)
            elif tool == "proxy":
                note = "%d round trips after connecting, × %.2f ms = %.2f s" % (
                    r["proxy_round_trips"], cal["rtt"], r["proxy_round_trips"] * cal["rtt"] / 1e3)
            L.append("| {:,} | {} | {:.3f} s | {:.2f} | {} | {} |".format(
                r["n"], LABEL[tool], r[tool + "_s"], r[tool + "_x"], r[tool + "_runs"], note))
    L.append("")
    L.append("Reads over the Data API on the applied database (one run each, after the last `up`):\n")
    L.append("| N | command | calls | ExecuteStatement | Begin / Commit | wall |")
    L.append("|---:|---|---:|---:|---:|---:|")
    for n in sizes:
        for action in ("status", "verify"):
            x = reads[(n, action)]
            L.append("| {:,} | `{}` | {} | {} | {} / {} | {:.3f} s |".format(n, action, x["calls"], x["execute"], x["begin"],
                                                                       x["commit"], x["wall"]))
    L.append("")
    L.append("On a real Aurora Serverless v2 cluster the latency term is calls × the real per-call latency "
             "(the server's work, the baseline, is the same):\n")
    L.append("| N | calls | × 20 ms | × 50 ms | × 100 ms | × 200 ms |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        L.append("| {:,} | {} | {} |".format(r["n"], r["calls"], " | ".join(
            "%.2f s" % (r["calls"] * ms / 1e3) for ms in (20, 50, 100, 200))))
    with open(os.path.join(a.out, "dataapi.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))
    return rows


def check(a, sizes, samples, reads, facts, rows):
    t = bad = 0

    def ok(cond, what):
        nonlocal t, bad
        t += 1
        bad += 0 if cond else 1
        print("%s %d - %s" % ("ok" if cond else "not ok", t, what))
    for r in rows:
        n = r["n"]
        d = samples[(n, "dataapi")]
        ok(all(s["applied"] for s in d), "N=%d: up over the Data API applied every migration, each recorded" % n)
        ok(all(s["not_ok"] == 0 and s["rollback"] == 0 for s in d), "N=%d: every call answered 200, no rollback" % n)
        ok(r["begin"] == r["commit"], "N=%d: each BeginTransaction committed (%d/%d)" % (n, r["begin"], r["commit"]))
        ok(all(s["longest"] <= 65536 for s in d), "N=%d: every call's sql under the service's 65,536 characters (longest %d)"
           % (n, max(s["longest"] for s in d)))
        # the calls follow the SQL's bytes: DO blocks of 60 KiB holding the statements and each
        # migration's share of the history rows (ROW_CHARS), and OWN_CALLS of gosling's own
        most = math.ceil((facts[n]["sql_bytes"] + ROW_CHARS * n) / CAP) + OWN_CALLS
        ok(r["calls"] <= most, "N=%d: %d calls, at most ⌈(SQL bytes + %d × N) / 60 KiB⌉ + %d = %d (the issue's "
           "⌈SQL bytes / 60 KiB⌉ = %d)" % (n, r["calls"], ROW_CHARS, OWN_CALLS, most, facts[n]["bound"]))
        ok(all(s["wall"] >= s["calls"] * a.latency_ms / 1e3 for s in d),
           "N=%d: up took at least calls × %g ms (the stand-in's latencyMs delays each answer)" % (n, a.latency_ms))
        ok(r["proxy_round_trips"] > 0 and r["proxy_s"] >= r["proxy_round_trips"] * a.latency_ms * 0.9 / 1e3,
           "N=%d: libpq through the proxy took at least its %d round trips × ~%g ms" % (n, r["proxy_round_trips"], a.latency_ms))
    ok(all(reads[(n, x)]["begin"] == 0 for n in sizes for x in ("status", "verify")), "status and verify open no transaction")
    # one read of the tables, then the history in pages of 1,000 rows (a full page: one more read)
    ok(all(reads[(n, x)]["calls"] <= 2 + n // 1000 for n in sizes for x in ("status", "verify")),
       "status's and verify's calls: 1 + the history's pages of 1,000 rows (%s)" % ", ".join(
           "%s %d: %d" % (x, n, reads[(n, x)]["calls"]) for n in sizes for x in ("status", "verify")))
    print("1..%d" % t)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
