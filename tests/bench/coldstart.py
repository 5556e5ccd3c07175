#!/usr/bin/env python3
"""Benchmark the bootstrap's cold start (not a timed test): from process start to its first
GET /2018-06-01/runtime/invocation/next, against a local Runtime API socket.

For each binary it starts a fresh process N times with AWS_LAMBDA_RUNTIME_API pointing at a
listening socket, stamps the moment the /next request line arrives, kills the process and
prints the median and the ratio against a baseline measured in the same run: /bin/true's
start-to-exit time (fork, exec, the loader, exit).  The init phase needs no database (the
runtime does no database work during init): DATABASE_URL names a port nobody listens on.

    tests/bench/coldstart.py [--runs 50] [BINARY...]

Default binaries: build/gosling (dynamic, the host build), build/dist/x86_64/bootstrap (static
deps) and build/dist/aarch64/bootstrap under qemu-aarch64 (emulated: not Graviton's speed).
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU = [os.path.join(ROOT, "scripts", "qemu-arm64")]


def start_to_exit(cmd, runs):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter_ns() - t0)
    return out


def start_to_next(cmd, runs):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DB_", "AWS_"))}
    env.update({
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % srv.getsockname()[1],
        "DATABASE_URL": "postgresql://bench@127.0.0.1:9/bench",
        "AWS_LAMBDA_FUNCTION_NAME": "gosling-bench",
        "AWS_REGION": "eu-west-2",
    })
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            conn, _ = srv.accept()
            buf = b""
            while b"\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                buf += chunk
            t1 = time.perf_counter_ns()
            line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
            if not line.startswith("GET /2018-06-01/runtime/invocation/next"):
                sys.exit("%s: first request was %r, not GET .../invocation/next" % (" ".join(cmd), line))
            out.append(t1 - t0)
            conn.close()
        finally:
            p.kill()
            p.wait()
    srv.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("binaries", nargs="*")
    a = ap.parse_args()
    if a.binaries:
        targets = [(b, [b]) for b in a.binaries]
    else:
        targets = [
            ("build/gosling (host, dynamic libpq/curl/OpenSSL)", [os.path.join(ROOT, "build/gosling")]),
            ("build/dist/x86_64/bootstrap (static deps)", [os.path.join(ROOT, "build/dist/x86_64/bootstrap")]),
        ]
        if shutil.which(QEMU[0]):
            targets.append(("build/dist/aarch64/bootstrap (EMULATED, qemu-aarch64)",
                            QEMU + [os.path.join(ROOT, "build/dist/aarch64/bootstrap")]))
    for _, cmd in targets:
        if not os.path.exists(cmd[-1]):
            sys.exit("%s missing: ninja && ninja dist" % cmd[-1])

    base = statistics.median(start_to_exit(["/bin/true"], a.runs)) / 1e6
    print("cold start: process start to the first GET /runtime/invocation/next, median of %d runs" % a.runs)
    print("%-58s %9s %9s %9s" % ("binary", "median", "p90", "x true"))
    print("%-58s %7.2fms %9s %9s" % ("/bin/true (baseline: start to exit)", base, "", "1.0"))
    for name, cmd in targets:
        t = sorted(x / 1e6 for x in start_to_next(cmd, a.runs))
        med = statistics.median(t)
        p90 = t[int(0.9 * (len(t) - 1))]
        print("%-58s %7.2fms %7.2fms %9.1f" % (name, med, p90, med / base))


main()
