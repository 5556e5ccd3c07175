#!/usr/bin/env bash
# goose's own parser corpus through `goslingc parse`, byte for byte (tests/corpus.py).
set -u
cd "$(dirname "$0")/.."
exec python3 tests/corpus.py
