#!/usr/bin/env bash
# tests/artifact-arm64-lambda.sh - tests/lambda.sh against the arm64 bootstrap's build (`ninja dist`:
# build/dist/aarch64/libgosling-runtime.a, static deps), each program run under qemu-aarch64.
# See tests/lib/gosling.sh.  Prints TAP.
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
ninja dist >/dev/null || { fail "ninja dist"; done_testing; }
command -v qemu-aarch64 >/dev/null || { skip_prereq "arm64 lambda suite" "qemu-aarch64 not installed"; done_testing; }
GOSLING_TEST_ARCH=aarch64 exec tests/lambda.sh
