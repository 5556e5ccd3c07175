#!/usr/bin/env bash
# tests/check.sh - PostgreSQL's parser in goslingc (compiler/check.c), tested as data:
# tests/check/NAME.sql -> NAME.expected (exit code, then the exact stderr of `goslingc
# parse --check`) and NAME.commands (the statements' command counts), the case format
# of tests/lib/cases.sh.
#
# Then: `parse` without --check stays goose's and accepts every case; `build` and
# `verify` report the same diagnostics; --no-check; the HomeTest migrations; every
# valid case of the goose corpus that is PostgreSQL SQL (the others are listed below,
# with the reason, and must fail).  Prints TAP; exits 1 on any failure.
set -eu
cd "$(dirname "$0")/.."
. tests/lib/tap.sh

. tests/lib/cases.sh	# sets GOSLINGC (tests/asan.sh: build/asan/goslingc)
G=$GOSLINGC
. tests/lib/corpus.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$case_tmp"' EXIT


# --- the cases -----------------------------------------------------------------
for sql in tests/check/*.sql; do
	case_check "$sql"
	rc=0
	"$G" parse "$sql" >/dev/null 2>"$tmp/err" || rc=$?
	ok_rc "$rc" "$sql: plain parse (goose's rules only) accepts it" "$(cat "$tmp/err")"
done

# --- build and verify report the same, --no-check relaxes ------------------------
mkdir -p "$tmp/m"
cp tests/check/syntax-up.sql "$tmp/m/00001_syntax_up.sql"
rc=0
"$G" build --out "$tmp/bundle.c" "$tmp/m" 2>"$tmp/err" || rc=$?
grep -q "^$tmp/m/00001_syntax_up.sql:5:49: error: syntax error at or near \",\"$" "$tmp/err"
ok_rc $(( $? || rc != 1 )) "build fails at the syntax error's file, line and column" "$(cat "$tmp/err")"
rc=0
"$G" build --no-check --out "$tmp/bundle.c" "$tmp/m" 2>"$tmp/err" || rc=$?
grep -q "^$tmp/m/00001_syntax_up.sql:5:49: warning: PostgreSQL 15 cannot parse this statement (--no-check)" "$tmp/err"
ok_rc $(( $? || rc != 0 )) "build --no-check makes it a warning" "$(cat "$tmp/err")"
grep -q '"INSERT INTO greeting' "$tmp/bundle.c"
ok_rc $? "build --no-check still writes the statement" ""
rc=0
"$G" sum --no-check "$tmp/m" 2>/dev/null || rc=$?
"$G" verify "$tmp/m" 2>"$tmp/err" && rc=1
grep -q "00001_syntax_up.sql:5:49: error: syntax error" "$tmp/err"
ok_rc $(( $? || rc != 0 )) "verify fails on the syntax error" "$(cat "$tmp/err")"
rm -f "$tmp/m"/*
cp tests/check/concurrently-tx.sql "$tmp/m/00001_index.sql"
rc=0
"$G" build --out "$tmp/bundle.c" "$tmp/m" 2>"$tmp/err" || rc=$?
grep -q "00001_index.sql:3:14: error: CREATE INDEX CONCURRENTLY cannot run inside a transaction block" "$tmp/err"
ok_rc $(( $? || rc != 1 )) "build fails CONCURRENTLY in a transactional migration" "$(cat "$tmp/err")"
# issue 15.4: every refusal has a way through; --no-check makes this one a warning
rc=0
"$G" build --no-check --out "$tmp/bundle.c" "$tmp/m" 2>"$tmp/err" || rc=$?
grep -q "00001_index.sql:3:14: warning: CREATE INDEX CONCURRENTLY cannot run inside a transaction block.*(allowed by --no-check)" "$tmp/err"
ok_rc $(( $? || rc != 0 )) "build --no-check makes CONCURRENTLY in a transactional migration a warning" "$(cat "$tmp/err")"

# --- the HomeTest migrations ------------------------------------------------------
rc=0
"$G" build --out "$tmp/bundle.c" migrations 2>"$tmp/err" || rc=$?
! grep -q 'warning\|error' "$tmp/err"
ok_rc $(( $? || rc )) "migrations/ pass the check with no warning" "$(cat "$tmp/err")"

# --- the goose corpus ---------------------------------------------------------------
# Valid goose cases that are not PostgreSQL SQL: they must fail the check.
declare -A not_postgres=(
	[valid-up/test08]="MySQL: backquoted identifiers"
	[upstream-down/valid-up-test08]="MySQL: backquoted identifiers"
	[inline/parser_test.mysqlChangeDelimiter]="MySQL: DELIMITER and a MySQL function"
	[inline/parser_test.copyFromStdin]="COPY FROM stdin with its data rows inline: psql's input, not SQL"
	[inline/parser_test.plpgsqlSyntax]="DROP TRIGGER without ON table: PostgreSQL rejects it (goose never runs it)"
	[inline/parser_test.plpgsqlSyntaxMixedStatements]="DROP TRIGGER without ON table: PostgreSQL rejects it"
	[envsub/test02]="goose's ENVSUB test: trailing comma in CREATE TABLE, \$VAR where ENVSUB is off"
	[envsub/test03]="goose's ENVSUB test: trailing comma in CREATE TABLE, \$VAR without ENVSUB"
	[upstream-down/envsub-test02]="as envsub/test02"
	[upstream-down/envsub-test03]="as envsub/test03"
)
if [ ! -d "$CORPUS" ]; then
	fail "goose corpus not found at $CORPUS"
else
	corpus_valid_cases
	for f in "${cases[@]}"; do
		name=${f#"$CORPUS"/}
		name=${name%/input.sql}
		rc=0
		env -u ANOTHER_VAR -u NAME -u SET_BUT_EMPTY_VALUE GOOSE_ENV_REGION=us_east_ \
			GOOSE_ENV_SET_BUT_EMPTY_VALUE= GOOSE_ENV_NAME=foo \
			"$G" parse --check --envsub "$f" >/dev/null 2>"$tmp/err" || rc=$?
		if [ -n "${not_postgres[$name]:-}" ]; then
			[ "$rc" -eq 1 ] && grep -q ': error: ' "$tmp/err"
			ok_rc $? "corpus $name fails the check (${not_postgres[$name]})" "exit $rc"
		else
			ok_rc "$rc" "corpus $name passes the check" "$(cat "$tmp/err")"
		fi
	done
fi

echo "# check: $((tap_n - tap_failed)) of $tap_n passed"
done_testing
