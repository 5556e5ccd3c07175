#!/usr/bin/env bash
# tests/unit.sh - the unit tests (tests/unit/test_*.c: cmocka, built with ASan + UBSan by
# build.ninja as build/tests/unit-*), each program's TAP counted as this suite's.
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
export CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
for t in build/tests/unit-*; do
	[ -x "$t" ] || continue
	rc=0
	out=$("$t" 2>&1) || rc=$?
	tap_include <<<"$out"
	[ "$rc" -eq 0 ] || [ "$tap_included_failed" -gt 0 ] || fail "$t exited $rc without reporting a failure"
done
[ "$tap_n" -gt 0 ] || fail "no unit test program in build/tests (ninja build/tests)"
done_testing
