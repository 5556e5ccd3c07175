#!/usr/bin/env bash
# tests/bench/dataapi.sh - the RDS Data API benchmark (issue 18), on demand: not part of tests/run,
# as no benchmark is.  apply.py's generated migrations (a table, an index, three inserts each) are
# applied with `gosling up` over the local Data API stand-in (tests/rdsdata/data_api.js, HTTPS,
# SigV4 checked) with a simulated latency per call, beside libpq through latency_proxy.py calibrated
# to the same round trip, libpq direct, and psql sending the same SQL as one query (the baseline),
# all against one throwaway PostgreSQL (tests/lib/pg.sh); tests/bench/dataapi.py says what is
# counted (calls by operation from the stand-in's log, SQL sent, the issue's bound).
#
#   tests/bench/dataapi.sh                 N = 100 and 1,000, 3 rounds each, 20 ms per call: the
#                                          figures, to tests/bench/results/dataapi.{md,csv} (minutes)
#   tests/bench/dataapi.sh --self-check    N = 10 and 40, one round, 20 ms, to build/bench/dataapi-check,
#                                          the results checked and printed as TAP (under a minute)
#   ... --sizes 100,1000 --reps 3,1 --latency-ms 20    other sizes, rounds, latency
# Needs node and npm (tests/rdsdata's pg, tests/sigv4's signer, as tests/dataapi.sh), openssl, psql.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
export LC_ALL=C

sizes=100,1000 reps=3,3 lat=20 out=tests/bench/results check=()
while [ $# -gt 0 ]; do
	case $1 in
	--self-check) sizes=10,40 reps=1,1 out=build/bench/dataapi-check check=(--check) ;;
	--sizes) sizes=$2; shift ;;
	--reps) reps=$2; shift ;;
	--latency-ms) lat=$2; shift ;;
	*) echo "usage: tests/bench/dataapi.sh [--self-check] [--sizes N,N] [--reps R,R] [--latency-ms MS]" >&2; exit 2 ;;
	esac
	shift
done

ninja >&2
nodedir=$ROOT/build/rdsdata-node
if ! cmp -s tests/rdsdata/package-lock.json "$nodedir/package-lock.json" || [ ! -d "$nodedir/node_modules/pg" ]; then
	mkdir -p "$nodedir" && cp tests/rdsdata/package.json tests/rdsdata/package-lock.json "$nodedir/"
	(cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
[ -f tests/sigv4/node_modules/.package-lock.json ] || (cd tests/sigv4 && npm ci --no-audit --no-fund >&2)
export NODE_PATH=$nodedir/node_modules

. tests/lib/pg.sh
. tests/lib/fakes.sh
T=$(mktemp -d /tmp/gosling-dabench.XXXXXX)
ca ca && cert ca server DNS:localhost
pg_start
trap fakes_cleanup EXIT

echo "bench: $(uptime)" >&2
mkdir -p "$out"
python3 tests/bench/dataapi.py --out "$out" --work "$T" --sizes "$sizes" --reps "$reps" --latency-ms "$lat" \
	--ca "$T/ca.crt" --key "$T/server.key" --cert "$T/server.crt" "${check[@]}"
