#!/usr/bin/env bash
# tests/stall.sh - a server or network that stops answering, and a gosling told to stop,
# against a real PostgreSQL 15.  A stopped process (kill -STOP) keeps its sockets open and
# its kernel answers TCP, so only gosling's own bounds can end the wait: the postmaster
# stopped while gosling connects (over TCP, with a host name to resolve), the lock
# session's backend stopped while gosling polls for the lock, the migration backend stopped
# in a statement under a Lambda deadline; SIGTERM and SIGINT during a NO TRANSACTION and a
# transactional migration, and while waiting for the lock.  Each must end within its bound
# (GOSLING_LOCK_WAIT + 5 s for the CLI, before the deadline for Lambda) with a clear error,
# no lock left, and a database a rerun converges from.  Prints TAP.
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/lib/pg.sh
. tests/lib/gosling.sh

pg_start
T=$PG_TMP/t
mkdir -p "$T"
export GOSLING_LOG_LEVEL=info
unset GOSLING_LOCK_WAIT AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL
STOPPED=()
resume() { local p; for p in "${STOPPED[@]}"; do kill -CONT "$p" 2>/dev/null || true; done; STOPPED=(); }
trap 'resume; pg_stop' EXIT

advisory_locks() { psql_q postgres "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"; }
now_ms() { date +%s%3N; }
postmaster() { head -1 "$PG_TMP/data/postmaster.pid"; }

# backend_of DB CONDITION: pid of gosling's backend for which CONDITION holds in pg_stat_activity
# (waits up to 20 s).  A batch's text is longer than pg_stat_activity shows: a pg_sleep is
# found by its wait event.
SLEEPING="wait_event = 'PgSleep'"
POLLING="query LIKE '%pg_try_advisory_lock%'"
backend_of() {
	local pid
	for _ in $(seq 400); do
		pid=$(psql_q postgres "SELECT pid FROM pg_stat_activity WHERE datname = '$1' AND application_name = 'gosling'
			AND $2 ORDER BY backend_start LIMIT 1")
		[ -n "$pid" ] && { echo "$pid"; return 0; }
		sleep 0.05
	done
	return 1
}

B=$T/base
mig "$B" 000001_base.sql <<'EOF2'
-- +goose Up
CREATE TABLE base (x int);
EOF2
mig "$B" 000002_slow.sql <<'EOF2'
-- +goose Up
CREATE TABLE slow_a (x int);
SELECT pg_catalog.pg_sleep(30);
EOF2
mkbin "$B"

# --- the postmaster stopped while gosling connects -----------------------------------------
db=$(pg_newdb)
pm=$(postmaster)
kill -STOP "$pm"
STOPPED+=("$pm")
t0=$(now_ms)
start "$B/gosling" "$db" up --json --lock-wait 2 --host localhost --port "$PGPORT"
finish
t1=$(now_ms)
resume
is "$rc:$(jq -r .error.type <<<"$out")" "3:Function.ConfigError" "postmaster stopped: up exits 3 (cannot connect)"
like "$(jq -r .error.message <<<"$out")" "unable to open the lock connection: no answer from the server in time" \
	"postmaster stopped: the error says the server did not answer"
ok "postmaster stopped: up ends within GOSLING_LOCK_WAIT + 5 s ($((t1 - t0)) ms, lock wait 2 s, connect timeout 10 s)" \
	test $((t1 - t0)) -lt 7000

# --- the lock session's backend stopped while gosling polls for the lock --------------------
db=$(pg_newdb)
key=$("$B/gosling" settings --json | jq -r '.[] | select(.name == "lock-key") | .default')
psql -X -q -d "$db" -c "SELECT pg_advisory_lock($key); SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do [ "$(advisory_locks)" = 1 ] && break; sleep 0.05; done
t0=$(now_ms)
start "$B/gosling" "$db" up --json --lock-wait 3
if pid=$(backend_of "$db" "$POLLING"); then
	kill -STOP "$pid"
	STOPPED+=("$pid")
	finish
	t1=$(now_ms)
	resume
	is "$rc" 3 "lock session's backend stopped: up exits 3"
	like "$(jq -r .error.message <<<"$out")" "did not answer within" "lock session's backend stopped: the error says the server did not answer"
	ok "lock session's backend stopped: up ends within GOSLING_LOCK_WAIT + 5 s ($((t1 - t0)) ms, lock wait 3 s)" \
		test $((t1 - t0)) -lt 8000
else
	finish
	fail "lock session's backend stopped: gosling never polled for the lock" "$err"
fi
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" >/dev/null
is "$(rows "$db" 2>/dev/null)" "" "lock session's backend stopped: nothing was applied"

# --- the migration backend stopped in a statement, under a Lambda deadline -----------------
db=$(pg_newdb)
printf '%s' '[{"body": {}, "deadline_in_ms": 9000}]' >"$T/stop.events"
DB_NAME=$db python3 tests/lambda/runtime_api.py --events "$T/stop.events" --log "$T/stop.json" --timeout 40 \
	-- "$B/gosling" 2>"$T/stop.err" &
api=$!
if pid=$(backend_of "$db" "$SLEEPING"); then
	kill -STOP "$pid"
	STOPPED+=("$pid")
	wait "$api" || true
	resume
	is "$(jq -r '.invocations[0].kind + " " + .invocations[0].error_type' "$T/stop.json")" "error Function.MigrationFailed" \
		"migration backend stopped under a Lambda deadline: the invocation is answered, Function.MigrationFailed"
	is "$(jq -r '.invocations[0].before_deadline' "$T/stop.json")" true \
		"migration backend stopped: the answer comes before the deadline ($(jq -r '.invocations[0].elapsed_ms' "$T/stop.json") ms of 9000)"
	like "$(jq -r '.invocations[0].body.errorMessage' "$T/stop.json")" "unable to apply 000001_base.sql to 000002_slow.sql (gosling status tells which committed): the server did not answer within" \
		"migration backend stopped: the error names the batch's migrations and says the server did not answer"
else
	wait "$api" || true
	fail "migration backend stopped: pg_sleep never ran" "$(cat "$T/stop.err")"
fi
sleep 1.5	# the resumed backend finds its client gone (client_connection_check_interval) and rolls back
is "$(rows "$db"):$(has_table "$db" slow_a):$(advisory_locks)" "1:f:0" \
	"migration backend stopped: 000001 stands, nothing of 000002 remains, no lock left"

# --- SIGTERM during a NO TRANSACTION migration -------------------------------------------
N=$T/nt
cp "$B/000001_base.sql" "$N/" 2>/dev/null || { mkdir -p "$N"; cp "$B/000001_base.sql" "$N/"; }
mig "$N" 000002_nt.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE nt_a (x int);
SELECT pg_catalog.pg_sleep(coalesce((SELECT max(s) FROM sleep_for), 0));
CREATE TABLE nt_c (x int);
EOF2
mkbin "$N"
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE sleep_for (s int); INSERT INTO sleep_for VALUES (30)" >/dev/null
start "$N/gosling" "$db" up --json
if backend_of "$db" "$SLEEPING" >/dev/null; then
	t0=$(now_ms)
	kill -TERM "$bg"
	finish
	t1=$(now_ms)
	is "$rc" 143 "SIGTERM in a NO TRANSACTION migration: exit 143"
	ok "SIGTERM in a NO TRANSACTION migration: it stops promptly ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
	like "$(jq -r .error.message <<<"$out")" "interrupted by SIGTERM: unable to apply 000002_nt.sql statement 2 (line 4): canceling statement due to user request" \
		"SIGTERM in a NO TRANSACTION migration: the error says so and names the statement"
	is "$(psql_q "$db" "SELECT version || ':' || coalesce(failed_statement::text, '-') FROM gosling_migrations ORDER BY version" | tr '\n' ' ')" \
		"1:- 2:2 " "SIGTERM in a NO TRANSACTION migration: where it stopped is recorded (statement 2)"
	is "$(has_table "$db" nt_a)$(has_table "$db" nt_c):$(advisory_locks)" "tf:0" \
		"SIGTERM in a NO TRANSACTION migration: statement 1 stands, 3 did not run, no lock left"
	psql_q "$db" "DELETE FROM sleep_for" >/dev/null
	start "$N/gosling" "$db" up
	finish
	is "$rc:$(rows "$db"):$(has_table "$db" nt_c)" "0:1,2:t" "SIGTERM in a NO TRANSACTION migration: the next up resumes at statement 2"
else
	finish
	fail "SIGTERM in a NO TRANSACTION migration: statement 2 never ran" "$err"
fi

# --- SIGINT during a transactional batch ----------------------------------------------
db=$(pg_newdb)
start "$B/gosling" "$db" up
if pid=$(backend_of "$db" "$SLEEPING"); then
	t0=$(now_ms)
	kill -INT "$bg"
	finish
	t1=$(now_ms)
	is "$rc" 130 "SIGINT in a transactional migration: exit 130"
	ok "SIGINT in a transactional migration: it stops promptly ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
	like "$err" "interrupted by SIGINT: unable to apply 000002_slow.sql statement 2 (line 3): canceling statement due to user request" \
		"SIGINT in a transactional migration: the error says so and names the statement"
	is "$(rows "$db"):$(has_table "$db" slow_a):$(advisory_locks)" "1:f:0" \
		"SIGINT in a transactional migration: 000001 stands, 000002 is rolled back, no lock left"
	is "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'")" 0 \
		"SIGINT in a transactional migration: the statement was cancelled on the server"
else
	finish
	fail "SIGINT in a transactional migration: pg_sleep never ran" "$err"
fi

# --- SIGTERM while waiting for the lock --------------------------------------------------
db=$(pg_newdb)
psql -X -q -d "$db" -c "SELECT pg_advisory_lock($key); SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do [ "$(advisory_locks)" = 1 ] && break; sleep 0.05; done
start "$B/gosling" "$db" up --lock-wait 60
if backend_of "$db" "$POLLING" >/dev/null; then
	t0=$(now_ms)
	kill -TERM "$bg"
	finish
	t1=$(now_ms)
	is "$rc" 143 "SIGTERM while waiting for the lock: exit 143"
	ok "SIGTERM while waiting for the lock: it stops promptly ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 3000
	like "$err" "interrupted by SIGTERM: stopped waiting for the migration lock" "SIGTERM while waiting for the lock: the error says so"
else
	finish
	fail "SIGTERM while waiting for the lock: gosling never polled" "$err"
fi
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

# --- a DNS server that never answers --------------------------------------------------------
# libpq's own getaddrinfo has no timeout: gosling resolves the host name itself, on a thread
# it stops waiting for at the bound.  The process runs in a mount namespace of its own whose
# /etc/resolv.conf names a local UDP server that reads every query and answers none (glibc
# would wait timeout:30 x attempts:3 = 90 s).
if unshare -m true 2>/dev/null; then
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.77", 53))
open(sys.argv[1], "w").close()
end = time.time() + 120
while time.time() < end:
	s.settimeout(1)
	try:
		s.recvfrom(4096)
	except socket.timeout:
		pass' "$T/dns.ready" &
	dns=$!
	for _ in $(seq 100); do [ -e "$T/dns.ready" ] && break; sleep 0.05; done
	printf 'nameserver 127.0.0.77\noptions timeout:30 attempts:3\n' >"$T/resolv.conf"
	# stalled_dns CMD...: CMD with /etc/resolv.conf naming the silent server
	stalled_dns() { unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" "$@"; }
	db=$(pg_newdb)
	t0=$(now_ms)
	DB_NAME=$db stalled_dns "$B/gosling" up --json --lock-wait 2 --host db.stall.test --port "$PGPORT" \
		>"$T/out" 2>"$T/err" && rc=0 || rc=$?
	t1=$(now_ms)
	is "$rc:$(jq -r .error.type "$T/out")" "3:Function.ConfigError" "DNS server silent: up exits 3 (cannot connect)"
	like "$(jq -r .error.message "$T/out")" "could not resolve host name \"db.stall.test\" in time" \
		"DNS server silent: the error names the host name that did not resolve in time"
	ok "DNS server silent: up ends within GOSLING_LOCK_WAIT + 5 s ($((t1 - t0)) ms, lock wait 2 s; glibc alone waits 90 s)" \
		test $((t1 - t0)) -lt 7000

	# the Lambda loop: the answer comes before the invocation's deadline
	printf '%s' '[{"body": {}, "deadline_in_ms": 6000}]' >"$T/dns.events"
	DB_NAME=$db DB_HOST=db.stall.test DB_PORT=$PGPORT stalled_dns python3 tests/lambda/runtime_api.py \
		--events "$T/dns.events" --log "$T/dns.json" --timeout 40 -- "$B/gosling" 2>"$T/dns.err" || true
	is "$(jq -r '.invocations[0].kind' "$T/dns.json")" error "DNS server silent, Lambda: the invocation is answered with an error"
	like "$(jq -r '.invocations[0].body.errorMessage' "$T/dns.json")" "could not resolve host name \"db.stall.test\" in time" \
		"DNS server silent, Lambda: the error names the host name"
	is "$(jq -r '.invocations[0].before_deadline' "$T/dns.json")" true \
		"DNS server silent, Lambda: the answer comes before the deadline ($(jq -r '.invocations[0].elapsed_ms' "$T/dns.json") ms of 6000)"
	kill "$dns" 2>/dev/null || true
	wait "$dns" 2>/dev/null || true
	is "$(rows "$db" 2>/dev/null)" "" "DNS server silent: nothing was applied"
else
	ok "DNS server silent # SKIP unshare -m is not permitted here (no mount namespace for a private /etc/resolv.conf)"
fi

done_testing
