#!/usr/bin/env bash
# tests/plpgsql.sh - the PL/pgSQL corpus (tests/plpgsql/): valid shapes that goslingc must
# accept (RETURN NEXT / RETURN QUERY / OUT parameters / RETURNS TABLE / SETOF / triggers /
# procedures / DO blocks), proved valid by applying them to a real PostgreSQL 15 and
# calling what they define.  Prints TAP.
cd "$(dirname "$0")/.."
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

pg_start
T=$PG_TMP/t
mkdir -p "$T/corpus"
cp tests/plpgsql/*.sql "$T/corpus/"

# goslingc: every file, both directions, through PostgreSQL 15's parser and PL/pgSQL's
rc=0
"$GOSLINGC" build --quiet --werror --out "$T/corpus/bundle.c" "$T/corpus" 2>"$T/err" || rc=$?
is "$rc" 0 "${GOSLING_TEST_ARCH_NAME}goslingc build --werror accepts the whole corpus"
is "$(cat "$T/err")" "" "${GOSLING_TEST_ARCH_NAME}with no diagnostic"
for f in tests/plpgsql/*.sql; do
	rc=0
	"$GOSLINGC" parse --check "$f" >/dev/null 2>"$T/err" || rc=$?
	is "$rc:$(cat "$T/err")" "0:" "${GOSLING_TEST_ARCH_NAME}parse --check $(basename "$f")"
done

# PostgreSQL: every file applies, and what it defines runs
gosling_link "$T/gosling" "$T/corpus/bundle.c"
db=$(pg_newdb)
run "$T/gosling" "$db" up
is "$rc" 0 "${GOSLING_TEST_ARCH_NAME}gosling up applies the corpus to PostgreSQL 15"
[ "$rc" = 0 ] || sed 's/^/# /' "$T/err"
is "$(psql_q "$db" "SELECT string_agg(id::text, ',') FROM rn_table(2, 5)")" "2,3,4,5" \
	"RETURNS TABLE with a bare RETURN NEXT (libpg_query #248) returns its rows"
is "$(psql_q "$db" "SELECT string_agg(k || ':' || sq, ',') FROM rn_out(3)")" "1:1,2:4,3:9" \
	"OUT parameters with a bare RETURN NEXT"
is "$(psql_q "$db" "SELECT string_agg(x::text, ',') FROM rn_inout(4) x")" "4,5" "INOUT with RETURN NEXT"
is "$(psql_q "$db" "SELECT rn_unnamed_out()")" "7" "an unnamed OUT parameter with RETURN NEXT"
is "$(psql_q "$db" "SELECT string_agg(x::text, ',') FROM rn_setof_expr(3) x")" "10,20,30" "SETOF with RETURN NEXT expr"
is "$(psql_q "$db" "SELECT string_agg(b, ',') FROM rn_table_two(2)")" "row 1,row 2" "RETURNS TABLE of two columns"
is "$(psql_q "$db" "SELECT string_agg(name, ',') FROM rq_dynamic('rq_items', 2)")" "a,b" "RETURN QUERY EXECUTE"
is "$(psql_q "$db" "SELECT string_agg(x::text, ',') FROM rq_twice() x")" "1,100,200" "two RETURN QUERY"
is "$(psql_q "$db" "SELECT (op_split('Ada Lovelace')).last")" "Lovelace" "OUT parameters, no RETURN NEXT"
is "$(psql_q "$db" "SELECT op_alias(2, 'ab')")" "abab" "ALIAS FOR \$n"
is "$(psql_q "$db" "SELECT count(*) FROM tg_audit WHERE new_status = 'paid'")" "1" "a row trigger fired"
is "$(psql_q "$db" "SELECT sum(n) FROM pr_log")" "6" "a procedure with INOUT, CALLed"
is "$(psql_q "$db" "SELECT v FROM do_t WHERE id = 2")" "V2" "DO blocks ran"
run "$T/gosling" "$db" down-to 0 --allow-down
is "$rc" 0 "${GOSLING_TEST_ARCH_NAME}every Down applies too"
[ "$rc" = 0 ] || sed 's/^/# /' "$T/err"
done_testing
