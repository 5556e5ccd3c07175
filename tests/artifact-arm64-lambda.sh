#!/usr/bin/env bash
# tests/artifact-arm64-lambda.sh - tests/lambda.sh against the arm64 bootstrap's build (`ninja dist`:
# build/dist/aarch64/libgosling-runtime.a, static deps), each program run under qemu-aarch64.
# See tests/lib/gosling.sh.  Prints TAP.
cd "$(dirname "$0")/.."
ninja dist >/dev/null || { echo "Bail out! ninja dist failed"; exit 1; }
command -v qemu-aarch64 >/dev/null || { echo "ok 1 - arm64 lambda suite # SKIP qemu-aarch64 not installed"; echo 1..1; exit 0; }
GOSLING_TEST_ARCH=aarch64 exec tests/lambda.sh
