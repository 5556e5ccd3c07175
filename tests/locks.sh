#!/usr/bin/env bash
# tests/locks.sh - a migration on a live table, against a real PostgreSQL 15: short lock
# waits retried (GOSLING_LOCK_TIMEOUT, GOSLING_LOCK_RETRIES), deadlocks retried, what a
# reader on that table waits meanwhile.  Prints TAP.
cd "$(dirname "$0")/.."
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

pg_start
T=$PG_TMP/t
mkdir -p "$T"
export GOSLING_LOG_LEVEL=info

# jqo EXPR: EXPR on the last result document
jqo() { jq -r "$1" <<<"$out"; }
# likere TEXT ERE NAME: a line of TEXT matches ERE
likere() {
	if printf '%s' "$1" | grep -qE -- "$2"; then pass "$3"; else fail "$3" "$(printf 'in:   %s\nwant: %s' "$1" "$2")"; fi
}
# atmost A B NAME / atleast A B NAME: integers compared
atmost() { if [ -n "$1" ] && [ "$1" -le "$2" ]; then pass "$3"; else fail "$3" "got: '$1', want <= $2"; fi; }
atleast() { if [ -n "$1" ] && [ "$1" -ge "$2" ]; then pass "$3"; else fail "$3" "got: '$1', want >= $2"; fi; }

# hold DB SECONDS SQL...: in the background, one transaction that runs SQL and then sleeps;
# returns once its locks are granted (it is then in pg_sleep).
hold() {
	local db=$1 secs=$2
	shift 2
	psql -X -q -d "$db" -c "BEGIN; $*; SELECT pg_sleep($secs); COMMIT;" >/dev/null 2>"$T/hold.err" &
	hold_pid=$!
	for _ in $(seq 200); do
		[ "$(psql_q "$db" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BEGIN; %pg_sleep%'
			AND wait_event = 'PgSleep' AND datname = '$db'")" = 1 ] && return 0
		sleep 0.05
	done
	echo "# the holding session never reached its sleep: $(cat "$T/hold.err")"
	return 1
}
# release DB: end hold's session now (its backend, not only psql, which the backend would
# outlive until its sleep ends), so its locks go
release() {
	kill "$hold_pid" 2>/dev/null || true
	wait "$hold_pid" 2>/dev/null || true
	psql_q "$1" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'BEGIN; %pg_sleep%' AND datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
}

# reader DB TABLE N: in the background, N autocommit reads of TABLE 30 ms apart, each
# printing how long it waited before it could read (ms, by the server's clock); reader_max
# after it ends: the longest.
reader() {
	local i
	for i in $(seq "$3"); do
		echo "SELECT (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int FROM $2 LIMIT 1;"
		echo "SELECT pg_sleep(0.03);"
	done >"$T/reader.sql"
	psql -X -q -A -t -d "$1" -f "$T/reader.sql" >"$T/reader.out" 2>&1 &
	reader_pid=$!
}
reader_max() {
	wait "$reader_pid"
	grep -aE '^[0-9]+$' "$T/reader.out" | sort -n | tail -1
}

# --- a table lock held by a long transaction ----------------------------------------
# 000002 needs ACCESS EXCLUSIVE on t while another transaction holds ROW EXCLUSIVE for 3 s
# (an UPDATE that does not commit): each try waits at most the lock timeout, then the
# migration is rolled back, and everything queued behind it (the reader) goes on.
L=$T/lock
mig "$L" 000001_log.sql <<'EOF'
-- +goose Up
CREATE TABLE ran (version int);
INSERT INTO ran VALUES (1);
EOF
mig "$L" 000002_alter.sql <<'EOF'
-- +goose Up
INSERT INTO ran VALUES (2);
ALTER TABLE t ADD COLUMN note text;
EOF
mig "$L" 000003_after.sql <<'EOF'
-- +goose Up
INSERT INTO ran VALUES (3);
EOF
mkbin "$L"
setup_t() { psql_q "$1" "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g" >/dev/null; }

db=$(pg_newdb)
setup_t "$db"
hold "$db" 3 "UPDATE t SET v = v + 1 WHERE id = 1"
reader "$db" t 120
run "$L/gosling" "$db" up --json --lock-timeout 1000
wait "$hold_pid"
max=$(reader_max)
echo "# lock-timeout 1000 ms: up took $ms ms, retries $(jqo '.migrations[1].retries'), the reader waited at most $max ms"
is "$rc" 0 "a migration behind a 3 s lock succeeds with a 1 s lock timeout"
atleast "$(jqo '.migrations[1].retries')" 1 "the JSON result counts its retries (>= 1): $(jqo '.migrations[1].retries')"
is "$(jqo '[.migrations[0].retries, .migrations[2].retries] | @csv')" "0,0" \
	"the migrations before and after it were not retried"
likere "$err" "not applied 000002_alter.sql: canceling statement due to lock timeout \\(55P03\\), retrying in [0-9]+ ms \\(retry 1 of 10\\)" \
	"each retry is logged with PostgreSQL's reason and the backoff"
is "$(psql_q "$db" "SELECT string_agg(version::text, ',' ORDER BY version) FROM ran")" "1,2,3" \
	"every migration ran once: the retried one's rolled-back tries left nothing"
is "$(rows "$db")" "1,2,3" "all three recorded"
atmost "$max" 1600 \
	"a reader on the table waited at most the lock timeout and a margin (1000 + 600 ms): $max ms"

# The same without a lock timeout (as gosling was before it had one): the reader queues
# behind the migration for the holder's whole 3 s.  So the bound above measures something.
db=$(pg_newdb)
setup_t "$db"
hold "$db" 3 "UPDATE t SET v = v + 1 WHERE id = 1"
reader "$db" t 120
run "$L/gosling" "$db" up --json --lock-timeout 0
wait "$hold_pid"
max=$(reader_max)
echo "# lock-timeout 0: up took $ms ms, the reader waited at most $max ms"
is "$rc" 0 "lock-timeout 0: the migration waits for the lock"
is "$(jqo '.migrations[1].retries')" 0 "lock-timeout 0: no retry"
atleast "$max" 2000 \
	"lock-timeout 0: the reader waited behind it for most of the holder's 3 s: $max ms"

# --atomic: the lock timeout rolls back the whole set, and the whole set goes again
db=$(pg_newdb)
setup_t "$db"
hold "$db" 3 "UPDATE t SET v = v + 1 WHERE id = 1"
run "$L/gosling" "$db" up --json --atomic --lock-timeout 1000
wait "$hold_pid"
is "$rc" 0 "--atomic behind a 3 s lock: retried as a whole, and applied"
atleast "$(jqo '.migrations[0].retries')" 1 "--atomic: the retries count for the first migration too: $(jqo '.migrations[0].retries')"
is "$(jqo '[.migrations[].retries] | unique | length')" 1 "--atomic: every migration of the set has the same count"
is "$(psql_q "$db" "SELECT string_agg(version::text, ',' ORDER BY version) FROM ran")" "1,2,3" \
	"--atomic: each migration's work stands once: the rolled-back tries left nothing"
is "$(rows "$db"):$(psql_q "$db" "SELECT count(DISTINCT xmin::text) FROM gosling_migrations")" "1,2,3:1" \
	"--atomic: all three recorded, by one transaction"

# --- the retry budget ------------------------------------------------------------------
db=$(pg_newdb)
setup_t "$db"
hold "$db" 60 "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"
GOSLING_LOCK_RETRIES=2 run "$L/gosling" "$db" up --json --lock-timeout 300
release "$db"
is "$rc" 1 "lock held past every retry: exit 1"
likere "$(jqo .error.message)" \
	"^unable to apply 000002_alter.sql statement 2 \\(line 3\\): canceling statement due to lock timeout \\(after 2 retries\\)$" \
	"the error names the statement and counts the retries"
is "$(jqo '.error.sqlstate')" 55P03 "the error carries SQLSTATE 55P03"
is "$(jqo '[.migrations[] | "\(.action):\(.retries)"] | @csv')" '"applied:0","failed:2","not attempted:null"' \
	"JSON: the one before applied, the failed one with its 2 retries, the one after not attempted"
is "$(rows "$db")" "1" "the migration before it stays committed, nothing of it or after it is recorded"
is "$(psql_q "$db" "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'note'")" \
	0 "nothing of the failed migration stays"

# A NO TRANSACTION migration is never retried: it stops where it is and the next up resumes.
N=$T/notx
mig "$N" 000001_notx.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE notx (id int);
ALTER TABLE t ADD COLUMN note text;
EOF
mkbin "$N"
db=$(pg_newdb)
setup_t "$db"
# held until gosling has stopped (however slowly a loaded machine starts it), then released
hold "$db" 60 "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"
run "$N/gosling" "$db" up --json --lock-timeout 300
release "$db"
is "$rc" 1 "NO TRANSACTION behind a lock: exit 1, not retried"
is "$(jqo '.migrations[0] | "\(.failed_statement):\(.retries)"')" "2:0" \
	"NO TRANSACTION: stopped at statement 2, no retry"
run "$N/gosling" "$db" up --json --lock-timeout 300
is "$rc" 0 "NO TRANSACTION: the next up resumes at statement 2 and completes"

# --- a CREATE INDEX CONCURRENTLY that failed -------------------------------------------
# A unique index built concurrently over duplicate rows fails and leaves the index behind,
# INVALID (still maintained on every write).  Once the duplicates are fixed, up resumes at
# that statement: it drops the INVALID index concurrently first, then builds it again.
# The name is unquoted mixed case and the table schema-qualified, behind a comment: the
# server folds and resolves them as the statement's own parse would.
C=$T/cic
mig "$C" 000001_uniq.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE audit (id int);
/* one address per user */ CREATE UNIQUE INDEX CONCURRENTLY Users_Email_Key
	ON public.users (email);
INSERT INTO audit VALUES (1);
EOF
mkbin "$C"
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE users (id int PRIMARY KEY, email text);
	INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 1000) g;
	INSERT INTO users VALUES (1001, 'u7@example.com')" >/dev/null
invalid() { psql_q "$db" "SELECT coalesce(string_agg(c.relname || ':' || i.indisvalid, ','), 'none')
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'users_email_key'"; }
run "$C/gosling" "$db" up --json
is "$rc" 1 "a unique index built concurrently over duplicates fails: exit 1"
is "$(jqo '.migrations[0].failed_statement'):$(jqo .error.sqlstate)" "2:23505" \
	"it stops at statement 2 with PostgreSQL's unique violation"
is "$(invalid)" "users_email_key:false" "the failed build left the index INVALID"
psql_q "$db" "DELETE FROM users WHERE id = 1001" >/dev/null
run "$C/gosling" "$db" up --json
is "$rc" 0 "once the duplicates are fixed, up resumes and succeeds"
is "$(jqo '.migrations[0] | "\(.action):\(.dropped_invalid_index)"')" "applied:public.users_email_key" \
	"the result names the INVALID index it dropped (dropped_invalid_index)"
like "$err" "dropping the INVALID index public.users_email_key that 000001_uniq.sql statement 2 left when it failed, before running it again" \
	"the log says it drops the INVALID index before running the statement again"
is "$(invalid)" "users_email_key:true" "the index is valid afterwards, and the only one of its name"
is "$(psql_q "$db" "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	WHERE c.relname = 'users' AND NOT i.indisvalid")" 0 "no INVALID index is left on the table"
is "$(rows "$db"):$(psql_q "$db" "SELECT count(*) FROM audit")" "1:1" \
	"the migration is recorded complete, its earlier statement not run twice"

# A valid index of that name is never dropped: the statement fails (already exists), on
# its first run and on resume alike.
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE users (id int PRIMARY KEY, email text);
	CREATE UNIQUE INDEX users_email_key ON users (email)" >/dev/null
run "$C/gosling" "$db" up --json
is "$rc:$(jqo .error.sqlstate)" "1:42P07" "a valid index of that name stays: the statement fails (already exists)"
run "$C/gosling" "$db" up --json
is "$rc:$(jqo '.migrations[0].dropped_invalid_index')" "1:null" "... and on resume nothing is dropped"
is "$(invalid)" "users_email_key:true" "the valid index is still there"

# --- a deadlock ---------------------------------------------------------------------------
# The other session locks b, then waits for a; the migration locks a, then waits for b.
# The other session's deadlock_timeout is long, so the migration's backend finds the cycle
# and gets 40P01; the other session then goes on, and the retried migration succeeds.
D=$T/deadlock
mig "$D" 000001_ab.sql <<'EOF'
-- +goose Up
UPDATE a SET v = v + 1;
SELECT pg_sleep(2);
UPDATE b SET v = v + 1;
EOF
mkbin "$D"
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE a (v int); CREATE TABLE b (v int); INSERT INTO a VALUES (0); INSERT INTO b VALUES (0)" >/dev/null
psql -X -q -d "$db" -c "BEGIN; SET LOCAL deadlock_timeout = '60s'; UPDATE b SET v = v + 10;
	SELECT pg_sleep(1.5); UPDATE a SET v = v + 10; COMMIT;" >/dev/null 2>"$T/other.err" &
other=$!
sleep 0.5
run "$D/gosling" "$db" up --json --lock-timeout 5000
set +e
wait "$other"
other_rc=$?
set -e
is "$rc" 0 "a migration that deadlocks with another session is retried and succeeds"
likere "$err" "not applied 000001_ab.sql: deadlock detected \\(40P01\\), retrying in [0-9]+ ms \\(retry 1 of 10\\)" \
	"the deadlock is logged with its SQLSTATE"
is "$(jqo '.migrations[0].retries')" 1 "the JSON result shows the retry"
is "$other_rc" 0 "the other session committed"
is "$(psql_q "$db" "SELECT (SELECT v FROM a) || ',' || (SELECT v FROM b)")" "11,11" \
	"both transactions' updates stand, each once"

# the progress line counts the retries
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE a (v int); CREATE TABLE b (v int); INSERT INTO a VALUES (0); INSERT INTO b VALUES (0)" >/dev/null
hold "$db" 1.5 "LOCK TABLE a IN ACCESS EXCLUSIVE MODE"
run "$D/gosling" "$db" up --lock-timeout 500
wait "$hold_pid"
is "$rc" 0 "text output: applied after retries"
likere "$out" "^applied     000001_ab.sql \\([0-9]+ ms, [0-9]+ retr(y|ies)\\)$" "the progress line counts the retries"

# --- a server that starts after up began --------------------------------------------------
# A cluster resuming from zero capacity refuses connections for up to ~15 s: up keeps
# trying (GOSLING_CONNECT_RETRY) and migrates once the server is there.
S=$T/simple
mig "$S" 000001_s.sql <<'EOF'
-- +goose Up
CREATE TABLE s (id int);
EOF
mkbin "$S"
LATE=$PG_TMP/late
LATE_PORT=$(pg_free_port)
pg_initdb "$LATE" "$T/late-initdb.log"
late_stop() { pg_server_stop "$LATE" 2>/dev/null || true; }
trap 'late_stop; pg_stop' EXIT
t0=$(date +%s%3N)
(DB_NAME=postgres DB_HOST=127.0.0.1 DB_PORT=$LATE_PORT "$S/gosling" up --json >"$T/late.out" 2>"$T/late.err"
	echo $? >"$T/late.rc"; date +%s%3N >"$T/late.end") &
late_pid=$!
sleep 4
started=$(date +%s%3N)
pg_server_start "$LATE" "$LATE_PORT" "$PG_TMP/late-server.log"
psql_late() { psql -X -q -A -t -h 127.0.0.1 -p "$LATE_PORT" -d postgres -c "$1"; }
wait "$late_pid"
echo "# late start: server started $((started - t0)) ms after up began; up ended $(($(cat "$T/late.end") - started)) ms after the server started"
is "$(cat "$T/late.rc")" 0 "a server started 4 s after up began is migrated"
like "$(cat "$T/late.err")" "database not ready, retrying in " "each retry is logged"
is "$(psql_late "SELECT string_agg(version::text, ',' ORDER BY version) FROM gosling_migrations")" "1" \
	"the migration applied on the late server"
late_stop

# refused for longer than GOSLING_CONNECT_RETRY: exit 3 after about that long, saying how often it tried
DB_HOST=127.0.0.1 DB_PORT=$LATE_PORT GOSLING_CONNECT_RETRY=2 run "$S/gosling" postgres up --json
is "$rc" 3 "a server that never comes: exit 3"
like "$(jqo .error.message)" "unable to connect to the database: connection to server at \"127.0.0.1\", port $LATE_PORT failed: Connection refused" \
	"the error gives libpq's reason"
likere "$(jqo .error.message)" "\\([0-9]+ tries in [0-9]+ ms\\)$" "... and says how often and how long it tried"
atmost "$ms" 4000 "it gave up after GOSLING_CONNECT_RETRY (2 s) and a margin: $ms ms"
atleast "$ms" 1000 "... and not at the first refusal: $ms ms"

done_testing
