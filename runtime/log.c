/* log.c - diagnostics on stderr, plain text or JSON lines. */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bundle.h"
#include "clock.h"
#include "log.h"
#include "text.h"

static enum log_format log_fmt = LOG_TEXT;
static enum log_level log_min = LOG_INFO;
static char log_request_id[257];

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *const level_words[] = { "debug", "info", "warning", "error" };

void
log_init(enum log_format format, enum log_level min)
{
	log_fmt = format;
	log_min = min;
}

void
log_request(const char *id)
{
	snprintf(log_request_id, sizeof log_request_id, "%s", id ? id : "");
}

bool
log_parse_level(const char *s, enum log_level *out)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

bool
log_enabled(enum log_level level)
{
	return level >= log_min;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	text_utf8_fix(msg); /* a JSON line is never dropped for a byte that is not UTF-8 */

	if (log_fmt == LOG_JSON) {
		char ts[CLOCK_TEXT_LEN];
		json_t *o;
		char *line;

		clock_utc_text(ts, sizeof ts);
		o = json_pack("{s:s, s:s, s:s}", "timestamp", ts, "level", level_names[level], "message", msg);
		if (o && log_request_id[0])
			json_object_set_new(o, "requestId", json_string(log_request_id));
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(stderr, "%s\n", line);
		free(line);
		json_decref(o);
	} else if (level == LOG_INFO) {
		fprintf(stderr, "gosling: %s\n", msg);
	} else {
		fprintf(stderr, "gosling: %s: %s\n", level_words[level], msg);
	}
	fflush(stderr);
}

bool
errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}
