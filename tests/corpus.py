#!/usr/bin/env python3
"""Run `goslingc parse` over every case of goose's parser corpus (../shared/goose-corpus)
and compare with goose's goldens byte for byte.  Prints TAP; exits 1 on any failure.

Case layouts:
  valid-up/testNN, envsub/testNN   input.sql + NN.up.golden.sql [+ NN.down.golden.sql]
  inline/*, upstream-down/*        input.sql + goldens + expected.json (count/useTx or error per direction)
  valid-txn/*.sql                  must parse in both directions (NO TRANSACTION where named so)
  invalid/up/*.sql                 must fail in the Up direction
"""
import glob, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOSLINGC = os.environ.get("GOSLINGC") or os.path.join(ROOT, "build", "goslingc")  # tests/asan.sh: build/asan/goslingc
CORPUS = os.environ.get("GOOSE_CORPUS", os.path.join(ROOT, "..", "shared", "goose-corpus"))

ENV = dict(os.environ)
for k in ("ANOTHER_VAR", "NAME", "SET_BUT_EMPTY_VALUE"):
    ENV.pop(k, None)
ENV.update(GOOSE_ENV_REGION="us_east_", GOOSE_ENV_SET_BUT_EMPTY_VALUE="", GOOSE_ENV_NAME="foo")

n = 0
failed = 0


def report(ok, name, detail=""):
    global n, failed
    n += 1
    if ok:
        print(f"ok {n} - {name}")
    else:
        failed += 1
        print(f"not ok {n} - {name}")
        for line in detail.rstrip().splitlines():
            print(f"#   {line}")


def parse(path, direction):
    p = subprocess.run([GOSLINGC, "parse", "--envsub", "--direction", direction, path],
                       env=ENV, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr
    return json.loads(p.stdout)[0], p.stderr


def goldens(case, direction):
    out = []
    i = 1
    while os.path.exists(os.path.join(case, f"{i:02d}.{direction}.golden.sql")):
        with open(os.path.join(case, f"{i:02d}.{direction}.golden.sql"), encoding="utf-8", newline="") as f:
            out.append(f.read())
        i += 1
    return out


def check_dir(name, case, direction, expect):
    """expect: {"error": ...} or {"count": n, "useTx": b} or None (goldens only)."""
    got, err = parse(os.path.join(case, "input.sql"), direction)
    label = f"{name} {direction}"
    if expect is not None and "error" in expect:
        report(got is None, f"{label} is rejected", f"goose: {expect['error']}\ngoslingc accepted it")
        return
    if got is None:
        report(False, label, f"goslingc rejected a file goose accepts:\n{err}")
        return
    stmts = [s["sql"] for s in got[direction]]
    want = goldens(case, direction)
    problems = []
    if expect is not None:
        if len(stmts) != expect["count"]:
            problems.append(f"count {len(stmts)}, goose {expect['count']}")
        if got["no_transaction"] == expect["useTx"]:
            problems.append(f"no_transaction {got['no_transaction']}, goose useTx {expect['useTx']}")
    if want or expect is None or expect["count"] == 0:
        if len(stmts) < len(want):
            problems.append(f"{len(stmts)} statements, {len(want)} goldens")
        for i, w in enumerate(want):
            if i < len(stmts) and stmts[i] != w:
                problems.append(f"statement {i + 1} differs:\n--- goose\n{w!r}\n--- goslingc\n{stmts[i]!r}")
    report(not problems, label, "\n".join(problems))


def main():
    if not os.path.isdir(CORPUS):
        print(f"not ok 1 - goose corpus not found at {CORPUS}")
        return 1
    for case in sorted(glob.glob(os.path.join(CORPUS, "valid-up", "*"))):
        check_dir("valid-up/" + os.path.basename(case), case, "up", None)
    for case in sorted(glob.glob(os.path.join(CORPUS, "envsub", "*"))):
        name = "envsub/" + os.path.basename(case)
        check_dir(name, case, "up", None)
        if goldens(case, "down"):
            check_dir(name, case, "down", None)
    for group in ("inline", "upstream-down"):
        for case in sorted(glob.glob(os.path.join(CORPUS, group, "*"))):
            with open(os.path.join(case, "expected.json")) as f:
                expected = json.load(f)
            for direction in ("up", "down"):
                check_dir(f"{group}/{os.path.basename(case)}", case, direction, expected[direction])
    for path in sorted(glob.glob(os.path.join(CORPUS, "valid-txn", "*.sql"))):
        name = "valid-txn/" + os.path.basename(path)
        for direction in ("up", "down"):
            got, err = parse(path, direction)
            want_notx = "no_transaction" in path
            report(got is not None and got["no_transaction"] == want_notx,
                   f"{name} {direction} parses, no_transaction={want_notx}", err)
    for path in sorted(glob.glob(os.path.join(CORPUS, "invalid", "up", "*.sql"))):
        got, err = parse(path, "up")
        report(got is None, f"invalid/up/{os.path.basename(path)} up is rejected", "goslingc accepted it")
    print(f"# corpus: {n - failed} of {n} checks match goose")
    return 1 if failed else 0


sys.exit(main())
