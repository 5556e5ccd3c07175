#!/usr/bin/env bash
# tests/fault.sh - faults injected against a real PostgreSQL 15: the server backend
# killed during each statement of a migration, the server stopped and restarted
# during up, the client killed with SIGKILL, gen/ on a full or read-only file system,
# the lock held past the bound, 16 concurrent Lambda invocations.  After each fault
# the database must be consistent and a rerun must converge.  Prints TAP.
#
# A migration's progress is visible from outside through a helper the test installs
# in each database, mark(k): it sets the sequence fault_progress to k (sequences are
# not transactional, so another session sees it at once), sleeps, and returns k.  The
# whole pending batch is one query (pg_stat_activity shows all of it), so the
# sequence, not the query text, says which statement is running.
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=asan (tests/asan.sh): the sanitizer build

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

mig() { mkdir -p "$1" && cat >"$1/$2"; }
mkbin() { "$GOSLINGC" build --quiet --out "$1/bundle.c" "$1" && gosling_link "$1/gosling" "$1/bundle.c"; }
rows() { psql_q "$1" "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM gosling_migrations"; }
has_table() { psql_q "$1" "SELECT to_regclass('$2') IS NOT NULL"; }
advisory_locks() { psql_q postgres "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"; }

# faultdb: a fresh database with the progress sequence and mark(k)
faultdb() {
	local d
	d=$(pg_newdb)
	psql_q "$d" "CREATE SEQUENCE fault_progress MINVALUE 0 START 0;
		CREATE FUNCTION mark(k int, secs float8 DEFAULT 0.4) RETURNS int LANGUAGE plpgsql AS \$\$
		BEGIN PERFORM pg_catalog.setval('fault_progress', k); PERFORM pg_catalog.pg_sleep(secs); RETURN k; END \$\$" >/dev/null
	echo "$d"
}
progress() { psql_q "$1" "SELECT last_value FROM fault_progress"; }

# wait_progress DB K: until statement K of the migration runs (at most 20 s)
wait_progress() {
	for _ in $(seq 400); do
		[ "$(progress "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# start BIN DB ARGS...: run gosling in the background; finish collects rc, out, err
start() {
	local bin=$1 db=$2
	shift 2
	DB_NAME=$db "$bin" "$@" >"$T/out" 2>"$T/err" &
	bg=$!
}
finish() {
	set +e
	wait "$bg"
	rc=$?
	set -e
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}
run() { start "$@"; finish; }

# The migrations: 1 makes a table the later ones write to; 2 has four statements,
# each a visible change; 3 comes after.
K=$T/kill
mig "$K" 000001_base.sql <<'EOF'
-- +goose Up
CREATE TABLE marks (k int);
-- +goose Down
DROP TABLE marks;
EOF
mig "$K" 000002_four.sql <<'EOF'
-- +goose Up
CREATE TABLE four_a AS SELECT mark(1) AS x;
INSERT INTO four_a SELECT mark(2);
CREATE TABLE four_c AS SELECT mark(3) AS x;
INSERT INTO marks SELECT mark(4);
-- +goose Down
DELETE FROM marks WHERE k = 4;
DROP TABLE four_c;
DROP TABLE four_a;
EOF
mig "$K" 000003_after.sql <<'EOF'
-- +goose Up
INSERT INTO marks VALUES (30);
EOF
mkbin "$K"

# converged DB WHAT: the rerun applied everything exactly once
converged() {
	run "$K/gosling" "$1" up
	is "$rc:$(rows "$1")" "0:1,2,3" "$2: a rerun applies the rest cleanly"
	is "$(psql_q "$1" "SELECT (SELECT string_agg(x::text, ',' ORDER BY x) FROM four_a) || '|' ||
		(SELECT string_agg(x::text, ',') FROM four_c) || '|' || (SELECT string_agg(k::text, ',' ORDER BY k) FROM marks)")" \
		"1,2|3|4,30" "$2: ... every statement once"
}

# --- the server backend killed during each statement ----------------------------
for k in 1 2 3 4; do
	db=$(faultdb)
	run "$K/gosling" "$db" up-to 1
	start "$K/gosling" "$db" up --json
	if ! wait_progress "$db" "$k"; then
		fail "backend killed in statement $k: statement $k never ran" "$(cat "$T/err")"
		finish
		continue
	fi
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
# A migration of plain INSERTs too: nothing else would stop it running twice.
KD=$T/killdml
mkdir -p "$KD" && cp "$K/000001_base.sql" "$K/000003_after.sql" "$KD/"
mig "$KD" 000002_dml.sql <<'EOF'
-- +goose Up
INSERT INTO marks SELECT mark(1);
INSERT INTO marks SELECT 10 + mark(2);
INSERT INTO marks SELECT 20 + mark(3);
EOF
mkbin "$KD"

# The lock's session ends with the client's socket; the work session's backend is busy
# in a statement and only notices the client is gone when it next talks to it.  The next
# run must neither apply the migration a second time nor fail on what the orphaned
# backend is still doing.
for k in 1 3; do
	db=$(faultdb)
	run "$K/gosling" "$db" up-to 1
	start "$K/gosling" "$db" up
	killed=$bg
	if ! wait_progress "$db" "$k"; then
		fail "client killed in statement $k: statement $k never ran" "$(cat "$T/err")"
		finish
		continue
	fi
	kill -KILL "$killed"
	finish
	is "$rc" 137 "client SIGKILLed in statement $k: it died"
	t0=$(date +%s%N)
	run "$K/gosling" "$db" up --lock-wait 20
	t1=$(date +%s%N)
	is "$rc:$(rows "$db")" "0:1,2,3" "client SIGKILLed in statement $k: the next run proceeds and applies the rest"
	ok "client SIGKILLed in statement $k: ... promptly ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 5000
	is "$(psql_q "$db" "SELECT (SELECT string_agg(x::text, ',' ORDER BY x) FROM four_a) || '|' ||
		(SELECT string_agg(x::text, ',') FROM four_c) || '|' || (SELECT string_agg(k::text, ',' ORDER BY k) FROM marks)")" \
		"1,2|3|4,30" "client SIGKILLed in statement $k: every statement ran exactly once"
	like "$out" "up: " "client SIGKILLed in statement $k: the rerun reports normally"
	is "$(advisory_locks)" 0 "client SIGKILLed in statement $k: no lock left behind"
done

db=$(faultdb)
run "$KD/gosling" "$db" up-to 1
start "$KD/gosling" "$db" up
killed=$bg
if wait_progress "$db" 2; then
	kill -KILL "$killed"
	finish
	run "$KD/gosling" "$db" up --lock-wait 20
	is "$rc:$(rows "$db"):$(psql_q "$db" "SELECT string_agg(k::text, ',' ORDER BY k) FROM marks")" "0:1,2,3:1,12,23,30" \
		"client SIGKILLed in an INSERT-only migration: the next run applies it exactly once"
else
	fail "client SIGKILLed in an INSERT-only migration: statement 2 never ran" "$(cat "$T/err")"
	finish
fi

done_testing
