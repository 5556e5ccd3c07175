/*
 * lambda.c - the Lambda Runtime API loop (the events' decoding is event.c).
 *
 * One process serves many invocations: everything an invocation allocates
 * (the event, the engine's result, the JSON) is freed before the next /next.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bundle.h"
#include "clock.h"
#include "codedeploy.h"
#include "config.h"
#include "engine.h"
#include "envsub.h"
#include "http.h"
#include "invoke.h"
#include "lambda.h"
#include "log.h"
#include "signals.h"
#include "text.h"

#define API_VERSION "2018-06-01"
#define MAX_PAYLOAD (6u * 1024 * 1024) /* a synchronous response: 6 MiB (Lambda takes 100 bytes more) */
#define POST_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 5000L
#define POST_RESERVE_MS 300	   /* kept at the end of an invocation to post its answer */
#define CODEDEPLOY_RESERVE_MS 2500 /* the least margin a CodeDeploy hook keeps for its report */

struct lambda {
	const struct bundle *b;
	struct http_client *http;
	char base[512]; /* http://host:port/2018-06-01/runtime */
	struct config cfg;
	int64_t connect_timeout; /* the configured connect-timeout, in seconds */
	int64_t margin;		 /* the configured deadline-margin, in ms */
	uint32_t applied;	 /* per invocation: migrations applied or rolled back */
};

/* What the Runtime API said about one post. */
enum post_outcome {
	POST_OK,
	POST_REJECTED,
	POST_FATAL
};

/* --- results over Lambda's response limit ------------------------------------------ */

/* Bytes item takes inside a compact JSON array (its comma included); SIZE_MAX when out of memory. */
static size_t
json_size(const json_t *item)
{
	size_t n = json_dumpb(item, NULL, 0, JSON_COMPACT);

	return n ? n + 1 : SIZE_MAX;
}

/* Whether a migration item must survive trimming: the one that failed, or where one stopped. */
static bool
item_kept_always(const json_t *item)
{
	const char *action = json_string_value(json_object_get(item, "action"));
	const char *state = json_string_value(json_object_get(item, "state"));

	return (action && strcmp(action, "failed") == 0) || (state && strcmp(state, "partial") == 0);
}

/*
 * Keep arr's elements, in order, within budget bytes: first those keep() says must stay
 * (when keep is not NULL), then the others from the front.  Returns how many went and
 * sets *used to the bytes the kept ones take.
 */
static size_t
array_trim(json_t *arr, size_t budget, bool (*keep)(const json_t *), size_t *used)
{
	size_t n = json_array_size(arr), dropped = 0, total = 0;
	size_t *size = calloc(n ? n : 1, sizeof *size);
	bool *stay = calloc(n ? n : 1, sizeof *stay);

	if (!size || !stay) {
		free(size);
		free(stay);
		*used = SIZE_MAX;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size[i] = json_size(json_array_get(arr, i));
		if (keep && keep(json_array_get(arr, i)) && total + size[i] <= budget) {
			stay[i] = true;
			total += size[i];
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!stay[i] && total + size[i] <= budget) {
			stay[i] = true;
			total += size[i];
		}
	for (size_t i = n; i-- > 0;)
		if (!stay[i]) {
			json_array_remove(arr, i);
			dropped++;
		}
	free(size);
	free(stay);
	*used = total;
	return dropped;
}

/* How many of the migrations did each thing ("applied": 18000, "failed": 1, ...): by action, else state. */
static json_t *
item_counts(const json_t *items)
{
	json_t *counts = json_object(), *item;
	size_t i;

	if (!counts)
		return NULL;
	json_array_foreach(items, i, item)
	{
		const char *key = json_string_value(json_object_get(item, "action"));

		if (!key)
			key = json_string_value(json_object_get(item, "state"));
		if (key)
			json_object_set_new(counts, key,
					    json_integer(json_integer_value(json_object_get(counts, key)) + 1));
	}
	return counts;
}

#define TRIM_SLACK 256 /* the digits of the counts written after measuring */

/*
 * result_trim - a result document cut to fit limit bytes, malloc'd; NULL when it
 * cannot fit (or out of memory).  What the engine did is never cut: command, ok,
 * status, versions, build id, the error, the migration that failed or stopped.  The
 * per-migration list loses items from its end, then the warnings theirs (each keeps at
 * least half the room when the other needs it), and "trimmed" says what went:
 *   "trimmed":{"reason":"...","migrations":18000,"migrations_dropped":2100,
 *              "warnings":0,"warnings_dropped":0,"counts":{"applied":18000}}
 */
static char *
result_trim(const char *json, size_t limit)
{
	json_t *o = json_loads(json, 0, NULL), *items, *warns, *t;
	size_t nitems, nwarns, base, room, wsize = 0, iused, wused, idrop, wdrop;
	char *out = NULL;

	if (!json_is_object(o))
		goto out;
	items = json_incref(json_object_get(o, "migrations"));
	warns = json_incref(json_object_get(o, "warnings"));
	json_object_set_new(o, "migrations", json_array());
	json_object_set_new(o, "warnings", json_array());
	nitems = json_array_size(items);
	nwarns = json_array_size(warns);
	t = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o*}", "reason",
		      "the result was over lambda's 6 MB response limit: the per-migration list was cut", "migrations",
		      (json_int_t)nitems, "migrations_dropped", (json_int_t)0, "warnings", (json_int_t)nwarns,
		      "warnings_dropped", (json_int_t)0, "counts", item_counts(items));
	if (!t || json_object_set_new(o, "trimmed", t) != 0)
		goto done;
	base = json_dumpb(o, NULL, 0, JSON_COMPACT);
	if (!base || base + TRIM_SLACK >= limit)
		goto done;
	room = limit - base - TRIM_SLACK;
	for (size_t i = 0; i < nwarns; i++)
		wsize += json_size(json_array_get(warns, i));
	idrop = array_trim(items, room - (wsize < room / 2 ? wsize : room / 2), item_kept_always, &iused);
	if (iused == SIZE_MAX)
		goto done;
	wdrop = array_trim(warns, room - iused, NULL, &wused);
	if (wused == SIZE_MAX)
		goto done;
	if (items ? json_object_set(o, "migrations", items) : json_object_del(o, "migrations"))
		goto done;
	if (warns ? json_object_set(o, "warnings", warns) : json_object_del(o, "warnings"))
		goto done;
	json_object_set_new(t, "migrations_dropped", json_integer((json_int_t)idrop));
	json_object_set_new(t, "warnings_dropped", json_integer((json_int_t)wdrop));
	out = json_dumps(o, JSON_COMPACT);
	if (out && strlen(out) > limit) {
		free(out);
		out = NULL;
	}
done:
	json_decref(items);
	json_decref(warns);
out:
	json_decref(o);
	return out;
}

/* --- the Runtime API ------------------------------------------------------------ */

static enum post_outcome
post(struct lambda *l, const char *path, const char *error_type, const char *body, size_t len)
{
	char url[1024], ua[128];
	struct http_header h[3];
	size_t nh = 0;
	struct http_request rq = {
		.method = "POST",
		.url = url,
		.headers = h,
		.body = body,
		.len = len,
		.timeout_ms = POST_TIMEOUT_MS,
		.connect_timeout_ms = CONNECT_TIMEOUT_MS,
		.max_body = 1u << 20,
	};
	struct http_response rs;
	enum post_outcome out;

	snprintf(url, sizeof url, "%s%s", l->base, path);
	snprintf(ua, sizeof ua, "gosling/%s", l->b->compiler_version);
	h[nh++] = (struct http_header){ "User-Agent", ua };
	h[nh++] = (struct http_header){ "Content-Type", "application/json" };
	if (error_type)
		h[nh++] = (struct http_header){ "Lambda-Runtime-Function-Error-Type", error_type };
	rq.nheaders = nh;
	if (!http_do(l->http, &rq, &rs)) {
		log_error("unable to reach the runtime api: %s", rs.error);
		out = POST_FATAL;
	} else if (rs.status == 202 || rs.status == 200) {
		out = POST_OK;
	} else if (rs.status >= 500) {
		log_error("the runtime api answered POST %s with %ld: %.300s", path, rs.status, rs.body);
		out = POST_FATAL;
	} else {
		/* 400 (unknown request id), 403 (wrong state), 413 (too large): this invocation is lost, not the loop */
		log_error("the runtime api rejected POST %s with %ld: %.300s", path, rs.status, rs.body);
		out = POST_REJECTED;
	}
	http_response_free(&rs);
	return out;
}

/*
 * The error document: Lambda's standard errorMessage/errorType/stackTrace, plus
 * the engine's result (what was applied and what was not) when there is one.
 */
static char *
error_body(const char *type, const char *message, const char *result_json)
{
	json_t *o = json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType", type, "stackTrace");
	char *s = NULL;

	if (!o)
		return NULL;
	if (result_json) {
		json_t *r = json_loads(result_json, 0, NULL);

		if (r)
			json_object_set_new(o, "result", r);
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/*
 * The answer when no error document can be built (out of memory): fixed ASCII, so an
 * invocation is never left without one.  type is one of gosling's own (ASCII) types.
 */
static char *
error_body_fallback(const char *type, char *buf, size_t len)
{
	snprintf(buf, len,
		 "{\"errorMessage\":\"gosling could not build its error document (out of memory); "
		 "see the function's log\",\"errorType\":\"%s\",\"stackTrace\":[]}",
		 type);
	return buf;
}

static enum post_outcome
post_error(struct lambda *l, const char *id, const char *type, const char *message, const char *result_json)
{
	char path[512], fallback[256];
	char *body = error_body(type, message, result_json);
	const char *send;
	enum post_outcome out;

	if (body && strlen(body) > MAX_PAYLOAD) {
		/* the error without its result, then the result cut to the room that leaves */
		char *bare = error_body(type, message, NULL);
		char *cut = bare ? result_trim(result_json, MAX_PAYLOAD - strlen(bare) - sizeof ",\"result\":") : NULL;

		free(body);
		body = cut ? error_body(type, message, cut) : bare;
		if (cut) {
			log_warn(
				"the error's result was over lambda's 6 MB response limit: its per-migration list was cut");
			free(bare);
		}
		free(cut);
	}
	log_error("%s: %s", type, message);
	send = body ? body : error_body_fallback(type, fallback, sizeof fallback);
	snprintf(path, sizeof path, "/invocation/%s/error", id);
	out = post(l, path, type, send, strlen(send));
	free(body);
	return out;
}

static enum post_outcome
post_response(struct lambda *l, const char *id, const char *json)
{
	char path[512], *cut = NULL;
	enum post_outcome out;

	if (strlen(json) > MAX_PAYLOAD) {
		/* what the engine did stands: answer it, with a shorter list of migrations */
		if (!(cut = result_trim(json, MAX_PAYLOAD)))
			return post_error(l, id, "Function.ResponseSizeTooLarge",
					  "the result is larger than lambda's 6 MB response limit: ask for less "
					  "(plan up-to a version, or status)",
					  NULL);
		log_warn("the result was %zu bytes, over lambda's 6 MB response limit: its per-migration list was "
			 "cut to %zu bytes",
			 strlen(json), strlen(cut));
		json = cut;
	}
	snprintf(path, sizeof path, "/invocation/%s/response", id);
	out = post(l, path, NULL, json, strlen(json));
	free(cut);
	return out;
}

static void
init_error(struct lambda *l, const char *type, const char *message)
{
	char *body = error_body(type, message, NULL), fallback[256];
	const char *send = body ? body : error_body_fallback(type, fallback, sizeof fallback);

	log_error("%s: %s", type, message);
	(void)post(l, "/init/error", type, send, strlen(send));
	free(body);
}

/* --- one invocation ---------------------------------------------------------- */

static void
on_progress(const struct engine_progress *ev, void *arg)
{
	struct lambda *l = arg;
	char retries[32];

	if (strcmp(ev->action, "applied") == 0 || strcmp(ev->action, "rolled back") == 0)
		l->applied++;
	if (ev->duration_ms >= 0)
		log_info("%s %s (%u/%u, %lld ms%s)", ev->action, ev->name, ev->index, ev->total,
			 (long long)ev->duration_ms, engine_retries_text(ev->retries, retries, sizeof retries));
	else
		log_info("%s %s (%u/%u)", ev->action, ev->name, ev->index, ev->total);
}

static bool
parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Keep the connection attempt inside the invocation: connect-timeout never outlives the deadline. */
static bool
fit_connect_timeout(struct lambda *l, int64_t deadline_ms)
{
	int64_t t = l->connect_timeout;
	char buf[32];

	if (deadline_ms) {
		int64_t left = (deadline_ms - l->margin - clock_now_ms()) / 1000;

		if (left < 1)
			left = 1;
		if (t == 0 || left < t)
			t = left;
	}
	snprintf(buf, sizeof buf, "%lld", (long long)t);
	return config_set(&l->cfg, SET_CONNECT_TIMEOUT, buf);
}

void
lambda_next_headers(const struct http_response *next, struct lambda_next *nx)
{
	const char *deadline_h = http_header(next, "Lambda-Runtime-Deadline-Ms");

	memset(nx, 0, sizeof *nx);
	nx->id = http_header(next, "Lambda-Runtime-Aws-Request-Id");
	if (nx->id && (!*nx->id || strlen(nx->id) > 256 || strpbrk(nx->id, "/?#% ")))
		nx->id = NULL;
	nx->arn = http_header(next, "Lambda-Runtime-Invoked-Function-Arn");
	nx->trace = http_header(next, "Lambda-Runtime-Trace-Id");
	if (nx->trace && !*nx->trace)
		nx->trace = NULL;
	if (deadline_h && (!parse_i64(deadline_h, &nx->deadline_ms) || nx->deadline_ms <= 0)) {
		nx->bad_deadline = deadline_h;
		nx->deadline_ms = 0;
	}
}

/* Whether ev is a CodeDeploy hook with both ids: one CodeDeploy waits to hear about. */
static bool
hook_known(const struct lambda_event *ev)
{
	return ev->kind == LAMBDA_CODEDEPLOY && ev->deployment_id[0] && ev->hook_execution_id[0];
}

/*
 * Tell CodeDeploy how the hook went.  The report runs inside the deadline
 * margin, after the engine has stopped, and ends POST_RESERVE_MS before the
 * deadline so that the answer can still be posted.
 */
static bool
hook_report(struct lambda *l, const struct lambda_event *ev, bool succeeded, int64_t deadline, char *err, size_t errlen)
{
	return codedeploy_report(l->http, ev->deployment_id, ev->hook_execution_id, succeeded ? "Succeeded" : "Failed",
				 deadline ? deadline - POST_RESERVE_MS : 0, err, errlen);
}

/* next's headers into *nx, the request id into the log, the trace id into the environment. */
static bool
invoke_headers(const struct http_response *next, struct lambda_next *nx, int64_t start)
{
	lambda_next_headers(next, nx);
	if (!nx->id) {
		log_error("the runtime api sent an event without a usable Lambda-Runtime-Aws-Request-Id");
		return false;
	}
	log_request(nx->id);
	if (nx->trace)
		setenv("_X_AMZN_TRACE_ID", nx->trace, 1);
	else
		unsetenv("_X_AMZN_TRACE_ID");
	if (nx->bad_deadline)
		log_warn("ignoring Lambda-Runtime-Deadline-Ms \"%.40s\": not a positive number", nx->bad_deadline);
	log_debug("invocation %s of %s, deadline in %lld ms, _X_AMZN_TRACE_ID=%s", nx->id,
		  nx->arn ? nx->arn : "(no function arn)",
		  nx->deadline_ms ? (long long)(nx->deadline_ms - start) : -1LL,
		  getenv("_X_AMZN_TRACE_ID") ? getenv("_X_AMZN_TRACE_ID") : "(unset)");
	return true;
}

/* terraform destroy: the migrations stay; dropping a schema is not this function's job */
static bool
answer_tf_delete(struct lambda *l, const char *id)
{
	json_t *o = json_pack("{s:n, s:b, s:s, s:s, s:s}", "command", "ok", true, "status", "ok", "tf_action", "delete",
			      "message", "terraform destroy: nothing to do");
	char *json;
	enum post_outcome out;

	log_info("tf.action is delete: nothing to do");
	json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!json)
		return false;
	out = post_response(l, id, json);
	free(json);
	return out != POST_FATAL;
}

/*
 * The engine on ev's request and target, within deadline (less a CodeDeploy hook's report
 * time), with the credentials resolved for this invocation; false when out of memory before
 * it ran.
 */
static bool
run_event(struct lambda *l, struct lambda_event *ev, int64_t deadline, struct engine_result *res)
{
	ev->req.deadline_ms = deadline;
	if (ev->kind == LAMBDA_CODEDEPLOY && deadline && l->margin < CODEDEPLOY_RESERVE_MS)
		ev->req.deadline_ms = deadline - (CODEDEPLOY_RESERVE_MS - l->margin); /* the report's time */
	ev->req.progress = on_progress;
	ev->req.progress_arg = l;
	l->applied = 0;
	if (!fit_connect_timeout(l, deadline)) {
		log_error("out of memory");
		return false;
	}
	log_info("%s%s%s%s%s", engine_command_name(ev->req.command),
		 ev->kind == LAMBDA_CODEDEPLOY ? " for codedeploy deployment " : "",
		 ev->kind == LAMBDA_CODEDEPLOY ? ev->deployment_id : "", ev->has_target ? " for target " : "",
		 ev->has_target ? ev->target.id : "");
	/*
	 * credentials per invocation: a rotated secret is read again, a token is fresh; the
	 * secret is read inside the engine's time, not the margin's
	 */
	invoke_run(&(struct invoke){ .base = &l->cfg,
				     .b = l->b,
				     .target = ev->has_target ? &ev->target : NULL,
				     .http = l->http,
				     .secret_deadline_ms = ev->req.deadline_ms ? ev->req.deadline_ms - l->margin : 0 },
		   &ev->req, res);
	return true;
}

/* A failed result's error as one line: its target, message, detail, hint and SQLSTATE. */
static void
error_line(const struct lambda_event *ev, const struct engine_result *res, char *msg, size_t len)
{
	const struct engine_error *e = &res->error;
	int n = snprintf(msg, len, "%s%s%s%s", ev->has_target ? "target " : "", ev->has_target ? ev->target.id : "",
			 ev->has_target ? ": " : "", e->message[0] ? e->message : engine_status_name(res->status));

	if (e->detail[0] && n > 0 && (size_t)n < len)
		n += snprintf(msg + n, len - (size_t)n, "; detail: %s", e->detail);
	if (e->hint[0] && n > 0 && (size_t)n < len)
		n += snprintf(msg + n, len - (size_t)n, "; hint: %s", e->hint);
	if (e->sqlstate[0] && n > 0 && (size_t)n < len)
		snprintf(msg + n, len - (size_t)n, " (sqlstate %s)", e->sqlstate);
	text_utf8_fix(msg); /* cut to fit: on a character boundary */
}

/* Run one event; false when the loop must stop. */
static bool
invoke(struct lambda *l, const struct http_response *next)
{
	struct lambda_next nx;
	const char *id;
	struct lambda_event ev;
	struct engine_result res;
	char err[1024], msg[4096];
	char *json = NULL;
	int64_t deadline, start = clock_now_ms();
	enum post_outcome out;

	if (!invoke_headers(next, &nx, start))
		return false;
	id = nx.id;
	deadline = nx.deadline_ms;
	if (!lambda_event_decode(next->body, next->len, &ev, err, sizeof err)) {
		snprintf(msg, sizeof msg, "bad event: %s", err);
		if (hook_known(&ev) && !hook_report(l, &ev, false, deadline, err, sizeof err))
			log_error("%s", err);
		return post_error(l, id, engine_status_reason(ENGINE_BAD_REQUEST), msg, NULL) != POST_FATAL;
	}
	if (ev.kind == LAMBDA_TF_DELETE)
		return answer_tf_delete(l, id);
	if (!run_event(l, &ev, deadline, &res))
		return false;
	json = engine_result_json(&res);
	if (!json) {
		if (hook_known(&ev) && !hook_report(l, &ev, false, deadline, err, sizeof err))
			log_error("%s", err);
		/* out of memory: still answer, with the error's type and its (ASCII) fallback */
		out = post_error(l, id,
				 res.status == ENGINE_OK ? "Function.OutOfMemory" : engine_status_reason(res.status),
				 "out of memory building the result", NULL);
		engine_result_free(&res);
		return out != POST_FATAL;
	}
	if (ev.kind == LAMBDA_CODEDEPLOY) {
		const char *status = res.status == ENGINE_OK ? "Succeeded" : "Failed";
		bool reported = hook_report(l, &ev, res.status == ENGINE_OK, deadline, err, sizeof err);
		char *j2 = codedeploy_result_json(json, ev.deployment_id, ev.hook_execution_id, status, reported, err);

		if (j2) {
			free(json);
			json = j2;
		}
		if (!reported && res.status == ENGINE_OK) {
			/* the deployment would wait an hour for a status that never comes: fail loudly now */
			snprintf(msg, sizeof msg, "migrations applied, but %s", err);
			out = post_error(l, id, engine_status_reason(ENGINE_CONFIG_ERROR), msg, json);
			free(json);
			engine_result_free(&res);
			return out != POST_FATAL;
		}
		if (!reported)
			log_error("%s", err);
	}
	if (res.status == ENGINE_OK) {
		log_info("%s: ok, %u migration%s, version %lld -> %lld (%lld ms)", engine_command_name(res.command),
			 l->applied, l->applied == 1 ? "" : "s", (long long)res.version_before,
			 (long long)res.version_after, (long long)(clock_now_ms() - start));
		out = post_response(l, id, json);
	} else {
		error_line(&ev, &res, msg, sizeof msg);
		out = post_error(l, id, engine_status_reason(res.status), msg, json);
	}
	free(json);
	engine_result_free(&res);
	return out != POST_FATAL;
}

/* --- the loop ------------------------------------------------------------------ */

/* AWS_LAMBDA_LOG_LEVEL (TRACE, DEBUG, INFO, WARN, ERROR, FATAL) wins over gosling's own log-level. */
static void
setup_log(const struct config *cfg)
{
	static const struct {
		const char *name;
		enum log_level level;
	} aws[] = {
		{ "trace", LOG_DEBUG }, { "debug", LOG_DEBUG }, { "info", LOG_INFO },
		{ "warn", LOG_WARN },	{ "error", LOG_ERROR }, { "fatal", LOG_ERROR },
	};
	const char *fmt = config_str(cfg, SET_LOG_FORMAT), *lv = getenv("AWS_LAMBDA_LOG_LEVEL");
	enum log_level level = LOG_INFO;
	bool found = false;

	if (lv && *lv) {
		for (size_t i = 0; i < sizeof aws / sizeof *aws && !found; i++) {
			if (strcasecmp(lv, aws[i].name) == 0) {
				level = aws[i].level;
				found = true;
			}
		}
	}
	if (!found && cfg->value[SET_LOG_LEVEL] && !log_parse_level(cfg->value[SET_LOG_LEVEL], &level))
		level = LOG_INFO;
	log_init(fmt && strcasecmp(fmt, "json") == 0 ? LOG_JSON : LOG_TEXT, level);
}

/* Is any database named at all?  Lambda has no local socket to fall back on. */
static bool
has_database(const struct config *cfg)
{
	static const char *const pg[] = { "PGHOST", "PGHOSTADDR", "PGSERVICE" };

	if (cfg->value[SET_DATABASE_URL] || cfg->value[SET_HOST] || cfg->value[SET_SECRET_ARN])
		return true;
	for (size_t i = 0; i < sizeof pg / sizeof *pg; i++) {
		const char *v = getenv(pg[i]);

		if (v && *v)
			return true;
	}
	return false;
}

static int
loop(struct lambda *l)
{
	char url[600], ua[128];
	struct http_header h[1];

	snprintf(url, sizeof url, "%s/invocation/next", l->base);
	snprintf(ua, sizeof ua, "gosling/%s", l->b->compiler_version);
	h[0] = (struct http_header){ "User-Agent", ua };
	for (;;) {
		/* no timeout: the sandbox is frozen between invocations, and /next blocks until there is one */
		struct http_request rq = {
			.method = "GET",
			.url = url,
			.headers = h,
			.nheaders = 1,
			.timeout_ms = 0,
			.connect_timeout_ms = CONNECT_TIMEOUT_MS,
			.max_body = 2 * MAX_PAYLOAD,
		};
		struct http_response rs;
		bool go_on;

		if (!http_do(l->http, &rq, &rs)) {
			log_error("unable to get the next invocation: %s", rs.error);
			http_response_free(&rs);
			return 1;
		}
		if (rs.status != 200) {
			log_error("the runtime api answered GET /invocation/next with %ld: %.300s", rs.status, rs.body);
			http_response_free(&rs);
			return 1;
		}
		/* a SIGTERM during an invocation stops it cleanly, is answered, then ends the loop */
		signals_catch(true);
		go_on = invoke(l, &rs);
		signals_catch(false);
		log_request(NULL);
		http_response_free(&rs);
		if (signals_interrupted()) {
			log_error("stopped by signal %d", signals_interrupted());
			return 128 + signals_interrupted();
		}
		if (!go_on)
			return 1;
	}
}

int
lambda_main(const struct bundle *b)
{
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	struct lambda l = { .b = b };
	char err[512];
	int code = 1;

	config_load(&l.cfg, env_get, NULL);
	setup_log(&l.cfg);
	if (!api || !*api || strlen(api) > 256) {
		log_error("AWS_LAMBDA_RUNTIME_API is not a usable host:port");
		config_free(&l.cfg);
		return 1;
	}
	snprintf(l.base, sizeof l.base, "http://%s/" API_VERSION "/runtime", api);
	if (!http_global_init()) {
		log_error("unable to initialise libcurl");
		config_free(&l.cfg);
		return 1;
	}
	l.http = http_client_new();
	if (!l.http) {
		log_error("out of memory");
		goto out;
	}
	/* no database work here: only what can be known without one */
	if (!config_check(&l.cfg, err, sizeof err)) {
		init_error(&l, engine_status_reason(ENGINE_CONFIG_ERROR), err);
		goto out;
	}
	if (!has_database(&l.cfg)) {
		init_error(
			&l, engine_status_reason(ENGINE_CONFIG_ERROR),
			"no database configured: set DATABASE_URL, DB_HOST (or DB_ADDRESS) with DB_NAME and DB_USER, "
			"DB_SECRET_ARN, or PGHOST");
		goto out;
	}
	l.connect_timeout = config_int(&l.cfg, SET_CONNECT_TIMEOUT);
	l.margin = config_int(&l.cfg, SET_DEADLINE_MARGIN);
	log_info("ready: %u migrations, bundle %s", b->count, b->build_id);
	code = loop(&l);
out:
	http_client_free(l.http);
	http_global_cleanup();
	config_free(&l.cfg);
	return code;
}
