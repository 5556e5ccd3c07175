# tests/lib/gosling.sh - link a gosling of a test's own bundle, for the build under test.
#
#   . tests/lib/gosling.sh
#   gosling_link OUT BUNDLE.c     # OUT runs like build/gosling
#   run BIN DB ARGS...            # BIN on database DB: rc, out, err, ms (and start/finish:
#                                 # the same in the background); mig, mkbin, rows, ...: below
#
# GOSLING_TEST_ARCH picks the build the suites exercise:
#   (unset), host   build/libgosling-runtime.a with the system's shared libpq, jansson, curl
#   x86_64          the `ninja dist` bootstrap's objects (build/dist/x86_64/libgosling-runtime.a)
#                   linked statically against build/deps/x86_64, as build/dist/x86_64/bootstrap is
#   aarch64         the same for arm64, cross-compiled; OUT is a wrapper that runs the arm64
#                   program (OUT.aarch64) under qemu-aarch64 (scripts/qemu-arm64)
#   asan            build/asan/libgosling-runtime.a (`ninja asan`: AddressSanitizer with
#                   LeakSanitizer, and UBSan), and build/asan/goslingc as GOSLINGC
# The dist variants need `ninja dist` first.  GOSLING_TEST_ARCH_NAME says which in test names.
# GOSLINGC is the compiler the suites run (build/goslingc unless set or asan).
GOSLING_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GOSLING_TEST_ARCH=${GOSLING_TEST_ARCH:-host}
GOSLING_SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
case $GOSLING_TEST_ARCH in
host) GOSLING_TEST_ARCH_NAME= ;;
x86_64) GOSLING_TEST_ARCH_NAME="x86_64 static bootstrap: " ;;
aarch64) GOSLING_TEST_ARCH_NAME="arm64 bootstrap under qemu: " ;;
asan)
	GOSLING_TEST_ARCH_NAME="asan: "
	GOSLINGC=${GOSLINGC:-$GOSLING_ROOT/build/asan/goslingc}
	;;
*) echo "Bail out! GOSLING_TEST_ARCH=$GOSLING_TEST_ARCH (host, x86_64, aarch64 or asan)"; exit 2 ;;
esac
GOSLINGC=${GOSLINGC:-$GOSLING_ROOT/build/goslingc}

# gosling_untraced_env: env(1) arguments for a program run under ptrace (strace), where
# LeakSanitizer cannot work and would fail the run; nothing for the other builds.
gosling_untraced_env() {
	[ "$GOSLING_TEST_ARCH" = asan ] && printf '%s\n' "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0"
	return 0
}

# gosling_deps_libs ARCH: build/deps/ARCH/libs.txt with absolute archive paths
gosling_deps_libs() {
	local f
	for f in $(cat "$GOSLING_ROOT/build/deps/$1/libs.txt"); do
		case $f in build/*) printf '%s ' "$GOSLING_ROOT/$f" ;; *) printf '%s ' "$f" ;; esac
	done
}

gosling_link() {
	local out=$1 src=$2
	case $GOSLING_TEST_ARCH in
	host)
		cc -std=c11 -I"$GOSLING_ROOT/common" -o "$out" "$src" "$GOSLING_ROOT/build/libgosling-runtime.a" \
			-lpq -ljansson -lcurl -lcrypto
		;;
	asan)
		# shellcheck disable=SC2086
		cc -std=c11 $GOSLING_SANFLAGS -I"$GOSLING_ROOT/common" -o "$out" "$src" \
			"$GOSLING_ROOT/build/asan/libgosling-runtime.a" -lpq -ljansson -lcurl -lcrypto
		;;
	x86_64)
		# shellcheck disable=SC2046
		gcc -std=c11 -I"$GOSLING_ROOT/common" -o "$out" "$src" \
			"$GOSLING_ROOT/build/dist/x86_64/libgosling-runtime.a" $(gosling_deps_libs x86_64)
		;;
	aarch64)
		# shellcheck disable=SC2046
		aarch64-linux-gnu-gcc -std=c11 -I"$GOSLING_ROOT/common" -o "$out.aarch64" "$src" \
			"$GOSLING_ROOT/build/dist/aarch64/libgosling-runtime.a" $(gosling_deps_libs aarch64) &&
			printf '#!/bin/sh\nexec %s %s "$@"\n' "$GOSLING_ROOT/scripts/qemu-arm64" "$out.aarch64" >"$out" &&
			chmod +x "$out"
		;;
	esac
}

# --- helpers the database suites share ------------------------------------------------
# T is the suite's scratch folder (pg_start, then T=$PG_TMP/t and mkdir -p "$T").

# run BIN DB ARGS...: run gosling (BIN) on database DB and wait; sets rc, out (stdout),
# err (stderr) and ms (wall time).
run() {
	local bin=$1 db=$2 t0
	shift 2
	t0=$(date +%s%3N)
	set +e
	DB_NAME=$db "$bin" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	ms=$(($(date +%s%3N) - t0))
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# start BIN DB ARGS...: run gosling on DB in the background (its pid in bg); finish waits
# for it and sets rc, out and err as run does.
start() {
	local bin=$1 db=$2
	shift 2
	DB_NAME=$db "$bin" "$@" >"$T/out" 2>"$T/err" &
	bg=$!
}
finish() {
	set +e
	wait "$bg"
	rc=$?
	set -e
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# mig DIR FILE: write stdin as DIR/FILE (a migration)
mig() { mkdir -p "$1" && cat >"$1/$2"; }

# mkbin DIR: compile DIR's migrations into DIR/gosling (for GOSLING_TEST_ARCH)
mkbin() { "$GOSLINGC" build --quiet --out "$1/bundle.c" "$1" && gosling_link "$1/gosling" "$1/bundle.c"; }

# rows DB: the versions in gosling's history, comma-separated; has_table DB NAME: t or f
rows() { psql_q "$1" "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM gosling_migrations"; }
has_table() { psql_q "$1" "SELECT to_regclass('$2') IS NOT NULL"; }

# mig_runs DIR N: the concurrency fixture: 000001 creates table runs (slowly), then
# migrations 2..N each insert their own version, so "each applied once" is a count.
mig_runs() {
	local i
	for i in $(seq 2 "$2"); do
		mig "$1" "$(printf '%06d' "$i")_r.sql" <<<"-- +goose Up
INSERT INTO runs VALUES ($i);
SELECT pg_sleep(0.01);"
	done
	mig "$1" 000001_runs.sql <<<'-- +goose Up
CREATE TABLE runs (v int);
SELECT pg_sleep(0.2);'
}
