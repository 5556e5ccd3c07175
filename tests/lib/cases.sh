# tests/lib/cases.sh - compiler diagnostics as data: the one case format of
# tests/compiler/cases/, tests/compiler/dropped/ and tests/check/.  Source it after
# tests/lib/tap.sh.
#
#   NAME.sql        a migration
#   NAME.expected   "exit N", goslingc parse --check's exit code, on its first line, then
#                   the exact bytes of its stderr (nothing more when it prints nothing)
#   NAME.commands   optional: the "commands" count of each statement, in order, one line
#
#   case_check NAME.sql   one check of the exit code and stderr together; one more of the
#                         command counts when NAME.commands exists
#
# GOSLINGC is the compiler under test (tests/asan.sh: build/asan/goslingc).
GOSLINGC=${GOSLINGC:-$PWD/build/goslingc}
case_tmp=$(mktemp -d)
trap 'rm -rf "$case_tmp"' EXIT

case_check() {
	local sql=$1 name=${1%.sql} rc=0 got want
	"$GOSLINGC" parse --check "$sql" >"$case_tmp/out" 2>"$case_tmp/err" || rc=$?
	{ echo "exit $rc"; cat "$case_tmp/err"; } >"$case_tmp/got"
	if cmp -s "$case_tmp/got" "$name.expected"; then
		pass "diagnostics of $sql"
	else
		fail "diagnostics of $sql" "$(diff -u "$name.expected" "$case_tmp/got")"
	fi
	if [ -f "$name.commands" ]; then
		got=$(grep -o '"commands": [0-9]*' "$case_tmp/out" | sed 's/.* //' | tr '\n' ' ' | sed 's/ $//')
		want=$(cat "$name.commands")
		is "$got" "$want" "command counts of $sql: $want"
	fi
}
