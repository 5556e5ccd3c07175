#!/usr/bin/env bash
# Unit tests (cmocka, built with ASan + UBSan by build.ninja), printed as TAP.
set -u
cd "$(dirname "$0")/.."
export CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
rc=0
for t in build/tests/unit-*; do
	[ -x "$t" ] || continue
	"$t" || rc=1
done
exit $rc
