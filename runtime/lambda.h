/*
 * lambda.h - gosling as an AWS Lambda custom runtime (provided.al2023): the
 * Runtime API loop (2018-06-01, lambda.c) and the decoding of the events it serves (event.c).
 *
 * main() calls lambda_main() when AWS_LAMBDA_RUNTIME_API is set and there are
 * no arguments.  The loop asks /runtime/invocation/next for an event (no
 * timeout), turns it into a struct engine_request, runs the engine with the
 * invocation's deadline and answers /response with the engine's JSON, or /error
 * with {"errorType": "Function.MigrationFailed", "errorMessage": ...}.
 * Configuration unusable before the first event goes to /runtime/init/error.
 * No database work happens during init: the engine connects per invocation
 * and has closed its connections before the answer is posted.
 *
 * Events:
 *   {}                                         up
 *   {"command": "up-to", "version": 3}         any engine command, with its arguments
 *   {"command": "up", "target": {"id": "tenant_42", "schema": "tenant_42"}}
 *                                              a fleet member instead of the function's own
 *                                              database (runtime/target.h: its fields, the
 *                                              allow-list); the result carries "target": id
 *   {"command": "verify", "head_only": true, "target": ...}
 *                                              fleet verify: the history's newest row only
 *   {"DeploymentId": ..., "LifecycleEventHookExecutionId": ...}
 *                                              CodeDeploy hook: up, then report the status
 *   {..., "tf": {"action": "delete", "prev_input": ...}}
 *                                              Terraform aws_lambda_invocation (CRUD): delete does nothing
 * Anything else (unknown keys, wrong types, unknown commands, duplicate keys,
 * trailing junk) is Function.BadRequest naming the field, before any connection.
 * A CodeDeploy event's other keys are ignored (CodeDeploy may add some), and
 * once its two ids are known every failure is reported to CodeDeploy as Failed.
 */
#ifndef GOSLING_LAMBDA_H
#define GOSLING_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */
#include "engine.h"
#include "target.h"

struct http_response;

enum lambda_event_kind {
	LAMBDA_COMMAND,	   /* run req */
	LAMBDA_CODEDEPLOY, /* run req (up), then report to CodeDeploy */
	LAMBDA_TF_DELETE,  /* Terraform destroy: nothing to do */
};

struct lambda_event {
	enum lambda_event_kind kind;
	struct engine_request req; /* deadline and progress are the loop's to set */
	char tf_action[16];	   /* "create", "update", "delete"; empty when not Terraform's */
	char deployment_id[128];   /* CodeDeploy */
	char hook_execution_id[2048];
	bool has_target; /* "target": a fleet member (runtime/target.h) */
	struct target target;
};

/*
 * lambda_event_decode - decode one event (len bytes of JSON) into *ev.  On a
 * bad event returns false with a message naming the field in err, e.g.
 *   field "version" must be a non-negative integer
 */
bool lambda_event_decode(const char *body, size_t len, struct lambda_event *ev, char *err, size_t errlen) MUSTCHECK;

/* What the loop takes from the headers of a /next response. */
struct lambda_next {
	const char *id;		  /* Lambda-Runtime-Aws-Request-Id; NULL when missing or unusable
					 * (empty, over 256 bytes, or holding '/', '?', '#', '%', ' ') */
	const char *arn;	  /* Lambda-Runtime-Invoked-Function-Arn, or NULL */
	const char *trace;	  /* Lambda-Runtime-Trace-Id, NULL when missing or empty */
	int64_t deadline_ms;	  /* Lambda-Runtime-Deadline-Ms, 0 when missing, not a number or not positive */
	const char *bad_deadline; /* the deadline header when it is not a positive number */
};

/*
 * lambda_next_headers - read the invocation's headers from next (pointers into
 * next's headers).  The loop's first step for each event; public so that
 * tests/fuzz can feed it.
 */
void lambda_next_headers(const struct http_response *next, struct lambda_next *nx);

/*
 * lambda_main - run the Runtime API loop against the endpoint in
 * AWS_LAMBDA_RUNTIME_API ("host:port") with bundle b.  Returns only when the
 * loop cannot go on (init error, a 500 from the Runtime API, a broken
 * connection): the process's exit code, never 0.
 */
int lambda_main(const struct bundle *b);

#endif
