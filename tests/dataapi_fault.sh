#!/usr/bin/env bash
# tests/dataapi_fault.sh - tests/fault.sh's faults that apply to a sessionless transport, over
# the RDS Data API (issue 18): gosling through the stand-in tests/rdsdata/data_api.js to a real
# PostgreSQL.  After each fault the database must be consistent (nothing of a migration half
# applied, the history rows right, no lease row left by a run that ended) and a rerun must
# converge, applying each migration once:
#
#   - the stand-in's backend terminated in each statement of a migration (one DO block);
#   - gosling SIGKILLed mid-migration: the call runs on, its lease row lapses (GOSLING_LEASE);
#   - PostgreSQL stopped (fast, immediate) during up, and down: the stand-in's answers;
#   - the run lock's lease held by another run past the bound: exit 5, Function.LockTimeout;
#   - 16 concurrent Lambda invocations.
#
# What fault.sh has that does not apply: gen/ on a full file system (the compiler's, no
# transport), advisory locks and libpq sessions (none here).  Its fixtures are the same
# (tests/lib/fault.sh).  Prints TAP.  Needs node, npm and openssl (as tests/dataapi.sh).
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/gosling-dafault.XXXXXX)
. tests/lib/pg.sh
. tests/lib/gosling.sh
. tests/lib/fakes.sh
. tests/lib/dataapi.sh	# dataapi_start, standin, dataapi_env, da, dstart
. tests/lib/fault.sh	# faultdb, hold, wait_progress, fault_bundles ($K, $KD), fault_statements, fault_begin
trap fakes_cleanup EXIT
unset GOSLING_LOCK_WAIT AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL GOSLING_LOG_LEVEL GOSLING_LEASE

dataapi_start dataapi_fault
standin api 1 || fail "the stand-in listens" "$(cat "$T/api.err")"
dataapi_env "$api"

leases() { psql_q "$1" "SELECT count(*) FROM gosling_lock"; }

# the stand-in's backends running a call in DB
standin_kill() {
	psql_q postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = '$1' AND application_name = 'rds-data-standin' AND state = 'active'"
}

fault_bundles || fail "the fault bundles build"

converged() {
	hold "$1" 0
	da "$K/gosling" "$1" up
	is "$rc:$(rows "$1"):$(leases "$1")" "0:1,2,3:0" "$2: a rerun applies the rest cleanly $(tail -1 <<<"$err")"
	is "$(fault_statements "$1")" "1,2|3|4,30" "$2: ... every statement once"
}
half() { echo "$(rows "$1"):$(has_table "$1" four_a)$(has_table "$1" four_c):$(psql_q "$1" 'SELECT count(*) FROM marks')"; }

# --- the stand-in's backend terminated during each statement -----------------------------------
# Migrations 2 and 3 go as one DO block, one call: FATAL ends it where no handler runs, so
# the Data API's error names no statement, and gosling names the migration.  The first and
# the last statement of 2 (fault.sh takes each: over libpq each is a result of its own)
for k in 1 4; do
	fault_begin da dstart "$k" "backend terminated in statement $k" || continue
	killed=$(standin_kill "$db")
	finish
	is "$killed/$rc" "1/1" "backend terminated in statement $k over the Data API: up exits 1"
	is "$(jq -r .error.message <<<"$out")" "unable to apply 000002_four.sql: terminating connection due to administrator command" \
		"backend terminated in statement $k: the error names the migration and gives PostgreSQL's message"
	is "$(jq -r '.error.sqlstate + " " + .error.type' <<<"$out")" "57P01 Function.MigrationFailed" \
		"backend terminated in statement $k: SQLSTATE 57P01, Function.MigrationFailed"
	is "$(half "$db"):$(leases "$db")" "1:ff:0:0" \
		"backend terminated in statement $k: nothing of 000002 remains, no history row, no lease row"
	converged "$db" "backend terminated in statement $k"
done

echo "# $SECONDS s so far"
# --- gosling SIGKILLed mid-migration -------------------------------------------------------------
# Its call runs on without it (the service does not know the client went): the migration
# commits with its history row; the lease row is left and lapses after GOSLING_LEASE (2 s);
# the next run waits for it, finds 2 applied and applies 3, each statement once.
for k in 1 3; do
	db=$(faultdb)
	da "$KD/gosling" "$db" up-to 1
	hold "$db" "$k"
	(exec env "${da_env[@]}" DB_NAME="$db" GOSLING_LEASE=2 "$KD/gosling" up >"$T/k.out" 2>"$T/k.err") &
	killed=$!
	if ! wait_progress "$db" "$k"; then
		fail "gosling SIGKILLed in statement $k: statement $k never ran" "$(cat "$T/k.err")"
		wait "$killed" || true
		continue
	fi
	kill -KILL "$killed"
	wait "$killed" 2>/dev/null || true
	is "$(leases "$db")" 1 "gosling SIGKILLed in statement $k over the Data API: its lease row stays"
	hold "$db" 0
	t0=$(date +%s%N)
	da "$KD/gosling" "$db" up --lock-wait 20
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$rc:$(rows "$db"):$(leases "$db")" "0:1,2,3:0" \
		"gosling SIGKILLed in statement $k: the next run takes the lapsed lease, and 2 and 3 are applied $(tail -1 <<<"$err")"
	is "$(psql_q "$db" "SELECT string_agg(k::text, ',' ORDER BY k) FROM marks")" "1,12,23,30" \
		"gosling SIGKILLed in statement $k: every statement ran exactly once"
	ok "gosling SIGKILLed in statement $k: ... within the lease and the held statement ($ms ms)" test "$ms" -lt 10000
done

echo "# $SECONDS s so far"
# --- PostgreSQL stopped and restarted during up ------------------------------------------------
for mode in fast immediate; do
	fault_begin da dstart 2 "server stopped ($mode) during up" || continue
	pg_server_stop "$PG_TMP/data" "$mode"
	finish
	is "$rc" 1 "server stopped ($mode) in statement 2 over the Data API: up exits 1"
	msg=$(jq -r .error.message <<<"$out")
	like "$msg" "unable to apply 000002_four.sql: " "server stopped ($mode) in statement 2: the error names the migration"
	if [ "$mode" = fast ]; then
		like "$msg" "terminating connection due to administrator command" "server stopped ($mode): ... and says why"
		is "$(jq -r .error.sqlstate <<<"$out")" 57P01 "server stopped ($mode): SQLSTATE 57P01"
	else
		like "$msg" "An I/O error occurred while sending to the backend" "server stopped ($mode): ... and says why"
		is "$(jq -r .error.sqlstate <<<"$out")" 08006 "server stopped ($mode): SQLSTATE 08006 (the JDBC driver's)"
	fi
	is "$(jq -r '[.migrations[] | .name + "=" + .action] | join(",")' <<<"$out")" \
		"000002_four.sql=failed,000003_after.sql=not attempted" "server stopped ($mode): the result says what was not applied"
	if [ "$mode" = fast ]; then
		: >"$T/api.log"
		da "$K/gosling" "$db" up
		is "$rc" 3 "server down: up over the Data API exits 3 $(tail -1 <<<"$err")"
		like "$err" "DatabaseUnavailableException" "server down: ... naming the Data API's DatabaseUnavailableException"
		like "$(cat "$T/api.log")" '"status":504,"answer":"DatabaseUnavailableException"' \
			"server down: the stand-in answers 504 DatabaseUnavailableException (the service model's)"
	fi
	pg_restart_start
	# the lease row of the failed run: deleted if the database was back in time, else lapsed
	psql_q "$db" "DELETE FROM gosling_lock" >/dev/null
	is "$(half "$db")" "1:ff:0" "server restarted after a $mode stop: nothing of 000002 remains, no history row"
	converged "$db" "server restarted after a $mode stop"
done

echo "# $SECONDS s so far"
# --- the run lock's lease held by another run past the bound -------------------------------------
db=$(faultdb)
da "$K/gosling" "$db" up-to 1
key=$("$K/gosling" settings --json | jq -r '.[] | select(.name == "lock-key") | .default')
psql_q "$db" "INSERT INTO gosling_lock VALUES ($key, 'another run', now(), now() + interval '10 minutes')" >/dev/null
before=$(psql_q "$db" "SELECT string_agg(version || name || chain, ',') FROM gosling_migrations")
da "$K/gosling" "$db" up --lock-wait 1 --json
is "$rc:$(jq -r .error.type <<<"$out")" "5:Function.LockTimeout" "a lease held past the bound over the Data API: exit 5, Function.LockTimeout"
like "$(jq -r .error.message <<<"$out")" "unable to take the migration lock (key $key) within" "... the documented message"
printf '%s' '[{"body": {}}]' >"$T/lock.events"
env "${da_env[@]}" DB_NAME="$db" GOSLING_LOCK_WAIT=1 python3 tests/lambda/runtime_api.py --events "$T/lock.events" \
	--log "$T/lock.json" --timeout 60 -- "$K/gosling" 2>"$T/lock.err"
is "$(jq -r '.invocations[0].error_type' "$T/lock.json")" Function.LockTimeout "... through the Lambda loop: Function.LockTimeout"
is "$(psql_q "$db" "SELECT string_agg(version || name || chain, ',') FROM gosling_migrations"):$(has_table "$db" four_a):$(psql_q "$db" "SELECT locked_by FROM gosling_lock")" \
	"$before:f:another run" "... nothing changed, the other run's lease untouched"
psql_q "$db" "DELETE FROM gosling_lock" >/dev/null
converged "$db" "lease released by its holder"

echo "# $SECONDS s so far"
# --- 16 concurrent invocations through the Lambda loop -------------------------------------------
C=$T/crowd
mig_runs "$C" 25
mkbin "$C" || fail "the crowd bundle builds"
db=$(pg_newdb)
printf '%s' '[{"body": {}}, {"body": {"command": "verify"}}]' >"$T/crowd.events"
pids=()
for i in $(seq 16); do
	env "${da_env[@]}" DB_NAME="$db" python3 tests/lambda/runtime_api.py --events "$T/crowd.events" \
		--log "$T/crowd$i.json" --timeout 120 -- "$C/gosling" 2>"$T/crowd$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
is "$(cat "$T"/crowd*.json | jq -s -c '[.[] | .invocations | map(.kind)] | unique')" '[["response","response"]]' \
	"16 concurrent Lambda invocations over the Data API: every {} and every verify answers success" \
	|| grep -h "error" "$T"/crowd*.err | head -5 | diag
is "$(cat "$T"/crowd*.json | jq -s '[.[] | .invocations[0].body.migrations[]? | select(.action == "applied")] | length')" 25 \
	"16 concurrent Lambda invocations: 25 applications reported in all"
is "$(psql_q "$db" "SELECT count(*) || ':' || count(DISTINCT v) FROM runs"):$(psql_q "$db" "SELECT count(*) FROM gosling_migrations"):$(leases "$db")" \
	"24:24:25:0" "16 concurrent Lambda invocations: every migration exactly once, no lease row left"

echo "# $SECONDS s so far"
done_testing
