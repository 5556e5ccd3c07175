/*
 * invoke.h - one command as the CLI (main.c) and the Lambda loop (lambda.c) both run it:
 * the event's target checked and applied (target.h), the credentials resolved
 * (secrets.h: the secret read, an RDS IAM token made), then engine_run; whatever stops
 * it before the engine fails the result with its status and reason.  One path, so the
 * two cannot disagree on what runs first or on what a refusal reads and opens (nothing).
 */
#ifndef GOSLING_INVOKE_H
#define GOSLING_INVOKE_H

#include <stdint.h>

#include "engine.h"

struct bundle;
struct config;
struct http_client;
struct target;

struct invoke {
	const struct config *base; /* the process's configuration: kept, not copied */
	const struct bundle *b;
	const struct target *target; /* the event's or --target-json's, or NULL */
	struct http_client *http;    /* for the secret; NULL: one is made (and freed) when one is needed */
	int64_t secret_deadline_ms;  /* bounds reading the secret, ms since the epoch; 0 = none */
};

/*
 * invoke_run - run req over in into res (which engine_run fills; free it with
 * engine_result_free).  list needs no database: it runs on in->base as it is.  A
 * target outside the allow-list fails res with ENGINE_BAD_REQUEST before any secret is
 * read or anything connects; a secret that cannot be read, with ENGINE_CONFIG_ERROR.
 * res->target is the target's id (borrowed from in->target) when there is one.
 */
void invoke_run(const struct invoke *in, const struct engine_request *req, struct engine_result *res);

#endif
