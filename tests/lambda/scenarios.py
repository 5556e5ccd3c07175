#!/usr/bin/env python3
"""tests/lambda/scenarios.py - Lambda scenarios as data: events in, expected answers out.

    scenarios.py --bin-dir DIR --work DIR [--server-log FILE] [--transport libpq] FILE.json...
    scenarios.py --bin-dir DIR --work DIR --transport dataapi --dataapi-env NAME=VALUE...
                 [--dataapi-log FILE] FILE.json...

Each FILE (tests/lambda/scenarios/NNN-name.json) is one scenario: a database, one or more
runs of a bootstrap on scripted events through the local Runtime API
(tests/lambda/runtime_api.py), and what each run must have answered.  Every expectation
is one TAP check ("ok N - what"; a failure prints got/want, or a diff, as comments); the
suite (tests/lambda.sh) renumbers them with tap_include.  The format:

  {"about": "what the scenario proves",
   "database": "fresh",            # fresh (default): a new empty database of its own, named
                                   # lambda_<name>; "none": no database configured at all
   "runs": [RUN, ...],             # or the keys of one RUN at the top level
   "only": "libpq", "why": "..."}  # a scenario for one transport (libpq, dataapi) only, and
                                   # why it cannot apply over the others: a SKIP there, the
                                   # reason its text (a RUN or a CHECK may carry them too)

  RUN = {"name": "up",             # its record: WORK/NAME.json, stderr WORK/NAME.err (default:
                                   # the file's name without NNN-, then _2, _3 ...)
         "bundle": "ok",           # tests/lambda/migrations/ok, linked as BIN-DIR/ok by the suite
         "env": {"GOSLING_LOG_LEVEL": "debug"},   # settings for the bootstrap (not the database's:
                                   # the transport supplies those)
         "runtime_api": ["--at-end", "close"],    # extra runtime_api.py options
         "events": [...],          # as runtime_api.py takes them ({"body": ...} or {"raw": ...}, ...)
         "expect": [CHECK, ...]}

  CHECK = {"what": "TAP name", SUBJECT, OP: WANT}
    SUBJECT is "of": PATH into the run's record, or a list of PATHs: with is/is_not the list
    of their values, with the other ops each value on its own.  The record:
      answers.I          the I-th invocation: kind ("response"/"error"/null), error_type (as
                         posted), body (what was posted, parsed), result (a response's body, or
                         an error's body.result), elapsed_ms, before_deadline, bytes, request_id
      init_error         error_type, body; null when there was none
      exit_code, served, killed_after_timeout, violations, codedeploy (CodeDeploy calls:
      target, headers, body), on_exhausted_output, exit_after_last_request_ms
      stderr             the bootstrap's stderr (and the Runtime API's summary line)
      posts              every request the bootstrap made, headers and bodies, as JSON text
      libpq.connections_opened      connections the server logged during the run
      libpq.connections_open_after  gosling sessions still open when the run ended
      dataapi.calls      the calls the Data API stand-in logged during the run
    A PATH is dot-separated: keys, list indexes (-1 the last), * (the rest of the path over
    every item of a list), {a,b} (those keys of an object, as a list); a trailing ? on a key
    makes a missing key null instead of a failure.  Paths under another transport's name
    (libpq., dataapi.) are that transport's only: other transports report them as SKIP.
    Or "sql": QUERY: the query's text (psql -A -t) on the scenario's database after the run.
  OP is one of
      is / is_not     equal (JSON values; an SQL result is text)
      contains        a substring of a text, or an item of a list (a list WANT: all of them)
      lacks           the opposite of contains (a list WANT: none of them)
      ends_with       a text's end
      lt, gt          numbers
      each_type       every item of a list is of this JSON type ("integer", "string", ...)
      unchanged: true (with "sql") the query's text is the same before and after the run
  In WANT, {{today}} is the UTC date as YYYYMMDD and {{repeat N TEXT}} is TEXT N times.

The runner writes each run's events to WORK/NAME.events, as tests/lib/rapi.sh does, so a
check that needs code can still read WORK/NAME.json and WORK/NAME.err afterwards.  The
transports (Transport, DataApi below) give the bootstrap its database each its own way and
run the same files: tests/lambda.sh runs them over libpq, tests/dataapi.sh over the Data API.
"""
import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRANSPORTS = ("libpq", "dataapi")


class CheckError(Exception):
    """An expectation that cannot be evaluated (a missing field, a bad path): a failure."""


def psql(db, sql):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise CheckError("psql: %s" % p.stderr.strip())
    return p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout


class Transport:
    """libpq: the bootstrap reaches the suite's PostgreSQL (PGHOST, PGPORT, PGUSER from
    tests/lib/pg.sh) and its database through PGDATABASE."""
    name = "libpq"

    def __init__(self, server_log):
        self.server_log = server_log

    def create(self, db):
        psql("postgres", "CREATE DATABASE %s" % db)

    def env(self, env, db):
        if db is None:
            env.pop("PGHOST", None)
            env.pop("PGDATABASE", None)
        else:
            env["PGDATABASE"] = db

    def connections_logged(self):
        if not self.server_log:
            raise CheckError("no --server-log given")
        with open(self.server_log, errors="replace") as f:
            return sum(1 for line in f if "connection received" in line)

    def before(self):
        return {"logged": self.connections_logged() if self.server_log else None}

    def after(self, before):
        return {
            "connections_opened": (self.connections_logged() - before["logged"]) if self.server_log else None,
            "connections_open_after": int(psql("postgres", "SELECT count(*) FROM pg_stat_activity "
                                                           "WHERE application_name = 'gosling'")),
        }


class DataApi:
    """dataapi: the bootstrap reaches the database through the RDS Data API stand-in
    (tests/rdsdata/data_api.js, started by tests/dataapi.sh) with the settings --dataapi-env
    gives (DB_CLUSTER_ARN, DB_SECRET_ARN, the endpoint, region, credentials, CA) and DB_NAME;
    PGHOST points nowhere, so a libpq connection it attempted would fail the run.  The "sql"
    checks still go to the PostgreSQL behind the stand-in (the suite's PGHOST).  Its record:
    dataapi.calls, the calls the stand-in logged during the run."""
    name = "dataapi"

    def __init__(self, settings, call_log):
        self.settings = dict(kv.split("=", 1) for kv in settings)
        self.call_log = call_log

    def create(self, db):
        psql("postgres", "CREATE DATABASE %s" % db)

    def env(self, env, db):
        for k in ("PGHOST", "PGPORT", "PGDATABASE", "DB_CLUSTER_ARN", "DB_RESOURCE_ARN", "DB_SECRET_ARN", "DB_NAME"):
            env.pop(k, None)
        if db is not None:
            env.update(self.settings)
            env.update({"DB_NAME": db, "PGHOST": "/nonexistent", "PGPORT": "1"})

    def calls_logged(self):
        if not self.call_log:
            raise CheckError("no --dataapi-log given")
        with open(self.call_log, errors="replace") as f:
            return sum(1 for line in f if '"operation"' in line)

    def before(self):
        return {"logged": self.calls_logged() if self.call_log else None}

    def after(self, before):
        return {"calls": (self.calls_logged() - before["logged"]) if self.call_log else None}


def template(v):
    if isinstance(v, str):
        v = v.replace("{{today}}", time.strftime("%Y%m%d", time.gmtime()))
        return re.sub(r"\{\{repeat (\d+) (.*?)\}\}", lambda m: m.group(2) * int(m.group(1)), v)
    if isinstance(v, list):
        return [template(x) for x in v]
    if isinstance(v, dict):
        return {k: template(x) for k, x in v.items()}
    return v


def walk(v, segs, path):
    if not segs:
        return v
    s, rest = segs[0], segs[1:]
    if s == "*":
        if not isinstance(v, list):
            raise CheckError("%s: * over %s, not a list" % (path, type(v).__name__))
        return [walk(x, rest, path) for x in v]
    if s.startswith("{") and s.endswith("}"):
        if not isinstance(v, dict):
            raise CheckError("%s: %s of %s, not an object" % (path, s, type(v).__name__))
        return walk([v.get(k) for k in s[1:-1].split(",")], rest, path)
    optional = s.endswith("?")
    key = s[:-1] if optional else s
    if isinstance(v, list) and re.fullmatch(r"-?\d+", key):
        i = int(key)
        if -len(v) <= i < len(v):
            return walk(v[i], rest, path)
    elif isinstance(v, dict) and key in v:
        return walk(v[key], rest, path)
    if optional:
        return None
    raise CheckError("%s: no %s in %s" % (path, key, json.dumps(v)[:200]))


def split_path(p):
    # keys may not hold dots; {a,b} may not hold dots either
    return p.split(".")


def show(v):
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def differ(got, want):
    g, w = show(got), show(want)
    if "\n" not in g + w and len(g) + len(w) < 400:
        return "got:  %s\nwant: %s" % (g, w)
    if not isinstance(got, str) or not isinstance(want, str):
        g = json.dumps(got, indent=1, ensure_ascii=False)
        w = json.dumps(want, indent=1, ensure_ascii=False)
    if "\n" not in g + w:  # one long line: diff it in pieces
        g, w = ("\n".join(t[i:i + 100] for i in range(0, len(t), 100)) for t in (g, w))
    at = next((i for i, (x, y) in enumerate(zip(g, w)) if x != y), min(len(g), len(w)))
    return "\n".join(["first difference at character %d (got %d characters, want %d)" % (at, len(g), len(w))]
                     + list(difflib.unified_diff(w.split("\n"), g.split("\n"), "want", "got", lineterm="", n=2)))


def json_type(v):
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}[type(v)]


def compare(op, got, want):
    """None when the expectation holds, else what to print."""
    want = template(want)
    if op == "is":
        same = json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)  # true is not 1
        return None if same else differ(got, want)
    if op == "is_not":
        same = json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
        return None if not same else "got:  %s (must differ)" % show(got)
    if op in ("contains", "lacks"):
        if not isinstance(got, (str, list)):
            return "%s of a %s: %s" % (op, json_type(got), show(got))
        missing = [w for w in (want if isinstance(want, list) else [want]) if (w in got) != (op == "contains")]
        if not missing:
            return None
        what = "want" if op == "contains" else "must not hold"
        return "in:   %s\n%s: %s" % (show(got)[:3000], what, "\n      ".join(show(m) for m in missing))
    if op == "ends_with":
        return None if isinstance(got, str) and got.endswith(want) else \
            "end:  ...%s\nwant: ...%s" % (show(got)[-len(show(want)) - 20:], want)
    if op in ("lt", "gt"):
        ok = isinstance(got, (int, float)) and (got < want if op == "lt" else got > want)
        return None if ok else "got:  %s\nwant: %s %s" % (show(got), "<" if op == "lt" else ">", want)
    if op == "each_type":
        bad = [x for x in got if json_type(x) != want] if isinstance(got, list) else [got]
        return None if not bad and isinstance(got, list) else "not %s: %s" % (want, show(bad))
    raise CheckError("unknown op %r" % op)


OPS = ("is", "is_not", "contains", "lacks", "ends_with", "lt", "gt", "each_type", "unchanged")


class Tap:
    def __init__(self):
        self.n = self.failed = 0

    def line(self, ok, what, detail=None, skip=None):
        self.n += 1
        self.failed += not ok
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, what, " # SKIP " + skip if skip else ""))
        if detail and not ok:
            for line in detail.split("\n")[:60]:
                print("#   " + line)


def record_doc(log, err_text, conns, transport):
    d = dict(log)
    answers = []
    for inv in log["invocations"]:
        a = dict(inv)
        body = inv.get("body")
        if inv["kind"] == "response":
            a["result"] = body
        else:  # an error's body carries the result, when there is one
            a["result"] = body.get("result") if isinstance(body, dict) else None
        a["bytes"] = len(inv["raw"].encode()) if inv.get("raw") is not None else None
        answers.append(a)
    d["answers"] = answers
    d["stderr"] = err_text
    d["posts"] = json.dumps(log["requests"], ensure_ascii=False)
    d["exit_after_last_request_ms"] = (round(log["exited_t_ms"] - log["requests"][-1]["t_ms"], 1)
                                       if log["requests"] else None)
    d[transport.name] = conns
    return d


def not_here(tap, item, transport, what):
    """A scenario or check for one transport only ("only": NAME, "why": the reason the others
    cannot run it): a SKIP naming the reason elsewhere, a failure when the reason is missing."""
    only = item.get("only")
    if only is None or only == transport.name:
        return False
    ok = only in TRANSPORTS and bool(item.get("why"))
    tap.line(ok, what, "\"only\": %r needs a transport of %s and a \"why\"" % (only, TRANSPORTS),
             skip="%s only: %s" % (only, item.get("why")) if ok else None)
    return True


def run_one(args, tap, transport, run, db, where):
    name = run["name"]
    env = dict(os.environ)
    transport.env(env, db)
    env.update({k: str(v) for k, v in run.get("env", {}).items()})
    events = os.path.join(args.work, name + ".events")
    log = os.path.join(args.work, name + ".json")
    errf = os.path.join(args.work, name + ".err")
    with open(events, "w") as f:
        json.dump(run["events"], f)
    sqls = {}
    for c in run.get("expect", []):
        if c.get("unchanged"):
            sqls[c["sql"]] = psql(db, c["sql"])
    before = transport.before()
    with open(errf, "w") as ef:
        subprocess.run([sys.executable, os.path.join(ROOT, "tests/lambda/runtime_api.py"), "--events", events,
                        "--log", log, "--timeout", env.get("RAPI_TIMEOUT", "60")] + run.get("runtime_api", [])
                       + ["--", os.path.join(args.bin_dir, run["bundle"])], env=env, stderr=ef, cwd=ROOT)
    conns = transport.after(before)
    try:
        with open(log) as f:
            rec = json.load(f)
        doc = record_doc(rec, open(errf, errors="replace").read(), conns, transport)
    except (OSError, ValueError) as e:
        doc, broken = None, "no record from runtime_api.py (%s): %s" % (e, open(errf, errors="replace").read()[-2000:])
    for i, c in enumerate(run.get("expect", [])):
        ops = [o for o in OPS if o in c]
        what = c.get("what") or "%s: %s %s %s" % (name, c.get("of", c.get("sql")), ops[0] if ops else "?",
                                                  show(c.get(ops[0])) if ops else "")
        here = "%s, run %s, expect[%d]" % (where, name, i)
        if not_here(tap, c, transport, what):
            continue
        paths = c.get("of")
        first = (paths[0] if isinstance(paths, list) else paths or "").split(".")[0]
        if first in TRANSPORTS and first != transport.name:
            tap.line(True, what, skip="%s only (this run is over %s)" % (first, transport.name))
            continue
        try:
            if len(ops) != 1 or ("sql" in c) == ("of" in c):
                raise CheckError("a check needs one of of/sql and exactly one of %s" % ", ".join(OPS))
            if "sql" in c:
                got = psql(db, c["sql"])
                problem = (None if got == sqls[c["sql"]] else differ(got, sqls[c["sql"]])) if ops[0] == "unchanged" \
                    else compare(ops[0], got, c[ops[0]])
            else:
                if doc is None:
                    raise CheckError(broken)
                if not isinstance(paths, list):
                    problem = compare(ops[0], walk(doc, split_path(paths), paths), c[ops[0]])
                elif ops[0] in ("is", "is_not"):
                    problem = compare(ops[0], [walk(doc, split_path(p), p) for p in paths], c[ops[0]])
                else:  # each value on its own
                    problem = "\n".join(p + ": " + x for p in paths
                                        for x in [compare(ops[0], walk(doc, split_path(p), p), c[ops[0]])] if x) or None
        except CheckError as e:
            problem = str(e)
        tap.line(problem is None, what, problem and "%s\n(%s)" % (problem, here))
        if problem is None and ops[0] in ("lt", "gt") and isinstance(paths, str):  # a measurement: say what it was
            print("# %s = %s" % (paths, show(walk(doc, split_path(paths), paths))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True, help="where the suite linked each bundle's bootstrap")
    ap.add_argument("--work", required=True, help="scratch folder for records, events and stderr")
    ap.add_argument("--server-log", help="PostgreSQL's log (libpq.connections_opened counts its lines)")
    ap.add_argument("--transport", default="libpq", choices=TRANSPORTS)
    ap.add_argument("--dataapi-env", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of the bootstrap over the Data API (--transport dataapi)")
    ap.add_argument("--dataapi-log", help="the stand-in's call log (dataapi.calls counts its lines)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    transport = Transport(args.server_log) if args.transport == "libpq" else DataApi(args.dataapi_env, args.dataapi_log)
    tap = Tap()
    for path in args.files:
        where = os.path.relpath(path, ROOT)
        stem = re.sub(r"^\d+-", "", os.path.basename(path)[:-len(".json")]).replace("-", "_")
        try:
            scen = json.load(open(path))
        except ValueError as e:
            tap.line(False, "scenario %s is valid JSON" % where, str(e))
            continue
        if not_here(tap, scen, transport, "scenario %s: %s" % (where, scen.get("about", ""))):
            continue
        runs = scen.get("runs") or [scen]
        for i, r in enumerate(runs):
            r.setdefault("name", stem if i == 0 else "%s_%d" % (stem, i + 1))
        db = None
        if scen.get("database", "fresh") == "fresh":
            db = "lambda_" + stem
            transport.create(db)
        print("# scenario %s: %s" % (where, scen.get("about", "")))
        for r in runs:
            if not not_here(tap, r, transport, "scenario %s, run %s" % (where, r["name"])):
                run_one(args, tap, transport, r, db, where)
    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
