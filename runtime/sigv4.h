/*
 * sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256): signed headers for an
 * HTTPS request, presigned query strings, and RDS IAM authentication tokens.
 *
 * Pure computation over OpenSSL's SHA-256 and HMAC: no network, no clock (the
 * caller passes the time), no logging.  Nothing here ever prints or stores the
 * secret key; intermediate keys are wiped before the functions return.
 *
 * What the signer does with its input (AWS's "create a canonical request"):
 *   - path: split on '/', empty and "." segments dropped, ".." removes the
 *     previous one; the result starts with '/' and keeps a trailing '/' when
 *     any segment is left; then every byte outside
 *     A-Z a-z 0-9 - . _ ~ and '/' is percent-encoded.  So a path already
 *     encoded on the wire ("/a%20b") is encoded again ("/a%2520b"): that is the
 *     rule for every service but S3 (see sigv4_request.path_as_is).
 *   - query: the string as sent, without '?'.  Split on '&' (empty pieces
 *     ignored) and on the first '='; each name and value is percent-decoded
 *     ('+' stays '+'), re-encoded with the rule above ('/' encoded too), and
 *     the pairs are sorted by name, then value.
 *   - headers: names lower-cased; values trimmed, runs of spaces, tabs, CR and
 *     LF collapsed to one space; a name given several times keeps its values
 *     in order, joined with ','; sorted by name.  Headers that proxies rewrite
 *     are not signed (authorization, user-agent, x-amzn-trace-id, connection,
 *     expect, transfer-encoding and the rest of the AWS JS SDK's list, proxy-*,
 *     sec-*).
 *   - payload: hex SHA-256 of the body, or payload_hash when given.
 */
#ifndef GOSLING_SIGV4_H
#define GOSLING_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "attr.h" /* MUSTCHECK */

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" for long-term keys */
};

struct sigv4_request {
	const char *method;		    /* "GET", "POST", ... */
	const char *path;		    /* "/" when NULL or "" */
	const char *query;		    /* without '?', NULL or "" for none */
	const struct sigv4_header *headers; /* must include host */
	size_t nheaders;
	const void *payload; /* body bytes, NULL for none */
	size_t payload_len;
	const char *payload_hash; /* NULL, or used instead of hashing payload */
	const char *region;	  /* "us-east-1" */
	const char *service;	  /* "secretsmanager", "rds-db" */
	time_t time;		  /* signing time, seconds since the epoch */
	bool path_as_is;	  /* S3: the path is used verbatim */
	bool token_unsigned;	  /* session token added after signing */
};

/*
 * The result of signing.  Every string is owned by the struct: release it with
 * sigv4_result_free().  `headers` are what to add to the request (the values
 * point into this struct or into the credentials passed in):
 *   sigv4_sign:    X-Amz-Date (unless the request has it),
 *                  X-Amz-Security-Token (with a session token, unless present),
 *                  Authorization.
 *   sigv4_presign: none (everything is in out->query).
 * With a session token, canonical_request, query and headers carry it: they
 * are credentials and must not be logged.
 */
struct sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char *authorization; /* sigv4_sign only, else NULL */
	char *query;	     /* sigv4_presign only: the whole query to send, else NULL */
	char signature[65];  /* lower-case hex */
	char amz_date[17];   /* "20150830T123600Z" */
	struct sigv4_header headers[3];
	size_t nheaders;
};

/*
 * sigv4_sign - sign req for an Authorization header.  With a session token the
 * X-Amz-Security-Token header is signed too, unless req->token_unsigned (then
 * it is only added to out->headers).  If req already carries X-Amz-Date its
 * value must equal req->time.  Fails only on a missing field, a bad time, an
 * X-Amz-Date that disagrees, or out of memory; *out is then zeroed.
 *
 *   GET / with host example.amazonaws.com, us-east-1, service, AKIDEXAMPLE,
 *   20150830T123600Z gives
 *   "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,
 *    SignedHeaders=host;x-amz-date, Signature=5fa00fa3...3fbf31"
 */
bool
sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds, struct sigv4_result *out) MUSTCHECK;

/*
 * sigv4_presign - sign req in its query string, valid for `expires` seconds
 * (1 to 604800).  out->query is the canonical query, that is req's parameters
 * plus X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-Security-Token (with a session token) and X-Amz-SignedHeaders, sorted
 * and encoded, followed by "&X-Amz-Signature=<hex>" (and, with token_unsigned,
 * "&X-Amz-Security-Token=..." after it).  Only req's headers are signed.  The
 * payload hash is that of the (usually empty) payload unless payload_hash is
 * given.
 */
bool sigv4_presign(const struct sigv4_request *req, const struct sigv4_credentials *creds, unsigned expires,
		   struct sigv4_result *out) MUSTCHECK;

/* sigv4_result_free - free what a result owns and zero it; safe on a zeroed one. */
void sigv4_result_free(struct sigv4_result *r);

/*
 * sigv4_rds_iam_token - the password for an RDS IAM database login: a presigned
 * GET of "/?Action=connect&DBUser=<user>" for service "rds-db", signed header
 * host = "<host>:<port>", empty payload, 15 minutes, without the scheme:
 *
 *   "<host>:<port>/?Action=connect&DBUser=<user>&X-Amz-Algorithm=AWS4-HMAC-SHA256
 *    &X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=900
 *    [&X-Amz-Security-Token=...]&X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>"
 *
 * Computed locally; the database checks it.  *token is malloc'd, the caller
 * frees it (and should wipe it: it is a credential for 15 minutes).
 */
bool sigv4_rds_iam_token(const char *host, unsigned port, const char *region, const char *user,
			 const struct sigv4_credentials *creds, time_t time, char **token) MUSTCHECK;

#endif
