#!/usr/bin/env bash
# tests/sigv4.sh - SigV4 (runtime/sigv4.c), as TAP:
#   1. build/tests/test_sigv4: AWS's SigV4 test suite byte for byte, plus the
#      published RDS IAM token and presigned URL examples;
#   2. tests/sigv4/crosscheck.js: random requests signed by sigv4.c (through
#      build/tests/sigv4-tool) and by the AWS JS SDK, which `npm ci` installs
#      into tests/sigv4/node_modules from the committed package-lock.json.
#      Skipped when node or npm is missing.
#
#   SIGV4_SUITE=dir   the test suite (default ../shared/sigv4-test-suite)
#   SIGV4_SEED=n      the cross-check's seed (default 20150830)
#   SIGV4_COUNT=n     random signed requests (default 200; plus n/4 presigned, n/10 RDS tokens)
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh

suite=${SIGV4_SUITE:-../shared/sigv4-test-suite}

rc=0
out=$(build/tests/test_sigv4 "$suite" 2>&1) || rc=$?
tap_include <<<"$out"
[ "$rc" -eq 0 ] || [ "$tap_included_failed" -gt 0 ] || fail "build/tests/test_sigv4 exited $rc without reporting a failure"

dir=tests/sigv4
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	skip_prereq "js sdk cross-check" "node missing"
else
	# Reinstall only when the lock file changed since the last install.
	if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
	   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		if ! log=$(cd "$dir" && npm ci --no-audit --no-fund 2>&1); then
			fail "npm ci in $dir" "$log"
			done_testing
		fi
	fi
	rc=0
	out=$(node "$dir/crosscheck.js" build/tests/sigv4-tool --seed "${SIGV4_SEED:-20150830}" \
		--count "${SIGV4_COUNT:-200}" 2>&1) || rc=$?
	tap_include <<<"$out"
	[ "$rc" -eq 0 ] || [ "$tap_included_failed" -gt 0 ] || fail "tests/sigv4/crosscheck.js exited $rc without reporting a failure"
fi
done_testing
