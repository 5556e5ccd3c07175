#!/usr/bin/env bash
# tests/fleet.sh - a fleet (issue 19): one invocation per target through the local Runtime
# API (tests/lambda/runtime_api.py), as a Step Functions Distributed Map drives the
# function, against a throwaway PostgreSQL holding several databases and several tenant
# schemas in one database.  Some run at once (each worker is a sandbox of its own, as
# Lambda's concurrent invocations are).  Prints TAP.
#
#   tests/fleet.sh                  everything, valgrind included
#   GOSLING_NO_VALGRIND=1 tests/fleet.sh
cd "$(dirname "$0")/.."
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

PG_OPTS="-c log_connections=on -c log_statement=all"
pg_start
T=$PG_TMP/t
mkdir -p "$T"
unset AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL GOSLING_LOG_LEVEL _X_AMZN_TRACE_ID AWS_ENDPOINT_URL \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION GOSLING_SCHEMA \
	GOSLING_LOCK_KEY GOSLING_TARGET_DATABASES GOSLING_TARGET_SCHEMAS GOSLING_TARGET_SECRET_ARNS \
	GOSLING_TARGET_HOSTS GOSLING_TARGET_PORTS

# The function's configuration: its own database, and what a target may name.
export PGDATABASE=fleet_t GOSLING_TARGET_DATABASES='fleet_[a-z]+' GOSLING_TARGET_SCHEMAS='tenant_[a-z0-9]+'

. tests/lib/rapi.sh	# j NAME EXPR, is_j
# frapi NAME EVENTS [runtime_api.py options]: serve EVENTS to a bootstrap of the fleet's own
frapi() {
	local name=$1
	shift
	RAPI_TIMEOUT=${RAPI_TIMEOUT:-120} rapi "$name" "${BOOT:-$T/fleet/gosling}" "$@"
}

# events COMMAND-JSON TARGET...: one event per target, the command's fields with "target"
events() {
	python3 - "$@" <<'EOF'
import json, sys
cmd = json.loads(sys.argv[1])
out = []
for t in sys.argv[2:]:
    kind, name = t.split(":")
    target = {"id": name, "database": name} if kind == "db" else {"id": name, "schema": name}
    out.append({"body": dict(cmd, target=target)})
print(json.dumps(out))
EOF
}

connections_logged() { grep -c 'connection received' "$PG_TMP/server.log" || true; }
gosling_conns() { psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gosling'"; }
# history DB SCHEMA: the versions in SCHEMA's history table
history() { psql_q "$1" "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM $2.gosling_migrations"; }

# target_key KEY SCHEMA: the lock key docs/lambda.md gives a tenant schema (FNV-1a 64)
target_key() {
	python3 - "$1" "$2" <<'EOF'
import sys
h = 14695981039346656037
for b in int(sys.argv[1]).to_bytes(8, "big") + sys.argv[2].encode():
    h = ((h ^ b) * 1099511628211) % 2**64
print(h & (2**63 - 1))
EOF
}

# The migrations: 002 moves search_path away inside its own transaction; 003 must still
# land in the target's schema (gosling re-asserts it after each migration).
mig "$T/fleet" 001_widgets.sql <<'EOF'
-- +goose Up
CREATE TABLE widgets (id integer PRIMARY KEY, made_in text NOT NULL DEFAULT current_schema());
INSERT INTO widgets (id) VALUES (1);
EOF
mig "$T/fleet" 002_wander.sql <<'EOF'
-- +goose Up
SET search_path TO public;
INSERT INTO fleet_wandered VALUES (2);
EOF
mig "$T/fleet" 003_gadgets.sql <<'EOF'
-- +goose Up
CREATE TABLE gadgets (id integer PRIMARY KEY);
INSERT INTO widgets (id) VALUES (3);
EOF
ok "the fleet's bundle compiles and links" mkbin "$T/fleet"

# Two databases of their own, one database of tenant schemas (one of them, tenant_bad,
# already holds a gadgets table: its 003 fails).  fleet_wandered is in every database's
# public schema: 002 writes there, where it moved search_path to.
for db in fleet_a fleet_b fleet_t; do
	psql_q postgres "CREATE DATABASE $db" >/dev/null
	psql_q "$db" "CREATE TABLE public.fleet_wandered (v integer)" >/dev/null
done
psql_q fleet_t "CREATE SCHEMA tenant_bad; CREATE TABLE tenant_bad.gadgets (id integer)" >/dev/null
tenants="tenant_1 tenant_2 tenant_3 tenant_4 tenant_5 tenant_6 tenant_bad"

# --- up: one invocation per target, three workers at once ------------------------------

w1=$(events '{"command": "up"}' db:fleet_a schema:tenant_1 schema:tenant_2)
w2=$(events '{"command": "up"}' db:fleet_b schema:tenant_3 schema:tenant_bad)
w3=$(events '{"command": "up"}' schema:tenant_4 schema:tenant_5 schema:tenant_6)
frapi up1 "$w1" & p1=$!
frapi up2 "$w2" & p2=$!
frapi up3 "$w3" & p3=$!
wait $p1 $p2 $p3
for w in up1 up2 up3; do
	is_j $w 'd["violations"]' '[]' "$w: no Runtime API protocol violations"
done
is_j up1 '[[res(i)["target"], inv[i]["kind"], res(i)["version_before"], res(i)["version_after"]] for i in range(3)]' \
	'[["fleet_a", "response", 0, 3], ["tenant_1", "response", 0, 3], ["tenant_2", "response", 0, 3]]' \
	"worker 1: each result carries its target id, versions 0 -> 3"
is_j up3 '[[res(i)["target"], inv[i]["kind"], res(i)["version_after"]] for i in range(3)]' \
	'[["tenant_4", "response", 3], ["tenant_5", "response", 3], ["tenant_6", "response", 3]]' \
	"worker 3: three tenants migrated"
is_j up1 '[[m["action"], m["retries"]] for m in res(1)["migrations"]]' '[["applied", 0], ["applied", 0], ["applied", 0]]' \
	"a tenant's result lists what was applied, with its retries"
is_j up2 '[res(0)["target"], inv[0]["kind"], res(1)["target"], inv[1]["kind"]]' '["fleet_b", "response", "tenant_3", "response"]' \
	"worker 2: fleet_b and tenant_3 migrated"
is_j up2 'inv[2]["error_type"]' Function.MigrationFailed "the tenant whose schema holds a conflicting table: Function.MigrationFailed"
is_j up2 '[res(2)["target"], res(2)["ok"], res(2)["version_before"], res(2)["version_after"], res(2)["error"]["sqlstate"]]' \
	'["tenant_bad", false, 0, 2, "42P07"]' "... its result carries its target id, versions 0 -> 2 and the error"
is "$(j up2 'err(2)["errorMessage"]' | cut -c1-53)" 'target tenant_bad: unable to apply 003_gadgets.sql st' "... and the error message starts with the target"
for db in fleet_a fleet_b; do
	is "$(history $db public)" 1,2,3 "database $db: its own history, in public"
	is "$(psql_q $db "SELECT string_agg(made_in, ',' ORDER BY id) FROM public.widgets")" public,public \
		"database $db: its tables in public"
done
for s in tenant_1 tenant_2 tenant_3 tenant_4 tenant_5 tenant_6; do
	is "$(history fleet_t $s) $(psql_q fleet_t "SELECT string_agg(made_in, ',' ORDER BY id) FROM $s.widgets") $(has_table fleet_t $s.gadgets)" \
		"1,2,3 $s,$s t" "schema $s: its own history, its widgets made in it, gadgets created there after 002 moved search_path"
done
is "$(history fleet_t tenant_bad) $(psql_q fleet_t 'SELECT count(*) FROM tenant_bad.widgets')" "1,2 1" \
	"the failing tenant: 001 and 002 applied, 003 rolled back"
is "$(psql_q fleet_t "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('widgets', 'gadgets', 'gosling_migrations')")" 0 \
	"nothing of a tenant's landed in the tenants database's public schema"
is "$(psql_q fleet_t 'SELECT count(*) FROM public.fleet_wandered')" 7 "each tenant's 002 wrote where it moved search_path (inside its own transaction)"
is "$(gosling_conns)" 0 "no connection left open"

# --- the lock key is the target's own --------------------------------------------------

# a session holding the configured key does not hold up a tenant; one holding the tenant's key does
hold() {	# hold KEY: a session holding the advisory lock KEY in fleet_t until killed
	psql -X -q -d fleet_t -c "SELECT pg_advisory_lock($1)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	holder=$!
	for _ in $(seq 50); do
		[ "$(psql_q fleet_t "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -gt 0 ] && return
		sleep 0.1
	done
}
unhold() { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true; }
hold 7163289416054213907
GOSLING_LOCK_WAIT=1 frapi lock_other "$(events '{"command": "up"}' schema:tenant_7)"
unhold
is_j lock_other '[inv[0]["kind"], res(0)["target"], res(0)["version_after"]]' '["response", "tenant_7", 3]' \
	"the configured key held elsewhere: a tenant migrates all the same (tenants do not serialise)"
hold "$(target_key 7163289416054213907 tenant_1)"
GOSLING_LOCK_WAIT=1 frapi lock_same "$(events '{"command": "up"}' schema:tenant_1 schema:tenant_2)"
unhold
is_j lock_same '[inv[0]["error_type"], res(0)["target"], inv[1]["kind"]]' '["Function.LockTimeout", "tenant_1", "response"]' \
	"tenant_1's own key held: tenant_1 waits (Function.LockTimeout), tenant_2 does not"
like "$(j lock_same 'err(0)["errorMessage"]')" "key $(target_key 7163289416054213907 tenant_1)" \
	"... the key is the one docs/lambda.md gives (FNV-1a of the configured key and the schema)"

# --- fleet verify: the chain head, one query per target --------------------------------

mark=$(wc -l <"$PG_TMP/server.log")
frapi verify "$(events '{"command": "verify", "head_only": true}' db:fleet_a db:fleet_b $(printf 'schema:%s ' $tenants))"
is_j verify '[[res(i)["target"], inv[i]["kind"], res(i)["command"], res(i)["version_after"]] for i in range(len(inv))]' \
	'[["fleet_a", "response", "verify", 3], ["fleet_b", "response", "verify", 3], ["tenant_1", "response", "verify", 3], ["tenant_2", "response", "verify", 3], ["tenant_3", "response", "verify", 3], ["tenant_4", "response", "verify", 3], ["tenant_5", "response", "verify", 3], ["tenant_6", "response", "verify", 3], ["tenant_bad", "response", "verify", 2]]' \
	"head-only verify reports each target: ok, at its version"
is_j verify '[[m["version"], m["state"]] for m in res(2)["migrations"]]' '[[3, "applied"]]' "... with the head migration in the result"
verify_log=$(tail -n +"$((mark + 1))" "$PG_TMP/server.log")
is "$(grep -c 'ORDER BY version DESC LIMIT 1' <<<"$verify_log")" 9 "one head query per target"
is "$(grep -c 'FROM .* h ORDER BY version$' <<<"$verify_log")" 0 "... and no full read of any history"
is "$(grep -c 'pg_try_advisory_lock' <<<"$verify_log")" 0 "... and no lock taken"

# drift in one tenant: its head's chain edited; head-only falls back to the full check
psql_q fleet_t "UPDATE tenant_3.gosling_migrations SET exec_checksum = 'edited' WHERE version = 2" >/dev/null
psql_q fleet_t "UPDATE tenant_4.gosling_migrations SET chain = 'edited' WHERE version = 3" >/dev/null
frapi verify_drift "$(events '{"command": "verify", "head_only": true}' schema:tenant_3 schema:tenant_4 schema:tenant_5)"
is_j verify_drift '[[res(i)["target"], inv[i]["kind"]] for i in range(3)]' \
	'[["tenant_3", "response"], ["tenant_4", "error"], ["tenant_5", "response"]]' \
	"an edited head is drift; an edit below the head is not what head-only reads (the full verify finds it)"
is_j verify_drift 'inv[1]["error_type"]' Function.DriftDetected "... Function.DriftDetected, with its target"
frapi verify_full "$(events '{"command": "verify"}' schema:tenant_3)"
is_j verify_full '[inv[0]["error_type"], res(0)["target"]]' '["Function.DriftDetected", "tenant_3"]' \
	"the full verify finds the edit below the head"
full_reads() { tail -n +"$((mark + 1))" "$PG_TMP/server.log" | grep -c "FROM \"$1\".\"gosling_migrations\" h ORDER BY version\$" || true; }
is "$(full_reads tenant_3) $(full_reads tenant_4) $(full_reads tenant_5)" "1 1 0" \
	"the whole history read: by the full verify (tenant_3), by head-only's fallback on a head that differs (tenant_4), else never"

# a tenant not migrated yet: no schema, no history; head-only says version 0, as verify does
frapi verify_new "$(events '{"command": "verify", "head_only": true}' schema:tenant_new)"
is_j verify_new '[inv[0]["kind"], res(0)["target"], res(0)["version_after"], res(0)["migrations"][0]["state"]]' \
	'["response", "tenant_new", 0, "pending"]' "head-only verify of a tenant whose schema does not exist yet: ok, version 0, all pending"
is "$(psql_q fleet_t "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_new'")" 0 "... and verify created nothing"

# head_only applies to verify only
frapi head_bad '[{"body": {"command": "status", "head_only": true}}]'
like "$(j head_bad 'err(0)["errorMessage"]')" 'field "head_only" applies to "verify"' "head_only with another command: Function.BadRequest"

# --- targets outside the allow-list: refused before any connection ---------------------

before=$(connections_logged)
frapi refused '[
	{"body": {"command": "up", "target": {"id": "evil_1", "schema": "public"}}},
	{"body": {"command": "up", "target": {"id": "evil_2", "database": "postgres"}}},
	{"body": {"command": "up", "target": {"id": "evil_3", "host": "db.elsewhere.example"}}},
	{"body": {"command": "up", "target": {"id": "evil_4", "schema": "tenant_1", "secret_arn": "arn:aws:secretsmanager:eu-west-1:1:secret:x"}}},
	{"body": {"command": "up", "target": {"id": "evil_5", "schema": "tenant_1\"; DROP SCHEMA public; --"}}},
	{"body": {"command": "verify", "head_only": true, "target": {"id": "evil_6", "schema": "tenant_1", "port": 5432}}},
	{"body": {"command": "up", "target": {"id": "evil_7", "schema": "tenant_1", "region": "x"}}},
	{"body": {"command": "up", "target": {"schema": "tenant_1"}}},
	{"body": {"command": "up", "target": {"id": "evil_9", "cluster_arn": "arn:aws:rds:eu-west-1:1:cluster:c"}}}]'
is "$(connections_logged)" "$before" "no database connection for a refused target"
is_j refused '[i["error_type"] for i in inv]' "$(python3 -c 'import json; print(json.dumps(["Function.BadRequest"] * 9))')" \
	"every refused target answers Function.BadRequest"
is_j refused 'err(0)["errorMessage"]' 'target evil_1: field "target.schema": "public" is not allowed by GOSLING_TARGET_SCHEMAS (target-schemas)' \
	"a schema outside the pattern: refused naming the field and the setting"
is_j refused 'res(0)["target"]' evil_1 "... its result carries the target id"
like "$(j refused 'err(1)["errorMessage"]')" 'field "target.database": "postgres" is not allowed by GOSLING_TARGET_DATABASES' "a database outside the pattern"
like "$(j refused 'err(2)["errorMessage"]')" 'field "target.host" may not be given: GOSLING_TARGET_HOSTS (target-hosts) is not set' "a host with no allow-list set"
like "$(j refused 'err(3)["errorMessage"]')" 'field "target.secret_arn" may not be given' "a secret with no allow-list set"
like "$(j refused 'err(4)["errorMessage"]')" 'field "target.schema" must be letters, digits and _' "a hostile schema name: refused as it is parsed"
like "$(j refused 'err(5)["errorMessage"]')" 'field "target.port" may not be given' "a port with no allow-list set (verify too)"
like "$(j refused 'err(6)["errorMessage"]')" 'unknown field "target.region"' "an unknown field names it"
like "$(j refused 'err(7)["errorMessage"]')" 'field "target.id" is required' "a target without an id"
like "$(j refused 'err(8)["errorMessage"]')" 'field "target.cluster_arn" may not be given' "a cluster with no allow-list set"
is "$(psql_q fleet_t "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'")" 1 "public is still there"

# --- the CLI: one tenant by hand ----------------------------------------------------------

run "$T/fleet/gosling" fleet_t --json --target-json '{"id": "tenant_cli", "schema": "tenant_cli"}' up
is "$rc $(history fleet_t tenant_cli)" "0 1,2,3" "--target-json migrates one tenant by hand"
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["target"], d["version_after"])' "$out")" "tenant_cli 3" \
	"... its --json result carries the target"
run "$T/fleet/gosling" fleet_t --target-json '{"id": "x", "schema": "public"}' up
is "$rc" 2 "--target-json outside the allow-list: exit 2"
like "$err" 'field "target.schema": "public" is not allowed by GOSLING_TARGET_SCHEMAS' "... naming the field"
run "$T/fleet/gosling" fleet_t --target-json '{"id": "tenant_cli", "schema": "tenant_cli"}' --head-only verify
is "$rc" 0 "--head-only verify of a tenant by hand"
run "$T/fleet/gosling" fleet_t --target-json '{"id": "x", "schema": "tenant_cli"' up
is "$rc" 2 "--target-json that is not JSON: exit 2"
run "$T/fleet/gosling" fleet_t --head-only status
is "$rc" 2 "--head-only with another command: exit 2"

# --- leaks: a fleet's events on one process ----------------------------------------------

if [ "$GOSLING_TEST_ARCH" = asan ]; then
	skip "fleet events under valgrind" "valgrind cannot run an AddressSanitizer build (LeakSanitizer checks this one)"
elif [ -n "${GOSLING_NO_VALGRIND:-}" ] || [ "$GOSLING_TEST_ARCH" != host ] || ! command -v valgrind >/dev/null; then
	skip "fleet events under valgrind" "valgrind disabled (or not the host build)"
else
	ev=$(python3 - <<'EOF'
import json
out = []
for i in range(8):
    t = {"id": "vg_%d" % i, "schema": "tenant_vg%d" % (i % 3)}
    out += [{"body": {"command": "up", "target": t}}, {"body": {"command": "verify", "head_only": True, "target": t}},
            {"body": {"command": "up", "target": {"id": "bad", "schema": "public"}}}]
print(json.dumps(out))
EOF
)
	BOOT="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/valgrind.log $T/fleet/gosling" \
		RAPI_TIMEOUT=600 frapi valgrind "$ev"
	is_j valgrind '[i["kind"] for i in inv].count("response")' 16 "24 fleet events on one process: 16 answered ok"
	is_j valgrind 'd["exit_code"]' 1 "valgrind finds no error and no leak (exit 1 from the final 500, not 99)"
	[ -s "$T/valgrind.log" ] && sed 's/^/# /' "$T/valgrind.log" | head -40
fi

done_testing
