/*
 * aws.h - one signed call to an AWS JSON API, the way the AWS SDKs make it,
 * without an SDK: Secrets Manager's GetSecretValue, CodeDeploy's
 * PutLifecycleEventHookExecutionStatus, and next the RDS Data API all go
 * through aws_call.
 *
 *   static const struct aws_service sm = {
 *           "secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "secretsmanager", true, NULL,
 *   };
 *   struct aws_request rq = { .service = &sm, .operation = "GetSecretValue",
 *                             .body = "{\"SecretId\":\"db\"}", .len = 17, .deadline_ms = d,
 *                             .who = "DB_SECRET_ARN" };
 *   struct http_response rs;
 *   if (aws_call(http, &rq, &rs, err, sizeof err))
 *           ... rs.body is the answer (HTTP 2xx) ...
 *   http_response_free(&rs);
 *
 * What it takes from the environment, as the SDKs do:
 *   credentials   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *                 (Lambda sets all three for the execution role)
 *   region        the request's own (a secret ARN's), else AWS_REGION, else
 *                 AWS_DEFAULT_REGION
 *   endpoint      the service's AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL,
 *                 else https://<prefix>.<region>.<the partition's domain>/
 *   proxy         HTTPS_PROXY / NO_PROXY (runtime/http.h, HTTP_PROXY_AWS)
 *   TLS           SSL_CERT_FILE, else the system's CA bundle
 *
 * Retries follow the SDKs' standard mode (botocore's retries/standard.py,
 * version 2.0 of the SDK retry spec): at most 3 attempts; another attempt
 * after a network failure, HTTP 500, 502, 503 or 504, a transient error code
 * (RequestTimeout, RequestTimeoutException, PriorRequestNotComplete) or a
 * throttling one (Throttling, ThrottlingException, TooManyRequestsException,
 * ... the SDKs' list); before attempt i+1 a full-jitter wait of
 * rand(0,1) * min(2^(i-1), 20) seconds.  Unlike the SDKs, an untrusted server
 * certificate is not retried, and the deadline bounds everything: no attempt
 * starts, and no wait is begun, that cannot end before it.  Each retry is
 * logged (warn) with its cause; a call that needed retries logs their count.
 */
#ifndef GOSLING_AWS_H
#define GOSLING_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */

struct http_client;
struct http_response;
struct sigv4_credentials;

#define AWS_MAX_ATTEMPTS 3

/*
 * A service, as its model names it.  Two of the models' protocols: JSON 1.1
 * (target_prefix set: POST / with X-Amz-Target <prefix>.<operation> and
 * application/x-amz-json-1.1) and REST-JSON (target_prefix NULL: POST to the
 * operation's requestUri, application/json, no X-Amz-Target).
 */
struct aws_service {
	const char *name;	      /* the SigV4 signing name and endpoint prefix: "secretsmanager" */
	const char *endpoint_env;     /* its endpoint override: "AWS_ENDPOINT_URL_SECRETS_MANAGER" */
	const char *target_prefix;    /* JSON 1.1's X-Amz-Target prefix: "secretsmanager", "CodeDeploy_20141006";
					 * NULL: REST-JSON */
	bool https_only;	      /* refuse an http:// override: the answer carries a secret */
	const char *const *retryable; /* NULL-terminated error codes retried as transient besides the
					 * SDKs' list ("DatabaseResumingException"), or NULL */
};

struct aws_request {
	const struct aws_service *service;
	const char *operation; /* "GetSecretValue": X-Amz-Target <target_prefix>.<operation>;
					 * REST-JSON: the name in messages ("ExecuteStatement") */
	const char *uri;       /* REST-JSON: the operation's requestUri, "/Execute" (after the
					 * endpoint's own path); unused for JSON 1.1 */
	const char *region;    /* NULL: AWS_REGION, else AWS_DEFAULT_REGION */
	const char *body;      /* the JSON request */
	size_t len;
	int64_t deadline_ms; /* ms since the epoch, 0 = none: bounds attempts and waits */
	size_t max_body;     /* a longer answer fails; 0 = 1 MiB */
	long attempt_ms;     /* one attempt at most this long (the deadline still bounds it);
					 * 0 = 10 s */
	const char *who;     /* what needs the call, in messages: "DB_SECRET_ARN" */
	bool once;	     /* not idempotent: sent on a new connection, and a network failure
					 * once it may have reached the service (http_response.sent) is
					 * not tried again */
};

/*
 * aws_call - send rq, signed, with retries.  True when an HTTP 2xx answer is
 * in *rs; false with the reason in err: AWS's error type and message
 * ("ThrottlingException: Rate exceeded (3 attempts)"), libcurl's text for a
 * network failure, or a missing region, credentials or endpoint.  *rs is
 * always initialised and holds the last answer, if any: free it with
 * http_response_free (wipe its body first when it may hold a secret).
 */
bool aws_call(struct http_client *http, const struct aws_request *rq, struct http_response *rs, char *err,
	      size_t errlen) MUSTCHECK;

/*
 * aws_credentials - the function's credentials from the environment (pointers
 * into it).  False when AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is unset,
 * with "<who> needs AWS credentials: ..." in err.
 */
bool aws_credentials(struct sigv4_credentials *cr, const char *who, char *err, size_t errlen) MUSTCHECK;

/* aws_region - AWS_REGION, else AWS_DEFAULT_REGION, else NULL. */
const char *aws_region(void);

/*
 * aws_rds_region - the region in an RDS host name (instance, cluster, proxy),
 * "<name>.<...>.<region>.rds.<partition domain>", copied into out: eu-west-2
 * from db.cluster-c9akciq32.eu-west-2.rds.amazonaws.com, cn-north-1 from
 * ...cn-north-1.rds.amazonaws.com.cn, us-gov-west-1, us-iso-east-1 from
 * .rds.c2s.ic.gov.  False for any other name.
 */
bool aws_rds_region(const char *host, char *out, size_t outlen) MUSTCHECK;

/*
 * aws_error_text - AWS's error in an answer: "ResourceNotFoundException:
 * Secrets Manager can't find the specified secret." from JSON's __type (its
 * part after '#') and message, or x-amzn-ErrorType; "HTTP 503" when neither.
 */
void aws_error_text(const struct http_response *rs, char *out, size_t outlen);

/*
 * aws_error_code - the error code alone ("DatabaseErrorException"), from the
 * JSON body's __type (its part after '#') or x-amzn-ErrorType (its part
 * before ':'); "" when neither is there.
 */
void aws_error_code(const struct http_response *rs, char *code, size_t codelen);

#endif
