#!/usr/bin/env bash
# tests/badinput.sh - the bad-input catalogue: each row feeds goslingc one kind of
# bad input and asserts its exit code and the first diagnostic it prints.  The
# "Bad input" table in docs/testing.md lists these rows by name (tests/docs.sh checks it).
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
G=${GOSLINGC:-$PWD/build/goslingc}	# tests/asan.sh: build/asan/goslingc
# the runtime's rows: build/gosling, or build/asan/gosling under tests/asan.sh
case ${GOSLING_TEST_ARCH:-host} in asan) R=$PWD/build/asan/gosling ;; *) R=$PWD/build/gosling ;; esac
R=${GOSLING:-$R}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# row NAME WANT_RC WANT_LINE CMD [ARGS...]: run CMD in $tmp; compare its exit code
# and the first "error:" or "warning:" line it prints.
row() {
	local name=$1 want_rc=$2 want=$3 out rc line
	shift 3
	out=$(timeout 60 "$@" 2>&1 >/dev/null); rc=$?
	line=$(printf '%s\n' "$out" | grep -m1 -E ': (error|warning): ')
	is "$rc $line" "$want_rc $want" "$name"
}
# folder NAME: a fresh folder; mig NAME FILE TEXT: printf TEXT into NAME/FILE.
folder() { rm -rf "$1"; mkdir -p "$1"; }
mig() { folder "$1"; printf -- "$3" >"$1/$2"; }
build=("$G" build -o "$tmp/out.c")
up='-- +goose Up\n'

# --- truncated files -----------------------------------------------------------
mig trunc_stmt 001_a.sql "${up}CREATE TABLE t (\n  id int\n"
row "truncated: Up with an unfinished statement" 1 \
	"trunc_stmt/001_a.sql:2:1: error: unfinished statement, missing semicolon? (goose: state 1, direction: up: unexpected unfinished SQL query)" \
	"${build[@]}" trunc_stmt
mig trunc_block 001_a.sql "${up}-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS \$\$ SELECT 1; \$\$ LANGUAGE sql;\n"
row "truncated: StatementBegin without StatementEnd" 1 \
	"trunc_block/001_a.sql:3: error: missing '-- +goose StatementEnd' annotation" \
	"${build[@]}" trunc_block
mig dropped 001_a.sql "${up}-- +goose StatementBegin\n-- +goose StatementEnd\nCREATE TABLE t (id int);\n"
row "a line goose drops (after an empty StatementBegin block)" 1 \
	"dropped/001_a.sql:4:1: error: goose drops this line: it is in no statement of the Up section" \
	"${build[@]}" dropped
mig annot_in_string 001_a.sql "${up}INSERT INTO t VALUES ('a\n-- +goose ENVSUB ON\nb');\n"
row "an annotation-shaped line inside a string literal" 1 \
	"annot_in_string/001_a.sql:3:1: error: goose takes this line for an annotation and drops it from the string literal opened at line 2" \
	"${build[@]}" annot_in_string
mig trunc_string 001_a.sql "${up}INSERT INTO t VALUES ('abc"
row "truncated: inside a string literal" 1 \
	"trunc_string/001_a.sql:2:1: error: unfinished statement, missing semicolon? (goose: state 1, direction: up: unexpected unfinished SQL query)" \
	"${build[@]}" trunc_string
mig trunc_utf8 001_a.sql "${up}SELECT 1;\n-- caf\xc3"
row "truncated: inside a UTF-8 sequence" 1 \
	"trunc_utf8/001_a.sql:3:7: error: invalid UTF-8 byte 0xc3" \
	"${build[@]}" trunc_utf8
mig empty_file 001_a.sql ""
row "truncated: empty file" 1 \
	"empty_file/001_a.sql:1: error: no '-- +goose Up' annotation (goose: must start with '-- +goose Up' annotation)" \
	"${build[@]}" empty_file

# --- bytes PostgreSQL would refuse ----------------------------------------------
mig nul 001_a.sql "${up}SELECT 1;\0\n"
row "NUL byte" 1 "nul/001_a.sql:2:10: error: NUL byte in migration file" "${build[@]}" nul
mig latin1 001_a.sql "${up}SELECT 'caf\xe9';\n"
row "invalid UTF-8: a Latin-1 byte" 1 "latin1/001_a.sql:2:12: error: invalid UTF-8 byte 0xe9" "${build[@]}" latin1
mig overlong 001_a.sql "${up}SELECT '\xc0\xaf';\n"
row "invalid UTF-8: an overlong encoding" 1 "overlong/001_a.sql:2:9: error: invalid UTF-8 byte 0xc0" "${build[@]}" overlong
mig surrogate 001_a.sql "${up}SELECT '\xed\xa0\x80';\n"
row "invalid UTF-8: an encoded surrogate" 1 "surrogate/001_a.sql:2:9: error: invalid UTF-8 byte 0xed" "${build[@]}" surrogate

# --- size -------------------------------------------------------------------------
# goose reads lines with bufio.Scanner and a 4 MiB buffer: a line and its '\n' must fit.
folder long_line
{ printf -- "${up}SELECT '"; head -c $((4 * 1024 * 1024 - 10)) /dev/zero | tr '\0' a; printf "';\n"; } >long_line/001_a.sql
row "a line of 4 MiB (goose's limit: a line and its newline fit in 4 MiB)" 1 \
	"long_line/001_a.sql:2:1: error: line is longer than goose's limit of 4194304 bytes" "${build[@]}" long_line
folder max_line
{ printf -- "${up}SELECT '"; head -c $((4 * 1024 * 1024 - 11)) /dev/zero | tr '\0' a; printf "';\n"; } >max_line/001_a.sql
row "a line of 4 MiB - 1 bytes compiles" 0 "" "${build[@]}" max_line

folder many
python3 - <<'PY'
with open("many/001_many.sql", "w") as f:
    f.write("-- +goose Up\n")
    for i in range(100000):
        f.write(f"INSERT INTO t VALUES ({i});\n")
    f.write("-- +goose Down\nDELETE FROM t;\n")
PY
start=$(date +%s%N)
out=$("$G" build -o "$tmp/many.c" many 2>&1); rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
is "$rc" 0 "a 100,000-statement file compiles ($((ms / 1000)).$(printf '%03d' $((ms % 1000))) s)"
n=$("$G" list --json many | python3 -c 'import json,sys; print(json.load(sys.stdin)["migrations"][0]["up"])')
is "$n" 100000 "... into 100,000 Up statements"
ok "... in under 30 s (linear; a quadratic pass would take minutes)" test "$ms" -lt 30000

# a stray quote makes every later statement part of an open literal: one pass, not one per statement
folder stray
python3 - <<'PY'
with open("stray/001_stray.sql", "w") as f:
    f.write("-- +goose Up\nSELECT 'oops;\n")
    for i in range(100000):
        f.write(f"INSERT INTO t VALUES ({i}, 'v');\n")
PY
start=$(date +%s%N)
row "a stray quote before 100,000 statements" 1 \
	"stray/001_stray.sql:2:8: error: statement ends inside a string literal: goose would cut it at line 2" \
	"${build[@]}" stray
ms=$((($(date +%s%N) - start) / 1000000))
ok "... reported in under 30 s ($((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; it was quadratic)" test "$ms" -lt 30000

# every diagnostic shows its source line: 100,000 of them cost one pass over the file, not one each
folder warnings
python3 - <<'PY'
with open("warnings/001_w.sql", "w") as f:
    f.write("-- +goose Up\n" + "-- +GOOSE DOWN\n" * 100000 + "SELECT 1;\n")
PY
start=$(date +%s%N)
row "100,000 ignored-annotation warnings in one file" 0 \
	"warnings/001_w.sql:2:1: warning: line looks like a goose annotation but is a comment to goose" \
	"${build[@]}" warnings
ms=$((($(date +%s%N) - start) / 1000000))
ok "... printed in under 30 s ($((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; it was quadratic)" test "$ms" -lt 30000

# a no-check marker before each of 100,000 statements: one search per statement
folder markers
python3 - <<'PY'
with open("markers/001_m.sql", "w") as f:
    f.write("-- +goose Up\n")
    for i in range(100000):
        f.write(f"-- gosling:no-check\nINSERT INTO t VALUES ({i});\n")
PY
start=$(date +%s%N)
row "100,000 gosling:no-check markers" 0 "" "${build[@]}" markers
ms=$((($(date +%s%N) - start) / 1000000))
ok "... in under 30 s ($((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; 3.9 s when each statement scanned every marker)" \
	test "$ms" -lt 30000

# --- the lint's gosling:allow markers ------------------------------------------
mig noreason 001_a.sql "${up}-- gosling:allow drop-table\nDROP TABLE t;\n"
row "a gosling:allow marker without a reason" 0 \
	"noreason/001_a.sql:2:1: warning: gosling:allow needs a reason after the rule name" "${build[@]}" noreason
mig norule 001_a.sql "${up}-- gosling:allow no-such-rule it is fine\nDROP TABLE t;\n"
row "an unknown rule in a gosling:allow marker" 0 \
	"norule/001_a.sql:2:18: warning: unknown lint rule \"no-such-rule\" in gosling:allow" "${build[@]}" norule
# a finding and the marker that accepts it on each of 100,000 statements: one search per finding
folder allows
python3 - <<'PY'
with open("allows/001_m.sql", "w") as f:
    f.write("-- +goose Up\n")
    for i in range(100000):
        f.write(f"-- gosling:allow drop-table t{i} is unused\nDROP TABLE t{i};\n")
PY
start=$(date +%s%N)
row "100,000 gosling:allow markers, each accepting a finding" 0 "" "${build[@]}" allows
ms=$((($(date +%s%N) - start) / 1000000))
ok "... in under 30 s ($((ms / 1000)).$(printf '%03d' $((ms % 1000))) s)" test "$ms" -lt 30000

# --- versions -----------------------------------------------------------------
mig over 9223372036854775808_a.sql "${up}SELECT 1;\n"
row "a version above int64" 1 \
	"over/9223372036854775808_a.sql: error: could not parse SQL migration file name: version \"9223372036854775808\" is out of range for a 64-bit integer" \
	"${build[@]}" over
mig max 9223372036854775807_a.sql "${up}SELECT 1;\n"
row "version int64 max compiles" 0 "" "${build[@]}" max
mig zero 0_a.sql "${up}SELECT 1;\n"
row "version 0" 1 \
	"zero/0_a.sql: error: could not parse SQL migration file name: migration version must be greater than zero" \
	"${build[@]}" zero
mig dup 001_a.sql "${up}SELECT 1;\n"
cp dup/001_a.sql dup/1_b.sql
row "duplicate versions (001 and 1)" 1 "dup/1_b.sql: error: duplicate version 1: also 001_a.sql" "${build[@]}" dup

mig order 001_a.sql "${up}SELECT 1;\n"
cp order/001_a.sql order/003_c.sql
"$G" -q sum order
cp order/001_a.sql order/002_b.sql
row "a version below already-summed ones: verify warns" 0 \
	"order/002_b.sql: warning: new migration with a version below already-summed ones (out of order)" \
	"$G" verify order
row "... an error with --werror" 1 \
	"order/002_b.sql: error: new migration with a version below already-summed ones (out of order)" \
	"$G" --werror verify order

# --- symbolic links, folders, unreadable things ----------------------------------
mig link 001_a.sql "${up}SELECT 1;\n"
mv link/001_a.sql target.sql
ln -s ../target.sql link/001_a.sql
row "a symlinked migration compiles (followed, as goose does)" 0 "" "${build[@]}" link
mig copy 001_a.sql "${up}SELECT 1;\n"
is "$("$G" list --json link | grep -o 'sha256:c1:[0-9a-f]*')" \
	"$("$G" list --json copy | grep -o 'sha256:c1:[0-9a-f]*')" "... with its target's checksum"
folder dangling
ln -s ../nowhere.sql dangling/001_a.sql
row "a dangling symlink" 4 \
	"dangling/001_a.sql: error: cannot open: No such file or directory (dangling symbolic link to ../nowhere.sql)" \
	"${build[@]}" dangling
folder dirlink
mkdir -p somedir
ln -s ../somedir dirlink/001_x.sql
row "a symlink to a directory named 001_x.sql" 1 "dirlink/001_x.sql: error: is a directory, not a migration file" \
	"${build[@]}" dirlink
folder dirsql
mkdir dirsql/001_x.sql
row "a directory named 001_x.sql" 1 "dirsql/001_x.sql: error: is a directory, not a migration file" "${build[@]}" dirsql
folder fifo
mkfifo fifo/001_a.sql
row "a FIFO named 001_a.sql (not opened: goose would block)" 1 \
	"fifo/001_a.sql: error: not a regular file (a FIFO, socket or device), not a migration file" "${build[@]}" fifo
if [ "$(id -u)" -ne 0 ]; then
	mig noperm 001_a.sql "${up}SELECT 1;\n"
	chmod 000 noperm/001_a.sql
	row "an unreadable file (mode 000)" 4 "noperm/001_a.sql: error: cannot open: Permission denied" "${build[@]}" noperm
else
	skip "an unreadable file (mode 000)" "root reads it anyway"
fi
folder empty
row "an empty folder: a warning, an empty bundle" 0 \
	"empty: warning: no migrations: no <version>_<name>.sql files in this folder" "${build[@]}" empty
ok "... with no migrations in it" grep -q "0 migrations" <<<"$("$G" list empty 2>/dev/null)"
row "... an error with --werror" 1 "empty: error: no migrations: no <version>_<name>.sql files in this folder" \
	"$G" --werror build -o "$tmp/out.c" empty
mig nested/sub 001_a.sql "${up}SELECT 1;\n"
row "migrations in a subfolder are not read (top level only, as goose)" 0 \
	"nested: warning: no migrations: no <version>_<name>.sql files in this folder" "${build[@]}" nested
row "a folder that does not exist" 4 "missing: error: cannot open migrations folder: No such file or directory" \
	"${build[@]}" missing
touch plainfile
row "a file given as the folder" 4 "plainfile: error: cannot open migrations folder: Not a directory" "${build[@]}" plainfile
mig good 001_a.sql "${up}SELECT 1;\n"
ln -s good linked_folder
row "a symlinked folder compiles" 0 "" "${build[@]}" linked_folder
row "verify without migrations.sum" 1 \
	"good/migrations.sum: error: missing: run \`goslingc sum good\` to record the migrations' checksums, and commit it with them" \
	"$G" verify good
mkdir good/migrations.sum
row "verify with migrations.sum a directory" 4 "good/migrations.sum: error: cannot read: Is a directory" \
	"$G" verify good
rmdir good/migrations.sum
"$G" sum --quiet good
sed -i 's/.$//' good/migrations.sum
row "a migrations.sum line cut short" 1 \
	"good/migrations.sum:3:1: error: malformed line: expected \"<file> sha256:c1:<64 hex> sha256:x1:<64 hex>\"" \
	"$G" verify good

# --- file names the runtime, the history table and ninja's depfile cannot carry ------
folder badname
printf -- '-- +goose Up\nSELECT 1;\n' >"badname/001_caf"$'\xe9'".sql"
row "a file name that is not UTF-8" 1 \
	"badname/001_caf\\xe9.sql: error: file name is not valid UTF-8 (byte 0xe9 at offset 7): rename the file" \
	"${build[@]}" badname
folder ctlname
printf -- '-- +goose Up\nSELECT 1;\n' >"ctlname/001_a"$'\n'"b.sql"
row "a file name with a control character" 1 \
	"ctlname/001_a\\x0ab.sql: error: file name holds a control character (U+000A at offset 5): rename the file" \
	"${build[@]}" ctlname

# --- statements that cannot run where they stand (PostgreSQL's parse tree) -------------
mig txctl 001_a.sql "${up}CREATE TABLE t (a int);\nCOMMIT;\n"
row "transaction control in a transactional migration" 1 \
	"txctl/001_a.sql:3:1: error: COMMIT in a migration that runs in a transaction: gosling runs the migration and its history row in one transaction, which this would end half-way" \
	"${build[@]}" txctl
mig resetall 001_a.sql "${up}SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nRESET ALL;\n"
row "RESET ALL in a transactional migration" 1 \
	"resetall/001_a.sql:3:1: error: RESET ALL in a migration that runs in a transaction: gosling runs the migration and its history row in one transaction, which would lose gosling's own settings (its timeouts)" \
	"${build[@]}" resetall
mig copyin 001_a.sql "-- +goose NO TRANSACTION\n${up}COPY t FROM STDIN;\n"
row "COPY FROM STDIN" 1 \
	"copyin/001_a.sql:3:13: error: COPY FROM STDIN in a migration: gosling sends no COPY data, so the statement would wait for rows that never come" \
	"${build[@]}" copyin
folder deep
python3 -c 'print("-- +goose Up\nSELECT " + " || ".join(["'"'"'x'"'"'"] * 1200) + ";\nSELECT " + "(" * 3000 + "1" + ")" * 3000 + ";")' >deep/001_a.sql
row "1,200 concatenated terms and 3,000 nested parentheses compile" 0 "" "${build[@]}" deep
folder nest1000
python3 -c 'print("-- +goose Up\nSELECT 1 " + "/*" * 1000 + " x " + "*/" * 1000 + ";")' >nest1000/001_a.sql
row "block comments nested 1,000 deep compile" 0 "" "${build[@]}" nest1000
folder nest40k
python3 -c 'print("-- +goose Up\nSELECT 1 " + "/*" * 40000 + " x " + "*/" * 40000 + ";")' >nest40k/001_a.sql
row "block comments nested 40,000 deep (PostgreSQL's lexer: quadratic)" 1 \
	"nest40k/001_a.sql:2:2010: error: block comment nested more than 1000 levels deep" "${build[@]}" nest40k

# --- gosling: command lines and settings (no database: refused before any connection) ---
# No PostgreSQL answers on this port: a row that got as far as connecting would say so.
export PGHOST=127.0.0.1 PGPORT=1 PGCONNECT_TIMEOUT=2
unset DATABASE_URL DB_HOST DB_ADDRESS DB_PORT DB_PASSWORD GOSLING_LOCK_WAIT GOSLING_LOG_LEVEL AWS_LAMBDA_LOG_FORMAT
row "gosling: a version above int64 (up-to)" 2 \
	'gosling: error: invalid version "99999999999999999999999": a migration version is an integer from 0 to 9223372036854775807' \
	"$R" up-to 99999999999999999999999
row "gosling: a version with a sign or blanks" 2 \
	'gosling: error: invalid version "+5": a migration version is an integer from 0 to 9223372036854775807' \
	"$R" up-to +5
row "gosling: --event without its value" 2 "gosling: error: --event needs a value" "$R" --event
row "gosling: --deadline-ms without its value" 2 "gosling: error: --deadline-ms needs a value" "$R" status --deadline-ms
row "gosling: a setting flag without its value" 2 "gosling: error: --lock-wait needs a value" "$R" status --lock-wait
row "gosling: a flag given a value with =" 2 "gosling: error: --allow-down takes no value" "$R" down --allow-down=yes
row "gosling: --deadline-ms above int64" 2 \
	'gosling: error: invalid --deadline-ms "99999999999999999999": milliseconds since the epoch, up to 9223372036854775807' \
	"$R" --deadline-ms 99999999999999999999 status
for setting in GOSLING_LOCK_WAIT:lock-wait:86400:seconds GOSLING_CONNECT_TIMEOUT:connect-timeout:3600:seconds \
	GOSLING_STATEMENT_TIMEOUT:statement-timeout:2147483647:ms GOSLING_DEADLINE_MARGIN:deadline-margin:900000:ms \
	GOSLING_LOCK_TIMEOUT:lock-timeout:2147483647:ms; do
	IFS=: read -r env flag max unit <<<"$setting"
	row "gosling: $env=9223372036854775807 (out of range)" 3 \
		"gosling: error: invalid value for --$flag ($env): \"9223372036854775807\" is out of range: 0 to $max $unit" \
		env "$env=9223372036854775807" "$R" status
done
row "gosling: GOSLING_LOCK_WAIT above int64" 3 \
	'gosling: error: invalid value for --lock-wait (GOSLING_LOCK_WAIT): "99999999999999999999" is out of range: 0 to 86400 seconds' \
	env GOSLING_LOCK_WAIT=99999999999999999999 "$R" status
row "gosling: GOSLING_LOCK_WAIT=-1" 3 \
	'gosling: error: invalid value for --lock-wait (GOSLING_LOCK_WAIT): "-1" is out of range: 0 to 86400 seconds' \
	env GOSLING_LOCK_WAIT=-1 "$R" status
row "gosling: a setting with blanks or a sign" 3 \
	'gosling: error: invalid value for --lock-wait (GOSLING_LOCK_WAIT): " 5" is not an integer' \
	env "GOSLING_LOCK_WAIT= 5" "$R" status
row "gosling: DB_PORT out of range" 3 'gosling: error: invalid value for --port (DB_PORT): "70000" is out of range: 1 to 65535' \
	env DB_PORT=70000 "$R" status
row "gosling: --lock-key above int64" 3 \
	'gosling: error: invalid value for --lock-key (flag): "9223372036854775808" is out of range: 0 to 9223372036854775807' \
	"$R" status --lock-key 9223372036854775808

done_testing
