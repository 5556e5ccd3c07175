#!/usr/bin/env python3
"""A local AWS Lambda Runtime API (2018-06-01) that serves scripted events to a
bootstrap it starts, and records exactly what the bootstrap sends.

    runtime_api.py --events events.json --log log.json [options] -- build/gosling

It follows AWS's spec and the behaviour of aws-lambda-runtime-interface-emulator:
  GET  /2018-06-01/runtime/invocation/next           200 + event and its headers
  POST /2018-06-01/runtime/invocation/{id}/response  202; 400 InvalidRequestID (not the
       current invocation); 403 InvalidStateTransition (no invocation outstanding, e.g. a
       second answer); 413 RequestEntityTooLarge (over 6 MiB: the invocation then fails
       with Function.ResponseSizeTooLarge, as the emulator records it)
  POST /2018-06-01/runtime/invocation/{id}/error     202; 400; 403, as above.  The error
       type (Lambda-Runtime-Function-Error-Type) is normalised as the emulator does:
       kept when it contains (Runtime|Function).[A-Z][a-zA-Z]+, else Function.Unknown
       when it starts with "Function.", else Runtime.Unknown
  POST /2018-06-01/runtime/init/error                202 before the first /next, else 403
  other paths 404, other methods 405.
It also answers CodeDeploy's PutLifecycleEventHookExecutionStatus (POST / with
X-Amz-Target) when the bootstrap runs with AWS_ENDPOINT_URL_CODEDEPLOY=self.
When the script is exhausted the next /next runs --on-exhausted (its output goes to
the log), then, per --at-end: answers 500 (the spec's "runtime should exit"), closes
the connection, or hangs until --timeout.

The events file is a JSON list; each item:
  {"body": <JSON value> | "raw": "<text sent as is>",
   "request_id": "...", "deadline_in_ms": 300000, "arn": "...", "trace_id": "...",
   "lower_case_headers": false, "extra_headers": {"X-Unknown": "1"},
   "answer_status": 500}      # answer the bootstrap's post for this event with this status
The log (written when the bootstrap exits) holds every request (method, path,
headers, body, the status answered), one record per invocation, the init error,
the bootstrap's exit code and the --on-exhausted output.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
MAX_PAYLOAD = 6 * 1024 * 1024
ERROR_TYPE_RE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")


def normalise_error_type(t):
    """What the emulator's GetValidRuntimeOrFunctionErrorType makes of an error type."""
    if t is None:
        t = ""
    if ERROR_TYPE_RE.search(t):
        return t
    if t.startswith("Function."):
        return "Function.Unknown"
    return "Runtime.Unknown"


class State:
    def __init__(self, events, args):
        self.lock = threading.Lock()
        self.events = events
        self.args = args
        self.next_index = 0
        self.phase = "init"          # init -> invoking -> responded -> invoking ...
        self.current = None          # the invocation record being served
        self.requests = []
        self.invocations = []
        self.init_error = None
        self.violations = []
        self.codedeploy = []
        self.exhausted_output = None
        self.exhausted = threading.Event()
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def now(self):
        return round((time.monotonic() - self.t0) * 1000, 1)


def body_text(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as Lambda's Runtime API (Go) has: http.server writes a response's headers
    # and its body apart, and with Nagle's algorithm the body waited for the bootstrap's
    # delayed ACK, 40 ms on Linux, in every /next (tests/bench/fleet.sh timed it).
    disable_nagle_algorithm = True
    server_version = "gosling-runtime-api/1"

    def log_message(self, fmt, *a):   # quiet: everything goes to the log file
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, obj=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return status

    def record(self, body, status):
        st = self.server.state
        st.requests.append({
            "t_ms": st.now(), "method": self.command, "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body_text(body), "status": status,
        })

    def do_GET(self):
        st = self.server.state
        if self.path != PREFIX + "/invocation/next":
            with st.lock:
                self.record(b"", self.send(404 if self.path.startswith("/") else 400,
                                           {"errorMessage": "not found", "errorType": "NotFound"}))
            return
        with st.lock:
            if st.phase == "invoking":
                st.violations.append("/next while invocation %s was not answered" % st.current["request_id"])
                self.record(b"", self.send(403, {
                    "errorMessage": "State transition from Invoke to Ready failed for runtime: "
                                    "the invocation was not answered",
                    "errorType": "InvalidStateTransition"}))
                return
            if st.next_index >= len(st.events):
                self.record(b"", None)
                exhausted = True
            else:
                exhausted = False
                ev = st.events[st.next_index]
                st.next_index += 1
                rid = ev.get("request_id") or str(uuid.uuid4())
                deadline = int(time.time() * 1000) + int(ev.get("deadline_in_ms", 300000))
                if "raw" in ev:
                    payload = ev["raw"].encode()
                else:
                    payload = json.dumps(ev.get("body", {})).encode()
                hdrs = {
                    "Lambda-Runtime-Aws-Request-Id": rid,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        ev.get("arn", "arn:aws:lambda:eu-west-2:123456789012:function:gosling"),
                    "Lambda-Runtime-Trace-Id": ev.get(
                        "trace_id", "Root=1-%08x-%s;Parent=%s;Sampled=0" % (
                            int(time.time()), uuid.uuid4().hex[:24], uuid.uuid4().hex[:16])),
                }
                if ev.get("lower_case_headers"):
                    hdrs = {k.lower(): v for k, v in hdrs.items()}
                hdrs.update(ev.get("extra_headers", {}))
                hdrs["Content-Type"] = "application/json"
                inv = {"index": st.next_index - 1, "request_id": rid, "deadline_ms": deadline,
                       "served_t_ms": st.now(), "served_epoch_ms": int(time.time() * 1000),
                       "kind": None, "answer_status": ev.get("answer_status")}
                st.invocations.append(inv)
                st.current = inv
                st.phase = "invoking"
                self.record(b"", self.send(200, headers=hdrs, raw=payload))
        if exhausted:
            self.at_end()

    def at_end(self):
        st = self.server.state
        if st.args.on_exhausted and st.exhausted_output is None:
            p = subprocess.run(st.args.on_exhausted, shell=True, capture_output=True, text=True)
            st.exhausted_output = (p.stdout + p.stderr).strip()
        st.exhausted.set()
        mode = st.args.at_end
        with st.lock:
            st.requests[-1]["at_end"] = mode
        if mode == "500":
            with st.lock:
                st.requests[-1]["status"] = self.send(500, {
                    "errorMessage": "no more events in the script", "errorType": "ScriptExhausted"})
        elif mode == "close":
            self.close_connection = True
        else:
            st.stop.wait(st.args.timeout)
            self.close_connection = True

    def do_POST(self):
        st = self.server.state
        body = self.read_body()
        m = re.fullmatch(PREFIX + r"/invocation/([^/]+)/(response|error)", self.path)
        with st.lock:
            if self.path == "/" and self.headers.get("X-Amz-Target"):
                # CodeDeploy's JSON API (AWS_ENDPOINT_URL_CODEDEPLOY=self points the bootstrap here)
                st.codedeploy.append({"target": self.headers.get("X-Amz-Target"),
                                      "headers": {k: v for k, v in self.headers.items()},
                                      "body": parse_json(body_text(body))})
                status = st.args.codedeploy_status
                self.record(body, self.send(status, {} if status == 200 else {
                    "__type": "AccessDeniedException", "message": "scripted failure"}))
                return
            if self.path == PREFIX + "/init/error":
                if st.phase != "init":
                    self.record(body, self.send(403, {
                        "errorMessage": "State transition from Ready to InitError failed for runtime",
                        "errorType": "InvalidStateTransition"}))
                    return
                et = self.headers.get("Lambda-Runtime-Function-Error-Type")
                st.init_error = {"error_type": et, "error_type_normalised": normalise_error_type(et),
                                 "body": parse_json(body_text(body)), "raw": body_text(body),
                                 "t_ms": st.now()}
                st.phase = "init-error"
                self.record(body, self.send(202, {"status": "OK"}))
                return
            if not m:
                self.record(body, self.send(404, {"errorMessage": "not found", "errorType": "NotFound"}))
                return
            rid, what = m.group(1), m.group(2)
            if st.phase != "invoking":
                self.record(body, self.send(403, {
                    "errorMessage": "State transition from %s to Invocation%s failed for runtime"
                                    % (st.phase, what.capitalize()),
                    "errorType": "InvalidStateTransition"}))
                return
            inv = st.current
            if rid != inv["request_id"]:
                self.record(body, self.send(400, {"errorMessage": "Invalid request ID",
                                                  "errorType": "InvalidRequestID"}))
                return
            inv["answered_t_ms"] = st.now()
            inv["answered_epoch_ms"] = int(time.time() * 1000)
            inv["elapsed_ms"] = round(inv["answered_t_ms"] - inv["served_t_ms"], 1)
            inv["before_deadline"] = inv["answered_epoch_ms"] < inv["deadline_ms"]
            inv["raw"] = body_text(body)
            inv["body"] = parse_json(inv["raw"])
            inv["content_type"] = self.headers.get("Content-Type")
            st.phase = "responded"
            if inv["answer_status"]:
                inv["kind"] = what
                self.record(body, self.send(int(inv["answer_status"]), {
                    "errorMessage": "scripted failure", "errorType": "Scripted"}))
                return
            if what == "response" and len(body) > MAX_PAYLOAD:
                inv["kind"] = "error"
                inv["error_type"] = inv["error_type_normalised"] = "Function.ResponseSizeTooLarge"
                self.record(body, self.send(413, {
                    "errorMessage": "Exceeded maximum allowed payload size (%d bytes)." % MAX_PAYLOAD,
                    "errorType": "RequestEntityTooLarge"}))
                return
            inv["kind"] = what
            if what == "error":
                et = self.headers.get("Lambda-Runtime-Function-Error-Type")
                inv["error_type"] = et
                inv["error_type_normalised"] = normalise_error_type(et)
            self.record(body, self.send(202, {"status": "OK"}))

    def do_PUT(self):
        self.read_body()
        with self.server.state.lock:
            self.record(b"", self.send(405, {"errorMessage": "method not allowed",
                                             "errorType": "MethodNotAllowed"}))

    do_DELETE = do_PUT
    do_PATCH = do_PUT


def load_events(args):
    events = []
    if args.events:
        with open(args.events) as f:
            events = json.load(f)
    for e in args.event or []:
        events.append({"raw": e})
    return events


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", help="JSON file: list of scripted events")
    ap.add_argument("--event", action="append", help="one event body, sent as is (repeatable)")
    ap.add_argument("--log", required=True, help="where to write the JSON record")
    ap.add_argument("--at-end", choices=["500", "close", "hang"], default="500")
    ap.add_argument("--on-exhausted", help="shell command run when the script is exhausted")
    ap.add_argument("--codedeploy-status", type=int, default=200,
                    help="status answered to PutLifecycleEventHookExecutionStatus")
    ap.add_argument("--timeout", type=float, default=120, help="seconds before the bootstrap is killed")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- bootstrap [args]")
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no bootstrap command given (after --)")

    st = State(load_events(args), args)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = st
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % srv.server_address[1]
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", "gosling")
    if env.get("AWS_ENDPOINT_URL_CODEDEPLOY") == "self":
        env["AWS_ENDPOINT_URL_CODEDEPLOY"] = "http://127.0.0.1:%d" % srv.server_address[1]
    child = subprocess.Popen(cmd, env=env)
    killed = False
    try:
        code = child.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        killed = True
        child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    exited_ms = st.now()
    st.stop.set()
    srv.shutdown()
    with st.lock:
        record = {
            "events": len(st.events), "served": st.next_index, "exhausted": st.exhausted.is_set(),
            "exit_code": code, "killed_after_timeout": killed, "exited_t_ms": exited_ms,
            "init_error": st.init_error, "invocations": st.invocations, "violations": st.violations,
            "on_exhausted_output": st.exhausted_output, "codedeploy": st.codedeploy,
            "requests": st.requests,
        }
    with open(args.log, "w") as f:
        json.dump(record, f, indent=1)
    answered = sum(1 for i in st.invocations if i["kind"])
    print("runtime-api: %d/%d events served, %d answered, bootstrap exit %s%s"
          % (st.next_index, len(st.events), answered, code, " (killed)" if killed else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
