#!/usr/bin/env bash
# tests/leaks.sh - the leak sweep: no fragment of a secret in any output.
#
# Each case puts a secret into the configuration in one shape (a DATABASE_URL whose
# password holds a raw '@' or '/', a bad percent-encoding, a key=value string with an
# unquoted space, an sslpassword, DB_PASSWORD, DB_IAM_AUTH with a malformed URL, the
# right password over TCP ...), then runs gosling every way it talks: the CLI (text and
# --json, text and JSON logs, at debug level) and the Lambda bootstrap through the local
# Runtime API (tests/lambda/runtime_api.py: the init error, /response, /error, with
# AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL=DEBUG).  Every byte written
# (stdout, stderr, every post the Runtime API recorded) is searched for the secret and
# for each piece of it that a parser could cut out: the secret split at the URL's
# delimiters (@ / : ? # % & = and blanks), pieces of 3 or more characters.
# Each case also checks that the error says what is wrong.  Prints TAP.
cd "$(dirname "$0")/.."
. tests/lib/pg.sh
. tests/lib/gosling.sh	# GOSLING_TEST_ARCH=x86_64|aarch64|asan (tests/lib/gosling.sh)

PG_HBA="host all app 127.0.0.1/32 scram-sha-256"
pg_start
T=$PG_TMP/t
mkdir -p "$T"
unset AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL GOSLING_LOG_LEVEL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
	AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION DB_IAM_AUTH
"$GOSLINGC" build --quiet --out "$T/bundle.c" tests/lambda/migrations/fail
gosling_link "$T/gosling" "$T/bundle.c"

# The role's real password: the URL carries it percent-encoded.
GOOD='Trxx@ubyy/le99 zq'
psql_q postgres "CREATE ROLE app LOGIN PASSWORD 'Trxx@ubyy/le99 zq'" >/dev/null
psql_q postgres "CREATE DATABASE leaks OWNER app" >/dev/null
H=127.0.0.1 P=$PGPORT

# slug TEXT: TEXT as a file name (the case's letters and digits and a hash of the rest)
slug() { printf '%s-%s' "$(printf '%s' "$1" | tr -c 'A-Za-z0-9' _)" "$(printf '%s' "$1" | md5sum | cut -c1-6)"; }

# lambda_messages NAME: every errorMessage the Runtime API received in run NAME, one a line
lambda_messages() {
	python3 - "$T/$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
posts = ([d["init_error"]] if d.get("init_error") else []) + d["invocations"]
for p in posts:
    b = p.get("body") or {}
    if isinstance(b, dict) and "errorMessage" in b:
        print(b["errorMessage"])
PY
}

# fragments SECRET: the secret and its pieces of 3 or more characters, one a line
fragments() {
	printf '%s\n' "$1"
	printf '%s\n' "$1" | tr '@/:?#%&= ' '\n\n\n\n\n\n\n\n\n' | awk 'length($0) >= 3'
}

# sweep NAME SECRET FILES...: no fragment of SECRET in any of FILES
sweep() {
	local name=$1 secret=$2 f found=
	shift 2
	while IFS= read -r f; do
		if grep -qF -- "$f" "$@" 2>/dev/null; then
			found="$found$(grep -nF -- "$f" "$@" | head -3)"$'\n'
		fi
	done < <(fragments "$secret")
	if [ -z "$found" ]; then pass "$name: no fragment of the secret in any output"; else fail "$name: a fragment of the secret leaked" "$found"; fi
}

# cli NAME ENV... -- ARGS: run the CLI with ENV (env(1) assignments), output to $T/NAME.out/.err
cli() {
	local name=$1 envs=() rc=0
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -u PGHOST -u PGPORT -u PGUSER PGCONNECT_TIMEOUT=3 GOSLING_CONNECT_TIMEOUT=3 "${envs[@]}" \
		"$T/gosling" "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	echo $rc >"$T/$name.rc"
}

# lambda NAME ENV...: one {} and one status event through the local Runtime API
lambda() {
	local name=$1
	shift
	printf '%s' '[{"body": {}}, {"body": {"command": "status"}}]' >"$T/$name.events"
	env -u PGHOST -u PGPORT -u PGUSER GOSLING_CONNECT_TIMEOUT=3 AWS_LAMBDA_LOG_FORMAT=JSON AWS_LAMBDA_LOG_LEVEL=DEBUG "$@" \
		python3 tests/lambda/runtime_api.py --events "$T/$name.events" --log "$T/$name.json" --timeout 60 \
		-- "$T/gosling" 2>"$T/$name.err" || true
}

# every_way CASE SECRET WANT ENV...: the CLI four ways and the Lambda loop, swept; WANT is
# a piece of the error every failing output must carry (what is wrong), "" when it succeeds
every_way() {
	local name=$1 secret=$2 want=$3 files=() m c
	shift 3
	c=$(slug "$name")
	local t0=$(date +%s)
	cli "$c-text" GOSLING_LOG_LEVEL=debug "$@" -- up
	cli "$c-json" GOSLING_LOG_LEVEL=debug "$@" -- up --json
	cli "$c-jsonlog" GOSLING_LOG_LEVEL=debug AWS_LAMBDA_LOG_FORMAT=JSON "$@" -- status --json
	cli "$c-iam" GOSLING_LOG_LEVEL=debug DB_IAM_AUTH=1 AWS_REGION=eu-west-2 AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
		AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY "$@" -- status
	lambda "$c-lambda" "$@"
	for m in text json jsonlog iam; do files+=("$T/$c-$m.out" "$T/$c-$m.err"); done
	files+=("$T/$c-lambda.json" "$T/$c-lambda.err")
	echo "# $name: $(($(date +%s) - t0)) s"
	sweep "$name" "$secret" "${files[@]}"
	if [ -n "$want" ]; then
		like "$(cat "$T/$c-text.err")" "$want" "$name: the CLI says what is wrong"
		like "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["message"])' "$T/$c-json.out" 2>&1)" \
			"$want" "$name: --json carries the message"
		like "$(lambda_messages "$c-lambda")" "$want" "$name: the Lambda answer (init error or /error) says what is wrong"
	fi
}

# --- DATABASE_URL shapes ------------------------------------------------------------

every_way "raw @ in the password" 'hunter@2secret' "more than one '@' before the host: percent-encode special characters in the password" \
	"DATABASE_URL=postgres://app:hunter@2secret@$H:$P/leaks"
every_way "raw / in the password" 'S3cr/et' "an '@' after a '/' (a user name or password holding '/'?): percent-encode" \
	"DATABASE_URL=postgres://app:S3cr/et@$H:$P/leaks"
every_way "raw / and @ in the password" 'Pq7x/Lm8z@Vn6w' "percent-encode special characters in the password" \
	"DATABASE_URL=postgresql://app:Pq7x/Lm8z@Vn6w@$H:$P/leaks"
every_way "a bad percent-encoding in the password" 'Kq9pa%zzWx77' "is not a percent-encoded byte" \
	"DATABASE_URL=postgres://app:Kq9pa%zzWx77@$H:$P/leaks"
every_way "%00 in the password" 'Nul7ab%00cd9x' "is not a percent-encoded byte" \
	"DATABASE_URL=postgres://app:Nul7ab%00cd9x@$H:$P/leaks"
every_way "an unterminated IPv6 host after the password" 'Ipv6Sec9ret' "invalid DATABASE_URL: end of string reached" \
	"DATABASE_URL=postgres://app:Ipv6Sec9ret@[::1/leaks"
every_way "a bad percent-encoding in a password parameter" 'Qw3rty%zz8' "invalid DATABASE_URL: invalid percent-encoded token" \
	"DATABASE_URL=postgres://app@$H:$P/leaks?password=Qw3rty%zz8"
every_way "an unknown parameter after the password" 'Unk9nown7pw' 'invalid URI query parameter: "..."' \
	"DATABASE_URL=postgres://app:Unk9nown7pw@$H:$P/leaks?Unk9nown7pw=1"
every_way "key=value string, unquoted space in the password" 'Zorro9 secret7x' 'missing "=" after "..." in connection info string: quote a value' \
	"DATABASE_URL=host=$H port=$P dbname=leaks user=app password=Zorro9 secret7x"
every_way "key=value string, unterminated quote" "Unterm7quote9" "unterminated quoted string in connection info string" \
	"DATABASE_URL=host=$H port=$P dbname=leaks user=app password='Unterm7quote9"
every_way "a port that is not a number, after the password" 'Port7secret9' 'invalid integer value "notaport" for connection option "port"' \
	"DATABASE_URL=postgres://app:Port7secret9@$H:notaport/leaks"
every_way "the wrong password" 'Wrong7pass@word9' 'password authentication failed for user "app"' \
	"DATABASE_URL=postgres://app:Wrong7pass%40word9@$H:$P/leaks"
every_way "DB_PASSWORD, wrong" 'Db7pa55/Wq9:9xz' 'password authentication failed for user "app"' \
	DB_HOST=$H DB_PORT=$P DB_NAME=leaks DB_USER=app 'DB_PASSWORD=Db7pa55/Wq9:9xz'
every_way "sslpassword in the URL" 'Ssl7pass9word' "" \
	"DATABASE_URL=postgres://app:Trxx%40ubyy%2Fle99%20zq@$H:$P/leaks?sslpassword=Ssl7pass9word&sslmode=disable"
every_way "the right password, percent-encoded, a failing migration" "$GOOD" "" \
	"DATABASE_URL=postgres://app:Trxx%40ubyy%2Fle99%20zq@$H:$P/leaks?sslmode=disable"

# what the last two did: they connected (the sweep saw real work, not an early refusal)
like "$(cat "$T/$(slug "the right password, percent-encoded, a failing migration")-text.err")" "unable to apply 003_add_gadgets.sql" \
	"the right password connects and runs the migrations (a failing one: its error was swept too)"
like "$(cat "$T/$(slug "sslpassword in the URL")-text.err")" "sslpassword=***" "the debug log masks sslpassword as it masks password"
is "$(psql_q leaks "SELECT count(*) FROM gosling_migrations")" 2 "... and applied the two that work"
is "$(cat "$T/$(slug "raw @ in the password")-text.rc") $(cat "$T/$(slug "raw @ in the password")-iam.rc")" "3 3" \
	"a malformed DATABASE_URL is a configuration error (exit 3), with DB_IAM_AUTH too"
like "$(cat "$T/$(slug "raw @ in the password")-iam.err")" "more than one '@' before the host" "DB_IAM_AUTH=1: the malformed URL is described, not echoed"
is "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["init_error"]["error_type"], d["served"])' "$T/$(slug "raw @ in the password")-lambda.json")" \
	"Function.ConfigError 0" "Lambda: a malformed DATABASE_URL is an init error, before any event"

done_testing
