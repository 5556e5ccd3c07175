#!/usr/bin/env bash
# tests/rdsdata.sh - the RDS Data API client (runtime/rdsdata.c, through
# build/tests/rdsdata-tool) against the local stand-in (tests/rdsdata/data_api.js)
# forwarding to a real PostgreSQL (tests/lib/pg.sh):
#
#   - the stand-in: HTTPS with a test CA made here, SigV4 checked with the AWS JS
#     SDK's signer, the model's members and limits; raw requests signed by curl
#     (--aws-sigv4) check its refusals apart from the client; the AWS SDK's own RDS
#     Data client (tests/rdsdata/sdk_check.js) reads its answers and errors as AWS's;
#   - the client: transactions that commit and roll back, PostgreSQL's errors with
#     their SQLSTATE, the 65,536-character and 1 MiB limits, overlapping calls,
#     the 45 s call timeout with and without continueAfterTimeout and the 3-minute
#     idle expiry (both scaled down), retries on DatabaseResumingException,
#     throttling and 5xx, a wrong key, a 1.2 KB session token, the endpoint
#     variables, multi-byte text and a 1,000-row result;
#   - every output and the stand-in's log grepped for the credentials.
# Prints TAP.  Needs node and npm (tests/sigv4's signer, tests/rdsdata's pg and SDK client), openssl, curl.
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$(mktemp -d /tmp/gosling-rdsdata.XXXXXX)
. tests/lib/pg.sh
. tests/lib/fakes.sh
trap fakes_cleanup EXIT
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_RDS_DATA AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION \
	AWS_DEFAULT_REGION SSL_CERT_FILE HTTPS_PROXY https_proxy GOSLING_LOG_LEVEL DB_NAME DB_CLUSTER_ARN DB_SECRET_ARN
TOOL=$ROOT/build/tests/rdsdata-tool

if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v openssl >/dev/null ||
   ! command -v curl >/dev/null; then
	skip_prereq "rdsdata" "node, npm, openssl or curl missing"
	done_testing
fi
if [ ! -f tests/sigv4/node_modules/.package-lock.json ] ||
   [ tests/sigv4/package-lock.json -nt tests/sigv4/node_modules/.package-lock.json ]; then
	(cd tests/sigv4 && npm ci --no-audit --no-fund >/dev/null 2>&1) || { fail "npm ci in tests/sigv4"; done_testing; }
fi
# pg and the SDK's RDS Data client, pinned by tests/rdsdata/package-lock.json, into build/rdsdata-node
# (as tests/terraform.sh does)
nodedir=$ROOT/build/rdsdata-node
mkdir -p "$nodedir"
if ! cmp -s tests/rdsdata/package-lock.json "$nodedir/package-lock.json" || [ ! -d "$nodedir/node_modules/pg" ] ||
   [ ! -d "$nodedir/node_modules/@aws-sdk/client-rds-data" ]; then
	cp tests/rdsdata/package.json tests/rdsdata/package-lock.json "$nodedir/"
	(cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
		{ fail "npm ci of tests/rdsdata's pg" "$(cat "$T/npm.log")"; done_testing; }
fi
export NODE_PATH=$nodedir/node_modules

# --- a test CA and the stand-in's certificate ---------------------------------------------

ca ca && cert ca server DNS:localhost
ok_rc $? "a test CA and a certificate for localhost"

pg_start
trap fakes_cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<'EOF'
CREATE DATABASE app;
EOF

# --- the stand-in -------------------------------------------------------------------------------

AKID=AKIDEXAMPLERDSDATA
SKEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYzRDSDATAKEY
REGION=eu-west-2
CLUSTER="arn:aws:rds:$REGION:123456789012:cluster:gosling-db"
SECRET="arn:aws:secretsmanager:$REGION:123456789012:secret:gosling/db-AbCdEf"
# a Lambda execution role's session token runs past 1,000 characters: 1,200 here ('/', '+', '=' included)
STOK=$(python3 -c '
import base64, hashlib
raw = b"".join(hashlib.sha512(b"rdsdata-token-%d" % i).digest() for i in range(15))
t = "IQoJb3JpZ2luX2Vj" + base64.b64encode(raw).decode()
print(t[:1198] + "==")')
[ ${#STOK} -eq 1200 ] || fail "the session token is 1,200 characters" "${#STOK}"
# standin NAME TIMESCALE: start data_api.js; its port goes to the variable NAME
standin() {
	local var=$1
	python3 - "$T/$var.json" "$AKID" "$SKEY" "$STOK" "$REGION" "$CLUSTER" "$SECRET" "$PGHOST" "$PGPORT" "$2" <<'EOF'
import json, sys
f, akid, skey, stok, region, cluster, secret, host, port, scale = sys.argv[1:]
json.dump({"accessKeyId": akid, "secretAccessKey": skey, "sessionToken": stok, "region": region,
           "clusters": [{"resourceArn": cluster, "secretArn": secret,
                         "pg": {"host": host, "port": int(port), "user": "postgres"}}],
           "timeScale": float(scale)}, open(f, "w"))
EOF
	: >"$T/$var.log"
	node tests/rdsdata/data_api.js --config "$T/$var.json" --key "$T/server.key" --cert "$T/server.crt" \
		--log "$T/$var.log" --faults "$T/$var.faults" >"$T/$var.port" 2>"$T/$var.err" &
	FAKES+=($!)
	fake_port "$T/$var.port" "$var"
}
standin API 1 && pass "the stand-in listens (HTTPS, test CA)" || fail "the stand-in listens" "$(cat "$T/API.err")"
# timeScale 0.02: 45 s per call is 0.9 s, 3 minutes idle is 3.6 s
standin FAST 0.02 && pass "a stand-in with its timeouts scaled by 0.02 listens" ||
	fail "a stand-in with its timeouts scaled by 0.02 listens" "$(cat "$T/FAST.err")"

aws_env=(AWS_REGION=$REGION AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SKEY AWS_SESSION_TOKEN=$STOK
	SSL_CERT_FILE=$T/ca.crt DB_CLUSTER_ARN=$CLUSTER DB_SECRET_ARN=$SECRET DB_NAME=app)
# rd NAME [VAR=value...] -- ARGS: the tool against the stand-in (AWS_ENDPOINT_URL_RDS_DATA);
# stdout to $T/NAME.out, stderr to $T/NAME.err, exit status to $T/NAME.rc; under $VG's
# valgrind command when set, its report to $T/NAME.vg
VG=
rd() {
	local name=$1 rc=0
	shift
	local envs=(AWS_ENDPOINT_URL_RDS_DATA=https://localhost:$API)
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${aws_env[@]}" GOSLING_LOG_LEVEL=debug "${envs[@]}" ${VG:+$VG --log-file=$T/$name.vg} "$TOOL" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" || rc=$?
	echo $rc >"$T/$name.rc"
}
rc() { cat "$T/$1.rc"; }
out() { cat "$T/$1.out"; }
err() { cat "$T/$1.err"; }
calls() { grep -c "\"operation\":\"$2\"" "$T/$1.log" | tr -d ' '; }
q() { psql -X -At -d app -c "$1"; }

# --- transactions ---------------------------------------------------------------------------------

rd create -- exec "CREATE TABLE t (id int PRIMARY KEY, v text)"
is "$(rc create)" 0 "ExecuteStatement outside a transaction: CREATE TABLE $(err create | tail -1)"
rd begin1 -- begin
TX1=$(out begin1)
is "$(rc begin1)/${#TX1}" "0/184" "BeginTransaction answers a 184-character transaction id"
rd ins1 -- exec -t "$TX1" -p id=l:1 -p v=s:one "INSERT INTO t VALUES (:id, :v)"
is "$(rc ins1)/$(err ins1 | tail -1)" "0/updated 1" "an INSERT in the transaction: numberOfRecordsUpdated 1"
rd see1 -- exec -t "$TX1" "SELECT v FROM t WHERE id = 1"
is "$(out see1)" "one" "the transaction sees its own row"
is "$(q 'SELECT count(*) FROM t')" 0 "PostgreSQL does not see it before the commit"
rd commit1 -- commit "$TX1"
is "$(rc commit1)" 0 "CommitTransaction"
is "$(q 'SELECT v FROM t WHERE id = 1')" "one" "the committed row is in PostgreSQL"
rd commit1again -- commit "$TX1"
is "$(rc commit1again)" 14 "a committed transaction's id is not found again (TransactionNotFoundException)"
like "$(err commit1again)" "TransactionNotFoundException: Transaction $TX1 is not found" "... with AWS's message"

rd begin2 -- begin
TX2=$(out begin2)
rd ins2 -- exec -t "$TX2" "INSERT INTO t VALUES (2, 'two')"
rd rollback2 -- rollback "$TX2"
is "$(rc ins2)/$(rc rollback2)" "0/0" "a transaction with an INSERT, rolled back (RollbackTransaction)"
is "$(q 'SELECT count(*) FROM t WHERE id = 2')" 0 "the rolled-back row is not in PostgreSQL"

rd begin3 -- begin
TX3=$(out begin3)
rd lock3 -- exec -t "$TX3" "SELECT pg_advisory_xact_lock(4242)"
rd lockfree -- exec "SELECT pg_try_advisory_xact_lock(4242)"
is "$(rc lock3)/$(out lockfree)" "0/f" "a transaction-scoped advisory lock holds across calls of one transaction"
rd fail3 -- exec -t "$TX3" "SELECT 1/0"
rd after3 -- exec -t "$TX3" "SELECT 1"
like "$(err after3)" "current transaction is aborted" "after an error the transaction is PostgreSQL's aborted one"
rd commit3 -- commit "$TX3"
is "$(rc commit3)" 11 "committing an aborted transaction is an error, not a success"
like "$(err commit3)" "SQLState: 25P02" "... with SQLSTATE 25P02"

rd set4 -- exec "SET search_path TO nowhere"
rd show4 -- exec "SHOW search_path"
is "$(out show4)" '"$user", public' "no session outside a transaction: a SET does not carry over to the next call"

# 8 clients at once, each a transaction that takes pg_advisory_xact_lock, reads a counter and writes
# it back: the lock serialises them across calls, so no increment is lost
q "CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)" >/dev/null
bump() {
	local tx
	rd "bump$1" -- begin
	tx=$(out "bump$1")
	rd "bumplock$1" -- exec -t "$tx" "SELECT pg_advisory_xact_lock(77)"
	rd "bumpread$1" -- exec -t "$tx" "SELECT n FROM counter"
	rd "bumpwrite$1" -- exec -t "$tx" -p n=l:$(($(out "bumpread$1") + 1)) "UPDATE counter SET n = :n"
	rd "bumpcommit$1" -- commit "$tx"
}
bumpers=()
for i in 1 2 3 4 5 6 7 8; do bump $i & bumpers+=($!); done
wait "${bumpers[@]}"	# (not a bare wait: the stand-ins run in the background too)
is "$(q 'SELECT n FROM counter')/$(cat "$T"/bumpcommit*.rc | sort -u)" "8/0" \
	"8 concurrent transactions under pg_advisory_xact_lock: 8 increments, none lost"

# --- PostgreSQL's errors -------------------------------------------------------------------------

rd missing -- exec "SELECT * FROM missing_table"
is "$(rc missing)" 11 "a statement PostgreSQL refuses: DatabaseErrorException"
like "$(err missing)" 'DatabaseErrorException: ERROR: relation "missing_table" does not exist' "... with PostgreSQL's message"
like "$(err missing)" "Position: 15; SQLState: 42P01" "... its position and SQLSTATE as the Data API words them"
like "$(err missing)" "database error [42P01]" "... the SQLSTATE parsed into the status"
rd dup -- exec "INSERT INTO t VALUES (1, 'again')"
like "$(err dup)" 'Detail: Key (id)=(1) already exists.; SQLState: 23505' "a unique violation carries PostgreSQL's detail and 23505"
rd multi -- exec "SELECT 1; SELECT 2"
like "$(err multi)" "cannot insert multiple commands into a prepared statement" "two statements in one call: PostgreSQL refuses them"
is "$(calls API ExecuteStatement | awk '$1 > 0 {print "some"}')" some "the stand-in logs each ExecuteStatement"

# --- the limits -----------------------------------------------------------------------------------

# a statement of exactly 65,536 characters, and one more; 65,536 two-byte characters are 131,072 bytes
python3 -c 'n = 65536; s = "SELECT 1 -- "; print(s + "x" * (n - len(s)), end="")' >"$T/sql65536"
python3 -c 'n = 65537; s = "SELECT 1 -- "; print(s + "x" * (n - len(s)), end="")' >"$T/sql65537"
python3 -c 'n = 65536; s = "SELECT 1 -- "; print(s + "é" * (n - len(s)), end="")' >"$T/sql65536mb"
rd sqlmax -- exec -f "$T/sql65536"
rd sqlover -- exec -f "$T/sql65537"
rd sqlmb -- exec -f "$T/sql65536mb"
is "$(rc sqlmax)/$(out sqlmax)" "0/1" "a 65,536-character sql is accepted"
is "$(rc sqlover)" 17 "a 65,537-character sql is refused (BadRequestException)"
like "$(err sqlover)" "Member must have length less than or equal to 65536" "... with the model's constraint"
is "$(rc sqlmb)/$(out sqlmb)" "0/1" "65,536 two-byte characters (131,072 bytes) are accepted: the limit counts characters"
rd big -- exec "SELECT repeat('x', 1100000)"
is "$(rc big)" 17 "a result over 1 MiB is refused (BadRequestException)"
like "$(err big)" "Database returned more than the allowed response size limit" "... with AWS's message"
rd under -- exec "SELECT repeat('x', 1000000)"
is "$(rc under)/$(out under | wc -c)" "0/1000001" "a 1,000,000-byte value (under 1 MiB with its JSON) is read whole"

# overlapping calls in one transaction
rd begin5 -- begin
TX5=$(out begin5)
rd sleep5 -- exec -t "$TX5" "SELECT pg_sleep(2)" &
sleeper=$!
sleep 0.7
rd overlap5 -- exec -t "$TX5" "SELECT 1"
wait $sleeper
is "$(rc overlap5)" 11 "a call overlapping another in the same transaction is refused"
like "$(err overlap5)" "DatabaseErrorException: Transaction is still running a query" "... with AWS's message"
is "$(rc sleep5)" 0 "... and the running call completes"
rd rollback5 -- rollback "$TX5"

# the call timeout (0.9 s at timeScale 0.02) with and without continueAfterTimeout
rdf() { local n=$1; shift; rd "$n" AWS_ENDPOINT_URL_RDS_DATA=https://localhost:$FAST "$@"; }
rdf slow -- exec "CREATE TABLE slow_cancelled AS SELECT 1 AS x FROM pg_sleep(2)"
is "$(rc slow)" 13 "a statement past the call's time: StatementTimeoutException"
like "$(err slow)" "StatementTimeoutException: Request timed out" "... with AWS's message"
is "$(grep -c '"answer":"StatementTimeoutException"' "$T/FAST.log")" 1 "... answered once: a StatementTimeoutException is not retried"
rdf slowc -- exec -c "CREATE TABLE slow_continued AS SELECT 1 AS x FROM pg_sleep(2)"
is "$(rc slowc)" 13 "with continueAfterTimeout the call times out all the same"
sleep 2.5
is "$(q "SELECT to_regclass('slow_cancelled') IS NULL, to_regclass('slow_continued') IS NOT NULL")" "t|t" \
	"the statement without continueAfterTimeout was cancelled; the one with it ran to its end"

# the idle expiry (3.6 s at timeScale 0.02)
rdf begin6 -- begin
TX6=$(out begin6)
rdf ins6 -- exec -t "$TX6" "INSERT INTO t VALUES (6, 'six')"
sleep 4.5
rdf late6 -- exec -t "$TX6" "SELECT 1"
is "$(rc ins6)/$(rc late6)" "0/14" "a transaction idle past its expiry is gone: TransactionNotFoundException"
is "$(q 'SELECT count(*) FROM t WHERE id = 6')" 0 "... and rolled back"

# --- retries ---------------------------------------------------------------------------------------

: >"$T/API.log"
printf 'resuming\nresuming\n' >"$T/API.faults"
rd resume -- exec "SELECT 'awake'"
is "$(rc resume)/$(out resume)" "0/awake" "DatabaseResumingException twice, then the answer: retried"
is "$(grep -c '"answer":"DatabaseResumingException"' "$T/API.log")/$(calls API ExecuteStatement)" "2/3" "... in 3 calls"
like "$(err resume)" "retry 2 of 2" "... each retry logged"
printf 'resuming\nresuming\nresuming\n' >"$T/API.faults"
rd resume3 -- exec "SELECT 1"
is "$(rc resume3)" 12 "DatabaseResumingException 3 times: the resuming error, after 3 attempts"
like "$(err resume3)" "(3 attempts)" "... its message says so"
printf 'throttle\n503\n' >"$T/API.faults"
rd throttle -- exec "SELECT 2"
is "$(rc throttle)/$(out throttle)" "0/2" "throttling then a 503, then the answer: retried"
printf 'throttle\nthrottle\nthrottle\n' >"$T/API.faults"
rd throttle3 -- exec "SELECT 3"
is "$(rc throttle3)" 15 "throttled 3 times: the throttled error"
printf '504\n504\n504\n' >"$T/API.faults"
rd unavail -- exec "SELECT 4"
is "$(rc unavail)" 16 "DatabaseUnavailableException (504) 3 times: unavailable"
printf '500\n' >"$T/API.faults"
rd ise -- begin
is "$(rc ise)" 0 "InternalServerErrorException (500) once: retried"
rd ise_rb -- rollback "$(out ise)"
: >"$T/API.faults"

# --- signatures, tokens, endpoints ------------------------------------------------------------------

: >"$T/API.log"
rd wrongkey AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYzWRONGKEY -- exec "SELECT 1"
is "$(rc wrongkey)" 18 "a request signed with a wrong key is refused"
like "$(err wrongkey)" "InvalidSignatureException: The request signature we calculated does not match" "... InvalidSignatureException"
is "$(calls API ExecuteStatement)" 1 "... and not retried"
rd notoken AWS_SESSION_TOKEN= -- exec "SELECT 1"
like "$(err notoken)" "UnrecognizedClientException" "a request without the session token is refused"
rd tok -- exec "SELECT 'token ok'"
is "$(rc tok)/$(out tok)" "0/token ok" "a 1,200-character session token is accepted"
is "$(tail -1 "$T/API.log" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["token_len"], d["token_whole"])')" \
	"1200 True" "... sent whole (the stand-in saw 1,200 bytes, equal to the credential's)"
rd generic AWS_ENDPOINT_URL_RDS_DATA= AWS_ENDPOINT_URL=https://localhost:$API -- exec "SELECT 'generic'"
is "$(out generic)" generic "AWS_ENDPOINT_URL is used when AWS_ENDPOINT_URL_RDS_DATA is unset"
rd specific AWS_ENDPOINT_URL=https://localhost:1 -- exec "SELECT 'specific'"
is "$(out specific)" specific "AWS_ENDPOINT_URL_RDS_DATA wins over AWS_ENDPOINT_URL"
# no endpoint variable: the service's host in the cluster ARN's region and partition (the call
# itself goes to a proxy nobody listens on, so it fails at once)
rd default AWS_ENDPOINT_URL_RDS_DATA= HTTPS_PROXY=http://127.0.0.1:1 AWS_REGION=us-east-1 \
	DB_CLUSTER_ARN=arn:aws-cn:rds:cn-north-1:123456789012:cluster:db -- exec "SELECT 1"
like "$(err default)" "rds-data ExecuteStatement at https://rds-data.cn-north-1.amazonaws.com.cn/ (region cn-north-1)" \
	"without an endpoint variable: https://rds-data.<the ARN's region>.<its partition's domain>/"
rd plain AWS_ENDPOINT_URL_RDS_DATA=http://localhost:$API -- exec "SELECT 1"
like "$(err plain)" "AWS_ENDPOINT_URL_RDS_DATA must be an https:// URL" "an http:// endpoint is refused"
rd untrusted SSL_CERT_FILE=/dev/null -- exec "SELECT 1"
is "$(rc untrusted)" 18 "a certificate from an unknown CA is refused"
rd wrongcluster DB_CLUSTER_ARN="arn:aws:rds:$REGION:123456789012:cluster:other" -- exec "SELECT 1"
like "$(err wrongcluster)" "HttpEndpointNotEnabledException" "another cluster's ARN is refused"
rd wrongsecret DB_SECRET_ARN="$SECRET-x" -- exec "SELECT 1"
like "$(err wrongsecret)" "SecretsErrorException" "another secret's ARN is refused"
rd nodb DB_NAME= -- exec "SELECT 1"
is "$(rc nodb)" 17 "a call without a database is refused by the stand-in (gosling always names one)"
rd otherdb DB_NAME=postgres -- exec "SELECT current_database()"
is "$(out otherdb)" postgres "database selects the database"

# raw requests, signed by curl, for what the client never sends
raw() {
	curl -s --cacert "$T/ca.crt" --aws-sigv4 "aws:amz:$REGION:rds-data" --user "$AKID:$SKEY" \
		-H "x-amz-security-token: $STOK" -H "Content-Type: application/json" \
		-o "$T/raw.body" -D "$T/raw.headers" -w '%{http_code}' "https://localhost:$API$1" --data-binary "$2"
}
is "$(raw /Execute "{\"secretArn\":\"$SECRET\",\"database\":\"app\",\"sql\":\"SELECT 1\"}")" 400 "a call without resourceArn: 400"
like "$(cat "$T/raw.headers")" "x-amzn-ErrorType: BadRequestException" "... BadRequestException in x-amzn-ErrorType"
like "$(cat "$T/raw.body")" "at 'resourceArn' failed to satisfy constraint: Member must not be null" "... naming the member"
is "$(raw /Execute "{\"resourceArn\":\"$CLUSTER\",\"database\":\"app\",\"sql\":\"SELECT 1\"}")" 400 "a call without secretArn: 400"
is "$(raw /Execute "{\"resourceArn\":\"$CLUSTER\",\"secretArn\":\"$SECRET\",\"database\":\"app\"}")" 400 "an ExecuteStatement without sql: 400"
is "$(raw /CommitTransaction "{\"resourceArn\":\"$CLUSTER\",\"secretArn\":\"$SECRET\",\"transactionId\":\"x\",\"database\":\"app\"}")" \
	400 "a member the operation does not have is refused (stricter than AWS)"
raw /Execute "{\"resourceArn\":\"$CLUSTER\",\"secretArn\":\"$SECRET\",\"database\":\"app\",\"includeResultMetadata\":true,\"sql\":\"SELECT 1::int4 AS a, 'x'::text AS b, 2.5::numeric AS c, NULL::int8 AS d, true AS e, 1.5::float8 AS f, decode('00ff', 'hex') AS g, ARRAY[1,NULL]::int8[] AS h, 9007199254740993::int8 AS i\"}" >/dev/null
is "$(python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
print(json.dumps(d["records"], separators=(",", ":")))
print(",".join("%s:%s:%s" % (c["name"], c["typeName"], c["type"]) for c in d["columnMetadata"]))' "$T/raw.body")" \
'[[{"longValue":1},{"stringValue":"x"},{"stringValue":"2.5"},{"isNull":true},{"booleanValue":true},{"doubleValue":1.5},{"blobValue":"AP8="},{"arrayValue":{"longValues":[1,null]}},{"longValue":9007199254740993}]]
a:int4:4,b:text:12,c:numeric:2,d:int8:-5,e:bool:-7,f:float8:8,g:bytea:-2,h:_int8:2003,i:int8:-5' \
	"records in the model's Field union, columnMetadata with includeResultMetadata, int8 digits unrounded"
raw /Execute "{\"resourceArn\":\"$CLUSTER\",\"secretArn\":\"$SECRET\",\"database\":\"app\",\"formatRecordsAs\":\"JSON\",\"sql\":\"SELECT 1 AS a, 'x' AS b\"}" >/dev/null
is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["formattedRecords"])' "$T/raw.body")" \
	'[{"a":1,"b":"x"}]' "formatRecordsAs JSON: formattedRecords"
is "$(raw /BatchExecute "{\"resourceArn\":\"$CLUSTER\",\"secretArn\":\"$SECRET\",\"database\":\"app\",\"sql\":\"INSERT INTO t VALUES (:id, :v)\",\"parameterSets\":[[{\"name\":\"id\",\"value\":{\"longValue\":10}},{\"name\":\"v\",\"value\":{\"stringValue\":\"ten\"}}],[{\"name\":\"id\",\"value\":{\"longValue\":11}},{\"name\":\"v\",\"value\":{\"isNull\":true}}]]}")/$(q 'SELECT count(*) FROM t WHERE id IN (10, 11)')" \
	"200/2" "BatchExecuteStatement: one statement, two parameter sets"

# --- the AWS SDK's own RDS Data client against the stand-in ----------------------------------------

# (its stderr, node's warnings, apart: a line on stdout that is not PASS or FAIL fails)
tap_passfail "AWS SDK: " "AWS SDK: " < <(env "${aws_env[@]}" NODE_EXTRA_CA_CERTS="$T/ca.crt" RESUME_FAULTS="$T/API.faults" \
	node tests/rdsdata/sdk_check.js "$API" "$FAST" 2>"$T/sdk.stderr" || echo "the SDK's checks exited non-zero")
: >"$T/API.faults"

# --- values ----------------------------------------------------------------------------------------

rd params -- exec -p s=s:it\'s -p n=l:9007199254740993 -p z=null \
	"SELECT :s, :n, :z, ':s', \$\$:n\$\$, 1::int /* :s */ -- :n"
is "$(out params)" "it's|9007199254740993|\\N|:s|:n|1" "named parameters (string, long, NULL), not in quotes, dollar quotes or comments"
rd types -- exec "SELECT true, false, 1.5::float8, 0.1::float8, '\\x00ff'::bytea, ARRAY[1,NULL,3]::int[], ARRAY['a','b c','', NULL, 'x\"y']::text[], 12.30::numeric, NULL::text, '', now()::date - now()::date"
is "$(out types)" "$(q "SELECT true, false, 1.5::float8, 0.1::float8, '\\x00ff'::bytea, ARRAY[1,NULL,3]::int[], ARRAY['a','b c','', NULL, 'x\"y']::text[], 12.30::numeric, '\\N', '', now()::date - now()::date")" \
	"each Field shape read back as PostgreSQL's own text"
MB="naïve café — Ελληνικά, русский, 日本語, 한국어, עברית, العربية, emoji 🐘🚀, combining e\xcc\x81"
MB=$(printf "$MB")
rd mbins -- exec -p v=s:"$MB" "INSERT INTO t VALUES (100, :v)"
rd mbsel -- exec "SELECT v, length(v), octet_length(v) FROM t WHERE id = 100"
is "$(out mbsel)" "$MB|$(q 'SELECT length(v) FROM t WHERE id = 100')|$(q 'SELECT octet_length(v) FROM t WHERE id = 100')" \
	"multi-byte text round trip (2-, 3- and 4-byte UTF-8, combining marks)"
is "$(q 'SELECT v FROM t WHERE id = 100')" "$MB" "... stored as sent"
rd rows -- exec "SELECT g, md5(g::text), CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END FROM generate_series(1, 1000) g"
q "SELECT g, md5(g::text), CASE WHEN g % 7 = 0 THEN '\\N' ELSE (g * 1.5)::text END FROM generate_series(1, 1000) g" >"$T/rows.want"
is "$(out rows | wc -l | tr -d ' ')" 1000 "a 1,000-row result"
ok "... equal to psql's, row by row" cmp "$T/rows.out" "$T/rows.want"

# --- valgrind: rows, parameters, errors and retries, no error and no leak ---------------------------

if [ -n "${GOSLING_NO_VALGRIND:-}" ] || ! command -v valgrind >/dev/null; then
	skip "the client under valgrind" "valgrind disabled"
else
	VG="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
	rd vgrows -- exec -p v=s:"$MB" -p n=l:-5 -p z=null \
		"SELECT g, :v, :n, :z, ARRAY[g, NULL], g % 2 = 0, decode('00ff', 'hex') FROM generate_series(1, 1000) g"
	printf 'resuming\n' >"$T/API.faults"
	rd vgerr -- exec "SELECT * FROM missing_table"
	rd vgbig -- exec "SELECT repeat('x', 1100000)"
	rd vgtx -- begin
	VG=
	is "$(rc vgrows) $(out vgrows | wc -l | tr -d ' ') $(rc vgerr) $(rc vgbig) $(rc vgtx)" "0 1000 11 17 0" \
		"valgrind: 1,000 rows with parameters, a retried database error, a refused result, a transaction: no error, no leak"
	for f in vgrows vgerr vgbig vgtx; do [ -s "$T/$f.vg" ] && diag "$T/$f.vg" | head -20; done
	rd vgrb -- rollback "$(out vgtx)"
fi

# --- no secret in any output ---------------------------------------------------------------------

leaks=$(grep -lF -e "$SKEY" -e "$STOK" -e "${SKEY:0:20}" -e "${STOK:100:40}" "$T"/*.out "$T"/*.err "$T"/*.log 2>/dev/null || true)
ok "the leak check finds the credentials where they are (the stand-in's own configuration)" \
	grep -qF -e "$SKEY" -e "${STOK:100:40}" "$T/API.json"
is "$leaks" "" "no output, debug log or stand-in log holds the secret key or the session token"

done_testing
