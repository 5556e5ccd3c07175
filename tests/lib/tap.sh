# tests/lib/tap.sh - TAP output for the shell suites.  Source it; end with done_testing,
# whose exit status is non-zero when any check failed.
#
#   ok "what" CMD [ARGS...]    passes when CMD succeeds (check is the same)
#   is "$got" "$want" "what"   passes when the strings are equal
#   like "$text" "fixed" "what" passes when text contains the fixed string
#   pass "what" / fail "what" ["detail"] / skip "what" "why"
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

ok() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$what"; else fail "$what" "$out"; fi
}
check() { ok "$@"; }

is() {
	if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "$(printf 'got:  %s\nwant: %s' "$1" "$2")"; fi
}

like() {
	if printf '%s' "$1" | grep -qF -- "$2"; then pass "$3"; else fail "$3" "$(printf 'in:   %s\nwant: %s' "$1" "$2")"; fi
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
	exit $?
}
