#!/usr/bin/env bash
# tests/asan.sh - the compiler and runtime suites again, on the sanitizer build.
#
# `ninja asan` builds goslingc, libgosling-runtime.a and gosling with
# -fsanitize=address,undefined -fno-sanitize-recover=all into build/asan/; this runs
#   tests/corpus.sh tests/compiler.sh tests/check.sh tests/lint.sh tests/badinput.sh
#                                                       with GOSLINGC=build/asan/goslingc
#   tests/engine.sh tests/lambda.sh tests/fleet.sh tests/leaks.sh tests/fault.sh tests/dataapi.sh
#                                                       tests/dataapi_fault.sh
#                                                       with GOSLING_TEST_ARCH=asan (each test's
#                                                       gosling linked against the ASan runtime)
# with LeakSanitizer on.  Every sanitizer report goes to a file (log_path), not to the
# program's stderr, so the suites' exact-output checks are unchanged, and the exit code
# of a program a report stopped is 86, never one of gosling's own codes; at the end each
# report file is a failure of its own, printed.  What cannot run under ASan is skipped
# by the suite, with the reason: valgrind (it cannot run ASan binaries; LSan does the
# leak check here) and ninja's incremental-rebuild checks (they build a scratch tree
# with the plain flags).  Prints TAP, renumbered, each name prefixed by its suite.
#
#   tests/asan.sh                 every suite above
#   tests/asan.sh engine lambda   only those
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh

ninja asan >&2 || { fail "ninja asan"; done_testing; }

R=$(mktemp -d /tmp/gosling-asan.XXXXXX)
trap 'rm -rf "$R"' EXIT
export GOSLING_TEST_ARCH=asan GOSLINGC=$PWD/build/asan/goslingc
export ASAN_OPTIONS="detect_leaks=1:exitcode=86:log_path=$R/asan:handle_abort=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:exitcode=86:log_path=$R/ubsan"
export LSAN_OPTIONS="exitcode=86:print_suppressions=0:suppressions=$PWD/tests/lsan.supp"

suites=(corpus compiler check lint badinput engine lambda fleet leaks fault dataapi dataapi_fault)
[ $# -gt 0 ] && suites=("$@")

for s in "${suites[@]}"; do
	[ -x "tests/$s.sh" ] || { fail "asan: no suite tests/$s.sh"; continue; }
	t0=$(date +%s)
	out=$(mktemp)
	"tests/$s.sh" >"$out" 2>"$R/$s.stderr"
	rc=$?
	# renumbered and prefixed: "ok 7 - x" -> "ok N - asan $s: x"; comments and details pass through
	tap_include "asan $s: " <"$out"
	if [ "$rc" -ne 0 ] && [ "$tap_included_failed" -eq 0 ]; then
		fail "asan $s: the suite exited $rc without reporting a failure"
		tail -20 "$R/$s.stderr" | diag
	fi
	rm -f "$out"
	echo "# asan $s: $(($(date +%s) - t0)) s"
done

# every sanitizer report is a failure, wherever the suite's checks let the exit code pass
reports=0
for f in "$R"/asan.* "$R"/ubsan.*; do
	[ -e "$f" ] || continue
	reports=$((reports + 1))
	fail "asan: sanitizer report $(basename "$f")"
	head -60 "$f" | diag
done
[ "$reports" -eq 0 ] && pass "asan: no AddressSanitizer, LeakSanitizer or UBSan report from any program"
done_testing
