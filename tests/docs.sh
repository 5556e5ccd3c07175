#!/usr/bin/env bash
# tests/docs.sh - the README and docs/ against the code they describe (tests/docs/check.py):
# the README's length, every relative link and anchor, docs/commands.md's settings table
# against `gosling settings --json`, docs/testing.md's bad-input rows against
# tests/badinput.sh.  Then the same checker on copies broken on purpose: each must fail
# naming the problem.
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build/gosling settings --json >"$tmp/settings.json" || fail "gosling settings --json"

# The checker's lines as TAP.
tests/docs/check.py "$root" "$tmp/settings.json" >"$tmp/out" 2>&1
tap_passfail "" "docs checker: " <"$tmp/out"
[ -s "$tmp/out" ] || fail "docs checker printed nothing"

# broken NAME FILE PERL-EXPR WANT: a copy with FILE edited by PERL-EXPR must fail with WANT.
broken() {
	local name=$1 file=$2 expr=$3 want=$4 copy=$tmp/copy out
	rm -rf "$copy"
	mkdir -p "$copy/tests"
	cp -a README.md docs "$copy/"
	cp tests/badinput.sh "$copy/tests/"
	perl -0pi -e "$expr" "$copy/$file"
	if cmp -s "$copy/$file" "$root/$file"; then
		fail "broken on purpose: $name (the edit changed nothing)"
		return
	fi
	out=$(tests/docs/check.py "$copy" "$tmp/settings.json" 2>&1)
	if [ $? -ne 0 ] && grep -qF -- "$want" <<<"$out"; then
		pass "broken on purpose: $name"
	else
		fail "broken on purpose: $name" "$out"
	fi
}
broken "a setting missing from the settings table" docs/commands.md \
	's/^\| `--lock-wait` .*\n//m' "setting --lock-wait (GOSLING_LOCK_WAIT) is not in"
broken "a wrong default in the settings table" docs/commands.md \
	's/^(\| `--lock-wait` \| `GOSLING_LOCK_WAIT` \| )`60`/$1`30`/m' "the table's default is \`30\`"
broken "a setting documented that does not exist" docs/commands.md \
	's/^(\| `--lock-wait` .*\n)/$1| `--no-such` | `GOSLING_NO_SUCH` | — | x |\n/m' "documents --no-such, which is not a setting"
broken "a link to a page that does not exist" README.md \
	's/\(docs\/checksums\.md\)/(docs\/checksum.md)/' "links to docs/checksum.md, which does not exist"
broken "a link to a heading that does not exist" docs/benchmarks.md \
	's/\(#cold-start\)/(#cold-starts)/' "has no heading #cold-starts"
broken "a README longer than 200 lines" README.md \
	's/\z/\n\n/; $_ .= "filler\n" x 200' "more than 200"
broken "a bad-input row naming no test" docs/testing.md \
	's/\| a dangling symlink \|$/| a dangling link |/m' "'a dangling link' names no test"

done_testing
