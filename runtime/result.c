/*
 * result.c - what one invocation reports: the names of commands and statuses, the
 * result as the engine builds it (the first error, warnings, one item per migration),
 * and the one JSON rendering both faces emit.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "engine_impl.h"
#include "log.h"
#include "text.h"

static const char *const command_names[ENGINE_COMMAND_COUNT] = {
	[ENGINE_UP] = "up",	      [ENGINE_UP_TO] = "up-to", [ENGINE_DOWN] = "down",
	[ENGINE_DOWN_TO] = "down-to", [ENGINE_REDO] = "redo",	[ENGINE_STATUS] = "status",
	[ENGINE_VERIFY] = "verify",   [ENGINE_PLAN] = "plan",	[ENGINE_BASELINE] = "baseline",
	[ENGINE_VERSION] = "version", [ENGINE_LIST] = "list",
};

static const struct {
	int code;
	const char *reason;
	const char *name;
} statuses[ENGINE_STATUS_COUNT] = {
	[ENGINE_OK] = { 0, NULL, "ok" },
	[ENGINE_MIGRATION_FAILED] = { 1, "Function.MigrationFailed", "migration_failed" },
	[ENGINE_BAD_REQUEST] = { 2, "Function.BadRequest", "bad_request" },
	[ENGINE_CONFIG_ERROR] = { 3, "Function.ConfigError", "config_error" },
	[ENGINE_DRIFT] = { 4, "Function.DriftDetected", "drift" },
	[ENGINE_LOCK_TIMEOUT] = { 5, "Function.LockTimeout", "lock_timeout" },
};

const char *
engine_retries_text(uint32_t retries, char *buf, size_t len)
{
	if (retries == 0)
		return "";
	snprintf(buf, len, ", %u %s", retries, retries == 1 ? "retry" : "retries");
	return buf;
}

const char *
engine_command_name(enum engine_command c)
{
	return c < ENGINE_COMMAND_COUNT ? command_names[c] : "unknown";
}

bool
engine_command_parse(const char *name, enum engine_command *out)
{
	for (int i = 0; i < ENGINE_COMMAND_COUNT; i++) {
		if (strcmp(name, command_names[i]) == 0) {
			*out = (enum engine_command)i;
			return true;
		}
	}
	return false;
}

bool
engine_command_needs_version(enum engine_command c)
{
	return c == ENGINE_UP_TO || c == ENGINE_DOWN_TO || c == ENGINE_BASELINE;
}

int
engine_exit_code(enum engine_status s)
{
	return s < ENGINE_STATUS_COUNT ? statuses[s].code : 1;
}

const char *
engine_status_reason(enum engine_status s)
{
	return s < ENGINE_STATUS_COUNT ? statuses[s].reason : "Function.Unknown";
}

const char *
engine_status_name(enum engine_status s)
{
	return s < ENGINE_STATUS_COUNT ? statuses[s].name : "unknown";
}

/* --- building the result -------------------------------------------------------- */

void
result_fail(struct engine_result *res, enum engine_status status, const char *fmt, ...)
{
	va_list ap;

	if (res->status != ENGINE_OK)
		return; /* the first error is the one worth reporting */
	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->error.message, sizeof res->error.message, fmt, ap);
	va_end(ap);
	text_utf8_fix(res->error.message); /* cut to fit: on a character boundary */
}

void
result_fail_db(struct engine_result *res, enum engine_status status, const char *what, const struct db_error *e)
{
	struct engine_error *x = &res->error;

	if (res->status != ENGINE_OK)
		return;
	result_fail(res, status, "%s: %s", what, e->message);
	snprintf(x->sqlstate, sizeof x->sqlstate, "%s", e->sqlstate);
	snprintf(x->pg_message, sizeof x->pg_message, "%s", e->sqlstate[0] ? e->message : "");
	snprintf(x->detail, sizeof x->detail, "%s", e->detail);
	snprintf(x->hint, sizeof x->hint, "%s", e->hint);
}

void
result_warn(struct engine_result *res, const char *fmt, ...)
{
	char buf[1024];
	char **w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	text_utf8_fix(buf);
	log_warn("%s", buf);
	w = realloc(res->warnings, (res->nwarnings + 1) * sizeof *w);
	if (!w)
		return;
	res->warnings = w;
	if ((w[res->nwarnings] = strdup(buf)) != NULL)
		res->nwarnings++;
}

struct engine_item *
result_item_add(struct engine_result *res, int64_t version, const char *name)
{
	struct engine_item *it;
	size_t n = res->nitems;

	/*
	 * The capacity doubles from 16 (full at 0, 16, 32, ...), so a status of a goose table of
	 * 60,000 versions reallocates 13 times, not 60,000 (each a copy of all: quadratic).
	 */
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		if (!(it = realloc(res->items, (n ? 2 * n : 16) * sizeof *it)))
			return NULL;
		res->items = it;
	}
	it = &res->items[res->nitems++];
	memset(it, 0, sizeof *it);
	it->version = version;
	it->name = name;
	it->duration_ms = -1;
	return it;
}

void
engine_result_fail(struct engine_result *res, const struct bundle *b, enum engine_command c, enum engine_status s,
		   const char *message)
{
	memset(res, 0, sizeof *res);
	res->command = c;
	res->build_id = b->build_id;
	res->status = s;
	snprintf(res->error.message, sizeof res->error.message, "%s", message);
}

void
engine_result_free(struct engine_result *res)
{
	for (size_t i = 0; i < res->nitems; i++) {
		free(res->items[i].owned_name);
		free(res->items[i].sql);
		free(res->items[i].dropped_index);
	}
	free(res->items);
	for (size_t i = 0; i < res->nwarnings; i++)
		free(res->warnings[i]);
	free(res->warnings);
	memset(res, 0, sizeof *res);
}

/* --- the one JSON rendering --------------------------------------------------- */

/* A JSON string of s, valid UTF-8 whatever s holds (a history row read back, say). */
static json_t *
text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j || !s || !(copy = strdup(s)))
		return j;
	j = json_string(text_utf8_fix(copy));
	free(copy);
	return j;
}

static json_t *
str_or_null(const char *s)
{
	return s && *s ? text(s) : json_null();
}

char *
engine_result_json(const struct engine_result *res)
{
	json_t *o = json_object(), *items = json_array(), *warns = json_array();
	char *out = NULL;

	if (!o || !items || !warns)
		goto out;
	json_object_set_new(o, "command", json_string(engine_command_name(res->command)));
	if (res->target)
		json_object_set_new(o, "target", text(res->target));
	json_object_set_new(o, "ok", json_boolean(res->status == ENGINE_OK));
	json_object_set_new(o, "status", json_string(engine_status_name(res->status)));
	json_object_set_new(o, "version_before", json_integer(res->version_before));
	json_object_set_new(o, "version_after", json_integer(res->version_after));
	json_object_set_new(o, "build_id", str_or_null(res->build_id));
	for (size_t i = 0; i < res->nitems; i++) {
		const struct engine_item *it = &res->items[i];
		json_t *j = json_object();

		if (!j)
			goto out;
		json_object_set_new(j, "version", json_integer(it->version));
		json_object_set_new(j, "name", str_or_null(it->name));
		json_object_set_new(j, "state", str_or_null(it->state));
		if (it->action)
			json_object_set_new(j, "action", json_string(it->action));
		json_object_set_new(j, "no_transaction", json_boolean(it->no_transaction));
		json_object_set_new(j, "applied_at", str_or_null(it->applied_at));
		json_object_set_new(j, "duration_ms",
				    it->duration_ms >= 0 ? json_integer(it->duration_ms) : json_null());
		if (it->failed_statement)
			json_object_set_new(j, "failed_statement", json_integer(it->failed_statement));
		if (it->action &&
		    (strcmp(it->action, "applied") == 0 || strcmp(it->action, "rolled back") == 0 ||
		     strcmp(it->action, "failed") == 0))
			json_object_set_new(j, "retries", json_integer(it->retries));
		if (it->no_down)
			json_object_set_new(j, "no_down_statements", json_true());
		if (it->dropped_index)
			json_object_set_new(j, "dropped_invalid_index", text(it->dropped_index));
		if (it->sql)
			json_object_set_new(j, "sql", text(it->sql));
		json_array_append_new(items, j);
	}
	json_object_set(o, "migrations", items);
	for (size_t i = 0; i < res->nwarnings; i++)
		json_array_append_new(warns, text(res->warnings[i]));
	json_object_set(o, "warnings", warns);
	if (res->status != ENGINE_OK) {
		const struct engine_error *e = &res->error;
		json_t *j = json_object();

		if (!j)
			goto out;
		json_object_set_new(j, "type", json_string(engine_status_reason(res->status)));
		if (json_object_set_new(j, "message", text(e->message)) != 0) {
			json_decref(j);
			goto out; /* never an error without its message */
		}
		json_object_set_new(j, "file", str_or_null(e->file));
		json_object_set_new(j, "version", e->version ? json_integer(e->version) : json_null());
		json_object_set_new(j, "statement", e->statement ? json_integer(e->statement) : json_null());
		json_object_set_new(j, "line", e->line ? json_integer(e->line) : json_null());
		json_object_set_new(j, "sqlstate", str_or_null(e->sqlstate));
		json_object_set_new(j, "pg_message", str_or_null(e->pg_message));
		json_object_set_new(j, "detail", str_or_null(e->detail));
		json_object_set_new(j, "hint", str_or_null(e->hint));
		json_object_set_new(o, "error", j);
	}
	out = json_dumps(o, JSON_COMPACT);
out:
	json_decref(items);
	json_decref(warns);
	json_decref(o);
	return out;
}
