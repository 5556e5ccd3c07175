/*
 * event.c - lambda_event_decode (lambda.h): one invocation's event, strictly.  A
 * command event, a CodeDeploy lifecycle hook or Terraform's aws_lambda_invocation;
 * every other field, a duplicate key or a value of the wrong type is refused with a
 * message naming the field.  The CLI's --event uses the same decoder.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "lambda.h"
#include "log.h"

static bool
decode_string(const char *field, json_t *v, char *out, size_t outlen, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return errorf(err, errlen, "field \"%s\" must be a string, not %s", field, json_kind(v));
	if (json_string_length(v) == 0)
		return errorf(err, errlen, "field \"%s\" must not be empty", field);
	if (json_string_length(v) >= outlen)
		return errorf(err, errlen, "field \"%s\" is longer than %zu bytes", field, outlen - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return errorf(err, errlen, "field \"%s\" contains a NUL character", field);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static bool
decode_bool(const char *field, json_t *v, bool *out, char *err, size_t errlen)
{
	if (!json_is_boolean(v))
		return errorf(err, errlen, "field \"%s\" must be true or false, not %s", field, json_kind(v));
	*out = json_is_true(v);
	return true;
}

/* A version: a non-negative integer, or a string of digits (as the CLI takes it). */
static bool
decode_version(json_t *v, int64_t *out, char *err, size_t errlen)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		long long n;

		errno = 0;
		n = strtoll(s, &end, 10);
		if (*s >= '0' && *s <= '9' && !*end && !errno && strspn(s, "0123456789") == strlen(s) &&
		    strlen(s) == json_string_length(v)) {
			*out = n;
			return true;
		}
	}
	return errorf(err, errlen, "field \"version\" must be a non-negative integer (or a string of digits), not %s",
		      json_is_integer(v)	  ? "a negative one"
			      : json_is_string(v) ? "that string"
						  : json_kind(v));
}

/*
 * A CodeDeploy lifecycle hook event: its two ids, and nothing else is ours to
 * judge (CodeDeploy may add keys; refusing them would leave the deployment
 * waiting for a report).  The loop reports Failed for any later failure once
 * both ids are known.
 */
static bool
decode_codedeploy(json_t *o, struct lambda_event *ev, char *err, size_t errlen)
{
	json_t *id = json_object_get(o, "DeploymentId"), *hook = json_object_get(o, "LifecycleEventHookExecutionId");

	ev->kind = LAMBDA_CODEDEPLOY;
	ev->req.command = ENGINE_UP;
	if (id && !decode_string("DeploymentId", id, ev->deployment_id, sizeof ev->deployment_id, err, errlen))
		return false;
	if (hook &&
	    !decode_string("LifecycleEventHookExecutionId", hook, ev->hook_execution_id, sizeof ev->hook_execution_id,
			   err, errlen)) {
		ev->deployment_id[0] = '\0';
		return false;
	}
	if (!ev->deployment_id[0])
		return errorf(err, errlen, "field \"DeploymentId\" is required in a CodeDeploy lifecycle hook event");
	if (!ev->hook_execution_id[0])
		return errorf(
			err, errlen,
			"field \"LifecycleEventHookExecutionId\" is required in a CodeDeploy lifecycle hook event");
	return true;
}

/* Terraform's aws_lambda_invocation with lifecycle_scope = "CRUD" adds {"tf": {"action", "prev_input"}}. */
static bool
decode_tf(json_t *tf, struct lambda_event *ev, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(tf))
		return errorf(err, errlen, "field \"tf\" must be an object, not %s", json_kind(tf));
	json_object_foreach(tf, key, v)
	{
		if (strcmp(key, "action") == 0) {
			if (!decode_string("tf.action", v, ev->tf_action, sizeof ev->tf_action, err, errlen))
				return false;
			if (strcmp(ev->tf_action, "create") != 0 && strcmp(ev->tf_action, "update") != 0 &&
			    strcmp(ev->tf_action, "delete") != 0)
				return errorf(
					err, errlen,
					"field \"tf.action\" must be \"create\", \"update\" or \"delete\", not \"%s\"",
					ev->tf_action);
		} else if (strcmp(key, "prev_input") != 0) {
			/* prev_input is the input of the previous apply: whatever it was, it is not ours to judge */
			return errorf(err, errlen, "unknown field \"tf.%s\"", key);
		}
	}
	if (!ev->tf_action[0])
		return errorf(err, errlen, "field \"tf.action\" is required when \"tf\" is given");
	return true;
}

bool
lambda_event_decode(const char *body, size_t len, struct lambda_event *ev, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o, *v;
	const char *key;
	bool ok = false;

	memset(ev, 0, sizeof *ev);
	ev->kind = LAMBDA_COMMAND;
	ev->req.command = ENGINE_UP;
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return errorf(err, errlen, "the event is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
			      jerr.column);
	if (!json_is_object(o)) {
		errorf(err, errlen, "the event must be a JSON object, not %s", json_kind(o));
		goto out;
	}
	if (json_object_get(o, "DeploymentId") || json_object_get(o, "LifecycleEventHookExecutionId")) {
		ok = decode_codedeploy(o, ev, err, errlen);
		goto out;
	}
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "command") == 0) {
			char name[32];

			if (!decode_string(key, v, name, sizeof name, err, errlen))
				goto out;
			if (!engine_command_parse(name, &ev->req.command)) {
				errorf(err, errlen,
				       "field \"command\": unknown command \"%s\" (up, up-to, down, down-to, redo, status, "
				       "verify, plan, baseline, version, list)",
				       name);
				goto out;
			}
		} else if (strcmp(key, "version") == 0) {
			if (!decode_version(v, &ev->req.version, err, errlen))
				goto out;
			ev->req.has_version = true;
		} else if (strcmp(key, "allow_down") == 0) {
			if (!decode_bool(key, v, &ev->req.allow_down, err, errlen))
				goto out;
		} else if (strcmp(key, "allow_out_of_order") == 0) {
			if (!decode_bool(key, v, &ev->req.allow_out_of_order, err, errlen))
				goto out;
		} else if (strcmp(key, "atomic") == 0) {
			if (!decode_bool(key, v, &ev->req.atomic, err, errlen))
				goto out;
		} else if (strcmp(key, "head_only") == 0) {
			if (!decode_bool(key, v, &ev->req.head_only, err, errlen))
				goto out;
		} else if (strcmp(key, "target") == 0) {
			if (!target_parse(v, &ev->target, err, errlen))
				goto out;
			ev->has_target = true;
		} else if (strcmp(key, "tf") == 0) {
			if (!decode_tf(v, ev, err, errlen))
				goto out;
		} else {
			errorf(err, errlen,
			       "unknown field \"%s\" (the event takes command, version, allow_down, "
			       "allow_out_of_order, atomic, head_only, target and Terraform's tf)",
			       key);
			goto out;
		}
	}
	if (ev->req.has_version && !engine_command_needs_version(ev->req.command) && ev->req.command != ENGINE_PLAN) {
		errorf(err, errlen, "field \"version\" does not apply to \"%s\"", engine_command_name(ev->req.command));
		goto out;
	}
	if (!ev->req.has_version && engine_command_needs_version(ev->req.command)) {
		errorf(err, errlen, "field \"version\" is required by \"%s\"", engine_command_name(ev->req.command));
		goto out;
	}
	if (ev->req.head_only && ev->req.command != ENGINE_VERIFY) {
		errorf(err, errlen, "field \"head_only\" applies to \"verify\", not to \"%s\"",
		       engine_command_name(ev->req.command));
		goto out;
	}
	if (ev->has_target && ev->req.command == ENGINE_LIST) {
		errorf(err, errlen, "field \"target\" does not apply to \"list\": it reads no database");
		goto out;
	}
	if (strcmp(ev->tf_action, "delete") == 0)
		ev->kind = LAMBDA_TF_DELETE;
	ok = true;
out:
	json_decref(o);
	return ok;
}
