# tests/lib/tap.sh - TAP output for the shell suites: the one set of check helpers every
# suite uses (tests/lib/pg.sh sources it).  Source it; end with done_testing, which prints
# the plan and exits non-zero when any check failed.  tests/run counts the "ok N" and
# "not ok N" lines and the "# SKIP"s.
#
#   ok "what" CMD [ARGS...]     passes when CMD succeeds (check is the same)
#   ok_rc RC "what" ["detail"]  passes when RC, a status already taken, is 0
#   is "$got" "$want" "what"    passes when the strings are equal
#   like "$text" "fixed" "what" passes when text contains the fixed string
#   pass "what" / fail "what" ["detail"] / skip "what" "why"
#   skip_prereq "what" "why"   a prerequisite is missing: SKIP, but a failure under CI
#   diag [FILE...]              the files' lines (or stdin's) as TAP comments
#   tap_include ["prefix"]      another program's TAP on stdin, counted as this suite's
#   tap_passfail "prefix" ["other"]  a checker's "PASS what" / "FAIL what" / "SKIP what # why" lines on stdin
export LC_ALL=C
tap_n=0
tap_failed=0

pass() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }

fail() {
	tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
	if [ $# -gt 1 ]; then printf '%s\n' "$2" | head -40 | sed 's/^/#   /'; fi
	return 0
}

skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }

# skip_prereq "what" "why": a check that cannot run because a prerequisite is missing (a
# tool, root, a dependency build).  A SKIP on a developer's machine; under CI (CI set, not
# "false" or "0"), where scripts/install-deps --test has installed everything, a failure:
# a SKIP there would be a check that cannot fail.  A check left out by design (a variant
# it does not apply to) uses skip.
skip_prereq() {
	case ${CI:-} in
	"" | false | 0) skip "$1" "$2" ;;
	*) fail "$1" "$2 (CI=$CI: a missing prerequisite is a failure, not a SKIP)" ;;
	esac
}

diag() { sed 's/^/#   /' "$@"; }

ok() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$what"; else fail "$what" "$out"; fi
}
check() { ok "$@"; }
ok_rc() {
	if [ "$1" = 0 ]; then pass "$2"; else fail "$2" "${3:-}"; fi
}

is() {
	if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "$(printf 'got:  %s\nwant: %s' "$1" "$2")"; fi
}

like() {
	if printf '%s' "$1" | grep -qF -- "$2"; then pass "$3"; else fail "$3" "$(printf 'in:   %s\nwant: %s' "$1" "$2")"; fi
}

# tap_include [PREFIX]: read TAP from stdin (a C or JS test program's, another suite's) and
# print its checks renumbered as this suite's, PREFIX before each name; SKIPs stay SKIPs,
# its plan is dropped, other lines pass through.  Sets tap_included_failed: its "not ok"s.
tap_include() {
	local line re='^(not ok|ok) [0-9]+( - | |$)(.*)$'
	tap_included_failed=0
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			tap_n=$((tap_n + 1))
			if [ "${BASH_REMATCH[1]}" = "not ok" ]; then
				tap_failed=$((tap_failed + 1)) tap_included_failed=$((tap_included_failed + 1))
			fi
			echo "${BASH_REMATCH[1]} $tap_n - ${1:-}${BASH_REMATCH[3]}"
		elif ! [[ $line =~ ^1\.\.[0-9]+$ ]]; then
			printf '%s\n' "$line"
		fi
	done
}

# tap_passfail PREFIX [OTHER]: a checker's lines on stdin, "PASS what", "FAIL what" and
# "SKIP what # why", as checks named PREFIX + what.  Any other line is a failure named OTHER + line, or, without
# OTHER, a comment.
tap_passfail() {
	local line
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass "$1${line#PASS }" ;;
		"FAIL "*) fail "$1${line#FAIL }" ;;
		"SKIP "*" # "*) line=${line#SKIP }; skip "$1${line%% # *}" "${line#* # }" ;;
		*) if [ $# -gt 1 ]; then fail "$2$line"; else echo "# $line"; fi ;;
		esac
	done
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
	exit $?
}
