#!/usr/bin/env bash
# tests/session.sh - what a migration can do to gosling's session and transaction, against
# a real PostgreSQL 15: SET / RESET ALL of gosling's timeouts (they must not reach the next
# migration), SET TRANSACTION as a first statement, COMMIT / ROLLBACK / PREPARE TRANSACTION
# inside a transactional migration (built by hand: goslingc refuses them), COPY FROM STDIN
# and TO STDOUT (every result attributed to its statement and line), and error lines after
# multi-byte text.  Prints TAP.
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/lib/pg.sh
. tests/lib/gosling.sh

PG_OPTS="${PG_OPTS:-} -c max_prepared_transactions=4"
pg_start
T=$PG_TMP/t
mkdir -p "$T"
export GOSLING_LOG_LEVEL=info

# goslingc refuses RESET ALL, COPY to or from the client and transaction control in a
# transactional migration; --no-check lets them through (as warnings), as a bundle built
# before those checks, or by hand, would carry them.
mkbin() { "$GOSLINGC" build --quiet --no-check --out "$1/bundle.c" "$1" 2>/dev/null && gosling_link "$1/gosling" "$1/bundle.c"; }

# handbuild DIR FROM TO: compile DIR, then point the statement whose text is FROM at
# TO instead (what goslingc would refuse), and link.  FROM is one line: goslingc writes
# it into bundle_text as "FROM" "\0" after a comment giving its offset, and the
# statement's entry as `bundle_text + OFFSET, LENGTH,`.
handbuild() {
	"$GOSLINGC" build --quiet --no-check --out "$1/bundle.c" "$1" 2>/dev/null
	python3 - "$1/bundle.c" "$2" "$3" <<'PY'
import json, re, sys
path, old, new = sys.argv[1:]
src = open(path).read()
lit = lambda s: json.dumps(s, ensure_ascii=False)
m = re.search(r"at (\d+) \*/\n\t" + re.escape(lit(old)) + r' "\\0"\n', src)
assert m, "statement not in the bundle"
entry = "bundle_text + %s, %d," % (m.group(1), len(old.encode()))
assert entry in src, "statement entry not in the bundle"
src = src.replace(entry, "%s, %d," % (lit(new), len(new.encode())), 1)
open(path, "w").write(src)
PY
	gosling_link "$1/gosling" "$1/bundle.c"
}

# --- gosling's settings do not leak from one migration into the next -------------------
for how in "SET statement_timeout = 0" "RESET ALL" "SELECT pg_catalog.set_config('statement_timeout', '0', false)"; do
	L=$T/leak-$RANDOM
	mig "$L" 000001_off.sql <<EOF2
-- +goose Up
CREATE TABLE before_off (x int);
$how;
EOF2
	mig "$L" 000002_slow.sql <<'EOF2'
-- +goose Up
CREATE TABLE seen AS SELECT pg_catalog.current_setting('statement_timeout') AS st;
SELECT pg_catalog.pg_sleep(3);
EOF2
	mkbin "$L"
	db=$(pg_newdb)
	run "$L/gosling" "$db" up --json --statement-timeout 1000
	is "$rc:$(rows "$db")" "1:1" "$how in a migration: the next migration still has gosling's statement timeout (up fails at its pg_sleep)"
	is "$(jq -r '.error.sqlstate + " " + .error.file + " " + (.error.statement|tostring)' <<<"$out")" "57014 000002_slow.sql 2" \
		"$how in a migration: ... cancelled by statement_timeout (57014) in 000002 statement 2"
done

L=$T/leak-nt
mig "$L" 000001_off.sql <<'EOF2'
-- +goose Up
SET lock_timeout = 0;
RESET statement_timeout;
SET statement_timeout = 0;
EOF2
mig "$L" 000002_nt.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE nt_seen AS SELECT pg_catalog.current_setting('statement_timeout') AS st, pg_catalog.current_setting('lock_timeout') AS lt;
SET statement_timeout = 0;
EOF2
mig "$L" 000003_after.sql <<'EOF2'
-- +goose Up
CREATE TABLE after_seen AS SELECT pg_catalog.current_setting('statement_timeout') AS st, pg_catalog.current_setting('lock_timeout') AS lt;
EOF2
mkbin "$L"
db=$(pg_newdb)
run "$L/gosling" "$db" up --statement-timeout 61000 --deadline-ms $(($(date +%s%3N) + 600000)) --deadline-margin 1000
is "$rc:$(rows "$db")" "0:1,2,3" "timeouts switched off in migrations: up applies all three"
is "$(psql_q "$db" "SELECT st || ' ' || (lt <> '0') FROM nt_seen")" "61s true" \
	"a NO TRANSACTION migration after a transactional one that switched them off runs with gosling's timeouts"
is "$(psql_q "$db" "SELECT st || ' ' || (lt <> '0') FROM after_seen")" "61s true" \
	"a transactional migration after a NO TRANSACTION one that switched them off runs with gosling's timeouts"

# --- SET TRANSACTION as a migration's first statement; RESET ALL before the history row ---
S=$T/settx
mig "$S" 000001_serial.sql <<'EOF2'
-- +goose Up
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
CREATE TABLE iso AS SELECT pg_catalog.current_setting('transaction_isolation') AS level;
EOF2
mig "$S" 000002_reset.sql <<'EOF2'
-- +goose Up
CREATE TABLE reset_a (x int);
RESET ALL;
CREATE TABLE reset_b (x int);
EOF2
mig "$S" 000003_next.sql <<'EOF2'
-- +goose Up
CREATE TABLE next_one (x int);
EOF2
mkbin "$S"
db=$(pg_newdb)
run "$S/gosling" "$db" up --json
is "$rc:$(rows "$db")" "0:1,2,3" "SET TRANSACTION first, RESET ALL inside: every migration applied and recorded"
is "$(psql_q "$db" 'SELECT level FROM iso')" serializable "SET TRANSACTION ISOLATION LEVEL as the first statement takes effect"
is "$(psql_q "$db" "SELECT count(*) FROM gosling_migrations WHERE execution_ms >= 0 AND applied_at IS NOT NULL")" 3 \
	"RESET ALL in a migration: every history row has its time"

# --- transaction control inside a transactional migration (hand-built) --------------------
for tc in COMMIT END ROLLBACK "PREPARE TRANSACTION 'gosling_test'"; do
	C=$T/tc-$RANDOM
	mig "$C" 000001_first.sql <<'EOF2'
-- +goose Up
CREATE TABLE first (x int);
EOF2
	mig "$C" 000002_tc.sql <<'EOF2'
-- +goose Up
CREATE TABLE tc_a (x int);
SELECT 'transaction control here';
CREATE TABLE tc_b (x int);
EOF2
	mig "$C" 000003_after.sql <<'EOF2'
-- +goose Up
CREATE TABLE after_tc (x int);
EOF2
	handbuild "$C" "SELECT 'transaction control here';" "$tc;"
	db=$(pg_newdb)
	run "$C/gosling" "$db" up --json
	tag=$tc
	case $tc in END) tag=COMMIT ;; PREPARE*) tag="PREPARE TRANSACTION" ;; esac
	is "$rc:$(rows "$db")" "1:1" "$tc inside a transactional migration: up fails, the migration is not recorded"
	like "$(jq -r .error.message <<<"$out")" "unable to apply 000002_tc.sql statement 2 (line 3): $tag ends the migration's transaction" \
		"$tc inside a transactional migration: the error names that file, statement and line"
	is "$(jq -r '[.migrations[] | .name + "=" + .action] | join(",")' <<<"$out")" \
		"000001_first.sql=applied,000002_tc.sql=failed,000003_after.sql=not attempted" \
		"$tc inside a transactional migration: the next file is not blamed, nor applied"
	is "$(has_table "$db" tc_b)$(has_table "$db" after_tc)" "ff" "$tc inside a transactional migration: nothing after it ran"
	case $tc in
	ROLLBACK) is "$(has_table "$db" tc_a)" f "ROLLBACK inside a migration: its first statement is rolled back too" ;;
	PREPARE*)
		is "$(psql_q "$db" "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'gosling_test'")" 1 "PREPARE TRANSACTION inside a migration: the prepared transaction is there, as the error says"
		psql_q "$db" "ROLLBACK PREPARED 'gosling_test'" >/dev/null ;;
	*) is "$(has_table "$db" tc_a)" t "$tc inside a migration: its first statement stays committed, as the error says" ;;
	esac
done

# --- COPY in a transactional migration: every result to its statement and line -------------
P=$T/copy
mig "$P" 000001_copyout.sql <<'EOF2'
-- +goose Up
CREATE TABLE c (x int);
COPY (SELECT g FROM pg_catalog.generate_series(1, 100000) g) TO STDOUT;
INSERT INTO c VALUES (1);
EOF2
mig "$P" 000002_fail.sql <<'EOF2'
-- +goose Up
COPY c TO STDOUT;
INSERT INTO c VALUES (2);

SELECT 1 / 0;
EOF2
mkbin "$P"
db=$(pg_newdb)
run "$P/gosling" "$db" up --json
is "$rc:$(rows "$db"):$(psql_q "$db" "SELECT string_agg(x::text, ',') FROM c")" "1:1:1" \
	"COPY TO STDOUT (100,000 rows) in a migration: applied and recorded, its rows dropped"
is "$(jq -r '.error.file + " " + (.error.statement|tostring) + " " + (.error.line|tostring) + " " + .error.sqlstate' <<<"$out")" \
	"000002_fail.sql 3 5 22012" "an error after a COPY TO STDOUT is attributed to its statement and line"

Q=$T/copyin
mig "$Q" 000001_copyin.sql <<'EOF2'
-- +goose Up
CREATE TABLE ci (x int);
SELECT 'copy in here';
INSERT INTO ci VALUES (1);
EOF2
mig "$Q" 000002_next.sql <<'EOF2'
-- +goose Up
CREATE TABLE ci_next (x int);
EOF2
handbuild "$Q" "SELECT 'copy in here';" "COPY ci FROM STDIN;"
db=$(pg_newdb)
run "$Q/gosling" "$db" up --json
is "$rc:$(rows "$db"):$(has_table "$db" ci)" "1::f" "COPY FROM STDIN in a migration: up fails, nothing applied"
is "$(jq -r '.error.file + " " + (.error.statement|tostring) + " " + (.error.line|tostring)' <<<"$out")" "000001_copyin.sql 2 3" \
	"COPY FROM STDIN: the error is attributed to its statement and line"
like "$(jq -r .error.message <<<"$out")" "COPY FROM STDIN has no data to read in a gosling migration" "COPY FROM STDIN: the error says why"

# --- error lines after multi-byte text ---------------------------------------------------
# PostgreSQL's error position counts characters; 60 two-byte characters before the error
# put a byte count two lines early.
ACC=$(printf 'é%.0s' $(seq 60))
for nt in "" "-- +goose NO TRANSACTION"; do
	M=$T/mb-$RANDOM
	mig "$M" 000001_mb.sql <<EOF2
$nt
-- +goose Up
CREATE TABLE mb (x text);
INSERT INTO mb SELECT '$ACC'
	|| '$ACC'
	|| '$ACC'
	|| no_such_column;
EOF2
	mkbin "$M"
	db=$(pg_newdb)
	run "$M/gosling" "$db" up --json
	is "$(jq -r '(.error.statement|tostring) + " " + (.error.line|tostring) + " " + .error.sqlstate' <<<"$out")" "2 7 42703" \
		"an error after multi-byte text${nt:+ (NO TRANSACTION)}: the line is the error's own"
done

done_testing
