/* codedeploy.c - reporting a lifecycle hook's outcome to CodeDeploy. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "codedeploy.h"
#include "http.h"
#include "log.h"

static const struct aws_service codedeploy = {
	"codedeploy", "AWS_ENDPOINT_URL_CODEDEPLOY", "CodeDeploy_20141006", false, NULL,
};

bool
codedeploy_report(struct http_client *http, const char *deployment_id, const char *hook_execution_id,
		  const char *status, int64_t deadline_ms, char *err, size_t errlen)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "deploymentId", deployment_id, "lifecycleEventHookExecutionId",
			      hook_execution_id, "status", status);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct aws_request rq = {
		.service = &codedeploy,
		.operation = "PutLifecycleEventHookExecutionStatus",
		.body = body,
		.len = body ? strlen(body) : 0,
		.deadline_ms = deadline_ms,
		.who = "the codedeploy report",
	};
	struct http_response rs;
	char why[768];
	bool ok;

	json_decref(o);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	ok = aws_call(http, &rq, &rs, why, sizeof why);
	if (ok)
		log_info("reported %s to codedeploy for deployment %s", status, deployment_id);
	else
		snprintf(err, errlen, "unable to report %s to codedeploy for deployment %s: %s", status, deployment_id,
			 why);
	http_response_free(&rs);
	free(body);
	return ok;
}

char *
codedeploy_result_json(const char *json, const char *deployment_id, const char *hook_execution_id, const char *status,
		       bool reported, const char *why)
{
	json_t *o = json_loads(json, 0, NULL), *cd;
	char *s = NULL;

	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	cd = json_pack("{s:s, s:s, s:s, s:b}", "deployment_id", deployment_id, "hook_execution_id", hook_execution_id,
		       "status", status, "reported", reported);
	if (cd && !reported)
		json_object_set_new(cd, "error", json_string(why));
	if (cd) {
		json_object_set_new(o, "codedeploy", cd);
		s = json_dumps(o, JSON_COMPACT);
	}
	json_decref(o);
	return s;
}
