#!/usr/bin/env bash
# tests/lambda/spec_client.sh - a scripted "bootstrap" in curl that checks the local
# Runtime API itself: it prints "what status" for each request, and tests/lambda.sh
# compares them with AWS's spec (202, 400, 403, 404, 413).  Needs 4 events.
set -u
api=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
next() {
	curl -s -D - -o /dev/null "$api/invocation/next" | tr -d '\r' |
		awk -F': ' 'tolower($1) == "lambda-runtime-aws-request-id" { print $2 }'
}
echo "response-before-next $(code -X POST -d '{}' "$api/invocation/x/response")"
id=$(next)
echo "init-error-after-next $(code -X POST -d '{}' "$api/init/error")"
echo "next-while-invoking $(code "$api/invocation/next")"
echo "wrong-request-id $(code -X POST -d '{}' "$api/invocation/nope/response")"
echo "response $(code -X POST -d '{}' "$api/invocation/$id/response")"
echo "second-response $(code -X POST -d '{}' "$api/invocation/$id/response")"
echo "error-after-response $(code -X POST -d '{}' "$api/invocation/$id/error")"
id=$(next)
big=$(mktemp)
head -c 7000000 /dev/zero | tr '\0' x >"$big"
echo "too-large $(code -X POST --data-binary @"$big" "$api/invocation/$id/response")"
rm -f "$big"
id=$(next)
echo "error $(code -X POST -H 'Lambda-Runtime-Function-Error-Type: Oops' -d '{}' "$api/invocation/$id/error")"
id=$(next)
echo "error-function $(code -X POST -H 'Lambda-Runtime-Function-Error-Type: Function.oops' -d '{}' "$api/invocation/$id/error")"
echo "unknown-path $(code "$api/nothing")"
echo "wrong-method $(code -X PUT -d '{}' "$api/invocation/next")"
