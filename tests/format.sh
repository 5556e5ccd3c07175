#!/usr/bin/env bash
# tests/format.sh - the one house style (.clang-format at the root): every C source and
# header of compiler/, runtime/, common/ and tests/unit/ is as clang-format leaves it.
# clang-format 14 is Debian 12's: another version formats a few constructs differently,
# so the check uses clang-format-14 by name.  Prints TAP.
#
# To fix: clang-format-14 -i <file>.  Tables laid out by hand may sit between
# "/* clang-format off */" and "/* clang-format on */".
cd "$(dirname "$0")/.."
. tests/lib/tap.sh

cf=$(command -v clang-format-14)
if [ -z "$cf" ]; then
	skip_prereq "clang-format over compiler/ runtime/ common/ tests/unit/" "clang-format-14 is not installed"
	done_testing
fi

for d in compiler runtime common tests/unit; do
	files=$(git ls-files -- "$d/*.c" "$d/*.h")
	if [ -z "$files" ]; then
		fail "$d: has C files to check" "git ls-files found none"
		continue
	fi
	# --dry-run --Werror: one "file:line:col: error: code should be clang-formatted" per
	# place, and a non-zero exit; nothing is written
	out=$(printf '%s\n' $files | xargs "$cf" --dry-run --Werror 2>&1)
	ok_rc $? "$d: $(printf '%s\n' $files | wc -l) files are clang-formatted" \
		"$(printf '%s\n' "$out" | grep -oE '^[^ :]+\.[ch]:[0-9]+' | sort -u | head -20)"
done

# the check can fail: a file laid out against the style is caught
t=$(mktemp --suffix=.c)
printf 'int\nf(void) { return 1; }\n' >"$t"
if "$cf" --style=file:.clang-format --dry-run --Werror "$t" >/dev/null 2>&1; then
	fail "a file against the style is reported" "clang-format accepted $t"
else
	pass "a file against the style is reported"
fi
rm -f "$t"
done_testing
