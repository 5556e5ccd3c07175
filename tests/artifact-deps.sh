#!/usr/bin/env bash
# tests/artifact-deps.sh [ARCH...] - the static third-party libraries (scripts/build-deps) give
# a bootstrap that needs nothing but glibc <= 2.34 at run time.
#
# For each ARCH (default: x86_64 aarch64): builds the deps if missing (scripts/build-deps; a
# no-op when they are present), links tests/deps/hello.c with build/deps/$ARCH/libs.txt, runs
# it (aarch64 under qemu-aarch64), and checks NEEDED, the interpreter and the GLIBC symbol
# versions of the executable, plus every undefined symbol of every archive against the
# target's libc.so.6 (so code that hello does not pull in is covered too).
# TAP output; exits non-zero when a check failed.  A cold build takes minutes (see
# scripts/build-deps); if the deps are absent and cannot be built, the arch is skipped.
set -u
cd "$(dirname "$0")/.."

. tests/lib/tap.sh
MAX_GLIBC=2.34

# ver_gt A B: version A is newer than B
ver_gt() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" = "$1" ] && [ "$1" != "$2" ]; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64)

for arch in "${arches[@]}"; do
	case $arch in
	x86_64)
		cc=gcc loader=ld-linux-x86-64.so.2 interp=/lib64/ld-linux-x86-64.so.2
		machine='Advanced Micro Devices X86-64' libc=/lib/x86_64-linux-gnu/libc.so.6
		run=()
		;;
	aarch64)
		cc=aarch64-linux-gnu-gcc loader=ld-linux-aarch64.so.1 interp=/lib/ld-linux-aarch64.so.1
		machine=AArch64 libc=/usr/aarch64-linux-gnu/lib/libc.so.6
		run=(scripts/qemu-arm64)
		;;
	*) echo "Bail out! unknown arch $arch (x86_64 or aarch64)"; exit 2 ;;
	esac
	d=build/deps/$arch
	echo "# $arch"

	if ! scripts/build-deps "$arch" >"$tmp/build-$arch.log" 2>&1 || [ ! -f "$d/.stamp" ]; then
		sed 's/^/#   /' "$tmp/build-$arch.log" | tail -5
		skip_prereq "$arch: deps built" "scripts/build-deps $arch failed (no root/apt/network?)"
		continue
	fi
	pass "$arch: deps built (scripts/build-deps $arch)"

	libs=$(cat "$d/libs.txt")
	missing=
	for a in libpq libpgcommon_shlib libpgport_shlib libcurl libssl libcrypto libz libjansson; do
		[ -f "$d/lib/$a.a" ] || missing="$missing $a.a"
	done
	check "$arch: lib/ has every archive${missing:+ (missing:$missing)}" [ -z "$missing" ]
	others=$(find "$d/lib" -mindepth 1 ! -name '*.a' | tr '\n' ' ')
	check "$arch: lib/ holds static archives only${others:+ ($others)}" [ -z "$others" ]
	wrong=
	for a in "$d"/lib/*.a; do
		m=$(readelf -h "$a" 2>/dev/null | awk -F: '/Machine:/{gsub(/^ +/, "", $2); print $2}' | sort -u)
		[ "$m" = "$machine" ] || wrong="$wrong ${a##*/}($m)"
	done
	check "$arch: archives are $machine objects${wrong:+ (wrong:$wrong)}" [ -z "$wrong" ]

	gss=$(nm -u "$d/lib/libpq.a" "$d/lib/libcurl.a" 2>/dev/null |
		grep -E ' U (gss_|ldap_|krb5_|readline|u_|ucol_|idn2_|psl_|nghttp2_|libssh|ZSTD_|Brotli|BrotliDecoder)' |
		awk '{print $2}' | sort -u | head -5 | tr '\n' ' ')
	check "$arch: libpq/libcurl need no GSSAPI, LDAP, readline, ICU, idn2, psl, nghttp2, ssh, zstd, brotli${gss:+ ($gss)}" [ -z "$gss" ]

	# Every undefined symbol of every archive that the target glibc has only at > 2.34.
	readelf --dyn-syms -W "$libc" | awk '$7 != "UND" && $8 ~ /@@GLIBC_/ {split($8, p, "@@GLIBC_"); print p[1], p[2]}' |
		while read -r sym ver; do ver_gt "$ver" "$MAX_GLIBC" && echo "$sym"; done | sort -u >"$tmp/new-$arch"
	nm -u "$d"/lib/*.a 2>/dev/null | awk '{print $2}' | sort -u >"$tmp/und-$arch"
	new=$(comm -12 "$tmp/new-$arch" "$tmp/und-$arch" | tr '\n' ' ')
	check "$arch: no archive references a glibc symbol newer than GLIBC_$MAX_GLIBC${new:+ ($new)}" [ -z "$new" ]

	exe=$tmp/hello-$arch
	# shellcheck disable=SC2086
	if $cc -O2 $(cat "$d/cflags.txt") -o "$exe" tests/deps/hello.c $libs 2>"$tmp/link-$arch.log"; then
		pass "$arch: tests/deps/hello.c links with libs.txt"
	else
		sed 's/^/#   /' "$tmp/link-$arch.log" | head -20
		fail "$arch: tests/deps/hello.c links with libs.txt"
		continue
	fi
	echo "# $arch: hello is $(stat -c %s "$exe") bytes ($(du -k "$exe" | cut -f1) KiB)"

	needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
	extra=$(for l in $needed; do [ "$l" = libc.so.6 ] || [ "$l" = "$loader" ] || echo "$l"; done | tr '\n' ' ')
	good=false
	[ -z "$extra" ] && [[ " $needed " == *" libc.so.6 "* ]] && good=true
	check "$arch: NEEDED is only libc.so.6 (and $loader): $needed" $good
	got_interp=$(readelf -l "$exe" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
	check "$arch: interpreter is $interp ($got_interp)" [ "$got_interp" = "$interp" ]

	vers=$( (readelf -V -W "$exe"; readelf --dyn-syms -W "$exe") | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV)
	newest=$(echo "$vers" | tail -1)
	too_new=$(for v in $vers; do ver_gt "$v" "$MAX_GLIBC" && echo "$v"; done | tr '\n' ' ')
	if [ -n "$too_new" ]; then
		pat=$(echo $too_new | sed 's/\./\\./g; s/ /|/g')
		syms=$(readelf --dyn-syms -W "$exe" | grep -E "@GLIBC_($pat)( |$)" | awk '{print $8}' | tr '\n' ' ')
		fail "$arch: dynamic symbols need at most GLIBC_$MAX_GLIBC (too new: $too_new: $syms)"
	else
		pass "$arch: dynamic symbols need at most GLIBC_$MAX_GLIBC (newest GLIBC_$newest)"
	fi

	if [ ${#run[@]} -gt 0 ] && ! command -v "${run[0]}" >/dev/null; then
		skip_prereq "$arch: hello runs" "${run[0]} not installed"
		continue
	fi
	out=$(timeout -s KILL 120 "${run[@]}" "$exe" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/#   /'
	good=false
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | tail -1)" = OK ] && good=true
	check "$arch: hello runs${run:+ under ${run[*]}} and prints OK" $good
done

done_testing
