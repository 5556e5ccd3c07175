/*
 * secrets.h - database credentials from AWS, resolved per invocation (the
 * CLI's one run, each Lambda event; never during Lambda's init):
 *
 *   DB_SECRET_ARN   Secrets Manager GetSecretValue over HTTPS (TLS verified,
 *                   SigV4-signed with the function's credentials).  The
 *                   secret's SecretString is a JSON object that may carry
 *                   username, password, host, port (number or string), dbname
 *                   and engine; each fills the setting only where the
 *                   configuration has none (explicit configuration wins).
 *   DB_IAM_AUTH     an RDS IAM authentication token, computed locally (SigV4
 *                   presign, 15 minutes), is the password; sslmode is at least
 *                   require.
 *
 * The call is runtime/aws.c's aws_call (credentials, region, endpoint, proxy,
 * retries): a secret ARN's own region wins over AWS_REGION, and the endpoint
 * override AWS_ENDPOINT_URL_SECRETS_MANAGER (else AWS_ENDPOINT_URL) must be
 * https://.
 *
 * Nothing here logs or returns a password, a token, a secret key or the
 * secret's text: errors carry AWS's __type and message, the secret's ARN and
 * the names of fields, never values.
 */
#ifndef GOSLING_SECRETS_H
#define GOSLING_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */

struct config;
struct http_client;
struct http_response;

/*
 * secrets_resolve - derive run from base (config_derive) and fill in what the
 * secret and IAM authentication give (no secret is read with a cluster ARN: the RDS
 * Data API logs in with it itself).  http may be NULL when base sets no
 * secret.  deadline_ms (ms since the epoch, 0 = none) bounds the HTTPS call.
 * run is always initialised: release it with config_free(run), success or not.
 * On failure writes the reason to err, e.g.
 *   unable to read secret arn:aws:secretsmanager:...:secret:db: ResourceNotFoundException:
 *   Secrets Manager can't find the specified secret.
 * to be answered as a configuration error (Function.ConfigError, exit 3).
 */
bool secrets_resolve(const struct config *base, struct config *run, struct http_client *http, int64_t deadline_ms,
		     char *err, size_t errlen) MUSTCHECK;

/*
 * secrets_apply_json - fill run from a SecretString (len bytes): the part of
 * secrets_resolve after the HTTPS call.  label names the secret in messages.
 */
bool secrets_apply_json(struct config *run, const char *label, const char *json, size_t len, char *err,
			size_t errlen) MUSTCHECK;

/*
 * secrets_read_answer - the SecretString of Secrets Manager's answer to
 * GetSecretValue (malloc'd into *text, *len bytes; the caller wipes and frees
 * it), or AWS's error type and message in err.  secret names the secret in
 * messages.  The part of secrets_resolve after the HTTPS call; public so that
 * tests/fuzz can feed it.
 */
bool secrets_read_answer(const struct http_response *rs, const char *secret, char **text, size_t *len, char *err,
			 size_t errlen) MUSTCHECK;

#endif
