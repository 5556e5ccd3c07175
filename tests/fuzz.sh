#!/usr/bin/env bash
# tests/fuzz.sh - the libFuzzer targets: replay every committed regression, then
# fuzz each target for a CI budget and report libFuzzer's final stats.
#
#   FUZZ_SECONDS=60      seconds per target (libFuzzer -max_total_time)
#   FUZZ_CORPUS=DIR      keep the growing corpus in DIR/<target> (default: a temp dir)
#   FUZZ_TARGETS="parse" the targets to run (default: all: goose parse lambda secret)
#
# goose is parse's goose-level half linked without libpg_query (tests/fuzz/fuzz_goose.c):
# it shares parse's seeds, dictionary and committed regressions.
#
# A crash leaves its input in build/fuzz/crashes/<target>/; fix the bug, then
# commit the input as tests/fuzz/regressions/<target>/<name> so it is replayed.
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
root=$PWD
seconds=${FUZZ_SECONDS:-60}
targets=(${FUZZ_TARGETS:-goose parse lambda secret})
tmp=$(mktemp -d)
# leaks inside third-party libraries, each explained in the file (tests/asan.sh's too)
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0
trap 'rm -rf "$tmp"' EXIT

if ! command -v clang >/dev/null; then
	skip_prereq "fuzz targets" "clang is not installed (scripts/install-deps --test)"
	done_testing
fi
builds=()
for t in "${targets[@]}"; do builds+=("build/fuzz/fuzz_$t"); done
if ! out=$(ninja "${builds[@]}" 2>&1); then
	fail "build the fuzz targets" "$out"
	done_testing
fi
pass "build the fuzz targets (${targets[*]})"

# seed_parse DIR: goose's parser corpus, the compiler's and the lint's cases, the shipped migrations.
seed_parse() {
	local n=0 f
	if [ -d ../shared/goose-corpus ]; then
		while IFS= read -r f; do
			n=$((n + 1)); cp "$f" "$1/goose-$n.sql"
		done < <(find ../shared/goose-corpus -name '*.sql' | sort)
	fi
	cp tests/compiler/cases/*.sql migrations/*.sql "$1/"
	for f in tests/lint/*.sql tests/lint/*/*.sql; do cp "$f" "$1/lint-$(echo "$f" | tr / -)"; done
}

# seed_goose DIR: parse's seeds.
seed_goose() {
	seed_parse "$1"
}

# seed_lambda DIR: /next responses (headers, then the event), tests/fuzz/seeds/lambda.
seed_lambda() {
	cp tests/fuzz/seeds/lambda/* "$1/"
}

# seed_secret DIR: SecretStrings (the shapes tests/credentials.sh serves) and whole
# GetSecretValue answers (*.http), tests/fuzz/seeds/secret.
seed_secret() {
	cp tests/fuzz/seeds/secret/* "$1/"
}

for t in "${targets[@]}"; do
	bin=$root/build/fuzz/fuzz_$t
	data=$t	# the regressions and dictionary (goose shares parse's)
	[ "$t" = goose ] && data=parse

	# --- regressions: each committed crash input runs clean ------------------
	regs=(tests/fuzz/regressions/"$data"/*)
	if [ -e "${regs[0]}" ]; then
		if out=$("$bin" -runs=0 "${regs[@]}" 2>&1); then
			pass "$t: ${#regs[@]} regression input(s) replay clean"
		else
			fail "$t: regression inputs replay clean" "$(tail -n 30 <<<"$out")"
		fi
	else
		skip "$t: regression inputs replay clean" "none committed"
	fi

	# --- a CI-sized run -------------------------------------------------------
	corpus=${FUZZ_CORPUS:+$FUZZ_CORPUS/$t}
	corpus=${corpus:-$tmp/corpus-$t}
	mkdir -p "$corpus" "$tmp/seed-$t" build/fuzz/crashes/"$t"
	"seed_$t" "$tmp/seed-$t"
	log=$tmp/$t.log
	dict=()
	[ -f tests/fuzz/$data.dict ] && dict=(-dict="$root/tests/fuzz/$data.dict")
	(cd "$tmp" && "$bin" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=1024 \
		-timeout=10 -max_len=16384 -artifact_prefix="$root/build/fuzz/crashes/$t/" \
		"$corpus" "$tmp/seed-$t" >"$log" 2>&1)
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log")
	per_sec=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log")
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
	if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
		pass "$t: ${seconds}s clean, ${execs:-?} runs, ${per_sec:-?} execs/s, cov ${cov:-?} ft ${ft:-?}"
	else
		fail "$t: ${seconds}s fuzzing run clean (exit $rc)" \
			"$(grep -E 'ERROR|SUMMARY|Test unit written|^    #[0-9]' "$log" | head -n 30)"
	fi
done

done_testing
