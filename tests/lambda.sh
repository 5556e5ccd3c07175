#!/usr/bin/env bash
# tests/lambda.sh - gosling as a Lambda bootstrap: the Runtime API loop against the
# local Runtime API (tests/lambda/runtime_api.py) and a throwaway PostgreSQL.  Prints TAP.
#
#   tests/lambda.sh                 everything, valgrind included
#   GOSLING_NO_VALGRIND=1 tests/lambda.sh
#
# The scenarios are data: tests/lambda/scenarios/NNN-name.json, each a bundle of
# tests/lambda/migrations/<name>/ (compiled and linked here as $T/<name>), the bootstrap's
# environment, the events, and the answers, log lines and database contents each run must
# end with; tests/lambda/scenarios.py runs them and documents the format (docs/testing.md
# too).  A new event-to-answer case is a new file there.  What stays below is code, each
# with the reason: the Runtime API's own spec check, checks that parse every log line,
# a bundle generated at test time and compared against the CLI, and valgrind.
cd "$(dirname "$0")/.."
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

T=$(mktemp -d /tmp/gosling-lambda.XXXXXX)
PG_OPTS="-c log_connections=on"	# the scenarios' libpq.connections_opened counts these lines
pg_start
trap 'pg_stop; rm -rf "$T"' EXIT
unset AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL GOSLING_LOG_LEVEL _X_AMZN_TRACE_ID AWS_ENDPOINT_URL \
	AWS_ENDPOINT_URL_CODEDEPLOY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

# bundle NAME: compile tests/lambda/migrations/NAME into the bootstrap $T/NAME
bundle() {
	"$GOSLINGC" build --quiet --out "$T/$1.c" "tests/lambda/migrations/$1" &&
		gosling_link "$T/$1" "$T/$1.c"
}

. tests/lib/rapi.sh	# rapi NAME BOOTSTRAP EVENTS, j NAME EXPR, is_j

# newdb NAME: a fresh database per scenario, named after it
newdb() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE lambda_$1" >/dev/null
	echo "lambda_$1"
}

# --- the local Runtime API itself, against AWS's spec --------------------------------
# Code: it drives the Runtime API with a scripted client (tests/lambda/spec_client.sh), not
# a bootstrap, and checks the status of each wrong move.

spec=$(rapi spec tests/lambda/spec_client.sh '[{"body": {}}, {"body": {}}, {"body": {}}, {"body": {}}]')
is "$(echo $spec)" "response-before-next 403 init-error-after-next 403 next-while-invoking 403 wrong-request-id 400 response 202 second-response 403 error-after-response 403 too-large 413 error 202 error-function 202 unknown-path 404 wrong-method 405" \
	"runtime api: 202, 400, 403, 404, 405 and 413 where AWS's spec has them"
is_j spec '[i.get("error_type_normalised") for i in inv]' '[null, "Function.ResponseSizeTooLarge", "Runtime.Unknown", "Function.Unknown"]' \
	"runtime api: error types normalised as the emulator does"

# utf8: PostgreSQL's message, detail and hint cut mid-character, and a LATIN1 error (100-utf8.json)
for b in ok fail drift sleep utf8; do
	ok "bundle $b compiles and links" bundle $b
done

# --- the scenarios: events in, expected answers out ------------------------------------

rc=0
python3 tests/lambda/scenarios.py --bin-dir "$T" --work "$T" --server-log "$PG_TMP/server.log" \
	tests/lambda/scenarios/*.json >"$T/scenarios.tap" || rc=$?
tap_include <"$T/scenarios.tap"
[ "$rc" = 0 ] || [ "$tap_included_failed" != 0 ] || fail "the scenario runner exited $rc without reporting a failure"

# The runner itself must be able to fail: a scenario with four expectations wrong on purpose
# (a value, a log line, a database value, a field that is not there) and one right.
cat >"$T/999-wrong.json" <<'EOF'
{"bundle": "ok", "events": [{"body": {}}], "expect": [
 {"what": "right", "of": "answers.0.result.version_after", "is": 2},
 {"what": "wrong value", "of": "answers.0.result.{version_before,version_after}", "is": [0, 3]},
 {"what": "wrong log line", "of": "stderr", "contains": "applied 003_"},
 {"what": "wrong database value", "sql": "SELECT count(*) FROM widgets", "is": "3"},
 {"what": "a field that is not there", "of": "answers.0.result.no_such_field", "is": null}]}
EOF
wrong=$(python3 tests/lambda/scenarios.py --bin-dir "$T" --work "$T" "$T/999-wrong.json" 2>&1) || true
is "$(sed -nE 's/^(not ok|ok) [0-9]+ - (.*)/\1: \2/p' <<<"$wrong" | tr '\n' ',')" \
	"ok: right,not ok: wrong value,not ok: wrong log line,not ok: wrong database value,not ok: a field that is not there," \
	"the scenario runner fails each wrong expectation, and only those"
like "$wrong" "#   got:  [0, 2]
#   want: [0, 3]" "... showing what it got and what it wanted"

# --- JSON log lines, parsed one by one -------------------------------------------------
# Code: each line of the bootstrap's stderr parsed as JSON, then filtered (errors, the lines
# written during the invocation) and compared field by field; they read the records the
# scenarios 100-utf8.json and 110-jsonlog.json left in $T.

ok "every JSON log line is JSON, the errors' included" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if not l.startswith("runtime-api:")]
errors = [json.loads(l) for l in lines if json.loads(l)["level"] == "ERROR"]
assert any("caf?" in e["message"] for e in errors), errors
assert any(e["message"].endswith("€" * 170 + " (sqlstate P0001)") for e in errors), errors
' "$T/utf8.err"
ok "AWS_LAMBDA_LOG_FORMAT=JSON: every log line is a JSON object with a level" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if not l.startswith("runtime-api:")]
assert lines
for l in lines:
    o = json.loads(l)
    assert o["level"] in ("DEBUG", "INFO", "WARN", "ERROR") and o["message"], l
' "$T/jsonlog.err"
ok "JSON log: every line written during the invocation carries its requestId (Lambda's JSON format)" python3 -c '
import json, sys
rid = json.load(open(sys.argv[2]))["invocations"][0]["request_id"]
lines = [json.loads(l) for l in open(sys.argv[1]) if not l.startswith("runtime-api:")]
during = [o for o in lines if o["message"].startswith(("up", "applied", "Function."))]
assert len(during) >= 3, during
for o in during:
    assert o.get("requestId") == rid and set(o) == {"timestamp", "level", "message", "requestId"}, o
ready = [o for o in lines if o["message"].startswith("ready:")]
assert ready and "requestId" not in ready[0], ready
' "$T/jsonlog.err" "$T/jsonlog.json"

# --- a result over Lambda's 6 MB response limit -------------------------------------------
# 17,500 migrations with 241-byte names: the up result is ~6.9 MB, over the 6 MiB that
# Lambda (and the local Runtime API) take; the migrations committed, so the answer is
# success with a shorter list, never Function.ResponseSizeTooLarge.  The last one
# divides by ${BIG_DIVISOR} (ENVSUB): 0 makes the same run a failure just as large.
# Code: the bundle is generated at test time (17,500 files), the untrimmed size comes from
# the CLI's --json output of the same bundle, and the expected counts are computed from it.
mkdir -p "$T/migrations/big"
python3 - "$T/migrations/big" <<'EOF'
import sys
n, name = 17500, ("add_the_order_fulfilment_reporting_column_for_the_regional_supplier_dashboard_" * 3)[:230]
for v in range(1, n + 1):
    up = {1: "CREATE TABLE big_things (v integer PRIMARY KEY);",
          n: "-- +goose ENVSUB ON\nINSERT INTO big_things VALUES (%d / ${BIG_DIVISOR});" % v}.get(
        v, "INSERT INTO big_things VALUES (%d);" % v)
    with open("%s/%06d_%s.sql" % (sys.argv[1], v, name), "w") as f:
        f.write("-- +goose Up\n%s\n-- +goose Down\nSELECT 1;\n" % up)
EOF
ok "bundle big (17,500 migrations) compiles and links" \
	eval '"$GOSLINGC" build --quiet --out "$T/big.c" "$T/migrations/big" && gosling_link "$T/big" "$T/big.c"'
db=$(newdb big)
PGDATABASE=$db BIG_DIVISOR=1 GOSLING_LOG_LEVEL=warn RAPI_TIMEOUT=300 rapi big "$T/big" '[{"body": {}}]'
# what the untrimmed result would have been: the CLI's --json output is the same document
PGDATABASE=$(newdb big_cli) BIG_DIVISOR=1 "$T/big" up --json >"$T/big_cli.json" 2>/dev/null
full=$(wc -c <"$T/big_cli.json")
echo "# up result untrimmed: $full bytes; answered: $(j big 'len(inv[0]["raw"].encode())') bytes (limit 6,291,456), $(j big 'res(0).get("trimmed", {}).get("migrations_dropped")') of 17,500 items dropped"
is_j big '[inv[0]["kind"], res(0)["ok"], res(0)["version_before"], res(0)["version_after"]]' '["response", true, 0, 17500]' \
	"an up whose result is over 6 MB answers success with its versions"
ok "... the untrimmed result really is over 6 MiB ($full bytes)" test "$full" -gt 6291456
is_j big '[t["migrations"], t["migrations_dropped"], t["counts"], t["migrations"] - t["migrations_dropped"] == len(res(0)["migrations"])] if (t := res(0).get("trimmed")) else None' \
	"[17500, $(j big '17500 - len(res(0)["migrations"])'), {\"applied\": 17500}, true]" \
	"... marked trimmed: 17,500 migrations, how many were dropped, 17,500 applied"
is_j big 'len(res(0)["migrations"]) > 10000 and len(inv[0]["raw"].encode()) <= 6291456' True "... keeping as much of the list as fits"
is "$(psql_q "$db" "SELECT count(*), max(version) FROM gosling_migrations"):$(psql_q "$db" "SELECT count(*) FROM big_things")" \
	"17500|17500:17499" "... and the database has every migration applied"
like "$(cat "$T/big.err")" "over lambda's 6 MB response limit: its per-migration list was cut" "... the log says so"

db=$(newdb big_fail)
PGDATABASE=$db BIG_DIVISOR=0 GOSLING_LOG_LEVEL=warn RAPI_TIMEOUT=300 rapi big_fail "$T/big" '[{"body": {}}, {"body": {"command": "version"}}]'
echo "# failed up: error document answered: $(j big_fail 'len(inv[0]["raw"].encode())') bytes"
is_j big_fail '[inv[0]["error_type"], res(0)["ok"], res(0)["version_after"], res(0)["error"]["file"][:7]]' \
	'["Function.MigrationFailed", false, 17499, "017500_"]' "a failure whose result is over 6 MB answers its error with the result"
is_j big_fail '[res(0)["trimmed"]["counts"], res(0)["trimmed"]["migrations_dropped"] > 0, res(0)["migrations"][-1]["action"], res(0)["migrations"][-1]["version"]]' \
	'[{"applied": 17499, "failed": 1}, true, "failed", 17500]' "... trimmed the same way, keeping the migration that failed"
like "$(j big_fail 'err(0)["errorMessage"]')" "unable to apply 017500_add_the_order_fulfilment_reporting" "... errorMessage names the file"
like "$(j big_fail 'err(0)["errorMessage"]')" "division by zero (sqlstate 22012)" "... and PostgreSQL's error"
is "$(psql_q "$db" "SELECT count(*) FROM big_things")" 17498 "... the database has all but the failed migration"
is_j big_fail '[inv[1]["kind"], res(1)["version_after"], "trimmed" in res(1)]' '["response", 17499, false]' \
	"a small result is not trimmed"

# --- 50 events on one process: no leaks --------------------------------------------------
# Code: valgrind wraps the bootstrap, its log is read, and the open connections are counted
# while the process still runs (runtime_api.py --on-exhausted).

db=$(newdb valgrind)
events=$(python3 - <<'EOF'
import json
kinds = [{}, {"command": "status"}, {"command": "verify"}, {"command": "plan"}, {"command": "list"},
         {"command": "version"}, {"command": "upp"}, {"junk": True},
         {"tf": {"action": "delete", "prev_input": None}}, {"command": "up-to", "version": 1}]
print(json.dumps([{"body": kinds[i % len(kinds)]} for i in range(50)]))
EOF
)
if [ "$GOSLING_TEST_ARCH" = asan ]; then
	skip "50 events under valgrind" "valgrind cannot run an AddressSanitizer build (LeakSanitizer checks this one)"
elif [ -n "${GOSLING_NO_VALGRIND:-}" ] || [ "$GOSLING_TEST_ARCH" != host ] || ! command -v valgrind >/dev/null; then
	skip "50 events under valgrind" "valgrind disabled (or not the host build)"
else
	PGDATABASE=$db RAPI_TIMEOUT=600 rapi valgrind \
		"valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/valgrind.log $T/ok" \
		"$events" --on-exhausted "psql -X -A -t -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gosling'\""
	is_j valgrind '[i["kind"] is not None for i in inv].count(True)' 50 "50 events answered on one process"
	is_j valgrind 'd["on_exhausted_output"]' 0 "after 50 events no connection is open (the process still running)"
	is_j valgrind 'd["exit_code"]' 1 "valgrind finds no error and no leak (exit 1 from the final 500, not 99)"
	ok "valgrind log is clean" sh -c "! grep -qE 'definitely lost|indirectly lost|Invalid (read|write)|uninitialised' '$T/valgrind.log'"
	[ -s "$T/valgrind.log" ] && sed 's/^/# /' "$T/valgrind.log" | head -40
	# the failure paths: a failing migration, then status, twenty times
	db=$(newdb valgrind_fail)
	events=$(python3 -c 'import json; print(json.dumps([{"body": [{}, {"command": "status"}][i % 2]} for i in range(20)]))')
	PGDATABASE=$db RAPI_TIMEOUT=600 rapi valgrind_fail \
		"valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/valgrind_fail.log $T/fail" \
		"$events"
	is_j valgrind_fail '[i["kind"] for i in inv].count("error")' 10 "20 events with a failing migration: 10 errors answered"
	is_j valgrind_fail 'd["exit_code"]' 1 "valgrind finds no error and no leak on the failure paths"
	[ -s "$T/valgrind_fail.log" ] && sed 's/^/# /' "$T/valgrind_fail.log" | head -40
	# the deadline path: a statement cancelled at the deadline, a deadline refused at once, status
	db=$(newdb valgrind_deadline)
	PGDATABASE=$db GOSLING_DEADLINE_MARGIN=1000 RAPI_TIMEOUT=600 rapi valgrind_deadline \
		"valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/valgrind_deadline.log $T/sleep" \
		'[{"body": {"command": "up-to", "version": 2}}, {"body": {}, "deadline_in_ms": 4000}, {"body": {}, "deadline_in_ms": 4000},
		  {"body": {}, "deadline_in_ms": 500}, {"body": {"command": "status"}}]'
	is_j valgrind_deadline '[i["kind"] for i in inv]' '["response", "error", "error", "error", "response"]' \
		"under valgrind: two statements cancelled at the deadline, one deadline refused at once"
	is_j valgrind_deadline '[res(1)["error"]["sqlstate"], res(2)["error"]["sqlstate"]]' '["57014", "57014"]' \
		"... the cancel is PostgreSQL's (57014)"
	is_j valgrind_deadline 'd["exit_code"]' 1 "valgrind finds no error and no leak on the deadline paths"
	[ -s "$T/valgrind_deadline.log" ] && sed 's/^/# /' "$T/valgrind_deadline.log" | head -40
fi

done_testing
