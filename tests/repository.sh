#!/usr/bin/env bash
# tests/repository.sh - gosling used from an application repository outside its tree, by
# the README's own commands (issue 20's outcome):
#
#   - the README's blocks marked <!-- runnable: NAME --> are what runs: "install" in gosling's
#     checkout (ninja dist, ninja install into a scratch $HOME), "package" in a scratch
#     repository holding its own db/migrations (the HomeTest migrations, the README's own
#     <!-- file: ... --> migration, its own migrations.sum), "terraform" validated as a module
#     call in that repository's infra/, "quickstart" (scripts/demo; tests/run is this runner);
#   - both zips: one entry bootstrap, mode 0755, the right machine; the x86_64 one applied to a
#     real PostgreSQL through the local Runtime API, the arm64 one under qemu the same way;
#   - rebuilding gives byte-identical zips; gosling's tree is unchanged by the packaging;
#   - a changed applied migration fails packaging (migrations.sum) and leaves the old zip;
#   - scripts/ci-package gives the same bytes; the GitHub Actions example calls it;
#   - the CDK example (docs/examples/cdk): cdk synth offline with the repository's zip, the
#     template checked (tests/cdk/check.js), each check broken on purpose.
#
# Needs `ninja dist` (a cold build of the static libraries takes minutes), node and npm for
# the CDK (packages cached in build/cdk-node/ from docs/examples/cdk/package-lock.json),
# terraform with the AWS provider in GOSLING_TF_PLUGIN_DIR (default /opt/tf-plugins).
set -u
cd "$(dirname "$0")/.."
root=$PWD
. tests/lib/pg.sh
set +e
T=$(mktemp -d /tmp/gosling-repo.XXXXXX)
cleanup() { pg_stop; rm -rf "$T"; }
trap cleanup EXIT
export HOME=$T/home PATH=$PATH
mkdir -p "$HOME"

# block NAME: the README's fenced block marked <!-- runnable: NAME --> (its lines, no fences)
block() {
	awk -v name="$1" '
		$0 == "<!-- runnable: " name " -->" { want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }' README.md
}
# file_block: the README's <!-- file: PATH --> block as "PATH" then its lines
file_block() {
	awk '
		/^<!-- file: .* -->$/ { sub(/^<!-- file: /, ""); sub(/ -->$/, ""); print; want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }' README.md
}
# runblock NAME DIR: run block NAME with bash -eu in DIR; output in $T/NAME.log
runblock() {
	local text
	text=$(block "$1")
	[ -n "$text" ] || { fail "the README has a runnable block \"$1\""; return 1; }
	(cd "$2" && bash -eux -c "$text") >"$T/$1.log" 2>&1
}
# tree_state: what is in gosling's checkout (every file but .git's, with size and mtime)
tree_state() {
	(cd "$root" && find . -path ./.git -prune -o -printf '%p %s %T@\n' | sort)
}

for name in quickstart install package terraform; do
	[ -n "$(block "$name")" ] && pass "the README has a runnable block \"$name\"" ||
		fail "the README has a runnable block \"$name\""
done

# --- goslingc package's refusals, and the zip writer, before anything is installed ------
G=$root/build/goslingc
"$G" package --arch sparc --out "$T/x.zip" migrations >"$T/err" 2>&1
is "$? $(head -1 "$T/err")" "2 goslingc: package needs --arch x86_64 or --arch arm64, not \"sparc\"" "package: an unknown --arch is a usage error"
"$G" package --arch arm64 migrations >"$T/err" 2>&1
is "$? $(head -1 "$T/err")" "2 goslingc: package needs --out FILE.zip, not \"gen/bundle.c\"" "package: --out FILE.zip is required"
"$G" package --arch arm64 --out "$T/x.zip" migrations >"$T/err" 2>&1
is "$?" 4 "package with no runtime installed next to goslingc exits 4"
like "$(cat "$T/err")" "lib/gosling/aarch64/cc.txt: No such file or directory (is the runtime for this architecture installed?" "... saying where it looked"
ok "... and writes no zip" test ! -e "$T/x.zip"
# goslingc zip writes the bytes Python's zipfile writes with zlib level 9 (what ninja dist used)
head -c 1500000 /dev/urandom >"$T/blob" && head -c 3000000 "$G" >>"$T/blob"
"$G" zip --out "$T/c.zip" "$T/blob" >"$T/zip.out"
python3 - "$T/blob" "$T/py.zip" <<'PY'
import sys, zipfile
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.create_system = 3
info.external_attr = 0o100755 << 16
with zipfile.ZipFile(sys.argv[2], "w") as z:
    z.writestr(info, open(sys.argv[1], "rb").read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
PY
ok "goslingc zip: byte for byte what Python's zipfile writes (deflate level 9, 1980, mode 0755)" cmp "$T/c.zip" "$T/py.zip"
ok "goslingc zip: Python's zipfile reads it back intact" python3 -c '
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None
assert z.read("bootstrap") == open(sys.argv[2], "rb").read()' "$T/c.zip" "$T/blob"
like "$(cat "$T/zip.out")" "filebase64sha256 $(openssl dgst -sha256 -binary "$T/c.zip" | base64)" "goslingc zip prints the zip's filebase64sha256"
: >"$T/empty"
"$G" zip --out "$T/e.zip" "$T/empty" >/dev/null
is "$(unzip -Z1 "$T/e.zip" 2>&1)" bootstrap "goslingc zip: an empty file makes a valid one-entry zip"

# --- install, as the README says ------------------------------------------------------
if runblock install "$root"; then
	pass "README install block: ninja dist and PREFIX=\$HOME/.local ninja install"
else
	fail "README install block: ninja dist and PREFIX=\$HOME/.local ninja install" "$(tail -30 "$T/install.log")"
	echo "Bail out! gosling could not be installed"
	exit 1
fi
P=$HOME/.local
for f in bin/goslingc include/gosling/bundle.h include/gosling/attr.h lib/gosling/x86_64/libgosling-runtime.a \
	lib/gosling/aarch64/libgosling-runtime.a lib/gosling/x86_64/link.txt lib/gosling/aarch64/cc.txt; do
	[ -f "$P/$f" ] || fail "installed: $f" "missing from $P"
done
is "$(cat "$P/lib/gosling/aarch64/cc.txt")" aarch64-linux-gnu-gcc "installed: the arm64 runtime names its cross compiler"
missing=$(for a in $(cat "$P/lib/gosling/x86_64/link.txt"); do case $a in *.a) [ -f "$P/lib/gosling/x86_64/$a" ] || echo "$a" ;; esac; done)
is "$missing" "" "installed: every archive link.txt names is installed next to it"
# DESTDIR stages under a root, as make install does
PREFIX=/usr DESTDIR=$T/stage ninja install >"$T/destdir.log" 2>&1
ok "DESTDIR=\$T/stage PREFIX=/usr ninja install stages under \$T/stage/usr" test -x "$T/stage/usr/bin/goslingc" -a \
	-f "$T/stage/usr/lib/gosling/aarch64/libgosling-runtime.a"

# --- a scratch application repository ---------------------------------------------------
A=$T/app
mkdir -p "$A/db/migrations" "$A/infra"
cp migrations/000001_create_initial_home_test_tables.sql migrations/000002_seed_home_test_data.sql "$A/db/migrations/"
{
	read -r own
	cat >"$A/$own"
} < <(file_block)
like "$own" "db/migrations/" "the README's example migration is a file of db/migrations ($own)"
(cd "$A" && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm init) ||
	fail "git init of the scratch repository"
before=$(tree_state)
git_before=$(git -C "$root" status --porcelain)

if runblock package "$A"; then
	pass "README package block: goslingc sum and goslingc package for both architectures"
else
	fail "README package block: goslingc sum and goslingc package for both architectures" "$(tail -30 "$T/package.log")"
fi
is "$(grep -c '^0000' "$A/db/migrations/migrations.sum")" 3 "migrations.sum sits with the migrations and records all three"
zx=$A/build/migrator-x86_64.zip za=$A/build/migrator-arm64.zip
for z in "$zx" "$za"; do
	n=$(basename "$z")
	is "$(unzip -Z1 "$z" 2>&1)" bootstrap "$n: one entry, bootstrap"
	like "$(unzip -Z "$z" 2>&1)" "-rwxr-xr-x  2.0 unx" "$n: mode 0755, made on Unix"
	like "$(unzip -Z "$z" 2>&1)" "80-Jan-01 00:00 bootstrap" "$n: dated 1980-01-01 00:00"
	is "$(cat "$z.base64sha256")" "$(openssl dgst -sha256 -binary "$z" | base64)" "$n: .base64sha256 is filebase64sha256 of the zip"
done
mkdir -p "$T/x" "$T/a"
unzip -q -o "$zx" -d "$T/x" && unzip -q -o "$za" -d "$T/a"
like "$(readelf -h "$T/x/bootstrap")" "Advanced Micro Devices X86-64" "the x86_64 bootstrap is an x86-64 program"
like "$(readelf -h "$T/a/bootstrap")" "AArch64" "the arm64 bootstrap is an AArch64 program"
is "$(readelf -d "$T/x/bootstrap" | awk '/NEEDED/ { print $NF }' | tr -d '[]' | tr '\n' ' ')" "libc.so.6 " \
	"the x86_64 bootstrap needs only glibc"

# --- the zips migrate a real PostgreSQL through the local Runtime API ------------------
pg_start
trap cleanup EXIT	# pg_start sets its own
invoke() { # invoke DB BOOTSTRAP OUT: one {} event; the response in OUT
	DB_HOST=127.0.0.1 DB_PORT=$PGPORT DB_NAME=$1 DB_USER=postgres DB_SSLMODE=disable \
		"$root/scripts/invoke-local" --bootstrap "$2" "$3" 2>"$3.err"
}
db=$(pg_newdb)
invoke "$db" "$T/x/bootstrap" "$T/x.json"
is "$?" 0 "x86_64 zip: {} through the local Runtime API succeeds$(grep -m1 -i error "$T/x.json.err" | sed 's/^/ /')"
is "$(jq -r '"\(.version_before) -> \(.version_after)"' "$T/x.json" 2>&1)" "0 -> 3" "x86_64 zip: applies the three migrations"
is "$(psql_q "$db" "SELECT count(*) FROM supplier WHERE supplier_code IN ('PREVENTX', 'SH24')")" 2 "x86_64 zip: HomeTest's seed data is there"
is "$(psql_q "$db" "SELECT to_regclass('order_note') IS NOT NULL")" t "x86_64 zip: the repository's own migration ran"
"$T/x/bootstrap" status --host 127.0.0.1 --port "$PGPORT" --dbname "$db" --user postgres --sslmode disable >"$T/status" 2>&1
like "$(cat "$T/status")" "000003_add_order_notes.sql" "x86_64 bootstrap as the CLI: status lists the repository's migration"

if command -v qemu-aarch64 >/dev/null; then
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$PWD/scripts/qemu-arm64" "$T/a/bootstrap" >"$T/a/run"
	chmod +x "$T/a/run"
	db=$(pg_newdb)
	invoke "$db" "$T/a/run" "$T/a.json"
	is "$?" 0 "arm64 zip under qemu: {} through the local Runtime API succeeds"
	is "$(jq -r '"\(.version_before) -> \(.version_after)"' "$T/a.json" 2>&1)" "0 -> 3" "arm64 zip under qemu: applies the three migrations"
	invoke "$db" "$T/a/run" "$T/a2.json"
	is "$(jq -r '"\(.version_before) -> \(.version_after)"' "$T/a2.json" 2>&1)" "3 -> 3" "arm64 zip under qemu: a second {} has nothing to do"
else
	fail "arm64 zip under qemu" "qemu-aarch64 is not installed (scripts/build-deps aarch64 installs qemu-user)"
fi

# --- reproducible, and gosling's tree untouched ----------------------------------------
cp "$zx" "$T/first-x86_64.zip" && cp "$za" "$T/first-arm64.zip"
rm -rf "$A/build"
runblock package "$A" || fail "the package block runs again" "$(tail -20 "$T/package.log")"
ok "rebuilding gives a byte-identical x86_64 zip" cmp "$T/first-x86_64.zip" "$zx"
ok "rebuilding gives a byte-identical arm64 zip" cmp "$T/first-arm64.zip" "$za"
is "$(tree_state)" "$before" "packaging changed nothing under gosling's tree (no file added, removed or touched)"
is "$(git -C "$root" status --porcelain)" "$git_before" "git status of gosling's tree is unchanged"
is "$(git -C "$A" status --porcelain)" "?? build/
?? db/migrations/migrations.sum" "the repository gains only build/ and its migrations.sum"

# --- migrations.sum guards what was applied --------------------------------------------
sed -i 's/body          text        NOT NULL/body          varchar(200) NOT NULL/' "$A/$own"
(cd "$A" && PATH=$P/bin:$PATH goslingc package --arch x86_64 --out build/migrator-x86_64.zip db/migrations) >"$T/drift" 2>&1
is "$?" 3 "an applied migration edited afterwards: goslingc package exits 3"
like "$(cat "$T/drift")" "000003_add_order_notes.sql: error: changed since migrations.sum" "... naming the file"
ok "... and leaves the zip that was there" cmp "$T/first-x86_64.zip" "$zx"
(cd "$A" && git checkout -q -- "$own")

# --- the CI recipe ----------------------------------------------------------------------
(cd "$A" && "$root/scripts/ci-package" --prefix "$P" db/migrations ci-out) >"$T/ci.log" 2>&1
is "$?" 0 "scripts/ci-package --prefix \$HOME/.local db/migrations ci-out succeeds"
ok "scripts/ci-package gives the same x86_64 bytes" cmp "$A/ci-out/migrator-x86_64.zip" "$zx"
ok "scripts/ci-package gives the same arm64 bytes" cmp "$A/ci-out/migrator-arm64.zip" "$za"
like "$(cat docs/examples/github-actions.yml)" "scripts/ci-package --prefix /opt/gosling db/migrations build" \
	"the GitHub Actions example runs scripts/ci-package"
ok "the GitHub Actions example is valid YAML with a package job" python3 -c '
import sys, yaml
w = yaml.safe_load(open(sys.argv[1]))
steps = w["jobs"]["package"]["steps"]
assert any("ci-package" in s.get("run", "") for s in steps)' docs/examples/github-actions.yml

# --- an installed tree can move (a CI cache restores it elsewhere) ----------------------
cp -a "$P" "$T/moved"
(cd "$A" && "$T/moved/bin/goslingc" package --arch arm64 --out moved/migrator-arm64.zip db/migrations) >"$T/moved.log" 2>&1
is "$?" 0 "a moved install packages too (goslingc finds lib/ from where it is)"
ok "... giving the same arm64 bytes" cmp "$A/moved/migrator-arm64.zip" "$za"
echo no-such-gcc >"$T/moved/lib/gosling/aarch64/cc.txt"
(cd "$A" && "$T/moved/bin/goslingc" package --arch arm64 --out moved/x.zip db/migrations) >"$T/moved.log" 2>&1
is "$?" 4 "a compiler that is not there: goslingc package exits 4"
like "$(cat "$T/moved.log")" "goslingc: unable to compile the migrations' bundle: cannot run no-such-gcc: No such file or directory" "... naming the compiler"
ok "... and writes no zip" test ! -e "$A/moved/x.zip"

# --- Terraform: the README's module call, pointing at the repository's zip ------------
plugins=${GOSLING_TF_PLUGIN_DIR:-/opt/tf-plugins}
if command -v terraform >/dev/null && [ -d "$plugins" ]; then
	tf=$A/infra	# the repository's root module; ${path.root}/../build is the repository's build/
	mkdir -p "$tf"
	{
		block terraform | sed "s|source = \"./gosling/terraform\"|source = \"$root/terraform\"|"
		for v in $(block terraform | grep -o 'var\.[a-z_]*' | sort -u); do
			echo "variable \"${v#var.}\" {}"
		done
		echo 'provider "aws" {
  region = "eu-west-2"
}'
	} >"$tf/main.tf"
	export TF_CLI_CONFIG_FILE=$T/terraformrc TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
	: >"$TF_CLI_CONFIG_FILE"
	(cd "$tf" && terraform init -input=false -backend=false -plugin-dir="$plugins" && terraform validate) >"$T/tf.log" 2>&1
	is "$?" 0 "terraform validate of the README's module call in the repository's infra/ (package_path = its zip)$(grep -m1 Error "$T/tf.log" | sed 's/^/: /')"
	expr=$(sed -n 's/^ *package_path *= *//p' "$tf/main.tf" | sed 's/ *#.*//')
	got=$(cd "$tf" && echo "filebase64sha256($expr)" | terraform console 2>&1)
	is "$got" "\"$(cat "$za.base64sha256")\"" "... whose package_path ($expr) is the repository's arm64 zip (filebase64sha256 from terraform console)"
	sed -i '/package_path/d' "$tf/main.tf"
	(cd "$tf" && terraform validate -no-color) >"$T/tf2.log" 2>&1
	rc=$?
	ok "the same module call without package_path fails validate: the argument is required" \
		test "$rc" -ne 0 -a -n "$(grep 'package_path' "$T/tf2.log")"
else
	fail "terraform validate of the README's module call" "terraform or $plugins missing"
fi

# --- the CDK example: cdk synth offline with the repository's zip --------------------
nodedir=$root/build/cdk-node
if command -v node >/dev/null && command -v npm >/dev/null; then
	mkdir -p "$nodedir"
	if ! cmp -s docs/examples/cdk/package-lock.json "$nodedir/package-lock.json" || [ ! -x "$nodedir/node_modules/.bin/cdk" ]; then
		cp docs/examples/cdk/package.json docs/examples/cdk/package-lock.json "$nodedir/"
		(cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
			fail "npm ci of the CDK example's packages" "$(tail -20 "$T/npm.log")"
	fi
	C=$A/infra/cdk
	mkdir -p "$C"
	cp -r docs/examples/cdk/bin docs/examples/cdk/lib docs/examples/cdk/cdk.json "$C/"
	ln -s "$nodedir/node_modules" "$C/node_modules"
	subnets=subnet-0123456789abcdef0,subnet-0fedcba9876543210 sg=sg-0123456789abcdef0
	# no AWS account, credentials or network: env-agnostic stack, nothing looked up
	(cd "$C" && env -u AWS_PROFILE AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_VERSION_CHECK=1 \
		timeout 600 node_modules/.bin/cdk synth --no-notices --no-version-reporting \
		-c packagePath="$za" -o "$T/cdk.out" -q) >"$T/cdk.log" 2>&1
	is "$?" 0 "cdk synth of docs/examples/cdk with the repository's arm64 zip, offline$(grep -m1 -i error "$T/cdk.log" | sed 's/^/: /')"
	"$root/build/gosling" settings --json >"$T/settings.json"
	cdkcheck() { node "$root/tests/cdk/check.js" "$1" HomeTestMigrator "$za" arm64 "$subnets" "$sg" "$T/settings.json"; }
	cdkcheck "$T/cdk.out" >"$T/cdk-check" 2>&1
	tap_passfail "CDK template: " "CDK checker: " <"$T/cdk-check"
	# broken on purpose: each edit of the template (name%jq filter%what the checker must say)
	# must fail the checker, saying so
	tpl=HomeTestMigrator.template.json
	while IFS='%' read -r what filter want; do
		rm -rf "$T/broken" && cp -r "$T/cdk.out" "$T/broken"
		jq "$filter" "$T/cdk.out/$tpl" >"$T/broken/$tpl"
		out=$(cdkcheck "$T/broken" 2>&1)
		if [ $? -ne 0 ] && grep -qF -- "$want" <<<"$out"; then
			pass "CDK template broken on purpose ($what): the checker fails and says so"
		else
			fail "CDK template broken on purpose ($what)" "$out"
		fi
	done <<'EOF'
the nodejs runtime%(.Resources[] | select(.Properties.Handler == "bootstrap") | .Properties.Runtime) = "nodejs20.x"%want "provided.al2023"
x86_64 instead of arm64%(.Resources[] | select(.Properties.Handler == "bootstrap") | .Properties.Architectures) = ["x86_64"]%architectures are ["x86_64"]
no VPC%(.Resources[] | select(.Properties.Handler == "bootstrap") | .Properties) |= del(.VpcConfig)%subnets are undefined
a wildcard action%(.Resources[] | select(.Type == "AWS::IAM::Policy") | .Properties.PolicyDocument.Statement[0].Action) = "secretsmanager:*"%allows wildcard action secretsmanager:*
an asynchronous trigger%(.Resources[] | select(.Type == "Custom::Trigger") | .Properties.InvocationType) = "Event"%InvocationType is Event
no trigger%.Resources |= with_entries(select(.value.Type != "Custom::Trigger"))%0 Custom::Trigger resources
a trigger that ignores new code%(.Resources[] | select(.Type == "Custom::Trigger") | .Properties.ExecuteOnHandlerChange) = false%ExecuteOnHandlerChange is not true
a reserved environment variable%(.Resources[] | select(.Properties.Handler == "bootstrap") | .Properties.Environment.Variables.AWS_LAMBDA_LOG_FORMAT) = "JSON"%sets AWS_LAMBDA_LOG_FORMAT, which Lambda reserves
EOF
	echo "x" >>"$T/broken-zip.zip"
	out=$(node "$root/tests/cdk/check.js" "$T/cdk.out" HomeTestMigrator "$T/broken-zip.zip" arm64 "$subnets" "$sg" "$T/settings.json" 2>&1)
	like "$out" "differs from" "CDK checker: another zip than the synthesized asset fails"
else
	fail "cdk synth of docs/examples/cdk" "node and npm are needed"
fi

# --- the quick start: scripts/demo (tests/run is the runner running this suite) -----
like "$(block quickstart)" "tests/run" "the quick start's second command is tests/run, this very runner"
if (cd "$root" && bash -eu -c "$(block quickstart | grep -v '^tests/run')") >"$T/demo.log" 2>&1; then
	like "$(cat "$T/demo.log")" "SH:24" "the quick start's scripts/demo applies migrations/ and shows the HomeTest suppliers"
else
	fail "the quick start's scripts/demo runs" "$(tail -20 "$T/demo.log")"
fi

done_testing
