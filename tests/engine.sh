#!/usr/bin/env bash
# tests/engine.sh - the engine and the CLI against a real PostgreSQL 15.
#
# Each scenario writes a folder of goose migrations, compiles it with goslingc
# into a gosling of its own (linked with build/libgosling-runtime.a), and runs it
# on a fresh database of a throwaway server.  Prints TAP.
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

pg_start
T=$PG_TMP/t
mkdir -p "$T"
export GOSLING_LOG_LEVEL=info

# run, mig, mkbin, rows, has_table, mig_runs: tests/lib/gosling.sh

# --- a basic set of five migrations -------------------------------------------
B=$T/basic
mig "$B" 000001_users.sql <<'EOF'
-- +goose Up
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
-- +goose Down
DROP TABLE users;
EOF
mig "$B" 000002_posts.sql <<'EOF'
-- +goose Up
CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
INSERT INTO users VALUES (1, 'a@example.org');
-- +goose Down
DROP TABLE posts;
DELETE FROM users;
EOF
mig "$B" 000003_tags.sql <<'EOF'
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION tag_count() RETURNS bigint LANGUAGE sql AS $$
	SELECT 42::bigint;
$$;
-- +goose StatementEnd
CREATE TABLE tags (name text PRIMARY KEY);
-- +goose Down
DROP TABLE tags;
DROP FUNCTION tag_count();
EOF
mkbin "$B"

db=$(pg_newdb)
run "$B/gosling" "$db" status
is "$rc" 0 "status on an empty database exits 0"
like "$out" "000001_users.sql" "status lists the bundle's migrations"
is "$(has_table "$db" gosling_migrations)" f "status creates nothing"

run "$B/gosling" "$db" up
is "$rc" 0 "up on an empty database exits 0"
is "$(rows "$db")" "1,2,3" "up records every migration"
is "$(psql_q "$db" 'SELECT tag_count()')" 42 "up ran the StatementBegin block"
like "$out" "applied     000002_posts.sql (" "up prints one progress line per migration with its time"
is "$(psql_q "$db" "SELECT count(*) FROM gosling_migrations WHERE name LIKE '0000%' AND file_checksum LIKE 'sha256:c1:%'
	AND exec_checksum LIKE 'sha256:x1:%' AND chain LIKE 'sha256:h1:%' AND execution_ms >= 0 AND build_id <> ''
	AND applied_at IS NOT NULL AND origin = 'gosling'")" 3 "history rows carry name, checksums, chain, time and build id"
is "$(has_table "$db" goose_db_version)" f "up does not create goose's table"

run "$B/gosling" "$db" up
is "$rc" 0 "a second up exits 0"
like "$out" "up: 0 migrations, version 3 -> 3" "a second up applies nothing"
is "$(psql_q "$db" 'SELECT count(*) FROM users')" 1 "a second up ran nothing again"

run "$B/gosling" "$db" status --json
is "$(jq -r '[.migrations[].state] | join(",")' <<<"$out")" "applied,applied,applied" "status --json gives every state"
run "$B/gosling" "$db" verify
is "$rc" 0 "verify passes on an untouched database"
like "$out" "verified" "verify says so"
run "$B/gosling" "$db" version
is "$out" 3 "version prints the current version"

# verify needs only SELECT rights and creates nothing
psql_q "$db" "CREATE ROLE reader LOGIN; GRANT SELECT ON gosling_migrations TO reader" >/dev/null
DB_USER=reader run "$B/gosling" "$db" verify --json
is "$rc" 0 "verify works with SELECT-only rights"
is "$(jq -r .ok "$T/out")" true "verify --json says ok"

db2=$(pg_newdb)
run "$B/gosling" "$db2" verify
is "$rc" 0 "verify on an empty database passes (nothing applied)"
is "$(has_table "$db2" gosling_migrations)" f "verify on an empty database creates nothing"
run "$B/gosling" "$db2" plan
is "$rc" 0 "plan exits 0"
like "$out" "CREATE TABLE tags (name text PRIMARY KEY);" "plan shows the SQL that would run"
is "$(has_table "$db2" gosling_migrations)$(has_table "$db2" users)" ff "plan changes nothing"

# up-to, down, redo
db=$(pg_newdb)
run "$B/gosling" "$db" up-to 2
is "$rc:$(rows "$db")" "0:1,2" "up-to 2 applies 1 and 2 only"
is "$(has_table "$db" tags)" f "up-to 2 leaves 3 alone"
run "$B/gosling" "$db" up
is "$rc:$(rows "$db")" "0:1,2,3" "up then applies the rest"
run "$B/gosling" "$db" down
is "$rc" 2 "down without --allow-down is a usage error (exit 2)"
like "$err" "--allow-down" "the refusal names the opt-in"
is "$(rows "$db")" "1,2,3" "a refused down changes nothing"
run "$B/gosling" "$db" down --allow-down
is "$rc:$(rows "$db"):$(has_table "$db" tags)" "0:1,2:f" "down --allow-down rolls back the newest"
run "$B/gosling" "$db" up
psql_q "$db" "UPDATE gosling_migrations SET applied_at = '2000-01-01' WHERE version = 3" >/dev/null
run "$B/gosling" "$db" redo --allow-down
is "$rc:$(rows "$db"):$(has_table "$db" tags)" "0:1,2,3:t" "redo rolls back and re-applies the newest"
is "$(psql_q "$db" "SELECT applied_at > '2001-01-01' FROM gosling_migrations WHERE version = 3")" t "redo records a new application"
run "$B/gosling" "$db" down-to 1 --allow-down
is "$rc:$(rows "$db"):$(has_table "$db" posts)" "0:1:f" "down-to 1 rolls back 3 and 2"
run "$B/gosling" "$db" down-to 0 --allow-down
is "$rc:$(rows "$db"):$(has_table "$db" users)" "0::f" "down-to 0 rolls back everything"

# baseline
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)" >/dev/null
run "$B/gosling" "$db" baseline 1
is "$rc:$(rows "$db")" "0:1" "baseline 1 records version 1 without running it"
is "$(psql_q "$db" "SELECT origin FROM gosling_migrations")" baseline "the baseline row says so"
run "$B/gosling" "$db" up
is "$rc:$(rows "$db")" "0:1,2,3" "up after baseline applies the rest"

# usage and config errors
run "$B/gosling" "$db" frobnicate
is "$rc" 2 "an unknown command exits 2"
run "$B/gosling" "$db" up-to
is "$rc" 2 "up-to without a version exits 2"
run "$B/gosling" "$db" up --lock-wait abc
is "$rc" 3 "an invalid setting exits 3"
run "$B/gosling" "no_such_db_here" status
is "$rc" 3 "a database that cannot be reached exits 3"
run "$B/gosling" "$db" settings --json
is "$(jq -r '.[] | select(.name == "lock-wait") | .env' <<<"$out")" GOSLING_LOCK_WAIT "settings --json dumps the settings table"
set +e
DATABASE_URL="postgresql://postgres:sekrit@127.0.0.1:1/x?connect_timeout=2" "$B/gosling" status >"$T/out" 2>"$T/err"
rc=$?
set -e
is "$rc" 3 "an unreachable DATABASE_URL exits 3"
ok "no password in any message" bash -c "! grep -q sekrit '$T/out' '$T/err'"

# the history table's schema and name are settings
db=$(pg_newdb)
run "$B/gosling" "$db" up --schema ops --table history
is "$rc:$(psql_q "$db" "SELECT string_agg(version::text, ',' ORDER BY version) FROM ops.history"):$(has_table "$db" gosling_migrations)" \
	"0:1,2,3:f" "--schema ops --table history keeps the history in ops.history"
GOSLING_SCHEMA=ops GOSLING_TABLE=history run "$B/gosling" "$db" up
like "$out" "up: 0 migrations" "the same settings from the environment find it again"
run "$B/gosling" "$db" --help
like "$out" "5  lock timeout" "--help documents the exit codes"

# the same requests as Lambda events
db=$(pg_newdb)
run "$B/gosling" "$db" --event '{"command": "up-to", "version": "2", "other": 1}'
is "$rc:$(has_table "$db" gosling_migrations)" "2:f" "an event with an unknown field is a bad request, as in Lambda, and changes nothing"
like "$(cat "$T/err")" '"other"' "... naming the field"
run "$B/gosling" "$db" --event '{"command": "up-to", "version": "2"}'
is "$rc:$(rows "$db")" "0:1,2" "an event {\"command\":\"up-to\",\"version\":\"2\"} applies up to 2"
run "$B/gosling" "$db" --event '{"command": "down"}'
is "$rc:$(rows "$db")" "2:1,2" "an event down without allow_down is a bad request"
run "$B/gosling" "$db" --event '{"command": "down", "allow_down": true}' --json
is "$rc:$(rows "$db"):$(jq -r '.migrations[0].action' "$T/out")" "0:1:rolled back" "an event down with allow_down rolls back"
run "$B/gosling" "$db" up-to 2
run "$B/gosling" "$db" --allow-down --event '{"command": "down"}' --json
is "$rc:$(rows "$db")" "0:1" "--allow-down beside --event still applies (it was dropped)"
run "$B/gosling" "$db" --deadline-ms 1000 --event '{"command": "up"}'
is "$rc:$(rows "$db")" "1:1" "--deadline-ms beside --event still applies: a deadline in 1970 is refused"
like "$err" "not enough time before the deadline" "... saying why"
run "$B/gosling" "$db" --event '{"command": "sideways"}'
is "$rc" 2 "an event with an unknown command exits 2"
run "$B/gosling" "$db" --event '{}' --json
is "$rc:$(jq -r .command "$T/out"):$(rows "$db")" "0:up:1,2,3" "an empty event means up"

# sslmode is honoured (the test server has no TLS) and passwords stay out of logs
run "$B/gosling" "$db" status --host 127.0.0.1 --sslmode disable
is "$rc" 0 "--sslmode disable over TCP connects"
run "$B/gosling" "$db" status --host 127.0.0.1 --sslmode require
is "$rc" 3 "--sslmode require over TCP to a server without TLS fails to connect (exit 3)"
like "$err" "SSL" "the error says why"
set +e
DATABASE_URL="postgresql://postgres:sekrit@/$db?host=$PGHOST&port=$PGPORT" GOSLING_LOG_LEVEL=debug \
	"$B/gosling" status >"$T/out" 2>"$T/err"
rc=$?
set -e
is "$rc" 0 "DATABASE_URL connects"
like "$(cat "$T/err")" "password=***" "the debug log shows the connection with the password masked"
ok "the password itself appears nowhere" bash -c "! grep -q sekrit '$T/out' '$T/err'"

# --- adoption of a goose database ----------------------------------------------
for variant in serial identity; do
	db=$(pg_newdb)
	if [ $variant = serial ]; then
		psql_q "$db" "CREATE TABLE goose_db_version (
			id serial NOT NULL,
			version_id bigint NOT NULL,
			is_applied boolean NOT NULL,
			tstamp timestamp NULL default now(),
			PRIMARY KEY(id))" >/dev/null
	else
		psql_q "$db" "CREATE TABLE goose_db_version (
			id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
			version_id bigint NOT NULL,
			is_applied boolean NOT NULL,
			tstamp timestamp NOT NULL DEFAULT now())" >/dev/null
	fi
	# what goose leaves: its version 0 row, then one row per applied migration
	psql_q "$db" "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);
		CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
		CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));" >/dev/null
	run "$B/gosling" "$db" status --json
	is "$(jq -r '[.migrations[].state] | join(",")' <<<"$out")" "applied,applied,pending" "$variant goose table: status sees goose's versions"
	is "$(has_table "$db" gosling_migrations)" f "$variant goose table: status adopts nothing"
	run "$B/gosling" "$db" up
	is "$rc:$(rows "$db")" "0:1,2,3" "$variant goose table: up adopts 1, 2 and applies 3 only"
	is "$(psql_q "$db" "SELECT count(*) FROM users")" 0 "$variant goose table: adopted migrations did not run again"
	is "$(psql_q "$db" "SELECT string_agg(origin, ',' ORDER BY version) FROM gosling_migrations")" "goose,goose,gosling" \
		"$variant goose table: adopted rows say goose"
	is "$(psql_q "$db" "SELECT string_agg(version_id || ':' || is_applied, ',' ORDER BY id) FROM goose_db_version")" \
		"0:true,1:true,2:true,3:true" "$variant goose table: goose's table gets version 3 (goose status tells the truth)"
	run "$B/gosling" "$db" down --allow-down
	is "$(psql_q "$db" "SELECT max(version_id) FROM goose_db_version")" 2 "$variant goose table: down removes goose's row too"
done

# a goose row of a later version marked not applied (legacy down) is not applied
db=$(pg_newdb)
psql_q "$db" "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL,
	is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id));
	INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (2, false);
	CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);" >/dev/null
run "$B/gosling" "$db" up
is "$rc:$(rows "$db"):$(psql_q "$db" "SELECT string_agg(origin, ',' ORDER BY version) FROM gosling_migrations")" \
	"0:1,2,3:goose,gosling,gosling" "goose's legacy is_applied=false row: version 2 is applied again"

# --- drift ----------------------------------------------------------------------
D=$T/drift
cp -r "$B" "$D"
rm -f "$D/gosling" "$D/bundle.c"
db=$(pg_newdb)
run "$B/gosling" "$db" up
# the edit: what runs changes in 2; a new 4 is pending
sed -i 's/INSERT INTO users VALUES (1/INSERT INTO users VALUES (2/' "$D/000002_posts.sql"
mig "$D" 000004_more.sql <<'EOF'
-- +goose Up
CREATE TABLE more (x int);
-- +goose Down
DROP TABLE more;
EOF
mkbin "$D"
run "$D/gosling" "$db" up
is "$rc" 4 "an edited applied migration stops up with the drift exit code"
like "$err" "migration 000002_posts.sql was changed after it was applied" "the drift message names the migration"
is "$(rows "$db"):$(has_table "$db" more)" "1,2,3:f" "up refused before changing anything"
run "$D/gosling" "$db" verify --json
is "$rc:$(jq -r '.error.type + ":" + .error.file' "$T/out")" "4:Function.DriftDetected:000002_posts.sql" "verify reports the drift as JSON"

# comment-only edit: a warning
C=$T/comment
cp -r "$B" "$C"
rm -f "$C/gosling" "$C/bundle.c"
printf -- '-- a comment added later\n\n' | cat - "$B/000002_posts.sql" >"$C/000002_posts.sql"
mkbin "$C"
run "$C/gosling" "$db" up
is "$rc" 0 "a comment-only edit does not stop up"
like "$err" "000002_posts.sql was edited after it was applied, in comments or blank lines only" "a comment-only edit is a warning"

# a history row edited by hand
db=$(pg_newdb)
run "$B/gosling" "$db" up
psql_q "$db" "UPDATE gosling_migrations SET exec_checksum = 'sha256:x1:' || repeat('0', 64) WHERE version = 2" >/dev/null
run "$B/gosling" "$db" verify
is "$rc" 4 "a tampered history row fails verify"
like "$err" "history row of migration 000002_posts.sql was edited by hand" "the tampered row is named"
run "$B/gosling" "$db" up
is "$rc" 4 "a tampered history row stops up"
db=$(pg_newdb)
run "$B/gosling" "$db" up
psql_q "$db" "UPDATE gosling_migrations SET version = 7 WHERE version = 3" >/dev/null
run "$B/gosling" "$db" up
is "$rc" 4 "an applied version missing from the bundle stops up"
like "$err" "(version 7) is missing from the bundle" "the missing version is named"

# out of order
O=$T/order
mig "$O" 000001_a.sql <<<'-- +goose Up
CREATE TABLE a (x int);'
mig "$O" 000003_c.sql <<<'-- +goose Up
CREATE TABLE c (x int);'
mkbin "$O"
db=$(pg_newdb)
run "$O/gosling" "$db" up
mig "$O" 000002_b.sql <<<'-- +goose Up
CREATE TABLE b (x int);'
mkbin "$O"
run "$O/gosling" "$db" up
is "$rc:$(has_table "$db" b)" "4:f" "a pending migration below the newest applied is an error"
like "$err" "000002_b.sql is pending but numbered below the newest applied version 3" "the out-of-order file is named"
run "$O/gosling" "$db" up --allow-out-of-order
is "$rc:$(rows "$db")" "0:1,2,3" "--allow-out-of-order applies it"

# --- failure in the middle of the third of five --------------------------------
F=$T/fail
for i in 1 2 4 5; do
	mig "$F" "00000${i}_t$i.sql" <<<"-- +goose Up
CREATE TABLE t$i (x int);
-- +goose Down
DROP TABLE t$i;"
done
mig "$F" 000003_t3.sql <<'EOF'
-- +goose Up
CREATE TABLE t3 (x int);

INSERT INTO t3
SELECT x
FROM no_such_table;
CREATE TABLE t3b (x int);
-- +goose Down
DROP TABLE t3;
EOF
mkbin "$F"
db=$(pg_newdb)
run "$F/gosling" "$db" up --json
is "$rc" 1 "a failing migration exits 1"
is "$(rows "$db")" "1,2" "the first two stay applied"
is "$(has_table "$db" t3)$(has_table "$db" t3b)" ff "nothing of the third remains"
is "$(has_table "$db" t4)$(has_table "$db" t5)" ff "the fourth and fifth did not run"
like "$(jq -r .error.message "$T/out")" 'unable to apply 000003_t3.sql statement 2 (line 6): relation "no_such_table" does not exist' \
	"the error names file, statement and line"
is "$(jq -r '.error.sqlstate + " " + .error.type + " " + (.error.statement|tostring) + " " + (.error.line|tostring)' "$T/out")" \
	"42P01 Function.MigrationFailed 2 6" "the error carries SQLSTATE and its parts"
is "$(jq -r '[.migrations[] | .name + "=" + .action] | join(",")' "$T/out")" \
	"000001_t1.sql=applied,000002_t2.sql=applied,000003_t3.sql=failed,000004_t4.sql=not attempted,000005_t5.sql=not attempted" \
	"the result says what was applied and what was not"
like "$err" "sqlstate: 42P01" "the CLI prints the SQLSTATE"

# --- --atomic: every pending migration in one transaction -------------------------
# The five above, the third failing: with --atomic none of them is applied.
db=$(pg_newdb)
run "$F/gosling" "$db" up --atomic --json
is "$rc" 1 "--atomic: a failure in the third of five pending migrations exits 1"
is "$(rows "$db")" "" "--atomic: none of them is recorded (the history is unchanged)"
is "$(has_table "$db" t1)$(has_table "$db" t2)$(has_table "$db" t3)$(has_table "$db" t4)" ffff \
	"--atomic: nothing of the two before it remains either"
is "$(jq -r .error.message "$T/out")" \
	'unable to apply 000003_t3.sql statement 2 (line 6): relation "no_such_table" does not exist (atomic: none of the 5 migrations was applied)' \
	"--atomic: the error names file, statement and line, and says nothing was applied"
is "$(jq -r '[.error.file, .error.statement, .error.line] | @csv' "$T/out")" '"000003_t3.sql",2,6' \
	"--atomic: the error's fields name them too"
is "$(jq -r '[.migrations[] | .name + "=" + .action + ":" + .state] | join(",")' "$T/out")" \
	"000001_t1.sql=rolled back:pending,000002_t2.sql=rolled back:pending,000003_t3.sql=failed:pending,000004_t4.sql=not attempted:pending,000005_t5.sql=not attempted:pending" \
	"--atomic: the result says the two before it ran and were rolled back"

# five that succeed: one transaction (one xmin for every history row), one line each after it
A=$T/atomic
for i in 1 2 3 4 5; do
	mig "$A" "00000${i}_a$i.sql" <<<"-- +goose Up
CREATE TABLE a$i (x int);
INSERT INTO a$i VALUES ($i);"
done
mkbin "$A"
db=$(pg_newdb)
run "$A/gosling" "$db" up --atomic
is "$rc:$(rows "$db")" "0:1,2,3,4,5" "--atomic: five pending migrations all apply"
is "$(psql_q "$db" "SELECT count(DISTINCT xmin::text) FROM gosling_migrations")" 1 \
	"--atomic: their history rows were written by one transaction"
is "$(grep -c '^applied     000' <<<"$out")" 5 "--atomic: a progress line per migration, with its time"
is "$(psql_q "$db" "SELECT count(*) FROM gosling_migrations WHERE execution_ms >= 0")" 5 "--atomic: each row has its own time"
run "$A/gosling" "$db" up --atomic
is "$rc" 0 "--atomic with nothing pending: exit 0"

# a set larger than one batch (256 KiB of SQL): the transaction stays open across the
# queries, so a failure in the last one rolls back what the first one ran
G=$T/atomic-big
mig "$G" 000001_g1.sql <<<"-- +goose Up
CREATE TABLE g1 (x int);"
{
	echo "-- +goose Up"
	echo "CREATE TABLE g2 (v text);"
	for i in $(seq 3000); do echo "INSERT INTO g2 VALUES ('$(printf '%0100d' "$i")');"; done
} | mig "$G" 000002_g2.sql
mig "$G" 000003_g3.sql <<<"-- +goose Up
INSERT INTO no_such_table VALUES (1);"
mkbin "$G"
db=$(pg_newdb)
run "$G/gosling" "$db" up --atomic --json
is "$rc:$(rows "$db"):$(has_table "$db" g1)$(has_table "$db" g2)" "1::ff" \
	"--atomic over several batches: a failure in the last rolls back the first batch's migrations too"
run "$G/gosling" "$db" up --json
is "$rc:$(rows "$db")" "1:1,2" "(without --atomic the same set keeps the two before the failure)"

# a pending NO TRANSACTION migration: refused before any change, exit 2
X=$T/atomic-notx
mig "$X" 000001_big.sql <<'EOF'
-- +goose Up
CREATE TABLE big (id int);
EOF
mig "$X" 000002_idx.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY big_id ON big (id);
EOF
mkbin "$X"
db=$(pg_newdb)
run "$X/gosling" "$db" up --atomic --json
is "$rc" 2 "--atomic with a NO TRANSACTION migration pending is refused: exit 2"
is "$(jq -r .error.message "$T/out")" \
	"atomic refused: pending migration 000002_idx.sql is NO TRANSACTION, so it cannot run inside the one transaction: apply the 1 before it atomically (up-to 1), then it without atomic" \
	"the refusal names the migration and the way round it"
is "$(jq -r '.error.type + " " + .error.file' "$T/out")" "Function.BadRequest 000002_idx.sql" "... as a bad request naming the file"
is "$(has_table "$db" gosling_migrations)$(has_table "$db" big)" ff "the refusal changed nothing, not even the history table"
run "$X/gosling" "$db" --event '{"atomic": true}'
is "$rc:$(has_table "$db" gosling_migrations)" "2:f" "{\"atomic\": true} is refused the same way"
run "$X/gosling" "$db" --event '{"atomic": 1}'
is "$rc" 2 "an atomic that is not a boolean is a bad request"
like "$err" 'field "atomic" must be true or false, not an integer' "... naming the field"
run "$X/gosling" "$db" up-to 1 --atomic
is "$rc:$(rows "$db")" "0:1" "up-to the migration before it, --atomic, applies"
run "$X/gosling" "$db" down --allow-down --atomic
is "$rc:$(rows "$db")" "2:1" "--atomic with down is refused (exit 2)"
like "$err" "atomic applies to up, up-to and plan, not to down" "... saying where it applies"

# a failing statement with hint and detail
db=$(pg_newdb)
H=$T/hint
mig "$H" 000001_h.sql <<'EOF'
-- +goose Up
CREATE TABLE h (x int UNIQUE);
INSERT INTO h VALUES (1), (1);
EOF
mkbin "$H"
run "$H/gosling" "$db" up --json
is "$(jq -r '.error.sqlstate + "|" + .error.detail' "$T/out")" "23505|Key (x)=(1) already exists." "the error carries PostgreSQL's detail"

# --- NO TRANSACTION ------------------------------------------------------------
N=$T/notx
mig "$N" 000001_t.sql <<'EOF'
-- +goose Up
CREATE TABLE big (id int, v text);
INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
EOF
mig "$N" 000002_idx.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY big_v ON big (v);
CREATE INDEX CONCURRENTLY big_id ON big (id);
-- +goose Down
DROP INDEX CONCURRENTLY big_id;
DROP INDEX CONCURRENTLY big_v;
EOF
mig "$N" 000003_after.sql <<'EOF'
-- +goose Up
CREATE TABLE after_idx (x int);
EOF
mkbin "$N"
db=$(pg_newdb)
run "$N/gosling" "$db" up
is "$rc:$(rows "$db")" "0:1,2,3" "NO TRANSACTION with CREATE INDEX CONCURRENTLY applies"
is "$(psql_q "$db" "SELECT count(*) FROM pg_index WHERE indrelid = 'big'::regclass AND indisvalid")" 2 "both concurrent indexes are valid"
run "$N/gosling" "$db" down-to 1 --allow-down
is "$rc:$(rows "$db"):$(psql_q "$db" "SELECT count(*) FROM pg_index WHERE indrelid = 'big'::regclass")" "0:1:0" \
	"down runs DROP INDEX CONCURRENTLY statement by statement"

# a NO TRANSACTION failure records where it stopped, and up resumes there
N2=$T/notx2
mig "$N2" 000001_nt.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE nt1 (x int);
INSERT INTO nt_missing VALUES (1);
CREATE TABLE nt3 (x int);
EOF
mkbin "$N2"
db=$(pg_newdb)
run "$N2/gosling" "$db" up
is "$rc" 1 "a failing NO TRANSACTION migration exits 1"
like "$err" "unable to apply 000001_nt.sql statement 2 (line 4)" "the NO TRANSACTION error names statement and line"
is "$(psql_q "$db" "SELECT failed_statement FROM gosling_migrations WHERE version = 1")" 2 "the history records the statement that stopped it"
is "$(has_table "$db" nt1)$(has_table "$db" nt3)" tf "statement 1 stays, statement 3 did not run"
run "$N2/gosling" "$db" status
like "$out" "stopped at statement 2" "status shows where it stopped"
psql_q "$db" "CREATE TABLE nt_missing (x int)" >/dev/null
run "$N2/gosling" "$db" up
is "$rc:$(has_table "$db" nt3)" "0:t" "the next up resumes at the failed statement"
is "$(psql_q "$db" "SELECT coalesce(failed_statement, 0) FROM gosling_migrations WHERE version = 1")" 0 "the row is complete now"

# a failed NO TRANSACTION migration fixed in place: the statements before the one that
# stopped it are unchanged, so up resumes at it with the new text (it was drift)
N4=$T/notx4
mig "$N4" 000001_fix.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE fx1 (x int);
INSERT INTO fx_missing VALUES (1);
CREATE TABLE fx3 (x int);
EOF
mkbin "$N4"
db=$(pg_newdb)
run "$N4/gosling" "$db" up
is "$rc:$(psql_q "$db" "SELECT failed_statement FROM gosling_migrations")" "1:2" "a NO TRANSACTION migration stops at statement 2"
is "$(psql_q "$db" "SELECT done_checksum LIKE 'sha256:p1:%' FROM gosling_migrations")" t "... and records what ran before it"
sed -i 's/^INSERT INTO fx_missing VALUES (1);$/INSERT INTO fx1 VALUES (1);/' "$N4/000001_fix.sql"
mkbin "$N4"
run "$N4/gosling" "$db" verify
is "$rc" 0 "verify: a partial migration changed from its stopping statement on is not drift"
like "$err" "migration 000001_fix.sql, stopped at statement 2, was changed from that statement on: up resumes it there" "... it warns"
run "$N4/gosling" "$db" up --json
is "$rc:$(psql_q "$db" 'SELECT count(*) FROM fx1'):$(has_table "$db" fx3)" "0:1:t" \
	"up resumes the fixed migration at statement 2: statement 1 did not run again"
like "$(jq -r '.warnings[0]' <<<"$out")" "was changed from that statement on" "... with the warning in the result"
x1=$("$GOSLINGC" list --json "$N4" | jq -r '.migrations[0].exec_checksum')
is "$(psql_q "$db" "SELECT coalesce(failed_statement, 0) || ' ' || (exec_checksum = '$x1') FROM gosling_migrations")" \
	"0 true" "the history row records the fixed file: complete, with its new checksum"
run "$N4/gosling" "$db" verify
is "$rc" 0 "verify passes afterwards"

# changed before the stopping statement: refused, saying the migration is partial and how to recover
N5=$T/notx5
mig "$N5" 000001_fix.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE fy1 (x int);
INSERT INTO fy_missing VALUES (1);
EOF
mkbin "$N5"
db=$(pg_newdb)
run "$N5/gosling" "$db" up
sed -i 's/^CREATE TABLE fy1 (x int);$/CREATE TABLE fy1 (x bigint);/' "$N5/000001_fix.sql"
mkbin "$N5"
run "$N5/gosling" "$db" up
is "$rc:$(psql_q "$db" "SELECT failed_statement FROM gosling_migrations")" "4:2" "a partial migration changed before its stopping statement is refused (exit 4), nothing runs"
like "$err" "migration 000001_fix.sql is partial: it stopped at statement 2 after statements 1 to 1 ran, and its file changed before that statement. To recover, either restore statements 1 to 1 as they ran" \
	"... saying it is partial"
like "$err" 'delete its history row (DELETE FROM "public"."gosling_migrations" WHERE version = 1) so that up runs it whole' "... and exactly how to recover"
psql_q "$db" 'DROP TABLE fy1; DELETE FROM gosling_migrations WHERE version = 1; CREATE TABLE fy_missing (x int)' >/dev/null
run "$N5/gosling" "$db" up
is "$rc:$(psql_q "$db" "SELECT format_type(atttypid, -1) FROM pg_attribute WHERE attrelid = 'fy1'::regclass AND attname = 'x'")" "0:bigint" \
	"following the instructions, up runs it whole"

# a partial row written before gosling recorded what ran (no done_checksum column): read as
# such, and a change is refused with the same instructions
N6=$T/notx6
mig "$N6" 000001_fix.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE fz1 (x int);
INSERT INTO fz_missing VALUES (1);
EOF
mkbin "$N6"
db=$(pg_newdb)
run "$N6/gosling" "$db" up
psql_q "$db" 'ALTER TABLE gosling_migrations DROP COLUMN done_checksum' >/dev/null
run "$N6/gosling" "$db" status
is "$rc" 0 "status reads a history table without the done_checksum column"
sed -i 's/^INSERT INTO fz_missing VALUES (1);$/INSERT INTO fz1 VALUES (1);/' "$N6/000001_fix.sql"
mkbin "$N6"
run "$N6/gosling" "$db" up
is "$rc" 4 "a changed partial migration whose row does not record what ran is refused"
like "$err" "(and its history row, written by an older gosling, does not record what ran)" "... saying why"


# --- a history version the bundle lacks, at int64's maximum; an empty bundle ----------
# list_states merged the bundle and the history with INT64_MAX as "no more": a row of
# version 9223372036854775807 made it read one migration past the bundle's end (ASan:
# tests/asan.sh engine), and with an empty bundle dereference NULL.
states() { python3 -c 'import json,sys; print(",".join("%d:%s" % (m["version"], m["state"]) for m in json.load(sys.stdin)["migrations"]))'; }
db=$(pg_newdb)
run "$B/gosling" "$db" up
bundled=$(DB_NAME=$db "$B/gosling" status --json | states)
psql_q "$db" "INSERT INTO gosling_migrations (version, name, file_checksum, exec_checksum, chain, build_id)
	VALUES (9223372036854775807, '9223372036854775807_future.sql', 'sha256:c1:0', 'sha256:x1:0', 'sha256:h1:0', 'b')" >/dev/null
run "$B/gosling" "$db" status --json
is "$rc:$(states <<<"$out")" "0:$bundled,9223372036854775807:missing" \
	"status: a history row of version 9223372036854775807 the bundle lacks is listed as missing, after the bundle's"
run "$B/gosling" "$db" verify --json
is "$rc:$(states <<<"$out")" "4:$bundled,9223372036854775807:missing" "verify: the same list, and drift (exit 4)"
like "$(jq -r .error.message <<<"$out")" "9223372036854775807_future.sql (version 9223372036854775807) is missing from the bundle" \
	"... naming the missing migration"
EMPTY=$T/emptybundle
mkdir -p "$EMPTY"
"$GOSLINGC" build --quiet --out "$EMPTY/bundle.c" "$EMPTY" 2>/dev/null
gosling_link "$EMPTY/gosling" "$EMPTY/bundle.c"
run "$EMPTY/gosling" "$db" status --json
is "$rc:$(states <<<"$out")" "0:${bundled//:applied/:missing},9223372036854775807:missing" \
	"an empty bundle: status lists every history row as missing (it crashed)"
run "$EMPTY/gosling" "$db" verify
is "$rc" 4 "an empty bundle: verify reports drift (exit 4)"
db2=$(pg_newdb)
run "$EMPTY/gosling" "$db2" up --json
is "$rc:$(jq -r '.version_after' <<<"$out"):$(rows "$db2")" "0:0:" "an empty bundle: up on an empty database does nothing"

# --- down of a migration without Down statements --------------------------------------
ND=$T/nodown
mig "$ND" 000001_a.sql <<'EOF'
-- +goose Up
CREATE TABLE nd1 (x int);
-- +goose Down
DROP TABLE nd1;
EOF
mig "$ND" 000002_b.sql <<'EOF'
-- +goose Up
CREATE TABLE nd2 (x int);
INSERT INTO nd2 VALUES (1);
EOF
mkbin "$ND"
db=$(pg_newdb)
run "$ND/gosling" "$db" up
run "$ND/gosling" "$db" redo --allow-down --json
is "$rc:$(rows "$db"):$(psql_q "$db" 'SELECT count(*) FROM nd2')" "2:1,2:1" \
	"redo of a migration without Down statements is refused (exit 2) and changes nothing (it ran Up again)"
like "$(jq -r .error.message <<<"$out")" "redo of 000002_b.sql refused: it has no Down statements" "... saying why"
run "$ND/gosling" "$db" down --allow-down --json
is "$rc:$(rows "$db")" "0:1" "down of a migration without Down statements removes its history row"
is "$(jq -r '.migrations[0].no_down_statements' <<<"$out")" true "... and the JSON result marks it"
like "$(jq -r '.warnings[0]' <<<"$out")" "migration 000002_b.sql has no Down statements: down removes its history row and undoes nothing" \
	"... with a warning in the result"
psql_q "$db" "DROP TABLE nd2" >/dev/null
run "$ND/gosling" "$db" up
run "$ND/gosling" "$db" down --allow-down
like "$out" "WARNING: 000002_b.sql has no Down statements: its history row was removed, nothing in the database was undone" \
	"the text result says it loudly"
like "$err" "warning: migration 000002_b.sql has no Down statements" "... and so does the log"

# --- a Down that the transaction-safety hatch let through (issue 15.4) ------------
# A deployed transactional migration whose Down drops an index CONCURRENTLY builds
# under gosling:no-check; down says before it runs that the statement will fail.
X=$T/hatchdown
mig "$X" 000001_x.sql <<'EOF'
-- +goose Up
CREATE TABLE x (id int);
CREATE INDEX x_id ON x (id);
-- +goose Down
-- gosling:no-check deployed before goslingc checked transactions
DROP INDEX CONCURRENTLY x_id;
DROP TABLE x;
EOF
mkbin "$X"
db=$(pg_newdb)
run "$X/gosling" "$db" up
run "$X/gosling" "$db" down --allow-down --json
is "$rc:$(rows "$db")" "1:1" "the Down fails in its transaction and the migration stays applied"
like "$(jq -r '.warnings[0]' <<<"$out")" \
	"000001_x.sql Down statement 1 (line 6) will fail: it holds a command PostgreSQL refuses inside a transaction block, and this migration runs in a transaction" \
	"the JSON result warns that the statement will fail in a transaction"
like "$err" "warning: 000001_x.sql Down statement 1 (line 6) will fail" "... and so does the log line"
like "$(jq -r .error.message <<<"$out")" "DROP INDEX CONCURRENTLY cannot run inside a transaction block" \
	"the failure is PostgreSQL's, as warned"
db=$(pg_newdb)
run "$X/gosling" "$db" up
is "$rc:$(rows "$db"):$(grep -c 'will fail' <<<"$err")" "0:1:0" "up, which runs no such statement, does not warn"

# --- error texts that are not valid UTF-8 (the CLI; tests/lambda.sh has the Lambda loop) ---
U=$T/utf8
mkdir -p "$U" && cp tests/lambda/migrations/utf8/*.sql "$U/"
mkbin "$U"
db=$(pg_newdb)
run "$U/gosling" "$db" up-to 1
is "$rc:$(rows "$db")" "0:1" "a migration that sets client_encoding = LATIN1 applies, and gosling reads its history after it"
run "$U/gosling" "$db" up --json
is "$rc:$(python3 -c 'import json,sys; e = json.load(sys.stdin)["error"]; print(e["pg_message"] == "é" * 511, e["detail"] == "ü" * 511, e["hint"] == "€" * 170, e["message"].endswith(": " + "é" * 511))' <<<"$out")" \
	"1:True True True True" "--json: PostgreSQL's message, detail and hint cut mid-character at 1,023 and 511 bytes keep whole characters, and message is there"
like "$err" "gosling: error: unable to apply 002_long_error.sql statement 1 (line " "the text log has the error"
like "$err" "gosling: error: hint: €€€" "... and the hint"
run "$U/gosling" "$db" baseline 2
run "$U/gosling" "$db" up --json
is "$rc:$(jq -r .error.message <<<"$out")" \
	'1:unable to apply 003_latin1_error.sql statement 2 (line 5): invalid input syntax for type integer: "caf?"' \
	"--json: an error sent in LATIN1 has its byte that is not UTF-8 made ?"
run "$U/gosling" "$db" status
like "$out" "stopped at statement 2" "status reads the history in UTF8 after the LATIN1 migration"
# a SQL_ASCII database, with client_encoding SQL_ASCII, hands gosling its bytes unconverted
psql_q postgres "CREATE DATABASE sqlascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
SA=$T/sqlascii
mig "$SA" 000001_bytes.sql <<'EOF'
-- +goose Up
CREATE TABLE bytes (x text);
INSERT INTO bytes VALUES ('caf' || chr(233));
SET client_encoding = 'SQL_ASCII';
SELECT x::int FROM bytes;
EOF
mkbin "$SA"
run "$SA/gosling" sqlascii up --json
is "$rc:$(jq -r .error.pg_message <<<"$out")" '1:invalid input syntax for type integer: "caf?"' \
	"a SQL_ASCII database's byte 0xe9 in an error: --json keeps the message, the byte made ?"
run "$SA/gosling" sqlascii up
like "$err" 'invalid input syntax for type integer: "caf?"' "... and the text log too"

# --- a statement goslingc could not check goes in a query of its own (issue 15.5) ---
# PostgreSQL parses a whole simple query before running any of it: JSON_OBJECT's
# 16 syntax, let through by gosling:no-check, must not stop the migrations before it.
N=$T/nocheck
for i in 1 2 4; do
	mig "$N" "00000${i}_n$i.sql" <<<"-- +goose Up
CREATE TABLE n$i (x int);
INSERT INTO n$i VALUES ($i);
-- +goose Down
DROP TABLE n$i;"
done
mig "$N" 000003_n3.sql <<'EOF'
-- +goose Up
CREATE TABLE n3 (x int);
-- gosling:no-check JSON_OBJECT with ':' is PostgreSQL 16 syntax
INSERT INTO n3 SELECT 1 FROM (SELECT JSON_OBJECT('k' : 1)) j;
CREATE TABLE n3b (x int);
-- +goose Down
DROP TABLE n3;
EOF
mkbin "$N"
db=$(pg_newdb)
run "$N/gosling" "$db" up --json
is "$rc" 1 "an unchecked statement the server cannot parse fails up"
is "$(rows "$db")" "1,2" "the migrations before it apply, as goose would apply them"
is "$(has_table "$db" n1)$(has_table "$db" n2)$(has_table "$db" n3)$(has_table "$db" n3b)$(has_table "$db" n4)" \
	ttfff "nothing of its own migration or after it remains"
like "$(jq -r .error.message "$T/out")" 'unable to apply 000003_n3.sql statement 2 (line 4): syntax error at or near' \
	"the error names its file, statement and line"
is "$(jq -r '[.migrations[] | .name + "=" + .action] | join(",")' "$T/out")" \
	"000001_n1.sql=applied,000002_n2.sql=applied,000003_n3.sql=failed,000004_n4.sql=not attempted" \
	"the result says which applied"
# the same query cut when the server parses it: ENVSUB statements that are SQL
# only with their variable set, first, in the middle and last of a migration
N2=$T/nocheck2
mig "$N2" 000001_a.sql <<'EOF'
-- +goose Up
-- +goose ENVSUB ON
CREATE ${GOSLING_TEST_KIND} env_first (x int);
-- +goose ENVSUB OFF
CREATE TABLE a2 (x int);
-- +goose ENVSUB ON
CREATE ${GOSLING_TEST_KIND} env_middle (x int);
-- +goose ENVSUB OFF
CREATE TABLE a3 (x int);
-- +goose ENVSUB ON
CREATE ${GOSLING_TEST_KIND} env_last (x int);
EOF
mig "$N2" 000002_b.sql <<<"-- +goose Up
CREATE TABLE b1 (x int);"
mkbin "$N2"
is "$(grep -c ' 0x1 },$' "$N2/bundle.c")" 3 "goslingc flags the three statements it could not parse"
db=$(pg_newdb)
GOSLING_TEST_KIND=TABLE run "$N2/gosling" "$db" up
is "$rc:$(rows "$db")" "0:1,2" "statements sent alone apply with the rest"
is "$(psql_q "$db" "SELECT count(*) FROM pg_tables WHERE tablename IN ('env_first','a2','env_middle','a3','env_last','b1')")" 6 \
	"every statement ran once"

# --- ENVSUB ------------------------------------------------------------------------
E=$T/envsub
mig "$E" 000001_e.sql <<'EOF'
-- +goose Up
-- +goose ENVSUB ON
CREATE TABLE ${GOSLING_TEST_TABLE?} (x int);
-- +goose ENVSUB OFF
-- +goose Down
DROP TABLE envt;
EOF
mkbin "$E"
db=$(pg_newdb)
unset GOSLING_TEST_TABLE
run "$E/gosling" "$db" up
is "$rc:$(has_table "$db" gosling_migrations)" "3:f" "an unset ENVSUB variable is a config error before any change"
like "$err" "GOSLING_TEST_TABLE" "the error names the variable"
GOSLING_TEST_TABLE=envt run "$E/gosling" "$db" up
is "$rc:$(has_table "$db" envt)" "0:t" "ENVSUB expands from the environment at run time"

# --- the lock ----------------------------------------------------------------------
L=$T/lock
mig_runs "$L" 21
mkbin "$L"
db=$(pg_newdb)
pids=()
for i in $(seq 8); do
	DB_NAME=$db "$L/gosling" up >"$T/c$i.out" 2>&1 &
	pids+=($!)
done
codes=
for p in "${pids[@]}"; do
	set +e
	wait "$p"
	codes="$codes$?"
	set -e
done
is "$codes" 00000000 "8 concurrent ups all exit 0"
is "$(psql_q "$db" "SELECT count(*) || ':' || count(DISTINCT v) FROM runs")" "20:20" "each migration ran exactly once"
is "$(psql_q "$db" "SELECT count(*) FROM gosling_migrations")" 21 "each migration is recorded once"
is "$(cat "$T"/c*.out | grep -c '^applied ')" 21 "progress lines: 21 applications in all"

db=$(pg_newdb)
key=$(DB_NAME=$db "$L/gosling" settings --json | jq -r '.[] | select(.name == "lock-key") | .default')
psql -X -q -d "$db" -c "SELECT pg_advisory_lock($key); SELECT pg_sleep(8)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
	[ "$(psql_q "$db" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 1 ] && break
	sleep 0.1
done
t0=$(date +%s%N)
run "$L/gosling" "$db" up --lock-wait 1
t1=$(date +%s%N)
is "$rc" 5 "waiting past --lock-wait exits with the lock-timeout code"
like "$err" "unable to take the migration lock" "the lock timeout says so"
ok "the wait was bounded (1 s .. 4 s)" test $(((t1 - t0) / 1000000)) -ge 1000 -a $(((t1 - t0) / 1000000)) -lt 4000
is "$(has_table "$db" gosling_migrations)" f "a lock timeout changes nothing"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
run "$L/gosling" "$db" up
is "$(psql_q "$db" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" 0 "the lock is released afterwards"

# --- deadline -------------------------------------------------------------------
S=$T/slow
mig "$S" 000001_a.sql <<<'-- +goose Up
CREATE TABLE fast (x int);'
mig "$S" 000002_b.sql <<<'-- +goose Up
CREATE TABLE slow (x int);
SELECT pg_sleep(20);'
mkbin "$S"
db=$(pg_newdb)
t0=$(date +%s%N)
run "$S/gosling" "$db" up --json --deadline-ms $(( $(date +%s%3N) + 3000 )) --deadline-margin 1000
t1=$(date +%s%N)
is "$rc" 1 "a migration past the deadline fails"
is "$(jq -r .error.sqlstate "$T/out")" 57014 "it was cancelled (SQLSTATE 57014)"
is "$(rows "$db"):$(has_table "$db" slow)" "1:f" "what finished stays, the cancelled one is rolled back"
ok "it stopped near the deadline" test $(((t1 - t0) / 1000000)) -lt 5000

# --- round trips ---------------------------------------------------------------------
# An up of 10 and of 150 pending migrations: count the queries the server receives
# (log_statement = all on that database) and the client's send bursts (strace: runs
# of sendto between reads that got data, so libpq writing one big message in several
# chunks, with a would-block read in between, counts once).  Neither may grow with the number of migrations.
round_trips() {
	local n=$1 dir=$T/rt$1 d before
	for i in $(seq "$n"); do
		mig "$dir" "$(printf '%06d' "$i")_m.sql" <<<"-- +goose Up
CREATE TABLE rt_$i (x int);
INSERT INTO rt_$i VALUES ($i);
-- +goose Down
DROP TABLE rt_$i;"
	done
	mkbin "$dir"
	d=$(pg_newdb)
	psql_q "$d" "ALTER DATABASE $d SET log_statement = 'all'" >/dev/null
	before=$(wc -l <"$PG_TMP/server.log")
	if [ "$have_strace" = 1 ]; then
		# shellcheck disable=SC2046
		DB_NAME=$d env $(gosling_untraced_env) strace -f -qq -e trace=sendto,recvfrom -o "$T/strace.$n" "$dir/gosling" up >/dev/null 2>&1
	else
		DB_NAME=$d "$dir/gosling" up >/dev/null 2>&1
	fi
	sleep 0.3	# let the server's log reach the file
	[ "$(psql_q "$d" "SELECT count(*) FROM gosling_migrations")" = "$n" ] || echo "# up of $n did not apply $n" >&2
	queries=$(tail -n +"$((before + 1))" "$PG_TMP/server.log" | grep -cE 'LOG:  (statement|execute [^:]*):')
	bursts=-
	[ "$have_strace" = 1 ] && bursts=$(awk '/sendto\(/ { if (!s) n++; s = 1; next } /recvfrom\(/ && !/EAGAIN/ { s = 0 } END { print n + 0 }' "$T/strace.$n")
	echo "$queries $bursts"
}
have_strace=0
command -v strace >/dev/null && strace -f -qq -e trace=sendto -o /dev/null true 2>/dev/null && have_strace=1
read -r q10 b10 <<<"$(round_trips 10)"
# 150 migrations are about 200 KB of batch text (statements, history rows, markers): one batch
# under the 256 KiB cap.  Past the cap the count follows the bytes (tests/memory.sh, 10,000).
read -r q150 b150 <<<"$(round_trips 150)"
echo "# queries received by the server: $q10 for 10 migrations, $q150 for 150"
echo "# client send bursts (round trips): $b10 for 10 migrations, $b150 for 150"
ok "the server receives as many queries for 150 migrations as for 10 ($q10, $q150)" test "$q10" -gt 0 -a "$q10" = "$q150"
if [ "$have_strace" = 1 ]; then
	ok "the client makes as many round trips for 150 migrations as for 10 ($b10, $b150)" test "$b10" -gt 0 -a "$b10" = "$b150"
else
	skip "the client makes as many round trips for 150 migrations as for 10" "strace cannot trace here"
fi

# --- status and list keep their columns aligned for long names and versions ------
W=$T/wide
long=000001_create_the_patient_mapping_and_test_order_tables_for_hometest.sql
mig "$W" "$long" <<'EOF'
-- +goose Up
CREATE TABLE wide_a (id int);
-- +goose Down
DROP TABLE wide_a;
EOF
mig "$W" 9223372036854775807_b.sql <<'EOF'
-- +goose Up
CREATE TABLE wide_b (id int);
-- +goose Down
DROP TABLE wide_b;
EOF
mkbin "$W"
db=$(pg_newdb)
run "$W/gosling" "$db" up-to 1
# columns TEXT "HEADING WORD...": "aligned at N" when every line below the heading has
# one of the WORDs at the offset N where HEADING is in the first line; else the lines
# where none is
columns() {
	awk -v words="$2" 'BEGIN { n = split(words, w, " ") }
		NR == 1 { col = index($0, w[1]); next }
		{ hit = 0; for (i = 2; i <= n; i++) if (index($0, w[i]) == col) hit = 1
		  if (!hit) { print "misaligned: " $0; bad = 1 } }
		END { if (!bad) print "aligned at " col }' <<<"$1"
}
run "$W/gosling" "$db" status
like "$out" "$long" "status shows a ${#long}-character name whole"
is "$(columns "$out" "STATE applied pending")" "aligned at $((19 + 1 + ${#long} + 2))" \
	"status: the STATE column lines up under a ${#long}-character name and a 19-digit version"
is "$(columns "$out" "NAME 000001_ 9223372036854775807_b")" "aligned at 21" \
	"status: the NAME column lines up after a 19-digit version"
run "$W/gosling" "$db" list
is "$(columns "$out" "TRANSACTION yes")" "aligned at $((19 + 1 + ${#long} + 2))" \
	"list: the TRANSACTION column lines up under a ${#long}-character name"
run "$B/gosling" "$db" list
is "$(columns "$out" "TRANSACTION yes")" "aligned at 59" "list: short names keep the 40-character column"

done_testing
