#!/usr/bin/env bash
# tests/fault.sh - faults injected against a real PostgreSQL 15: the server backend
# killed during each statement of a migration, the server stopped and restarted
# during up, the client killed with SIGKILL, gen/ on a full or read-only file system,
# the lock held past the bound, 16 concurrent Lambda invocations.  After each fault
# the database must be consistent and a rerun must converge.  Prints TAP.
#
# A migration's progress is visible from outside through mark(k) (tests/lib/fault.sh,
# which tests/dataapi_fault.sh shares).  The whole pending batch is one query
# (pg_stat_activity shows all of it), so the sequence, not the query text, says which
# statement is running.
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=asan (tests/asan.sh): the sanitizer build
. tests/lib/fault.sh	# faultdb, hold, wait_progress, fault_bundles, fault_statements, fault_begin

pg_start
T=$PG_TMP/t
mkdir -p "$T"
MNT=
cleanup() {
	[ -n "$MNT" ] && mountpoint -q "$MNT" && umount "$MNT"
	pg_stop
}
trap cleanup EXIT
unset GOSLING_LOCK_WAIT AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL GOSLING_LOG_LEVEL

advisory_locks() { psql_q postgres "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"; }

fault_bundles	# K, KD (tests/lib/fault.sh)

# converged DB WHAT: the rerun applied everything exactly once
converged() {
	hold "$1" 0
	run "$K/gosling" "$1" up
	is "$rc:$(rows "$1")" "0:1,2,3" "$2: a rerun applies the rest cleanly"
	is "$(fault_statements "$1")" "1,2|3|4,30" "$2: ... every statement once"
}

# --- the server backend killed during each statement ----------------------------
for k in 1 2 3 4; do
	fault_begin run start "$k" "backend killed in statement $k" || continue
	psql_q "$db" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = '$db' AND application_name = 'gosling' AND state = 'active'" >/dev/null
	finish
	is "$rc" 1 "backend killed in statement $k: up exits 1"
	like "$(jq -r .error.message <<<"$out")" "unable to apply 000002_four.sql statement $k (line $((k + 1))): terminating connection due to administrator command" \
		"backend killed in statement $k: the error names the file, statement $k and line"
	is "$(jq -r '.error.sqlstate + " " + .error.type' <<<"$out")" "57P01 Function.MigrationFailed" \
		"backend killed in statement $k: SQLSTATE 57P01, Function.MigrationFailed"
	is "$(rows "$db"):$(has_table "$db" four_a)$(has_table "$db" four_c):$(psql_q "$db" 'SELECT count(*) FROM marks')" "1:ff:0" \
		"backend killed in statement $k: nothing of 000002 remains, no history row"
	is "$(advisory_locks)" 0 "backend killed in statement $k: the lock is released"
	converged "$db" "backend killed in statement $k"
done

# --- the client killed with SIGKILL mid-migration ----------------------------------

# The lock's session ends with the client's socket; the work session's backend is busy
# in a statement and only notices the client is gone when it next talks to it.  The next
# run must neither apply the migration a second time nor fail on what the orphaned
# backend is still doing.
for k in 1 3; do
	db=$(faultdb)
	run "$K/gosling" "$db" up-to 1
	hold "$db" "$k"
	start "$K/gosling" "$db" up
	killed=$bg
	if ! wait_progress "$db" "$k"; then
		fail "client killed in statement $k: statement $k never ran" "$(cat "$T/err")"
		finish
		continue
	fi
	kill -KILL "$killed"
	finish
	hold "$db" 0
	is "$rc" 137 "client SIGKILLed in statement $k: it died"
	t0=$(date +%s%N)
	run "$K/gosling" "$db" up --lock-wait 20
	t1=$(date +%s%N)
	is "$rc:$(rows "$db")" "0:1,2,3" "client SIGKILLed in statement $k: the next run proceeds and applies the rest"
	ok "client SIGKILLed in statement $k: ... promptly ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 5000
	is "$(fault_statements "$db")" "1,2|3|4,30" "client SIGKILLed in statement $k: every statement ran exactly once"
	like "$out" "up: " "client SIGKILLed in statement $k: the rerun reports normally"
	is "$(advisory_locks)" 0 "client SIGKILLed in statement $k: no lock left behind"
done

db=$(faultdb)
run "$KD/gosling" "$db" up-to 1
hold "$db" 2
start "$KD/gosling" "$db" up
killed=$bg
if wait_progress "$db" 2; then
	kill -KILL "$killed"
	finish
	hold "$db" 0
	run "$KD/gosling" "$db" up --lock-wait 20
	is "$rc:$(rows "$db"):$(psql_q "$db" "SELECT string_agg(k::text, ',' ORDER BY k) FROM marks")" "0:1,2,3:1,12,23,30" \
		"client SIGKILLed in an INSERT-only migration: the next run applies it exactly once"
else
	fail "client SIGKILLed in an INSERT-only migration: statement 2 never ran" "$(cat "$T/err")"
	finish
fi

# --- gen/ on a full or read-only file system ------------------------------------------
# goslingc writes gen/bundle.c.tmp and renames it: a failure must leave neither a
# partial bundle.c nor the .tmp, and an older bundle.c exactly as it was.
G=$T/gen-big
for i in $(seq 300); do
	mig "$G" "$(printf '%06d' "$i")_g.sql" <<<"-- +goose Up
CREATE TABLE g_$i (id bigint PRIMARY KEY, payload text NOT NULL DEFAULT 'a fairly long default value to make the bundle grow');
-- +goose Down
DROP TABLE g_$i;"
done
MNT=$T/gen
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=64k tmpfs "$MNT" 2>"$T/mount.err"; then
	skip_prereq "gen/ on a full file system" "cannot mount a tmpfs here: $(cat "$T/mount.err")"
	MNT=
else
	set +e
	"$GOSLINGC" build --quiet --out "$MNT/bundle.c" --depfile "$MNT/bundle.c.d" "$G" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	is "$rc" 4 "gen/ full: goslingc exits 4 (a file could not be written)"
	like "$(cat "$T/err")" "$MNT/bundle.c" "gen/ full: the message names the file"
	like "$(cat "$T/err")" "No space left on device" "gen/ full: ... and says why"
	is "$(ls -A "$MNT" | tr '\n' ' ')" "" "gen/ full: neither bundle.c nor bundle.c.tmp is left"
	# an older, complete bundle in place, then a build that does not fit
	"$GOSLINGC" build --quiet --out "$MNT/bundle.c" "$K"
	cp "$MNT/bundle.c" "$T/old-bundle.c"
	set +e
	"$GOSLINGC" build --quiet --out "$MNT/bundle.c" "$G" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	is "$rc" 4 "gen/ full, older bundle in place: goslingc exits 4"
	ok "gen/ full, older bundle in place: the older bundle.c is untouched" cmp "$T/old-bundle.c" "$MNT/bundle.c"
	is "$(ls -A "$MNT" | tr '\n' ' ')" "bundle.c " "gen/ full, older bundle in place: no bundle.c.tmp"
	mount -o remount,ro "$MNT"
	set +e
	"$GOSLINGC" build --quiet --out "$MNT/bundle.c" "$KD" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	is "$rc" 4 "gen/ read-only: goslingc exits 4"
	like "$(cat "$T/err")" "Read-only file system" "gen/ read-only: the message says why"
	ok "gen/ read-only: the older bundle.c is untouched" cmp "$T/old-bundle.c" "$MNT/bundle.c"
	umount "$MNT"
	MNT=
fi

# --- the server stopped and restarted during up ---------------------------------------
for mode in fast immediate; do
	fault_begin run start 2 "server stopped ($mode) during up" || continue
	pg_server_stop "$PG_TMP/data" "$mode"
	finish
	is "$rc" 1 "server stopped ($mode) in statement 2: up exits 1"
	# fast: the backend says why (57P01) before it goes; immediate: it just goes
	msg=$(jq -r .error.message <<<"$out")
	if [ "$mode" = fast ]; then
		like "$msg" "unable to apply 000002_four.sql statement 2 (line 3): terminating connection due to administrator command" \
			"server stopped ($mode) in statement 2: the error names the statement and says why"
		is "$(jq -r '.error.sqlstate' <<<"$out")" 57P01 "server stopped ($mode) in statement 2: SQLSTATE 57P01"
	else
		like "$msg" "unable to apply 000002_four.sql statement 2 (line 3): server closed the connection unexpectedly" \
			"server stopped ($mode) in statement 2: the error names the statement and says why"
	fi
	is "$(jq -r '[.migrations[] | .name + "=" + .action] | join(",")' <<<"$out")" \
		"000002_four.sql=failed,000003_after.sql=not attempted" "server stopped ($mode): the result says what was not applied"
	if [ "$mode" = fast ]; then
		GOSLING_CONNECT_RETRY=0 run "$K/gosling" "$db" up
		is "$rc" 3 "server down: up exits 3 (connection error)"
		like "$err" "unable to connect to the database" "server down: ... saying so"
	fi
	pg_restart_start
	is "$(rows "$db"):$(has_table "$db" four_a)$(has_table "$db" four_c):$(psql_q "$db" 'SELECT count(*) FROM marks')" "1:ff:0" \
		"server restarted after a $mode stop: nothing of 000002 remains, no history row"
	converged "$db" "server restarted after a $mode stop"
done

# --- a lock held by another session past the bound --------------------------------------
db=$(faultdb)
run "$K/gosling" "$db" up-to 1
key=$("$K/gosling" settings --json | jq -r '.[] | select(.name == "lock-key") | .default')
psql -X -q -d "$db" -c "SELECT pg_advisory_lock($key); SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do
	[ "$(advisory_locks)" = 1 ] && break
	sleep 0.05
done
before=$(psql_q "$db" "SELECT string_agg(version || name || chain, ',') FROM gosling_migrations")
run "$K/gosling" "$db" up --lock-wait 1 --json
is "$rc:$(jq -r .error.type <<<"$out")" "5:Function.LockTimeout" "lock held past the bound: exit 5, Function.LockTimeout"
like "$(jq -r .error.message <<<"$out")" "unable to take the migration lock (key $key) within" "lock held past the bound: the documented message"
events='[{"body": {}}]'
printf '%s' "$events" >"$T/lock.events"
DB_NAME=$db GOSLING_LOCK_WAIT=1 python3 tests/lambda/runtime_api.py --events "$T/lock.events" --log "$T/lock.json" \
	--timeout 60 -- "$K/gosling" 2>"$T/lock.err"
is "$(jq -r '.invocations[0].error_type' "$T/lock.json")" Function.LockTimeout "lock held past the bound, through the Lambda loop: Function.LockTimeout"
is "$(psql_q "$db" "SELECT string_agg(version || name || chain, ',') FROM gosling_migrations"):$(has_table "$db" four_a)" "$before:f" \
	"lock held past the bound: nothing changed"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'psql'" >/dev/null
converged "$db" "lock released by its holder"

# --- 16 concurrent invocations through the Lambda loop --------------------------------
C=$T/crowd
mig_runs "$C" 25
mkbin "$C"
db=$(pg_newdb)
printf '%s' '[{"body": {}}, {"body": {"command": "verify"}}]' >"$T/crowd.events"
pids=()
for i in $(seq 16); do
	DB_NAME=$db python3 tests/lambda/runtime_api.py --events "$T/crowd.events" --log "$T/crowd$i.json" \
		--timeout 120 -- "$C/gosling" 2>"$T/crowd$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
is "$(cat "$T"/crowd*.json | jq -s -c '[.[] | .invocations | map(.kind)] | unique')" '[["response","response"]]' \
	"16 concurrent Lambda invocations: every {} and every verify answers success"
is "$(cat "$T"/crowd*.json | jq -s '[.[] | .invocations[0].body.migrations[] | select(.action == "applied")] | length')" 25 \
	"16 concurrent Lambda invocations: 25 applications reported in all"
is "$(psql_q "$db" "SELECT count(*) || ':' || count(DISTINCT v) FROM runs"):$(psql_q "$db" "SELECT count(*) FROM gosling_migrations")" \
	"24:24:25" "16 concurrent Lambda invocations: every migration exactly once"
is "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gosling'"):$(advisory_locks)" "0:0" \
	"16 concurrent Lambda invocations: no connection and no lock left"

done_testing
