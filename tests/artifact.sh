#!/usr/bin/env bash
# tests/artifact.sh - the Lambda artifacts `ninja dist` builds (DESIGN.md, "The deployable
# artifact"): build/dist/{x86_64,aarch64}/bootstrap and build/dist/gosling-{x86_64,arm64}.zip.
#
#   - both bootstraps: the right machine, NEEDED only libc.so.6 (and the loader), the
#     standard interpreter, no dynamic symbol newer than GLIBC_2.34 (Amazon Linux 2023)
#   - the zips: one entry, bootstrap at the root, mode 0755, the zip epoch as date, the
#     printed filebase64sha256 right; rebuilt from scratch (rm -rf build/dist), the same bytes
#   - the x86_64 bootstrap in an empty root (a chroot with only the bootstrap, the loader and
#     libc) applies migrations/ over TCP to 127.0.0.1; with sslmode=verify-full it finds
#     Amazon Linux's /etc/pki/tls/certs/ca-bundle.crt, or a CA bundle compiled in
#   - the arm64 bootstrap under qemu-aarch64 applies migrations/ (up, idempotent up, status,
#     verify, drift) and answers a {} event through the local Runtime API
# The engine and Lambda suites under qemu are tests/artifact-arm64-*.sh.  Prints TAP.
# Needs root for chroot (skipped otherwise).  A cold build of the deps takes minutes.
cd "$(dirname "$0")/.."
ROOT=$PWD
MAX_GLIBC=2.34
ARM=("$ROOT/scripts/qemu-arm64")
T=$(mktemp -d /tmp/gosling-artifact.XXXXXX)
chmod 755 "$T"

. tests/lib/pg.sh	# and tests/lib/tap.sh
set +e
trap 'rm -rf "$T"' EXIT

# --- build ----------------------------------------------------------------------
if ninja dist >"$T/ninja.log" 2>&1; then
	pass "ninja dist builds both bootstraps and zips"
else
	fail "ninja dist builds both bootstraps and zips" "$(tail -30 "$T/ninja.log")"
	echo "Bail out! ninja dist failed"
	exit 1
fi
grep 'filebase64sha256' "$T/ninja.log" | sed 's/^/# /'

# ver_gt A B: version A is newer than B
ver_gt() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" = "$1" ] && [ "$1" != "$2" ]; }

# --- NEEDED, interpreter, GLIBC versions ----------------------------------------------
for arch in x86_64 aarch64; do
	exe=build/dist/$arch/bootstrap
	case $arch in
	x86_64) machine='Advanced Micro Devices X86-64' loader=ld-linux-x86-64.so.2 interp=/lib64/ld-linux-x86-64.so.2 ;;
	aarch64) machine=AArch64 loader=ld-linux-aarch64.so.1 interp=/lib/ld-linux-aarch64.so.1 ;;
	esac
	echo "# $arch: bootstrap $(stat -c %s "$exe") bytes, zip $(stat -c %s build/dist/gosling-${arch/aarch64/arm64}.zip) bytes"
	m=$(readelf -h "$exe" | awk -F: '/Machine:/{gsub(/^ +/, "", $2); print $2}')
	is "$m" "$machine" "$arch: bootstrap is an $machine executable"
	needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
	extra=$(for l in $needed; do [ "$l" = libc.so.6 ] || [ "$l" = "$loader" ] || echo "$l"; done | tr '\n' ' ')
	good=false
	[ -z "$extra" ] && [[ " $needed " == *" libc.so.6 "* ]] && good=true
	check "$arch: NEEDED is only libc.so.6 (and $loader): $needed" $good
	got_interp=$(readelf -l "$exe" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
	is "$got_interp" "$interp" "$arch: interpreter is $interp"
	vers=$( (readelf -V -W "$exe"; readelf --dyn-syms -W "$exe") | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV)
	newest=$(echo "$vers" | tail -1)
	too_new=$(for v in $vers; do ver_gt "$v" "$MAX_GLIBC" && echo "$v"; done | tr '\n' ' ')
	if [ -n "$too_new" ]; then
		fail "$arch: dynamic symbols need at most GLIBC_$MAX_GLIBC" "too new: $too_new"
	else
		pass "$arch: dynamic symbols need at most GLIBC_$MAX_GLIBC (newest GLIBC_$newest)"
	fi
	dyn=$(readelf --dyn-syms -W "$exe" | awk '$7 == "UND" && $8 != "" {print $8}' | grep -v '@GLIBC_' | grep -v '^_ITM\|^__gmon_start__\|^_ITM_' | head -5 | tr '\n' ' ')
	is "$dyn" "" "$arch: every undefined dynamic symbol is glibc's"
	like "$(file -b "$exe")" "stripped" "$arch: bootstrap is stripped (symbols in bootstrap.debug)"
done

# --- the zips -----------------------------------------------------------------------------
b64sha() { openssl dgst -sha256 -binary "$1" | base64; }
for z in x86_64:x86_64 aarch64:arm64; do
	arch=${z%%:*} zip=build/dist/gosling-${z#*:}.zip
	listing=$(python3 - "$zip" <<-'PY'
		import sys, zipfile
		for i in zipfile.ZipFile(sys.argv[1]).infolist():
		    print(i.filename, oct(i.external_attr >> 16), i.create_system, i.date_time, i.compress_type, len(i.extra))
	PY
	)
	is "$listing" "bootstrap 0o100755 3 (1980, 1, 1, 0, 0, 0) 8 0" "$zip: one entry, bootstrap at the root, mode 0755, fixed date, deflated"
	ok "$zip: its bootstrap is build/dist/$arch/bootstrap" sh -c "unzip -p '$zip' bootstrap | cmp - build/dist/$arch/bootstrap"
	is "$(cat "$zip.base64sha256")" "$(b64sha "$zip")" "$zip.base64sha256 is the zip's base64 SHA-256 (filebase64sha256)"
	cp "$zip" "$T/first-${z#*:}.zip"
done
rm -rf build/dist
if ninja dist >"$T/ninja2.log" 2>&1; then
	pass "ninja dist rebuilds from scratch (rm -rf build/dist)"
else
	fail "ninja dist rebuilds from scratch (rm -rf build/dist)" "$(tail -20 "$T/ninja2.log")"
fi
for n in x86_64 arm64; do
	ok "gosling-$n.zip rebuilt is byte-identical ($(b64sha "$T/first-$n.zip"))" cmp "$T/first-$n.zip" "build/dist/gosling-$n.zip"
	like "$(cat "$T/ninja2.log")" "gosling-$n.zip: " "the build prints gosling-$n.zip's size and filebase64sha256"
done

# --- PostgreSQL, with TLS (a CA of our own, the server's certificate for 127.0.0.1) ----------
C=$T/tls
mkdir -p "$C"
(
	cd "$C" &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gosling-test-ca -keyout ca.key -out ca.pem &&
		openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr &&
		printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out server.crt
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; echo "Bail out! openssl failed"; exit 1; }
chmod 600 "$C/server.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$C"
PG_OPTS="-c ssl=on -c ssl_cert_file=$C/server.crt -c ssl_key_file=$C/server.key"
pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
trap 'pg_stop; rm -rf "$T"' EXIT
has_tables() { psql_q "$1" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN
	('patient_mapping', 'test_type', 'supplier', 'la_supplier_offering', 'test_order', 'status_type',
	 'order_status', 'result_type', 'result_status', 'gosling_migrations')"; }
history() { psql_q "$1" "SELECT string_agg(version::text, ',' ORDER BY version) FROM gosling_migrations"; }

# --- the x86_64 bootstrap in an empty root ---------------------------------------------------
# cr DB ARGS...: run /bootstrap in $R with nothing in the environment but the settings given
cr() {
	local db=$1
	shift
	env -i PATH=/ DB_HOST=127.0.0.1 DB_PORT="$PGPORT" DB_USER=postgres DB_NAME="$db" ${CR_ENV:-} \
		"$CHROOT" "$R" /bootstrap "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out") err=$(cat "$T/err")
}
R=$T/root
CHROOT=$(command -v chroot)
if [ "$(id -u)" -ne 0 ]; then
	skip_prereq "x86_64 bootstrap in an empty root" "chroot needs root"
else
	mkdir -p "$R/lib64" "$R/lib/x86_64-linux-gnu"
	cp build/dist/x86_64/bootstrap "$R/bootstrap"
	cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
	cp -L /lib/x86_64-linux-gnu/libc.so.6 "$R/lib/x86_64-linux-gnu/"
	is "$(cd "$R" && find . -type f | sort | tr '\n' ' ')" \
		"./bootstrap ./lib/x86_64-linux-gnu/libc.so.6 ./lib64/ld-linux-x86-64.so.2 " \
		"empty root: only the bootstrap, the loader and libc"
	db=$(pg_newdb)
	cr "$db" up
	is "$rc" 0 "empty root: gosling up over TCP to 127.0.0.1 exits 0${err:+ ($err)}"
	is "$(has_tables "$db")" 10 "empty root: the HomeTest tables and the history exist"
	is "$(history "$db")" "1,2" "empty root: both migrations recorded"
	cr "$db" verify
	is "$rc" 0 "empty root: verify passes"
	cr "$db" up
	like "$out" "up: 0 migrations, version 2 -> 2" "empty root: a second up applies nothing"

	# TLS: verify-full with no sslrootcert and no system bundle fails; with Amazon Linux's
	# bundle path present it passes
	db=$(pg_newdb)
	CR_ENV=DB_SSLMODE=verify-full cr "$db" status
	is "$rc" 3 "empty root, verify-full, no CA anywhere: a connection error (exit 3)"
	like "$err" "root certificate file" "(libpq says it has no root certificate)"
	mkdir -p "$R/etc/pki/tls/certs"
	cp "$C/ca.pem" "$R/etc/pki/tls/certs/ca-bundle.crt"
	CR_ENV=DB_SSLMODE=verify-full cr "$db" up
	is "$rc" 0 "empty root, verify-full: finds Amazon Linux's /etc/pki/tls/certs/ca-bundle.crt${err:+ ($err)}"
	is "$(history "$db")" "1,2" "empty root, verify-full: migrations applied over TLS"
	rm -rf "$R/etc"

	# a bundle compiled in (GOSLING_CA_BUNDLE): written to a private file in /tmp, removed at exit
	if GOSLING_CA_BUNDLE=$C/ca.pem build/goslingc cacert --out "$T/cacert.c" &&
		gcc -c -o "$T/cacert.o" "$T/cacert.c" &&
		gcc -o "$T/bootstrap-ca" build/dist/x86_64/gen/bundle.o "$T/cacert.o" \
			build/dist/x86_64/libgosling-runtime.a $(sed "s|build/|$ROOT/build/|g" build/deps/x86_64/libs.txt); then
		pass "a bootstrap with the test CA compiled in links"
		cp "$T/bootstrap-ca" "$R/bootstrap"
		mkdir -m 1777 "$R/tmp"
		db=$(pg_newdb)
		CR_ENV=DB_SSLMODE=verify-full cr "$db" up
		is "$rc" 0 "empty root, verify-full: the compiled-in bundle verifies the server${err:+ ($err)}"
		is "$(history "$db")" "1,2" "empty root, compiled-in CA: migrations applied over TLS"
		is "$(ls -A "$R/tmp")" "" "the bundle's temp file is removed at exit"
		CR_ENV="DB_SSLMODE=verify-full DB_SSLROOTCERT=/nonexistent.pem" cr "$db" status
		like "$err" "nonexistent.pem" "an explicit sslrootcert still wins over the compiled-in bundle"
	else
		fail "a bootstrap with the test CA compiled in links"
	fi
fi

# --- the arm64 bootstrap under qemu --------------------------------------------------------
q() { # q DB ARGS...: the arm64 bootstrap under qemu on DB
	local db=$1
	shift
	DB_HOST=127.0.0.1 DB_NAME=$db "${ARM[@]}" build/dist/aarch64/bootstrap "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out") err=$(cat "$T/err")
}
if ! command -v qemu-aarch64 >/dev/null; then
	skip_prereq "arm64 bootstrap under qemu" "qemu-aarch64 not installed"
else
	db=$(pg_newdb)
	q "$db" status
	is "$rc" 0 "arm64 (qemu): status on an empty database"
	q "$db" up
	is "$rc" 0 "arm64 (qemu): up applies migrations/${err:+ ($err)}"
	is "$(has_tables "$db")" 10 "arm64 (qemu): the HomeTest tables and the history exist"
	is "$(psql_q "$db" "SELECT count(*) > 0 FROM supplier")" t "arm64 (qemu): the seed data is there"
	q "$db" up
	like "$out" "up: 0 migrations, version 2 -> 2" "arm64 (qemu): a second up applies nothing"
	q "$db" status --json
	is "$(jq -r '[.migrations[].state] | join(",")' <<<"$out")" "applied,applied" "arm64 (qemu): status --json"
	q "$db" verify
	is "$rc" 0 "arm64 (qemu): verify passes"
	psql_q "$db" "UPDATE gosling_migrations SET exec_checksum = 'sha256:x1:' || repeat('0', 64) WHERE version = 2" >/dev/null
	q "$db" verify
	is "$rc" 4 "arm64 (qemu): verify finds drift (exit 4)"
	like "$out$err" "000002_seed_home_test_data.sql" "arm64 (qemu): drift names the migration"
	q "$db" up
	is "$rc" 4 "arm64 (qemu): up refuses to run on drift"

	db=$(pg_newdb)
	printf '[{"body": {}}]' >"$T/events"
	PGDATABASE=$db PGHOST=127.0.0.1 python3 tests/lambda/runtime_api.py --events "$T/events" --log "$T/rapi.json" \
		--timeout 120 -- "${ARM[@]}" build/dist/aarch64/bootstrap 2>"$T/rapi.err"
	got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); i=d["invocations"][0]; print(i["kind"], (i["body"] or {}).get("ok"))' "$T/rapi.json" 2>&1)
	is "$got" "response True" "arm64 (qemu): a {} event through the local Runtime API answers ok"
	is "$(history "$db")" "1,2" "arm64 (qemu): the {} event applied migrations/"
fi

done_testing
