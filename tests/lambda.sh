#!/usr/bin/env bash
# tests/lambda.sh - gosling as a Lambda bootstrap: the Runtime API loop against the
# local Runtime API (tests/lambda/runtime_api.py) and a throwaway PostgreSQL.
#
# Each scenario compiles its own bundle from tests/lambda/migrations/<name>/, runs
# the bootstrap on a script of events and checks what it posted (the log the
# server writes) and what the database holds afterwards.  Prints TAP.
#
#   tests/lambda.sh                 everything, valgrind included
#   GOSLING_NO_VALGRIND=1 tests/lambda.sh
cd "$(dirname "$0")/.."
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

T=$(mktemp -d /tmp/gosling-lambda.XXXXXX)
PG_OPTS="-c log_connections=on"
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
gosling_conns() { psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gosling'"; }
connections_logged() { grep -c 'connection received' "$PG_TMP/server.log" || true; }

# --- the local Runtime API itself, against AWS's spec --------------------------------

spec=$(rapi spec tests/lambda/spec_client.sh '[{"body": {}}, {"body": {}}, {"body": {}}, {"body": {}}]')
is "$(echo $spec)" "response-before-next 403 init-error-after-next 403 next-while-invoking 403 wrong-request-id 400 response 202 second-response 403 error-after-response 403 too-large 413 error 202 error-function 202 unknown-path 404 wrong-method 405" \
	"runtime api: 202, 400, 403, 404, 405 and 413 where AWS's spec has them"
is_j spec '[i.get("error_type_normalised") for i in inv]' '[null, "Function.ResponseSizeTooLarge", "Runtime.Unknown", "Function.Unknown"]' \
	"runtime api: error types normalised as the emulator does"

for b in ok fail drift sleep; do
	ok "bundle $b compiles and links" bundle $b
done

# --- init -----------------------------------------------------------------------

(unset PGHOST; rapi init "$T/ok" '[{"body": {}}]')
is_j init 'd["init_error"]["error_type"]' Function.ConfigError "no database configured: /runtime/init/error with Function.ConfigError"
like "$(j init 'd["init_error"]["body"]["errorMessage"]')" "no database configured" "init error names what is missing"
is_j init 'd["served"]' 0 "init error: no /next asked"
is_j init 'd["exit_code"] != 0' True "init error: exits non-zero"

GOSLING_LOCK_WAIT=soon rapi init2 "$T/ok" '[{"body": {}}]'
is_j init2 'd["init_error"]["error_type"]' Function.ConfigError "invalid setting: /runtime/init/error"
like "$(j init2 'd["init_error"]["body"]["errorMessage"]')" "lock-wait" "init error names the setting"

# --- up, then nothing to do -------------------------------------------------------

db=$(newdb up)
PGDATABASE=$db GOSLING_LOG_LEVEL=debug rapi up "$T/ok" '[
	{"body": {}, "trace_id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"},
	{"body": {}, "lower_case_headers": true, "extra_headers": {"X-Something-New": "ignored"}},
	{"body": {"command": "status"}},
	{"body": {"command": "verify"}},
	{"body": {"command": "version"}}]'
is_j up '[i["kind"] for i in inv]' '["response", "response", "response", "response", "response"]' "five events, five responses"
is_j up 'res(0)["ok"] and res(0)["version_after"]' 2 "{} migrates to version 2"
is_j up '[m["action"] for m in res(0)["migrations"]]' '["applied", "applied"]' "{} answers the applied migrations"
is_j up 'all(isinstance(m["duration_ms"], int) for m in res(0)["migrations"])' True "applied migrations carry their times"
is_j up '[res(1)["version_before"], res(1)["version_after"], [m.get("action") for m in res(1)["migrations"] if m.get("action") == "applied"]]' '[2, 2, []]' "second {} answers nothing to do"
is_j up '[m["state"] for m in res(2)["migrations"]]' '["applied", "applied"]' "status event"
is_j up 'res(3)["ok"]' True "verify event"
is_j up 'res(4)["version_after"]' 2 "version event"
is "$(psql_q "$db" 'SELECT count(*) FROM widgets')" 2 "the database holds the migrated data"
ok "lower-case header names and unknown headers are accepted" test "$(j up 'inv[1]["kind"]')" = response
like "$(cat "$T/up.err")" "_X_AMZN_TRACE_ID=Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1" "Lambda-Runtime-Trace-Id becomes _X_AMZN_TRACE_ID"
like "$(cat "$T/up.err")" "applied 001_create_widgets.sql (1/2, " "a log line per migration with its time"
is_j up 'd["exit_code"]' 1 "a 500 from /next ends the bootstrap (exit 1)"
is_j up 'd["exited_t_ms"] - d["requests"][-1]["t_ms"] < 1000' True "... promptly"
is_j up 'd["violations"]' '[]' "no Runtime API protocol violations"
is "$(gosling_conns)" 0 "no connection left open"

# --- a failing migration -----------------------------------------------------------

db=$(newdb fail)
PGDATABASE=$db rapi fail "$T/fail" '[{"body": {}}, {"body": {"command": "status"}}]'
is_j fail 'inv[0]["kind"]' error "failing migration answers /error"
is_j fail 'inv[0]["error_type"]' Function.MigrationFailed "... with Function.MigrationFailed"
is_j fail 'err(0)["errorType"]' Function.MigrationFailed "... errorType in the body too"
msg=$(j fail 'err(0)["errorMessage"]')
like "$msg" "003_add_gadgets.sql" "errorMessage names the file"
like "$msg" "statement 2" "errorMessage names the statement"
like "$msg" "line 5" "errorMessage names the line (of the error, inside statement 2)"
like "$msg" 'relation "no_such_table" does not exist' "errorMessage carries PostgreSQL's text"
is_j fail '[(m["name"], m.get("action")) for m in res(0)["migrations"]]' \
	'[["001_create_widgets.sql", "applied"], ["002_seed_widgets.sql", "applied"], ["003_add_gadgets.sql", "failed"]]' \
	"the error carries what was applied and what was not"
is_j fail 'inv[1]["kind"]' response "the loop goes on to serve the next event"
is "$(psql_q "$db" "SELECT to_regclass('gadgets') IS NULL")" t "the failed migration left nothing behind"
is "$(gosling_conns)" 0 "no connection left open after a failure"

# --- drift ----------------------------------------------------------------------

db=$(newdb drift0)
PGDATABASE=$db rapi drift0 "$T/ok" '[{"body": {}}]'
hist=$(psql_q "$db" "SELECT string_agg(version || name || exec_checksum, ',') FROM gosling_migrations")
PGDATABASE=$db rapi drift "$T/drift" '[{"body": {}}, {"body": {"command": "verify"}}]'
is_j drift 'inv[0]["error_type"]' Function.DriftDetected "a drifted database answers Function.DriftDetected"
like "$(j drift 'err(0)["errorMessage"]')" "002_seed_widgets.sql" "... naming the migration"
is_j drift 'inv[1]["error_type"]' Function.DriftDetected "verify answers Function.DriftDetected too"
is "$(psql_q "$db" "SELECT string_agg(version || name || exec_checksum, ',') FROM gosling_migrations")" "$hist" "drift changed no history"
is "$(psql_q "$db" "SELECT string_agg(name, ',' ORDER BY id) FROM widgets")" "sprocket,cog" "drift changed no data"

# --- bad events -------------------------------------------------------------------

db=$(newdb bad)
before=$(connections_logged)
PGDATABASE=$db rapi bad "$T/ok" '[
	{"body": {"command": "upp"}},
	{"body": {"command": 3}},
	{"body": {"command": "up-to"}},
	{"body": {"command": "up-to", "version": "two"}},
	{"body": {"command": "up", "junk": 1}},
	{"raw": "{} trailing junk"},
	{"raw": "[]"},
	{"body": {"command": "status", "version": 1}},
	{"body": {"tf": {"action": "explode"}}},
	{"body": {"DeploymentId": "d-123"}},
	{"raw": "{\"command\": \"up\", \"command\": \"down\"}"},
	{"body": {"allow_down": "yes"}},
	{"body": {"command": "down"}},
	{"raw": ""},
	{"body": {"atomic": "yes"}}]'
is "$(connections_logged)" "$before" "no database connection during init or for bad events"
is_j bad '[i["error_type"] for i in inv]' "$(python3 -c 'import json; print(json.dumps(["Function.BadRequest"] * 15))')" "every bad event answers Function.BadRequest"
is_j bad 'err(0)["errorMessage"]' 'bad event: field "command": unknown command "upp" (up, up-to, down, down-to, redo, status, verify, plan, baseline, version, list)' "unknown command names the field"
like "$(j bad 'err(1)["errorMessage"]')" 'field "command" must be a string, not an integer' "wrong type names the field"
like "$(j bad 'err(2)["errorMessage"]')" 'field "version" is required by "up-to"' "missing version names the field"
like "$(j bad 'err(3)["errorMessage"]')" 'field "version" must be a non-negative integer (or a string of digits), not that string' "a version that is not a number is refused"
like "$(j bad 'err(4)["errorMessage"]')" 'unknown field "junk"' "extra junk names the field"
like "$(j bad 'err(5)["errorMessage"]')" 'not valid JSON' "trailing junk is refused"
like "$(j bad 'err(6)["errorMessage"]')" 'must be a JSON object' "an array is refused"
like "$(j bad 'err(7)["errorMessage"]')" 'field "version" does not apply to "status"' "a version where none applies is refused"
like "$(j bad 'err(8)["errorMessage"]')" 'field "tf.action"' "a bad tf.action names the field"
like "$(j bad 'err(9)["errorMessage"]')" 'LifecycleEventHookExecutionId' "an incomplete CodeDeploy event names the missing field"
like "$(j bad 'err(10)["errorMessage"]')" 'duplicate' "duplicate keys are refused"
like "$(j bad 'err(11)["errorMessage"]')" 'field "allow_down" must be true or false' "a bad allow_down names the field"
like "$(j bad 'err(12)["errorMessage"]')" 'allow_down' "down without allow_down is refused"
like "$(j bad 'err(14)["errorMessage"]')" 'field "atomic" must be true or false, not a string' "a bad atomic names the field"
is "$(psql_q "$db" "SELECT to_regclass('gosling_migrations') IS NULL")" t "bad events changed nothing"

# --- Terraform and CodeDeploy --------------------------------------------------------

db=$(newdb tf)
PGDATABASE=$db rapi tf "$T/ok" '[
	{"body": {"tf": {"action": "delete", "prev_input": {"command": "up"}}}},
	{"body": {"command": "up", "tf": {"action": "create", "prev_input": null}}}]'
is_j tf '[inv[0]["kind"], res(0)["tf_action"]]' '["response", "delete"]' "tf.action = delete answers success"
is_j tf 'res(1)["version_after"]' 2 "tf.action = create runs the command"
db2=$(newdb tfdel)
PGDATABASE=$db2 rapi tfdel "$T/ok" '[{"body": {"command": "up", "tf": {"action": "delete", "prev_input": {}}}}]'
is "$(psql_q "$db2" "SELECT to_regclass('gosling_migrations') IS NULL")" t "tf.action = delete does nothing to the database"

cd_event='[{"body": {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoi"}}]'
db=$(newdb codedeploy)
PGDATABASE=$db AWS_ENDPOINT_URL_CODEDEPLOY=self AWS_REGION=eu-west-2 AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY AWS_SESSION_TOKEN=session-token-sekrit \
	rapi codedeploy "$T/ok" "$cd_event"
is_j codedeploy '[inv[0]["kind"], res(0)["version_after"], res(0)["codedeploy"]["status"], res(0)["codedeploy"]["reported"]]' \
	'["response", 2, "Succeeded", true]' "a CodeDeploy hook event runs up and answers Succeeded"
is_j codedeploy 'd["codedeploy"][0]["body"]' \
	'{"deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoi", "status": "Succeeded"}' \
	"PutLifecycleEventHookExecutionStatus carries the deployment, the hook and the status"
is_j codedeploy 'd["codedeploy"][0]["target"]' CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus "... as CodeDeploy's JSON API call"
like "$(j codedeploy 'd["codedeploy"][0]["headers"]["Authorization"]')" \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/$(date -u +%Y%m%d)/eu-west-2/codedeploy/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=" \
	"... SigV4-signed with the function's credentials"
is_j codedeploy 'd["codedeploy"][0]["headers"].get("X-Amz-Security-Token")' session-token-sekrit "... with its session token"
ok "no secret key or session token in the log" sh -c "! grep -qE 'wJalrXUtnFEMI|session-token-sekrit' '$T/codedeploy.err'"
db=$(newdb codedeploy_fail)
PGDATABASE=$db AWS_ENDPOINT_URL_CODEDEPLOY=self AWS_REGION=eu-west-2 AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY rapi codedeploy_fail "$T/fail" "$cd_event"
is_j codedeploy_fail '[inv[0]["error_type"], d["codedeploy"][0]["body"]["status"]]' '["Function.MigrationFailed", "Failed"]' \
	"a failing migration under CodeDeploy reports Failed and answers Function.MigrationFailed"
db=$(newdb codedeploy_denied)
PGDATABASE=$db AWS_ENDPOINT_URL_CODEDEPLOY=self AWS_REGION=eu-west-2 AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY rapi codedeploy_denied "$T/ok" "$cd_event" --codedeploy-status 400
is_j codedeploy_denied 'inv[0]["error_type"]' Function.ConfigError "a status CodeDeploy refuses answers Function.ConfigError"
like "$(j codedeploy_denied 'err(0)["errorMessage"]')" "unable to report Succeeded to codedeploy" "... saying so"
db=$(newdb codedeploy_nocreds)
(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; PGDATABASE=$db rapi codedeploy_nocreds "$T/ok" "$cd_event")
like "$(j codedeploy_nocreds 'err(0)["errorMessage"]')" "unable to report Succeeded to codedeploy for deployment d-ABCDEF123: the codedeploy report needs an AWS region" \
	"no region or credentials: the hook event fails loudly"

# --- proxy variables never reach the Runtime API ----------------------------------------

db=$(newdb proxyvars)
PGDATABASE=$db http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
	all_proxy=http://127.0.0.1:9 rapi proxyvars "$T/ok" '[{"body": {}}, {"body": {"command": "status"}}]'
is_j proxyvars '[i["kind"] for i in inv]' '["response", "response"]' \
	"http_proxy and ALL_PROXY set (to nothing that listens): the loop still serves its events"

# --- deadline ---------------------------------------------------------------------

db=$(newdb deadline)
PGDATABASE=$db GOSLING_DEADLINE_MARGIN=500 rapi deadline "$T/sleep" '[
	{"body": {"command": "up-to", "version": "2"}},
	{"body": {}, "deadline_in_ms": 2000},
	{"body": {"command": "status"}}]'
is_j deadline 'inv[1]["kind"]' error "a migration that outlives the deadline answers /error"
is_j deadline 'inv[1]["before_deadline"]' True "... before the deadline"
is_j deadline 'inv[1]["elapsed_ms"] < 2000' True "... within 2 s ($(j deadline 'inv[1]["elapsed_ms"]') ms)"
is_j deadline 'inv[1]["error_type"]' Function.MigrationFailed "... as Function.MigrationFailed"
like "$(j deadline 'err(1)["errorMessage"]')" "003_slow.sql" "... naming the migration"
is_j deadline '[(m["name"], m.get("action")) for m in res(1)["migrations"]]' '[["003_slow.sql", "failed"]]' "... with what was not applied"
is "$(psql_q "$db" "SELECT to_regclass('slow_things') IS NULL")" t "the database is unchanged by that migration"
is "$(psql_q "$db" "SELECT max(version) FROM gosling_migrations")" 2 "the database stays at version 2"
is_j deadline 'inv[2]["kind"]' response "the loop serves the next event"
PGDATABASE=$db rapi deadline_margin "$T/sleep" '[{"body": {}, "deadline_in_ms": 2000}]'
is_j deadline_margin '[inv[0]["error_type"], inv[0]["before_deadline"]]' '["Function.MigrationFailed", true]' \
	"with the default 3 s margin a 2 s deadline is refused at once"
like "$(j deadline_margin 'err(0)["errorMessage"]')" "not enough time before the deadline" "... saying why"
is "$(psql_q "$db" "SELECT max(version) FROM gosling_migrations")" 2 "... and the database stays at version 2"

# --- error texts that are not valid UTF-8 -------------------------------------------
# PostgreSQL's message, detail and hint cut mid-character at gosling's buffer sizes, and
# a migration that sets client_encoding = LATIN1 before an error quoting 'café': jansson
# refused those texts, the error document could not be built and the bootstrap exited
# without answering.
ok "bundle utf8 compiles and links" bundle utf8
db=$(newdb utf8)
PGDATABASE=$db AWS_LAMBDA_LOG_FORMAT=JSON rapi utf8 "$T/utf8" '[
	{"body": {"command": "up-to", "version": 1}},
	{"body": {}},
	{"body": {"command": "baseline", "version": 2}},
	{"body": {}},
	{"body": {"command": "status"}}]'
is_j utf8 '[i["kind"] for i in inv]' '["response", "error", "response", "error", "response"]' \
	"every event is answered: the cut error and the LATIN1 error go to /error, the loop goes on"
is_j utf8 '[res(1)["error"]["pg_message"] == "é" * 511, res(1)["error"]["detail"] == "ü" * 511, res(1)["error"]["hint"] == "€" * 170]' \
	'[true, true, true]' "message, detail and hint are cut on a character boundary (1,022 of 1,023 bytes; 510 of 511)"
is_j utf8 'err(1)["errorMessage"].endswith("é" * 511 + "; detail: " + "ü" * 511 + "; hint: " + "€" * 170 + " (sqlstate P0001)")' True \
	"errorMessage carries all three, whole characters only"
like "$(j utf8 'err(1)["errorMessage"]')" "unable to apply 002_long_error.sql statement 1 (line " "... naming the file and statement"
is_j utf8 'err(3)["errorMessage"]' 'unable to apply 003_latin1_error.sql statement 2 (line 5): invalid input syntax for type integer: "caf?" (sqlstate 22P02)' \
	"a LATIN1 error: the byte that is not UTF-8 becomes ?"
is_j utf8 '[(m["name"], m["state"], m.get("failed_statement")) for m in res(4)["migrations"]]' \
	'[["001_latin1.sql", "applied", null], ["002_long_error.sql", "applied", null], ["003_latin1_error.sql", "partial", 2]]' \
	"gosling's own reads after LATIN1 are UTF-8: status names the partial migration and where it stopped"
is "$(psql_q "$db" "SELECT error FROM gosling_migrations WHERE version = 3")" \
	'unable to apply 003_latin1_error.sql statement 2 (line 5): invalid input syntax for type integer: "caf?"' \
	"the partial row records the error as UTF-8"
is "$(psql_q "$db" "SELECT x FROM enc")" "café" "the LATIN1 migration's data is what it wrote"
ok "every JSON log line is JSON, the errors' included" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if not l.startswith("runtime-api:")]
errors = [json.loads(l) for l in lines if json.loads(l)["level"] == "ERROR"]
assert any("caf?" in e["message"] for e in errors), errors
assert any(e["message"].endswith("€" * 170 + " (sqlstate P0001)") for e in errors), errors
' "$T/utf8.err"
is_j utf8 'd["violations"]' '[]' "no Runtime API protocol violations"

# --- JSON logs, no secrets -----------------------------------------------------------

db=$(newdb jsonlog)
PGDATABASE=$db DB_PASSWORD=hunter2-sekrit AWS_LAMBDA_LOG_FORMAT=JSON AWS_LAMBDA_LOG_LEVEL=INFO \
	rapi jsonlog "$T/fail" '[{"body": {}}]'
ok "AWS_LAMBDA_LOG_FORMAT=JSON: every log line is a JSON object with a level" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if not l.startswith("runtime-api:")]
assert lines
for l in lines:
    o = json.loads(l)
    assert o["level"] in ("DEBUG", "INFO", "WARN", "ERROR") and o["message"], l
' "$T/jsonlog.err"
like "$(cat "$T/jsonlog.err")" '"level":"INFO","message":"applied 001_create_widgets.sql' "JSON log: a line per migration"
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
ok "no password in logs or posts" sh -c "! grep -q hunter2 '$T/jsonlog.err' '$T/jsonlog.json'"
db=$(newdb jsonlog2)
PGDATABASE=$db AWS_LAMBDA_LOG_FORMAT=JSON AWS_LAMBDA_LOG_LEVEL=ERROR rapi jsonlog2 "$T/ok" '[{"body": {}}]'
ok "AWS_LAMBDA_LOG_LEVEL=ERROR silences info lines" sh -c "! grep -q applied '$T/jsonlog2.err'"
db=$(newdb textlog)
PGDATABASE=$db rapi textlog "$T/ok" '[{"body": {}}]'
like "$(cat "$T/textlog.err")" "gosling: applied 002_seed_widgets.sql (2/2, " "plain text logs otherwise"

# --- the Runtime API going away --------------------------------------------------------

db=$(newdb post500)
PGDATABASE=$db rapi post500 "$T/ok" '[{"body": {}, "answer_status": 500}, {"body": {}}]'
is_j post500 '[d["served"], d["exit_code"]]' '[1, 1]' "a 500 to a post ends the bootstrap"
PGDATABASE=$db rapi closed "$T/ok" '[{"body": {}}]' --at-end close
is_j closed '[d["exit_code"], d["killed_after_timeout"]]' '[1, false]' "a broken connection ends the bootstrap"
PGDATABASE=$db rapi post400 "$T/ok" '[{"body": {"command": "status"}, "answer_status": 400}, {"body": {}}]'
is_j post400 '[d["served"], inv[1]["kind"]]' '[2, "response"]' "a 400 to a post loses that answer only: the loop goes on"
PGDATABASE=$db rapi badid "$T/ok" '[{"body": {"command": "status"}, "request_id": "a/b"}, {"body": {}}]'
is_j badid '[d["served"], d["exit_code"]]' '[1, 1]' "an unusable request id ends the bootstrap"

# --- a result over Lambda's 6 MB response limit -------------------------------------------
# 17,500 migrations with 241-byte names: the up result is ~6.9 MB, over the 6 MiB that
# Lambda (and the local Runtime API) take; the migrations committed, so the answer is
# success with a shorter list, never Function.ResponseSizeTooLarge.  The last one
# divides by ${BIG_DIVISOR} (ENVSUB): 0 makes the same run a failure just as large.
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
