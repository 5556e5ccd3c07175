#!/usr/bin/env bash
# goslingc end to end: diagnostics as data (tests/compiler/cases), checksums,
# migrations.sum, naming rules, create/fix, and ninja's incremental rebuilds.
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
. tests/lib/cases.sh	# sets GOSLINGC (tests/asan.sh: build/asan/goslingc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$case_tmp"' EXIT

# --- diagnostics as data: NAME.sql -> NAME.expected (tests/lib/cases.sh) -------
# dropped/: one file per way goose's state machine can lose a line (issue 15.3),
# each naming the parser.go rule it exercises, and one where every line counts.
for sql in tests/compiler/cases/*.sql tests/compiler/dropped/*.sql; do
	case_check "$sql"
done

# --- a dropped line fails build; parse stays goose-exact and drops it ----------
mkdir "$tmp/drop"
cp tests/compiler/dropped/empty_block_up.sql "$tmp/drop/001_a.sql"
out=$("$GOSLINGC" build -o "$tmp/drop.c" "$tmp/drop" 2>&1); rc=$?
check "build fails at a line goose drops" \
	test $rc -eq 1 -a ! -e "$tmp/drop.c" -a "$(grep -c 'goose drops this line' <<<"$out")" -eq 1
check "... at its line and column" grep -q '001_a.sql:9:1: error' <<<"$out"
out=$("$GOSLINGC" parse "$tmp/drop/001_a.sql"); rc=$?
check "parse keeps goose's cut: the line after an empty block is in no statement" \
	test $rc -eq 0 -a "$(grep -c 'ALTER TABLE' <<<"$out")" -eq 0 -a "$(grep -c '"sql": ""' <<<"$out")" -eq 1
cp tests/compiler/dropped/every_line_counted.sql "$tmp/drop/001_a.sql"
check "build passes a file whose every line is in a statement" \
	"$GOSLINGC" -q build -o "$tmp/drop.c" "$tmp/drop"

# --- a folder with several broken files reports every error -------------------
mkdir "$tmp/many"
cp tests/compiler/cases/cut_in_string.sql "$tmp/many/001_a.sql"
cp tests/compiler/cases/cut_in_dollar.sql "$tmp/many/002_b.sql"
cp tests/compiler/cases/valid_tricky.sql "$tmp/many/003_c.sql"
out=$("$GOSLINGC" build -o "$tmp/many.c" "$tmp/many" 2>&1); rc=$?
check "build reports the errors of every file and fails" \
	test $rc -eq 1 -a "$(printf '%s\n' "$out" | grep -c ': error: ')" -eq 2 -a ! -e "$tmp/many.c"
check "the summary counts them" grep -q "2 errors" <<<"$out"

# --- checksums ---------------------------------------------------------------
mkdir "$tmp/ck"
cp tests/compiler/cases/valid_tricky.sql "$tmp/ck/001_a.sql"
c1() { "$GOSLINGC" list --json "$1" | python3 -c 'import json,sys; m=json.load(sys.stdin)["migrations"][0]; print(m[sys.argv[1]])' "$2"; }
lf_sum=$(sha256sum "$tmp/ck/001_a.sql" | cut -d' ' -f1)
check "c1 of an LF, BOM-free file is sha256sum's" test "$(c1 "$tmp/ck" file_checksum)" = "sha256:c1:$lf_sum"
file_lf=$(c1 "$tmp/ck" file_checksum) exec_lf=$(c1 "$tmp/ck" exec_checksum)
sed -i 's/$/\r/' "$tmp/ck/001_a.sql"
check "CRLF variant: same c1" test "$(c1 "$tmp/ck" file_checksum)" = "$file_lf"
check "CRLF variant: same executable checksum" test "$(c1 "$tmp/ck" exec_checksum)" = "$exec_lf"
printf '\xef\xbb\xbf' | cat - tests/compiler/cases/valid_tricky.sql >"$tmp/ck/001_a.sql"
check "BOM variant: same c1" test "$(c1 "$tmp/ck" file_checksum)" = "$file_lf"
cp tests/compiler/cases/valid_tricky.sql "$tmp/ck/001_a.sql"
printf -- '-- a note added later\n\n' >>"$tmp/ck/001_a.sql"
check "comment-only edit changes c1" test "$(c1 "$tmp/ck" file_checksum)" != "$file_lf"
check "comment-only edit keeps the executable checksum" test "$(c1 "$tmp/ck" exec_checksum)" = "$exec_lf"
sed -i 's/fine/finer/' "$tmp/ck/001_a.sql"
check "a change to what runs changes the executable checksum" test "$(c1 "$tmp/ck" exec_checksum)" != "$exec_lf"

# --- migrations.sum: verify and sum -------------------------------------------
mkdir "$tmp/sum"
cp migrations/*.sql "$tmp/sum/"
"$GOSLINGC" -q sum "$tmp/sum"
check "verify passes right after sum" "$GOSLINGC" -q verify "$tmp/sum"
check "the repository's migrations match their migrations.sum" "$GOSLINGC" -q verify migrations
f1=$(ls "$tmp/sum"/000001_*.sql)
cp "$f1" "$tmp/f1.bak"
echo "-- reviewed" >>"$f1"
out=$("$GOSLINGC" verify "$tmp/sum" 2>&1); rc=$?
check "comment-only edit of a summed file fails verify (exit 3)" test $rc -eq 3
check "... and says it is comments only" grep -q "comments or blank lines only" <<<"$out"
cp "$tmp/f1.bak" "$f1"
sed -i '0,/CREATE TABLE/s//CREATE TABLE IF NOT EXISTS/' "$f1"
out=$("$GOSLINGC" verify "$tmp/sum" 2>&1); rc=$?
check "edit of a summed file's SQL fails verify (exit 3)" test $rc -eq 3
check "... and names the file" grep -q "000001_create_initial_home_test_tables.sql: error: changed since migrations.sum: its statements differ" <<<"$out"
cp "$tmp/f1.bak" "$f1"
mv "$f1" "$tmp/sum/000005_create_initial_home_test_tables.sql"
out=$("$GOSLINGC" verify "$tmp/sum" 2>&1); rc=$?
check "a renumbered file fails verify" test $rc -eq 3
check "... and says from what" grep -q "renamed or renumbered: migrations.sum has it as 000001_create_initial_home_test_tables.sql" <<<"$out"
rm "$tmp/sum/000005_create_initial_home_test_tables.sql"
out=$("$GOSLINGC" verify "$tmp/sum" 2>&1); rc=$?
check "a removed file fails verify" test $rc -eq 3
check "... naming it" grep -q "000001_create_initial_home_test_tables.sql is in migrations.sum but no longer in" <<<"$out"
cp "$tmp/f1.bak" "$f1"
"$GOSLINGC" create add_index "$tmp/sum" >/dev/null
check "create makes the next sequential version" test -f "$tmp/sum/000003_add_index.sql"
check "a new migration does not fail verify" "$GOSLINGC" -q verify "$tmp/sum"
check "the template parses" "$GOSLINGC" parse --check "$tmp/sum/000003_add_index.sql"

# --- naming rules ------------------------------------------------------------
mkdir "$tmp/names"
cp tests/compiler/cases/valid_tricky.sql "$tmp/names/1_a.sql"
cp tests/compiler/cases/valid_tricky.sql "$tmp/names/01_b.sql"
cp tests/compiler/cases/valid_tricky.sql "$tmp/names/x_c.sql"
cp tests/compiler/cases/valid_tricky.sql "$tmp/names/99999999999999999999_d.sql"
cp tests/compiler/cases/valid_tricky.sql "$tmp/names/nounderscore.sql"
echo "not a migration" >"$tmp/names/README.md"
out=$("$GOSLINGC" build -o "$tmp/names.c" "$tmp/names" 2>&1); rc=$?
check "bad names fail the build" test $rc -eq 1
check "duplicate versions are an error" grep -q "duplicate version 1" <<<"$out"
check "a non-numeric version is an error" grep -q "x_c.sql: error: could not parse SQL migration file name" <<<"$out"
check "a version beyond int64 is an error" grep -q "out of range for a 64-bit integer" <<<"$out"
check "a name without '_' is an error" grep -q "no filename separator '_' found" <<<"$out"
check "files that are not .sql are ignored" test "$(grep -c README <<<"$out")" -eq 0

mkdir "$tmp/ts"
cp tests/compiler/cases/valid_tricky.sql "$tmp/ts/00001_a.sql"
printf -- '-- +goose Up\nSELECT 2;\n' >"$tmp/ts/20240102030405_b.sql"
printf -- '-- +goose Up\nSELECT 3;\n' >"$tmp/ts/20240102030406_c.sql"
"$GOSLINGC" sum --quiet "$tmp/ts"
"$GOSLINGC" fix "$tmp/ts" >/dev/null
check "fix updates migrations.sum with the new names" "$GOSLINGC" verify --quiet "$tmp/ts"
check "... in place: the same checksums under the new names" \
	grep -q "^00002_b.sql sha256:c1:$(sha256sum <"$tmp/ts/00002_b.sql" | cut -d' ' -f1) " "$tmp/ts/migrations.sum"
check "fix renames timestamp versions to sequential ones" \
	test "$(ls "$tmp/ts" | tr '\n' ' ')" = "00001_a.sql 00002_b.sql 00003_c.sql migrations.sum "

# --- migrations.sum: every legal name round-trips, every line is whole -----------
mkdir "$tmp/sp"
printf -- '-- +goose Up\nSELECT 1;\n' >"$tmp/sp/001_with  two spaces.sql"
printf -- '-- +goose Up\nSELECT 2;\n' >"$tmp/sp/002_b.sql"
"$GOSLINGC" sum --quiet "$tmp/sp"
check "a name with spaces round-trips through sum and verify" "$GOSLINGC" verify --quiet "$tmp/sp"
cp "$tmp/sp/migrations.sum" "$tmp/sp.sum"
# sum_bad NAME SED: verify of migrations.sum edited by SED fails, naming a malformed line or a duplicate
sum_bad() {
	sed "$2" "$tmp/sp.sum" >"$tmp/sp/migrations.sum"
	out=$("$GOSLINGC" verify "$tmp/sp" 2>&1)
	check "$1" grep -qE "migrations.sum:[0-9]+:1: error: malformed line|is listed more than once" <<<"$out"
}
sum_bad "an x1 checksum cut short fails verify" '/002_b/s/.$//'
sum_bad "a c1 checksum with no hex fails verify" '/002_b/s/sha256:c1:[0-9a-f]*/sha256:c1:/'
sum_bad "upper-case hex fails verify" '/002_b/s/[a-f]\([0-9a-f]*\)$/A\1/'
sum_bad "a duplicate line fails verify" '/002_b/p'
cp "$tmp/sp.sum" "$tmp/sp/migrations.sum"

# --- command line ------------------------------------------------------------
check "--help exits 0" "$GOSLINGC" --help
check "--version names the version" grep -q '^goslingc [0-9]' <<<"$("$GOSLINGC" --version)"
"$GOSLINGC" frobnicate >/dev/null 2>&1
check "an unknown command exits 2" test $? -eq 2
out=$("$GOSLINGC" parse tests/compiler/cases/valid_tricky.sql)
check "parse prints one JSON object per file" python3 -c '
import json, sys
files = json.loads(sys.argv[1])
assert len(files) == 1 and files[0]["no_transaction"] is False
# goose does not cut after "/* closed; */": the last word is "*/"
assert [s["line"] for s in files[0]["up"]] == [2, 3, 4, 5, 8], files[0]["up"]
assert files[0]["up"][3]["commands"] == 2
assert files[0]["up"][0]["sql"] == "SELECT '"'"'it'"''"'s; fine'"'"';"
' "$out"

# --- ninja: incremental, restat, no relink -----------------------------------
if [ "${GOSLING_TEST_ARCH:-host}" = asan ]; then
	skip "ninja's incremental rebuilds" "they check build.ninja with the scratch tree's own plain build, not the binaries under test"
	done_testing
fi
mkdir "$tmp/repo"
# every tracked file, so the scratch tree builds exactly as a checkout does
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$tmp/repo"
# goslingc's libpg_query as built here (a cold build takes minutes; its stamp stays valid)
mkdir -p "$tmp/repo/build/deps"
cp -a build/deps/host "$tmp/repo/build/deps/"
top=$PWD
cd "$tmp/repo"
if ! ninja build/gosling >/dev/null 2>&1; then
	fail "ninja builds a scratch copy of the tree"
else
	# (GOSLINGC_FLAGS is read on every run: that one edge always runs, and changes nothing)
	check "a second ninja has nothing to do but read GOSLINGC_FLAGS" \
		test "$(ninja build/gosling | grep -c '^\[')" = 1
	out=$(GOSLINGC_FLAGS=--werror ninja build/gosling)
	check "GOSLINGC_FLAGS=--werror re-runs goslingc" grep -q "GOSLINGC gen/bundle.c" <<<"$out"
	check "... and reaches it" grep -qx -- "--werror" build/goslingc.flags
	printf -- '-- +goose Up\nSELECT 1;\n-- +GOOSE DOWN\n' >migrations/000009_warn.sql
	GOSLINGC_FLAGS=--werror ninja build/gosling >"$tmp/werror.out" 2>&1
	check "GOSLINGC_FLAGS=--werror makes a warning fail the build" \
		grep -q "000009_warn.sql:3:1: error: line looks like a goose annotation" "$tmp/werror.out"
	printf -- '-- +goose Up\nSELECT bad bad bad;\n' >migrations/000009_warn.sql
	check "GOSLINGC_FLAGS=--no-check lets a statement PostgreSQL 15 cannot parse through" \
		env GOSLINGC_FLAGS=--no-check ninja build/gosling
	rm migrations/000009_warn.sql
	mv migrations/migrations.sum "$tmp/saved.sum"
	ninja >"$tmp/nosum.out" 2>&1
	check "a missing migrations.sum is one line saying what to run, after the bundle" \
		grep -q "^migrations/migrations.sum: error: missing: run \`goslingc sum migrations\`" "$tmp/nosum.out"
	check "... not ninja's missing-input error" sh -c '! grep -q "no known rule" "$1"' _ "$tmp/nosum.out"
	printf -- '-- +goose Up\nSELECT bad bad bad;\n' >migrations/000009_broken.sql
	ninja >"$tmp/nosum.out" 2>&1
	check "with no migrations.sum, a broken migration's error comes first" \
		test "$(grep -m1 ': error: ' "$tmp/nosum.out")" = \
		'migrations/000009_broken.sql:2:16: error: syntax error at or near "bad"'
	rm migrations/000009_broken.sql
	mv "$tmp/saved.sum" migrations/migrations.sum
	check "... and with it back, ninja verifies" ninja
	before=$(stat -c %Y.%y build/gosling)
	sleep 1.1
	touch migrations/000002_seed_home_test_data.sql
	out=$(ninja build/gosling)
	check "touching a migration re-runs goslingc" grep -q "GOSLINGC gen/bundle.c" <<<"$out"
	check "an unchanged bundle does not relink" test "$(stat -c %Y.%y build/gosling)" = "$before"
	printf -- '-- +goose Up\nSELECT 3;\n' >migrations/000003_more.sql
	out=$(ninja build/gosling)
	check "adding a migration regenerates and relinks" grep -q "LINK build/gosling" <<<"$out"
	check "... and the runtime lists it" grep -q "000003_more.sql" <<<"$(build/gosling list)"
	rm migrations/000003_more.sql
	out=$(ninja build/gosling)
	check "deleting a migration regenerates the bundle" grep -q "LINK build/gosling" <<<"$out"
	check "... and the runtime no longer lists it" test "$(build/gosling list | grep -c 000003_more)" -eq 0
	check "the bundle says it is generated" grep -q "Generated by goslingc .* do not edit" gen/bundle.c
fi
cd "$top"

done_testing
