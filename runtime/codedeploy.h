/*
 * codedeploy.h - the CodeDeploy side of a lifecycle hook: a Lambda invoked by
 * CodeDeploy with {"DeploymentId": ..., "LifecycleEventHookExecutionId": ...}
 * must tell CodeDeploy how the hook went, with
 * PutLifecycleEventHookExecutionStatus; until it does, the deployment waits
 * (an hour) for a status that never comes.  So every hook invocation reports,
 * Failed on any failure path.
 */
#ifndef GOSLING_CODEDEPLOY_H
#define GOSLING_CODEDEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */

struct http_client;

/*
 * codedeploy_report - PutLifecycleEventHookExecutionStatus with status
 * ("Succeeded" or "Failed") for the hook, a signed call through aws_call
 * (runtime/aws.h: the function's credentials and region, the endpoint override
 * AWS_ENDPOINT_URL_CODEDEPLOY, retries), bounded by deadline_ms.  Logs the
 * outcome; on failure writes AWS's or the network's reason to err.
 */
bool codedeploy_report(struct http_client *http, const char *deployment_id, const char *hook_execution_id,
		       const char *status, int64_t deadline_ms, char *err, size_t errlen) MUSTCHECK;

/*
 * codedeploy_result_json - json (a JSON object's text) with a "codedeploy"
 * member: {"deployment_id", "hook_execution_id", "status", "reported",
 * "error" (when not reported)}.  malloc'd; NULL when json is not an object or
 * out of memory.
 */
char *codedeploy_result_json(const char *json, const char *deployment_id, const char *hook_execution_id,
			     const char *status, bool reported, const char *why) MUSTCHECK;

#endif
