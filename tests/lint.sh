#!/usr/bin/env bash
# tests/lint.sh - the safety lint (compiler/lint.c), tested as data.
#
#   tests/lint/NAME.sql or tests/lint/NAME/   a migration, or a folder of them (one bundle)
#   tests/lint/NAME.expected                  the exact stderr of `goslingc lint NAME`
#
# Every rule of `goslingc lint --rules` has a case RULE (flagged: its expected output
# names the rule) and RULE.safe (the safe form: no finding at all).  Then: Down sections
# are never linted, build reports the same findings (--lint=warn|error|off, -W), --json,
# --sarif against OASIS's SARIF 2.1.0 schema, the rule table in docs/lint.md, gosling's
# own migrations/ and the goose corpus (the exact findings, none in a Down section).
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
G=${GOSLINGC:-$PWD/build/goslingc}	# tests/asan.sh: build/asan/goslingc
. tests/lib/corpus.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# python3 with jsonschema: Debian's python3-jsonschema (scripts/install-deps --test)
PY=python3
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null && PY=/usr/bin/python3

# --- the cases -------------------------------------------------------------------
for want in tests/lint/*.expected; do
	name=${want%.expected}
	src=$name.sql
	[ -d "$name" ] && src=$name
	want_rc=0
	grep -q ' \[[a-z-]*\]$' "$want" && want_rc=1
	rc=0
	"$G" lint "$src" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -eq "$want_rc" ] && cmp -s "$tmp/err" "$want"; then
		pass "$src: lint (exit $rc)"
	else
		fail "$src: lint (exit $rc, want $want_rc)" "$(diff -u "$want" "$tmp/err")"
	fi
done

# --- a flagged and a safe case per rule ---------------------------------------------
"$G" lint --rules >"$tmp/rules"
while IFS=$'\t' read -r rule why fix; do
	[ -n "$why" ] && [ -n "$fix" ] || fail "$rule has a why and a do-instead"
	if grep -q "\[$rule\]$" "tests/lint/$rule.expected" 2>/dev/null; then
		pass "$rule: the flagged case reports it"
	else
		fail "$rule: the flagged case reports it"
	fi
	if [ -f "tests/lint/$rule.safe.expected" ] && ! grep -q 'warning\|error' "tests/lint/$rule.safe.expected" &&
		grep -q '^goslingc: lint: 0 findings' "tests/lint/$rule.safe.expected"; then
		pass "$rule: the safe form is not reported"
	else
		fail "$rule: the safe form is not reported" "$(cat "tests/lint/$rule.safe.expected" 2>&1)"
	fi
	if grep -qF "| \`$rule\` | $why | $fix |" docs/lint.md; then
		pass "docs/lint.md has $rule's row, word for word"
	else
		fail "docs/lint.md has $rule's row, word for word"
	fi
done <"$tmp/rules"

# --- Down sections are not linted; Up is -------------------------------------------------
mkdir "$tmp/down"
printf -- '-- +goose Up\nSELECT 1;\n\n-- +goose Down\nDROP TABLE orders;\nALTER TABLE orders DROP COLUMN a;\nCREATE INDEX i ON orders (a);\n' \
	>"$tmp/down/00001_down.sql"
rc=0; "$G" lint "$tmp/down" 2>"$tmp/err" || rc=$?
is "$rc:$(grep -c 'warning' "$tmp/err")" "0:0" "statements in a Down section are never reported"
printf -- '-- +goose Up\nDROP TABLE orders;\nALTER TABLE orders DROP COLUMN a;\nCREATE INDEX i ON orders (a);\n\n-- +goose Down\nSELECT 1;\n' \
	>"$tmp/down/00001_down.sql"
rc=0; "$G" lint "$tmp/down" 2>"$tmp/err" || rc=$?
is "$rc:$(grep -c ': warning: ' "$tmp/err")" "1:3" "the same statements in Up are"

# --- build: warnings by default, --lint=error fails, --lint=off, -W --------------------------
mkdir "$tmp/b"
cp tests/lint/index-not-concurrent.sql "$tmp/b/00001_index.sql"
rc=0; "$G" build -o "$tmp/b.c" "$tmp/b" 2>"$tmp/err" || rc=$?
is "$rc:$(grep -c ': warning: .*\[index-not-concurrent\]$' "$tmp/err")" "0:2" "build: findings are warnings, the build succeeds"
check "build: the bundle is written" test -s "$tmp/b.c"
"$G" lint "$tmp/b" 2>"$tmp/lint-err" >/dev/null
is "$(grep -v '^goslingc: ' "$tmp/err")" "$(grep -v '^goslingc: ' "$tmp/lint-err")" "build and lint report the same findings"
rm -f "$tmp/b.c"
rc=0; "$G" build --lint=error -o "$tmp/b.c" "$tmp/b" 2>"$tmp/err" || rc=$?
is "$rc:$(grep -c ': error: .*\[index-not-concurrent\]$' "$tmp/err")" "1:2" "build --lint=error: findings are errors, exit 1"
check "build --lint=error writes no bundle" test ! -e "$tmp/b.c"
like "$(cat "$tmp/err")" "goslingc: 2 errors, 0 warnings" "build --lint=error counts them"
rc=0; "$G" build -W -o "$tmp/b.c" "$tmp/b" 2>"$tmp/err" || rc=$?
is "$rc:$(grep -c ': error: .*\[index-not-concurrent\]$' "$tmp/err")" "1:2" "build -W: findings are errors too"
rc=0; "$G" build --lint=off -o "$tmp/b.c" "$tmp/b" 2>"$tmp/err" || rc=$?
is "$rc:$(cat "$tmp/err")" "0:goslingc: $tmp/b.c: 1 migration, build $("$G" list "$tmp/b" | tail -1 | sed 's/.*build //')" \
	"build --lint=off: no finding"
rc=0; "$G" build --lint=maybe "$tmp/b" 2>"$tmp/err" || rc=$?
is "$rc" 2 "--lint=maybe is a usage error"
like "$(cat "$tmp/err")" "--lint must be warn, error or off" "and says what it takes"
rc=0; "$G" lint 2>/dev/null || rc=$?
is "$rc" 2 "lint without arguments is a usage error"

# --- --json ------------------------------------------------------------------------------
rc=0; "$G" lint --json tests/lint/allow.sql >"$tmp/json" 2>"$tmp/err" || rc=$?
is "$rc" 1 "lint --json: exit 1 on findings"
got=$($PY - "$tmp/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
keys = {"rule", "path", "line", "column", "message", "why", "do_instead", "allowed"}
assert all(set(x) == keys for x in r), r
print(d["files"], d["findings"], d["allowed"], len(r))
print(" ".join("%s:%d:%d:%s" % (x["rule"], x["line"], x["column"], "A" if x["allowed"] else "-") for x in r))
print([x["allowed"] for x in r if x["rule"] == "prefer-identity"][0])
PY
)
is "$got" "1 2 3 5
prefer-identity:3:28:A drop-table:5:1:A drop-table:6:1:- drop-table:7:1:A drop-column:9:32:-
the ORM of this service expects serial (file-wide)" "lint --json: every finding, accepted ones with their reason"
is "$(grep -c ': warning: .*\]$' "$tmp/err")" 0 "lint --json prints no finding on stderr"

# --- --sarif -----------------------------------------------------------------------------
rc=0; "$G" lint --sarif tests/lint/allow.sql tests/lint/column-type-change >"$tmp/sarif" 2>/dev/null || rc=$?
is "$rc" 1 "lint --sarif: exit 1 on findings"
got=$($PY - "$tmp/sarif" tests/lint/sarif-schema-2.1.0.json <<'PY' 2>&1
import json, sys, jsonschema
log = json.load(open(sys.argv[1]))
jsonschema.Draft4Validator(json.load(open(sys.argv[2]))).validate(log)
run = log["runs"][0]
rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
for x in run["results"]:
    assert rules[x["ruleIndex"]] == x["ruleId"]
    assert x["message"]["text"]
res = [(x["ruleId"], x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        x["locations"][0]["physicalLocation"]["region"]["startLine"], "suppressions" in x) for x in run["results"]]
print(log["version"], len(rules), len(res), sum(s for *_, s in res))
print(res[1])
print(res[-1])
PY
)
is "$got" "2.1.0 18 10 3
('drop-table', 'tests/lint/allow.sql', 5, True)
('column-type-change', 'tests/lint/column-type-change/00002_widen.sql', 6, False)" \
	"lint --sarif validates against SARIF 2.1.0's schema; accepted findings are suppressions"
mkdir -p "$tmp/with space"
printf -- '-- +goose Up\nCREATE INDEX i ON t (a);\n-- +goose Down\n' >"$tmp/with space/00001_é.sql"
"$G" lint --sarif "$tmp/with space" 2>/dev/null >"$tmp/sarif" || true
got=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]["results"][0]["locations"][0]["physicalLocation"]; print(r["artifactLocation"]["uri"], r["region"]["startColumn"])' "$tmp/sarif")
is "$got" "file://${tmp// /%20}/with%20space/00001_%C3%A9.sql 1" "lint --sarif: a path with a space and UTF-8 is a percent-encoded file URI"
printf -- '-- +goose Up\nSELECT 1; /* é */ CREATE INDEX i ON t (a);\n-- +goose Down\n' >"$tmp/with space/00001_é.sql"
"$G" lint --sarif "$tmp/with space" 2>/dev/null >"$tmp/sarif" || true
"$G" lint --json "$tmp/with space" 2>/dev/null >"$tmp/json" || true
got=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]["results"][0]["locations"][0]["physicalLocation"]; j=json.load(open(sys.argv[2]))["results"][0]; print(r["region"]["startColumn"], j["column"])' "$tmp/sarif" "$tmp/json")
is "$got" "19 20" "SARIF columns count characters, JSON and text count bytes"

# --- gosling's own migrations and the goose corpus -----------------------------------------
rc=0; "$G" lint migrations 2>"$tmp/err" || rc=$?
is "$rc:$(cat "$tmp/err")" "0:goslingc: lint: 0 findings in 2 files (0 accepted by gosling:allow)" \
	"migrations/ (the HomeTest schema): no finding"
if [ ! -d "$CORPUS" ]; then
	fail "goose corpus not found at $CORPUS"
else
	# The valid cases (as tests/check.sh picks them), each linted as a file of its own.
	corpus_valid_cases
	: >"$tmp/corpus"
	for f in "${cases[@]}"; do
		"$G" lint --json "$f" 2>/dev/null | $PY -c '
import json, sys
for x in json.load(sys.stdin)["results"]:
    print("%s:%d %s" % (x["path"], x["line"], x["rule"]))' >>"$tmp/corpus" || true
	done
	sed -i "s|^$CORPUS/||" "$tmp/corpus"
	is "$(sort "$tmp/corpus")" "inline/parser_test.functxt/input.sql:3 prefer-identity
upstream-down/valid-up-test07/input.sql:4 index-not-concurrent
valid-up/test07/input.sql:4 index-not-concurrent" "goose corpus: exactly the expected findings (${#cases[@]} files)"
	# none of them lies after the file's Down annotation
	down=0
	while read -r loc _; do
		f=$CORPUS/${loc%:*} line=${loc##*:}
		dl=$(grep -n -i '^-- *+goose *down' "$f" | head -1 | cut -d: -f1)
		[ -n "$dl" ] && [ "$line" -gt "$dl" ] && down=$((down + 1))
	done <"$tmp/corpus"
	is "$down" 0 "goose corpus: no finding in a Down section"
	n_down=$(for f in "${cases[@]}"; do sed -n '/+goose [Dd]own/,$p' "$f"; done | grep -ciE '^ *(drop table|drop index|alter table .* drop)')
	check "goose corpus: its Down sections hold DROP statements the lint would report in Up ($n_down)" test "$n_down" -gt 10
fi

done_testing
