#!/usr/bin/env bash
# tests/bench/fleet.sh - the fleet benchmark (issue 19), on demand: not part of tests/run, as
# no benchmark is.  It migrates, then verifies head-only, N tenant schemas of one throwaway
# PostgreSQL (tests/lib/pg.sh), one invocation per target through the local Runtime API,
# several bootstraps at once, as a Step Functions Distributed Map drives the function
# (tests/bench/fleet.py says how, and what is measured).
#
#   tests/bench/fleet.sh                N = 100, 300 and 1,000, 4 at once, 3 rounds: the figures,
#                                       to tests/bench/results/fleet.{md,csv} (about 7 minutes)
#   tests/bench/fleet.sh --quick        N = 50 and 100, one round, to build/bench/fleet-quick
#   tests/bench/fleet.sh --self-check   N = 10 and 20, 2 at once, to build/bench/fleet-check,
#                                       the results checked and printed as TAP (seconds)
#   ... --sizes 100,1000 --concurrency 8 --reps 5   other sizes (the first is the ratios'
#                                       baseline), bootstraps at once, rounds
set -eu
cd "$(dirname "$0")/../.."
export LC_ALL=C

sizes=100,300,1000 conc=4 reps=3 out=tests/bench/results check=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) sizes=50,100 reps=1 out=build/bench/fleet-quick ;;
	--self-check) sizes=10,20 conc=2 reps=1 out=build/bench/fleet-check check=(--check) ;;
	--sizes) sizes=$2; shift ;;
	--concurrency) conc=$2; shift ;;
	--reps) reps=$2; shift ;;
	*) echo "usage: tests/bench/fleet.sh [--quick | --self-check] [--sizes N,N,...] [--concurrency C] [--reps R]" >&2; exit 2 ;;
	esac
	shift
done

ninja >&2
# Every connection and every top-level statement in the server's log: what a target costs.
PG_OPTS="-c log_connections=on -c log_statement=all"
. tests/lib/pg.sh
. tests/lib/gosling.sh
pg_start
T=$PG_TMP/t
mkdir -p "$T"
"$GOSLINGC" build --quiet --out "$T/bundle.c" tests/bench/fleet && gosling_link "$T/gosling" "$T/bundle.c"
echo "bench: $(uptime)" >&2
python3 tests/bench/fleet.py --bin "$T/gosling" --server-log "$PG_TMP/server.log" --work "$T" \
	--out "$out" --sizes "$sizes" --concurrency "$conc" --reps "$reps" "${check[@]}"
