# tests/lib/dataapi.sh - what the suites over the RDS Data API share (tests/dataapi.sh,
# tests/dataapi_fault.sh): the stand-in tests/rdsdata/data_api.js (node and its pinned pg),
# a test CA, and gosling's environment for it.  Source after tests/lib/pg.sh,
# tests/lib/gosling.sh and tests/lib/fakes.sh, with T set; then
#
#   dataapi_start SUITE           # the prerequisites (node, npm, openssl: else the suite is a
#                                 # SKIP; npm ci of the pinned packages: else a failure), the
#                                 # test CA ($T/ca.crt, $T/server.*), pg_start, fakes_cleanup on exit
#   standin NAME TIMESCALE [AKID SKEY TOKEN]
#                                 # a stand-in forwarding to pg_start's server, its timeouts
#                                 # scaled; its port into the variable NAME, its log in
#                                 # $T/NAME.log, its faults read from $T/NAME.faults; credentials
#                                 # AKID/SKEY (and a session token) instead of the defaults
#   dataapi_env PORT              # da_env: env(1) arguments for gosling over the stand-in on PORT
#   da BIN DB ARGS...             # gosling over the Data API on database DB, waited for: rc, out,
#                                 # err (as tests/lib/gosling.sh's run); dstart: in the background
#                                 # (its pid in bg), finish waits for it
#
# PGHOST in da_env points nowhere, so a libpq connection gosling attempted would fail the run.

AKID=AKIDEXAMPLEDATAAPI
SKEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYzDATAAPIKEY
REGION=eu-west-2
CLUSTER="arn:aws:rds:$REGION:123456789012:cluster:gosling-db"
SECRET="arn:aws:secretsmanager:$REGION:123456789012:secret:gosling/db-AbCdEf"
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_RDS_DATA AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION \
	AWS_DEFAULT_REGION SSL_CERT_FILE HTTPS_PROXY https_proxy DB_CLUSTER_ARN DB_RESOURCE_ARN DB_SECRET_ARN

dataapi_start() {
	dataapi_prereqs || case $? in
	1) skip_prereq "$1" "$DATAAPI_MISSING"; done_testing ;;
	*) fail "the Data API stand-in's packages" "$DATAAPI_MISSING"; done_testing ;;
	esac
	ca ca && cert ca server DNS:localhost || fail "a test CA"
	pg_start
	trap fakes_cleanup EXIT
}

# node, npm, openssl and the npm packages: 0; 1 when a tool is missing, 2 when npm ci fails,
# why in DATAAPI_MISSING
dataapi_prereqs() {
	local nodedir=$GOSLING_ROOT/build/rdsdata-node
	if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v openssl >/dev/null; then
		DATAAPI_MISSING="node, npm or openssl missing"
		return 1
	fi
	if ! cmp -s "$GOSLING_ROOT/tests/rdsdata/package-lock.json" "$nodedir/package-lock.json" ||
		[ ! -d "$nodedir/node_modules/pg" ]; then
		mkdir -p "$nodedir" && cp "$GOSLING_ROOT"/tests/rdsdata/package{,-lock}.json "$nodedir/"
		(cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
			{ DATAAPI_MISSING="npm ci of tests/rdsdata's pg: $(cat "$T/npm.log")"; return 2; }
	fi
	if [ ! -f "$GOSLING_ROOT/tests/sigv4/node_modules/.package-lock.json" ]; then
		(cd "$GOSLING_ROOT/tests/sigv4" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
			{ DATAAPI_MISSING="npm ci in tests/sigv4"; return 2; }
	fi
	export NODE_PATH=$nodedir/node_modules
}

standin() {
	python3 - "$T/$1.json" "${3:-$AKID}" "${4:-$SKEY}" "${5:-}" "$REGION" "$CLUSTER" "$SECRET" "$PGHOST" "$PGPORT" "$2" <<'EOF'
import json, sys
f, akid, skey, token, region, cluster, secret, host, port, scale = sys.argv[1:]
cfg = {"accessKeyId": akid, "secretAccessKey": skey, "region": region,
       "clusters": [{"resourceArn": cluster, "secretArn": secret,
                     "pg": {"host": host, "port": int(port), "user": "postgres"}}],
       "timeScale": float(scale)}
if token:
    cfg["sessionToken"] = token
json.dump(cfg, open(f, "w"))
EOF
	: >"$T/$1.log"
	node "$GOSLING_ROOT/tests/rdsdata/data_api.js" --config "$T/$1.json" --key "$T/server.key" --cert "$T/server.crt" \
		--log "$T/$1.log" --faults "$T/$1.faults" >"$T/$1.port" 2>"$T/$1.err" &
	FAKES+=($!)
	fake_port "$T/$1.port" "$1"
}

dataapi_env() {
	da_env=(AWS_REGION=$REGION AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SKEY SSL_CERT_FILE=$T/ca.crt
		DB_CLUSTER_ARN=$CLUSTER DB_SECRET_ARN=$SECRET AWS_ENDPOINT_URL_RDS_DATA=https://localhost:$1
		PGHOST=/nonexistent PGPORT=1)
}

da() {
	local bin=$1 db=$2
	shift 2
	set +e
	env "${da_env[@]}" DB_NAME="$db" "$bin" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}
dstart() {
	local bin=$1 db=$2
	shift 2
	env "${da_env[@]}" DB_NAME="$db" "$bin" "$@" >"$T/out" 2>"$T/err" &
	bg=$!
}
