#!/usr/bin/env bash
# tests/credentials.sh - database credentials and TLS (runtime/secrets.c, runtime/cacert.c):
#
#   - a local HTTPS Secrets Manager (tests/credentials/aws_fake.js) with a server
#     certificate from a test CA made here with openssl; it checks every request's
#     SigV4 signature with the AWS JS SDK's signer and answers as AWS does;
#   - PostgreSQL with ssl=on (certificate for "localhost" from the same CA) and
#     scram-sha-256 over TLS only for the role the secret names;
#   - a PostgreSQL front door that takes the RDS IAM token gosling sends over TLS
#     and checks it with the SDK's presigner (PostgreSQL itself cannot check it);
#   - a gosling with the test CA compiled in (goslingc cacert) for verify-full;
#   - every log line and every answer of these runs grepped for the secrets.
# Prints TAP.  Needs node (the signer comes from tests/sigv4's npm ci) and openssl.
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$(mktemp -d /tmp/gosling-creds.XXXXXX)
chmod 711 "$T"	# the server (user postgres) reads its certificate under it
PG_OPTS="-c log_connections=on -c ssl=on -c ssl_cert_file=$T/pgssl/server.crt -c ssl_key_file=$T/pgssl/server.key"
PG_HBA="hostnossl all app all reject
hostssl all app all scram-sha-256"
. tests/lib/pg.sh
. tests/lib/fakes.sh
trap fakes_cleanup EXIT
unset AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL GOSLING_LOG_LEVEL AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SECRETS_MANAGER \
	AWS_ENDPOINT_URL_CODEDEPLOY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION \
	DB_SECRET_ARN DB_IAM_AUTH DB_SSLMODE DB_SSLROOTCERT PGSSLMODE PGSSLROOTCERT SSL_CERT_FILE
LIBS="build/libgosling-runtime.a -lpq -ljansson -lcurl -lcrypto"

if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v openssl >/dev/null; then
	skip_prereq "credentials" "node, npm or openssl missing"
	done_testing
fi
if [ ! -f tests/sigv4/node_modules/.package-lock.json ] ||
   [ tests/sigv4/package-lock.json -nt tests/sigv4/node_modules/.package-lock.json ]; then
	(cd tests/sigv4 && npm ci --no-audit --no-fund >/dev/null 2>&1) || { fail "npm ci in tests/sigv4"; done_testing; }
fi

# --- a test CA, another CA, and their server certificates -------------------------------

ok "test CA" ca testca
ok "another CA" ca otherca
ok "server certificate for localhost from the test CA" cert testca server DNS:localhost
ok "server certificate for localhost from the other CA" cert otherca untrusted DNS:localhost
mkdir -p "$T/pgssl" && cp "$T/server.crt" "$T/server.key" "$T/pgssl/" && chmod 600 "$T/pgssl/server.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$T/pgssl"

pg_start
trap fakes_cleanup EXIT
PGSOCK=$PGHOST
psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<'EOF'
SET password_encryption = 'scram-sha-256';
CREATE ROLE app LOGIN PASSWORD 'pw-Zq81-from-the-secret';
CREATE DATABASE app_lambda OWNER app;
CREATE DATABASE app_cli OWNER app;
CREATE DATABASE app_explicit OWNER app;
CREATE DATABASE app_verify OWNER app;
EOF
PASSWORD=pw-Zq81-from-the-secret

# --- gosling, plain and with the test CA compiled in --------------------------------------

build/goslingc build --quiet --out "$T/bundle.c" tests/lambda/migrations/ok
GOSLING_CA_BUNDLE=$T/testca.crt build/goslingc cacert --out "$T/cacert.c"
ok "gosling links (no CA compiled in)" cc -Icommon -o "$T/gosling" "$T/bundle.c" $LIBS
ok "gosling links with the test CA compiled in" cc -Icommon -o "$T/gosling-ca" "$T/bundle.c" "$T/cacert.c" $LIBS

# --- the fake AWS ---------------------------------------------------------------------------

AKID=AKIDEXAMPLEGOSLING
SKEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSECRETKEY
STOK=IQoJb3JpZ2luX2VjEJr-session-token-sekrit
REGION=eu-west-2
ARN="arn:aws:secretsmanager:$REGION:123456789012:secret:gosling/db-AbCdEf"
python3 - "$T/sm.json" "$AKID" "$SKEY" "$STOK" "$REGION" "$ARN" "$PGPORT" "$PASSWORD" <<'EOF'
import json, sys
f, akid, skey, stok, region, arn, port, pw = sys.argv[1:]
def s(name, value, **kw):
    d = {"ARN": "arn:aws:secretsmanager:%s:123456789012:secret:%s-XyZ123" % (region, name), "Name": name}
    if value is not None:
        d["SecretString"] = value if isinstance(value, str) else json.dumps(value)
    d.update(kw)
    return d
secrets = [
    {"ARN": arn, "Name": "gosling/db", "SecretString": json.dumps({"engine": "postgres", "host": "localhost",
        "port": int(port), "username": "app", "password": pw, "dbname": "app_lambda", "dbInstanceIdentifier": "db"})},
    s("port-string", {"host": "localhost", "port": port, "username": "app", "password": pw, "dbname": "app_cli"}),
    s("password-only", {"username": "app", "password": pw}),
    s("mysql", {"engine": "mysql", "username": "app", "password": pw}),
    s("not-json", "hunter2-" + pw),
    s("bad-port", {"port": "54x", "password": pw}),
    s("port-range", {"port": "70000", "password": pw}),
    s("binary", None, SecretBinary="c2VjcmV0"),
]
json.dump({"accessKeyId": akid, "secretAccessKey": skey, "sessionToken": stok, "region": region, "secrets": secrets,
           "iam": {"host": "localhost", "user": "iam_user"}}, open(f, "w"))
EOF

# Lambda execution-role session tokens run past 1,000 characters: the same
# configuration with 2 KB and 4 KB tokens (base64 text, '/', '+' and '=' included).
for n in 2048 4096; do
	python3 - "$T/sm.json" "$T/sm$n.json" "$n" <<'EOF'
import base64, hashlib, json, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(src))
raw = b"".join(hashlib.sha512(b"gosling-token-%d" % i).digest() for i in range(n // 64 + 1))
tok = "IQoJb3JpZ2luX2Vj" + base64.b64encode(raw).decode()
d["sessionToken"] = tok[:n - 2] + "=="
assert len(d["sessionToken"]) == n and "/" in tok and "+" in tok
json.dump(d, open(dst, "w"))
EOF
done
STOK2K=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sessionToken"])' "$T/sm2048.json")
STOK4K=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sessionToken"])' "$T/sm4096.json")

# fake MODE NAME CERT [CONFIG]: start aws_fake.js (scripted failures from $T/NAME.faults);
# its port goes to the variable NAME
fake() {
	local mode=$1 var=$2 crt=$3 cfg=${4:-$T/sm.json}
	: >"$T/$var.log"
	node tests/credentials/aws_fake.js "$mode" --config "$cfg" --key "$T/$crt.key" --cert "$T/$crt.crt" \
		--log "$T/$var.log" --faults "$T/$var.faults" >"$T/$var.port" 2>"$T/$var.err" &
	FAKES+=($!)
	fake_port "$T/$var.port" "$var"
}
# (not through ok: that runs its command in a subshell, and fake sets variables)
fake aws SM server && pass "the fake Secrets Manager and CodeDeploy listen (HTTPS, test CA)" ||
	fail "the fake Secrets Manager and CodeDeploy listen" "$(cat "$T/SM.err")"
fake aws SM2K server "$T/sm2048.json" && fake aws SM4K server "$T/sm4096.json" &&
	pass "fakes for 2 KB and 4 KB session tokens listen" || fail "fakes for 2 KB and 4 KB session tokens listen"
fake aws SMBAD untrusted && pass "a fake Secrets Manager with an untrusted certificate listens" ||
	fail "a fake Secrets Manager with an untrusted certificate listens" "$(cat "$T/SMBAD.err")"
fake pgauth PGIAM server && pass "the fake PostgreSQL front door for IAM tokens listens" ||
	fail "the fake PostgreSQL front door for IAM tokens listens" "$(cat "$T/PGIAM.err")"

# The environment Lambda gives the function, pointed at the fakes.
aws_env=(AWS_REGION=$REGION AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SKEY AWS_SESSION_TOKEN=$STOK
	AWS_ENDPOINT_URL_SECRETS_MANAGER=https://localhost:$SM SSL_CERT_FILE=$T/testca.crt)
# gosling_run NAME [VAR=value...] -- ARGS: the CLI, with the AWS env and no PG* defaults;
# stdout to $T/NAME.out, stderr to $T/NAME.err, exit code to $T/NAME.rc
gosling_run() {
	local name=$1 bin=$T/gosling
	shift
	local envs=() rc=0
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -u PGHOST -u PGPORT -u PGUSER TMPDIR="$T/tmp" HOME="$T/home" "${aws_env[@]}" "${envs[@]}" \
		"${GOSLING_BIN:-$bin}" "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	echo $rc >"$T/$name.rc"
}
mkdir -p "$T/tmp" "$T/home"
rc() { cat "$T/$1.rc"; }
out() { cat "$T/$1.out" "$T/$1.err"; }
sm_requests() { wc -l <"$T/SM.log" | tr -d ' '; }

# --- the Lambda loop: a password that comes only from the secret, over verified TLS ----------

. tests/lib/rapi.sh	# j NAME EXPR, is_j; rapi as below, in the fakes' environment
rapi() {
	local name=$1 boot=$2 events=$3
	shift 3
	printf '%s' "$events" >"$T/$name.events"
	env -u PGHOST -u PGPORT -u PGUSER TMPDIR="$T/tmp" HOME="$T/home" "${aws_env[@]}" "$@" \
		python3 tests/lambda/runtime_api.py --events "$T/$name.events" --log "$T/$name.json" --timeout 60 \
		-- $boot 2>"$T/$name.err" || true	# $boot unquoted: it may be "valgrind ... gosling"
}

before=$(sm_requests)
rapi lambda "$T/gosling-ca" '[{"body": {}}, {"body": {"command": "verify"}}]' \
	DB_SECRET_ARN="$ARN" DB_SSLMODE=verify-full GOSLING_LOG_LEVEL=debug
is_j lambda '[i["kind"] for i in inv]' '["response", "response"]' "lambda: the secret's credentials migrate the database"
is_j lambda 'res(0)["version_after"]' 2 "lambda: {} reaches version 2"
is "$(psql_q app_lambda 'SELECT count(*) FROM widgets')" 2 "lambda: the data is in the secret's database (dbname from the secret)"
is "$(($(sm_requests) - before))" 2 "lambda: one GetSecretValue per invocation (none during init)"
is "$(tail -1 "$T/SM.log" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["status"], e["target"], e["content_type"], e["body"]["SecretId"], e["has_token"])')" \
	"200 secretsmanager.GetSecretValue application/x-amz-json-1.1 $ARN True" \
	"lambda: GetSecretValue, JSON 1.1, the secret's ARN and the session token; the SDK's signer agrees"
like "$(tail -1 "$T/SM.log")" "Credential=$AKID/$(date -u +%Y%m%d)/$REGION/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target" \
	"lambda: signed for secretsmanager in the secret's region"
like "$(grep 'user=app database=app_lambda' "$PG_TMP/server.log" | tail -1)" "SSL enabled" "lambda: the database connection is TLS"
ok "lambda: the compiled-in CA's temporary file is gone" sh -c "! ls '$T/tmp' | grep -q ."
like "$(cat "$T/lambda.err")" "secret $ARN gives host, port, dbname, username, password" "lambda: the log says what the secret gave (names only)"

# --- AWS's errors become Function.ConfigError with AWS's text --------------------------------

rapi tampered "$T/gosling-ca" '[{"body": {}}]' DB_SECRET_ARN="$ARN" DB_SSLMODE=verify-full \
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYzWRONGKEY
is_j tampered 'inv[0]["error_type"]' Function.ConfigError "wrong secret key: Function.ConfigError"
like "$(j tampered 'err(0)["errorMessage"]')" "unable to read secret $ARN: InvalidSignatureException: The request signature we calculated does not match the signature you provided." \
	"... with AWS's InvalidSignatureException and its text"
is "$(tail -1 "$T/SM.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["answer"])')" InvalidSignatureException \
	"... because the independent signer rejected the signature"

rapi untrusted "$T/gosling-ca" '[{"body": {}}]' DB_SECRET_ARN="$ARN" AWS_ENDPOINT_URL_SECRETS_MANAGER=https://localhost:$SMBAD
is_j untrusted 'inv[0]["error_type"]' Function.ConfigError "an untrusted certificate: Function.ConfigError"
like "$(j untrusted 'err(0)["errorMessage"]')" "unable to read secret $ARN: POST https://localhost:$SMBAD/: SSL peer certificate or SSH remote key was not OK" \
	"... saying the certificate was not trusted"
is "$(wc -l <"$T/SMBAD.log" | tr -d ' ')" 0 "... and no request reached that server"

rapi notfound "$T/gosling" '[{"body": {}}]' DB_SECRET_ARN="arn:aws:secretsmanager:$REGION:123456789012:secret:nope-AbCdEf"
like "$(j notfound 'err(0)["errorMessage"]')" "ResourceNotFoundException: Secrets Manager can't find the specified secret." "an unknown secret: AWS's ResourceNotFoundException"
rapi badtoken "$T/gosling" '[{"body": {}}]' DB_SECRET_ARN="$ARN" AWS_SESSION_TOKEN=expired-token
like "$(j badtoken 'err(0)["errorMessage"]')" "UnrecognizedClientException: The security token included in the request is invalid." "a wrong session token: AWS's UnrecognizedClientException"
rapi plainhttp "$T/gosling" '[{"body": {}}]' DB_SECRET_ARN="$ARN" AWS_ENDPOINT_URL_SECRETS_MANAGER=http://localhost:$SM
like "$(j plainhttp 'err(0)["errorMessage"]')" "AWS_ENDPOINT_URL_SECRETS_MANAGER must be an https:// URL" "an http:// endpoint is refused"
rapi nocreds "$T/gosling" '[{"body": {}}]' DB_SECRET_ARN="$ARN" AWS_ACCESS_KEY_ID=
like "$(j nocreds 'err(0)["errorMessage"]')" "DB_SECRET_ARN needs AWS credentials" "no credentials: said so"

# --- production-sized session tokens: Secrets Manager and CodeDeploy ------------------------------

# A CodeDeploy hook event reads the secret (GetSecretValue), runs up and reports
# (PutLifecycleEventHookExecutionStatus): two signed calls, each with the whole token.
cd_event='[{"body": {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoi"}}]'
for size in 2K 4K; do
	port_var=SM$size tok_var=STOK$size
	port=${!port_var} tok=${!tok_var}
	rapi "token$size" "$T/gosling" "$cd_event" DB_SECRET_ARN="$ARN" DB_SSLMODE=require AWS_SESSION_TOKEN="$tok" \
		AWS_ENDPOINT_URL_SECRETS_MANAGER=https://localhost:$port AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$port
	is_j "token$size" '[inv[0]["kind"], res(0)["codedeploy"]["status"], res(0)["codedeploy"]["reported"]]' \
		'["response", "Succeeded", true]' "a ${#tok}-byte session token: the secret is read and CodeDeploy hears Succeeded"
	is "$(python3 -c 'import json,sys; print([(e["target"].split(".")[1], e["status"], e["token_len"], e["token_whole"]) for e in map(json.loads, open(sys.argv[1]))])' "$T/SM$size.log")" \
		"[('GetSecretValue', 200, ${#tok}, True), ('PutLifecycleEventHookExecutionStatus', 200, ${#tok}, True)]" \
		"... both calls carry the ${#tok}-byte X-Amz-Security-Token whole, and the SDK's signer accepts them"
done

# --- retries: the SDKs' standard mode, within the deadline ----------------------------------------

# faults LINES: the next requests to the fake AWS fail as scripted (aws_fake.js --faults)
faults() { printf '%s\n' "$@" >"$T/SM.faults"; }
# sm_calls FROM: "target:status[:fault]" of the fake's requests after line FROM of its log
sm_calls() {
	tail -n +"$(($1 + 1))" "$T/SM.log" | python3 -c '
import json, sys
print(" ".join("%s:%s%s" % (e["target"].split(".")[1], e["status"], ":" + e["fault"] if e.get("fault") else "")
               for e in map(json.loads, sys.stdin)))'
}
before=$(sm_requests)
faults throttle 500
gosling_run retry2 DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc retry2)" 0 "Secrets Manager: throttled, then a 500, then the secret: the run succeeds"
is "$(sm_calls "$before")" "GetSecretValue:400:throttle GetSecretValue:500:500 GetSecretValue:200" "... after three attempts"
like "$(out retry2)" "secretsmanager GetSecretValue succeeded after 2 retries" "... and the log says how many retries"
like "$(out retry2)" "secretsmanager GetSecretValue: ThrottlingException: Rate exceeded; retry 1 of 2 in " "... and why each one"
before=$(sm_requests)
faults drop
gosling_run retrydrop DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc retrydrop) $(sm_calls "$before")" "0 GetSecretValue:0:drop GetSecretValue:200" "a dropped connection is retried"
like "$(out retrydrop)" "succeeded after 1 retry" "... once"
before=$(sm_requests)
faults 503 503 503 503
gosling_run retry503 DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc retry503) $(sm_calls "$before")" "3 GetSecretValue:503:503 GetSecretValue:503:503 GetSecretValue:503:503" \
	"three 503s: three attempts, then a configuration error"
like "$(out retry503)" "unable to read secret $ARN: ServiceUnavailable: The service is unavailable. Please try again later. (3 attempts)" \
	"... naming AWS's error and the attempts"
: >"$T/SM.faults"
before=$(sm_requests)
gosling_run noretry DB_SECRET_ARN="arn:aws:secretsmanager:$REGION:123456789012:secret:nope-AbCdEf" -- status
is "$(sm_calls "$before")" "GetSecretValue:400" "ResourceNotFoundException is not retried"

# CodeDeploy: the report is retried too.  (The first drop hits the connection kept
# alive since GetSecretValue: libcurl itself sends again on a fresh one, as it
# does for any reused connection that died; the second drop is gosling's retry.)
before=$(sm_requests)
faults ok drop drop throttle
rapi cdretry "$T/gosling" "$cd_event" DB_SECRET_ARN="$ARN" DB_SSLMODE=require AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$SM
is "$(sm_calls "$before")" \
	"GetSecretValue:200 PutLifecycleEventHookExecutionStatus:0:drop PutLifecycleEventHookExecutionStatus:0:drop PutLifecycleEventHookExecutionStatus:400:throttle PutLifecycleEventHookExecutionStatus:200" \
	"CodeDeploy: a dropped and a throttled report are retried"
is_j cdretry '[inv[0]["kind"], res(0)["codedeploy"]["reported"]]' '["response", true]' "... and the hook succeeds"
like "$(cat "$T/cdretry.err")" "codedeploy PutLifecycleEventHookExecutionStatus succeeded after 2 retries" "... with the count in the log"

# A stalled Secrets Manager: the secret's read ends inside the engine's time, the
# Failed report inside the margin, the answer before the deadline.
before=$(sm_requests)
faults stall stall stall stall stall
printf '%s' '[{"body": {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJl"}, "deadline_in_ms": 7000}]' >"$T/stall.events"
rapi cdstall "$T/gosling" "$(cat "$T/stall.events")" DB_SECRET_ARN="$ARN" DB_SSLMODE=require \
	AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$SM
is_j cdstall '[inv[0]["kind"], inv[0]["error_type"], inv[0]["before_deadline"]]' '["error", "Function.ConfigError", true]' \
	"a stalled Secrets Manager: Function.ConfigError, answered before the deadline ($(j cdstall 'inv[0]["elapsed_ms"]') ms of 7000)"
is "$(sm_calls "$before")" "GetSecretValue:0:stall PutLifecycleEventHookExecutionStatus:0:stall" \
	"... one attempt at the secret until the margin, one at the report inside it"
like "$(j cdstall 'err(0)["errorMessage"]')" "unable to read secret $ARN: POST https://localhost:$SM/: Timeout was reached" "... saying the read timed out"
: >"$T/SM.faults"

# --- proxies: AWS calls take HTTPS_PROXY (not ALL_PROXY), the Runtime API none ------------------

: >"$T/proxy.log"
python3 tests/credentials/connect_proxy.py --log "$T/proxy.log" >"$T/proxy.port" 2>"$T/proxy.err" &
FAKES+=($!)
for _ in $(seq 100); do PX=$(sed -n 's/^port //p' "$T/proxy.port"); [ -n "$PX" ] && break; sleep 0.1; done
tunnels() { wc -l <"$T/proxy.log" | tr -d ' '; }
DEAD=http://127.0.0.1:9	# nothing listens there
gosling_run viaproxy HTTPS_PROXY=http://127.0.0.1:$PX DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc viaproxy) $(tail -1 "$T/proxy.log")" "0 {\"connect\": \"localhost:$SM\"}" "HTTPS_PROXY: GetSecretValue goes through the proxy (CONNECT)"
n=$(tunnels)
gosling_run lowerproxy https_proxy=http://127.0.0.1:$PX DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc lowerproxy) $(($(tunnels) - n))" "0 1" "https_proxy (lower case) too"
n=$(tunnels)
gosling_run noproxy HTTPS_PROXY=http://127.0.0.1:$PX NO_PROXY=example.com,localhost DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc noproxy) $(($(tunnels) - n))" "0 0" "NO_PROXY naming the host: straight to it"
gosling_run allproxy ALL_PROXY=$DEAD all_proxy=$DEAD HTTP_PROXY=$DEAD http_proxy=$DEAD DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
is "$(rc allproxy)" 0 "ALL_PROXY and http_proxy do not apply to AWS's https:// calls (as in the SDKs)"
gosling_run deadproxy HTTPS_PROXY=$DEAD DB_SECRET_ARN="$ARN" DB_SSLMODE=require -- status
like "$(out deadproxy)" "unable to read secret $ARN: POST https://localhost:$SM/: Couldn't connect to server (3 attempts)" \
	"a dead HTTPS_PROXY: three attempts, then the error"
n=$(tunnels)
rapi proxied "$T/gosling" "$cd_event" DB_SECRET_ARN="$ARN" DB_SSLMODE=require AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$SM \
	HTTPS_PROXY=http://127.0.0.1:$PX http_proxy=$DEAD HTTP_PROXY=$DEAD ALL_PROXY=$DEAD all_proxy=$DEAD
is_j proxied '[inv[0]["kind"], res(0)["codedeploy"]["reported"]]' '["response", true]' \
	"lambda with http_proxy and ALL_PROXY dead: the Runtime API loop serves the hook event"
is "$(($(tunnels) - n))" 1 "... GetSecretValue and the CodeDeploy report go through HTTPS_PROXY (one tunnel, kept alive)"

# --- CodeDeploy hook events: extra keys, and Failed on every failure path -------------------------

before=$(sm_requests)
rapi cdextra "$T/gosling" '[{"body": {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoi",
	"DeploymentGroupName": "gosling", "Extra": {"nested": [1, 2]}}},
	{"body": {"DeploymentId": "d-ABCDEF124", "LifecycleEventHookExecutionId": "eyJl", "command": "down"}}]' \
	DB_SECRET_ARN="$ARN" DB_SSLMODE=require AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$SM
is_j cdextra '[i["kind"] for i in inv]' '["response", "response"]' "a CodeDeploy event with extra keys runs up"
is "$(tail -n +"$((before + 1))" "$T/SM.log" | python3 -c 'import json,sys; print([e["body"]["status"] for e in map(json.loads, sys.stdin) if "status" in (e["body"] or {})])')" \
	"['Succeeded', 'Succeeded']" "... and reports Succeeded (other keys, \"command\" included, are not its to read)"
before=$(sm_requests)
rapi cdfail "$T/gosling" "$cd_event" DB_SECRET_ARN="arn:aws:secretsmanager:$REGION:123456789012:secret:nope-AbCdEf" \
	AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$SM
is_j cdfail '[inv[0]["error_type"], res(0)["codedeploy"]["status"], res(0)["codedeploy"]["reported"]]' \
	'["Function.ConfigError", "Failed", true]' "a hook whose secret cannot be read reports Failed"
is "$(sm_calls "$before")" "GetSecretValue:400 PutLifecycleEventHookExecutionStatus:200" "... to CodeDeploy, which accepts it"
before=$(sm_requests)
rapi cdshort "$T/gosling" '[{"body": {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJl"}, "deadline_in_ms": 2500}]' \
	DB_SECRET_ARN="$ARN" DB_SSLMODE=require AWS_ENDPOINT_URL_CODEDEPLOY=https://localhost:$SM
is_j cdshort '[inv[0]["error_type"], res(0)["codedeploy"]["status"], res(0)["codedeploy"]["reported"], inv[0]["before_deadline"]]' \
	'["Function.MigrationFailed", "Failed", true, true]' "a hook with too little time left reports Failed, before the deadline"

# --- the secret's JSON ------------------------------------------------------------------------

secret_arn() { echo "arn:aws:secretsmanager:$REGION:123456789012:secret:$1-XyZ123"; }
gosling_run portstr DB_SECRET_ARN="$(secret_arn port-string)" DB_SSLMODE=require -- up
is "$(rc portstr)" 0 "port as a string works"
is "$(psql_q app_cli 'SELECT count(*) FROM widgets')" 2 "... the CLI migrated the secret's database"
gosling_run pwonly DB_SECRET_ARN="$(secret_arn password-only)" DB_HOST=localhost DB_PORT="$PGPORT" DB_NAME=app_verify \
	DB_SSLMODE=require -- status
is "$(rc pwonly)" 0 "a secret with only username and password: host, port and dbname from DB_*"
gosling_run explicit DB_SECRET_ARN="$ARN" DB_NAME=app_explicit DB_SSLMODE=require -- up
is "$(rc explicit)" 0 "explicit configuration with a secret works"
is "$(psql_q app_explicit 'SELECT count(*) FROM widgets')" 2 "... DB_NAME wins over the secret's dbname"
like "$(cat "$T/explicit.err")" "configured, kept: dbname" "... and the log says so"
gosling_run explicit2 DB_SECRET_ARN="$ARN" DB_PASSWORD=not-the-password DB_SSLMODE=require -- status
is "$(rc explicit2)" 3 "DB_PASSWORD wins over the secret's password (a wrong one fails)"
like "$(out explicit2)" 'password authentication failed for user "app"' "... with PostgreSQL's text"
gosling_run mysql DB_SECRET_ARN="$(secret_arn mysql)" -- status
like "$(out mysql)" 'its engine is "mysql", not PostgreSQL' "a secret for another engine is refused"
gosling_run notjson DB_SECRET_ARN="$(secret_arn not-json)" -- status
like "$(out notjson)" "SecretString is not valid JSON (line 1, column " "a SecretString that is not JSON is refused"
gosling_run badport DB_SECRET_ARN="$(secret_arn bad-port)" -- status
like "$(out badport)" 'field "port" must be a port number (or a string of digits)' "a bad port in the secret is refused"
gosling_run portrange DB_SECRET_ARN="$(secret_arn port-range)" -- status
like "$(out portrange)" 'field "port" must be a port number (or a string of digits)' "a port string out of range (\"70000\") is refused, as the number is"
gosling_run binary DB_SECRET_ARN="$(secret_arn binary)" -- status
like "$(out binary)" "has no SecretString (a binary secret is not supported)" "a binary secret is refused"
gosling_run json DB_SECRET_ARN="$(secret_arn nope)" -- --json status
is "$(rc json)" 3 "the CLI: a secret that cannot be read exits 3"
is "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["error"]["type"], d["ok"])' "$T/json.out")" "Function.ConfigError False" \
	"... and --json says Function.ConfigError"
gosling_run list DB_SECRET_ARN="$(secret_arn nope)" -- list
is "$(rc list)" 0 "list needs no database and reads no secret"

# --- verify-full with the compiled-in CA ---------------------------------------------------------

tls_env=(DB_USER=app DB_PASSWORD=$PASSWORD DB_NAME=app_verify DB_PORT=$PGPORT DB_SSLMODE=verify-full)
GOSLING_BIN=$T/gosling-ca gosling_run vfull "${tls_env[@]}" DB_HOST=localhost -- up
is "$(rc vfull)" 0 "verify-full with the compiled-in CA: connects to localhost"
ok "... and leaves no CA file behind" sh -c "! ls '$T/tmp' | grep -q ."
GOSLING_BIN=$T/gosling-ca gosling_run vwrong "${tls_env[@]}" DB_HOST=127.0.0.1 -- status
is "$(rc vwrong)" 3 "verify-full with a wrong host name (127.0.0.1, certificate for localhost) fails"
like "$(out vwrong)" 'does not match host name "127.0.0.1"' "... with libpq's reason"
ok "... and leaves no CA file behind either" sh -c "! ls '$T/tmp' | grep -q ."
gosling_run vnoca "${tls_env[@]}" DB_HOST=localhost SSL_CERT_FILE="$T/otherca.crt" -- status
is "$(rc vnoca)" 3 "verify-full without a compiled-in CA falls back to the system bundle (here: another CA) and fails"
like "$(out vnoca)" "certificate verify failed" "... certificate verify failed"
gosling_run vsys "${tls_env[@]}" DB_HOST=localhost -- status
is "$(rc vsys)" 0 "... and passes when the system bundle (SSL_CERT_FILE) holds the test CA"
gosling_run vroot "${tls_env[@]}" DB_HOST=localhost DB_SSLROOTCERT="$T/testca.crt" -- status
is "$(rc vroot)" 0 "verify-full with DB_SSLROOTCERT works without a compiled-in CA"
GOSLING_BIN=$T/gosling-ca gosling_run vother "${tls_env[@]}" DB_HOST=localhost DB_SSLROOTCERT="$T/otherca.crt" -- status
is "$(rc vother)" 3 "an explicit sslrootcert wins over the compiled-in CA (the other CA: refused)"
like "$(out vother)" "certificate verify failed" "... certificate verify failed"
GOSLING_BIN=$T/gosling-ca gosling_run vca "${tls_env[@]}" DB_HOST=127.0.0.1 DB_SSLMODE=verify-ca -- status
is "$(rc vca)" 0 "verify-ca with the compiled-in CA accepts the certificate whatever the host name"
gosling_run nossl "${tls_env[@]}" DB_HOST=localhost DB_SSLMODE=disable -- status
is "$(rc nossl)" 3 "sslmode=disable reaches pg_hba's hostnossl reject"
like "$(out nossl)" "no encryption" "... which PostgreSQL says"

# --- IAM authentication: the token gosling sends, checked by the SDK's presigner --------------

iam_env=(DB_IAM_AUTH=1 DB_HOST=localhost DB_PORT=$PGIAM DB_USER=iam_user DB_NAME=app)
gosling_run iam "${iam_env[@]}" -- status
is "$(rc iam)" 3 "IAM: the front door refuses the login after reading the token (exit 3)"
like "$(out iam)" 'password authentication failed for user "iam_user"' "... as PostgreSQL would"
is "$(tail -1 "$T/PGIAM.log" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["tls"], e["user"], e["token_ok"], e.get("token_error"))')" \
	"True iam_user True None" "IAM: the token came over TLS, for iam_user, and the SDK's presigner computes the same signature"
like "$(tail -1 "$T/PGIAM.log")" "localhost:$PGIAM/?Action=connect&DBUser=iam_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=" \
	"IAM: the token is host:port/?Action=connect&DBUser=..."
like "$(tail -1 "$T/PGIAM.log")" "X-Amz-Expires=900&X-Amz-Security-Token=...&X-Amz-SignedHeaders=host&X-Amz-Signature=..." \
	"IAM: 900 s, with the session token, host signed"
gosling_run iamdis "${iam_env[@]}" DB_SSLMODE=disable -- status
like "$(out iamdis)" "DB_IAM_AUTH needs sslmode require, verify-ca or verify-full, not disable" "IAM with sslmode=disable is refused"
gosling_run iamnoreg "${iam_env[@]}" AWS_REGION= -- status
like "$(out iamnoreg)" "DB_IAM_AUTH needs a region: DB_IAM_REGION, an RDS host name or AWS_REGION" "IAM without a region is refused"
gosling_run iamsecret DB_IAM_AUTH=1 DB_SECRET_ARN="$(secret_arn password-only)" DB_HOST=localhost DB_PORT=$PGIAM DB_NAME=app -- status
is "$(tail -1 "$T/PGIAM.log" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["user"], e["token_ok"])')" "app True" \
	"IAM with a secret: the user from the secret, the token instead of its password"

# The token's region: DB_IAM_REGION, else the RDS host name's, else AWS_REGION (eu-west-2 here).
RDSHOST=db1.cluster-c9akciq32.eu-central-1.rds.amazonaws.com
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["region"]="eu-central-1"; d["iam"]={"host": sys.argv[2], "user": "iam_user"}; json.dump(d, open(sys.argv[3], "w"))' \
	"$T/sm.json" "$RDSHOST" "$T/smrds.json"
fake pgauth PGIAMRDS server "$T/smrds.json" && pass "a front door for an RDS host in eu-central-1 listens" || fail "a front door for an RDS host in eu-central-1 listens"
rds_url() { echo "host=$1 hostaddr=127.0.0.1 port=$2 user=iam_user dbname=app"; }
gosling_run iamrds DB_IAM_AUTH=1 DATABASE_URL="$(rds_url "$RDSHOST" "$PGIAMRDS")" -- status
like "$(out iamrds)" "iam auth: token for iam_user@$RDSHOST:$PGIAMRDS in eu-central-1 (from the host name)" \
	"IAM: an RDS host name in eu-central-1 gives the token's region, not AWS_REGION (eu-west-2)"
is "$(tail -1 "$T/PGIAMRDS.log" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["token_ok"], e.get("token_error"))')" "True None" \
	"... and the SDK's presigner for eu-central-1 computes the same signature"
gosling_run iamover DB_IAM_AUTH=1 DB_IAM_REGION=eu-west-2 DATABASE_URL="$(rds_url "$RDSHOST" "$PGIAMRDS")" -- status
like "$(out iamover)" "in eu-west-2 (from DB_IAM_REGION)" "IAM: DB_IAM_REGION overrides the host name's region"
is "$(tail -1 "$T/PGIAMRDS.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_ok"])')" False \
	"... (so the eu-central-1 front door refuses that token)"
for h in "x.cluster-ro-abc.cn-north-1.rds.amazonaws.com.cn cn-north-1 the host name" \
	"x.proxy-abc.us-gov-west-1.rds.amazonaws.com. us-gov-west-1 the host name" \
	"x.abc.us-iso-east-1.rds.c2s.ic.gov us-iso-east-1 the host name" \
	"X.ABC.EU-NORTH-1.RDS.AMAZONAWS.COM eu-north-1 the host name" \
	"db.example.com eu-west-2 AWS_REGION" "rds.amazonaws.com eu-west-2 AWS_REGION"; do
	set -- $h
	host=$1 want=$2
	shift 2
	gosling_run iamhost DB_IAM_AUTH=1 DATABASE_URL="$(rds_url "$host" "$PGIAM")" -- status
	like "$(out iamhost)" "token for iam_user@$host:$PGIAM in $want (from $*)" "IAM: $host: the token is for $want (from $*)"
done
gosling_run iamnoregion DB_IAM_AUTH=1 AWS_REGION= DATABASE_URL="$(rds_url db.example.com "$PGIAM")" -- status
like "$(out iamnoregion)" "DB_IAM_AUTH needs a region: DB_IAM_REGION, an RDS host name or AWS_REGION" "IAM: no region anywhere is refused"
echo "# the published RDS token examples are checked by tests/sigv4.sh (build/tests/test_sigv4)"

# --- valgrind: the secret's paths, good and bad, on one process --------------------------------

if [ -n "${GOSLING_NO_VALGRIND:-}" ] || ! command -v valgrind >/dev/null; then
	skip "secrets under valgrind" "valgrind disabled"
else
	vg="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
	psql -X -q -d postgres -c "CREATE DATABASE app_vg OWNER app" >/dev/null
	rapi vg "$vg --log-file=$T/vg.log $T/gosling-ca" '[{"body": {}}, {"body": {"command": "status"}}, {"body": {"command": "verify"}}, {"body": {}}]' \
		DB_SECRET_ARN="$ARN" DB_NAME=app_vg DB_SSLMODE=verify-full
	is_j vg '[[i["kind"] for i in inv], d["exit_code"]]' '[["response", "response", "response", "response"], 1]' \
		"valgrind: four events with the secret and the compiled-in CA, no error, no leak"
	rapi vgbad "$vg --log-file=$T/vgbad.log $T/gosling" '[{"body": {}}, {"body": {}}]' DB_SECRET_ARN="$(secret_arn not-json)"
	rapi vgbad2 "$vg --log-file=$T/vgbad2.log $T/gosling" '[{"body": {}}, {"body": {}}]' DB_SECRET_ARN="$ARN" \
		AWS_SECRET_ACCESS_KEY=wrong DB_IAM_AUTH=1
	rapi vgiam "$vg --log-file=$T/vgiam.log $T/gosling" '[{"body": {"command": "status"}}, {"body": {}}]' "${iam_env[@]}"
	is "$(j vgbad 'd["exit_code"]') $(j vgbad2 'd["exit_code"]') $(j vgiam 'd["exit_code"]')" "1 1 1" \
		"valgrind: a bad secret, a rejected signature and IAM tokens: no error, no leak"
	for f in vg vgbad vgbad2 vgiam; do [ -s "$T/$f.log" ] && sed 's/^/# /' "$T/$f.log" | head -20; done
fi

# --- no secret anywhere in what gosling wrote --------------------------------------------------------

leaks=$(grep -rlF -e "$PASSWORD" -e "$SKEY" -e "$STOK" -e "${STOK2K:0:200}" -e "${STOK4K:0:200}" -e "wJalrXUtnFEMI" -e "X-Amz-Signature=" -e "dbInstanceIdentifier" \
	"$T"/*.err "$T"/*.out $(ls "$T"/*.json | grep -vE "/sm[0-9a-z]*\.json$") | grep -vE '/(SM|SM2K|SM4K|SMBAD|PGIAM|PGIAMRDS)\.(err|log)$' || true)
# sm*.json are the fakes' own configuration (smrds.json too), not gosling's output
ok "the leak check finds the secret where it is (the fake's own configuration)" grep -qF "$PASSWORD" "$T/sm.json"
is "$leaks" "" "no password, secret key, session token, IAM token or secret text in any log line or answer"
n=$(ls "$T"/*.err | wc -l | tr -d ' ')
ok "... over $n runs' logs and answers, the debug-level Lambda run included" test "$n" -gt 30

done_testing
