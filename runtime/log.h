/*
 * log.h - the runtime's diagnostics, one line each on stderr: plain text
 * ("gosling: warning: ...") or, with log_init(LOG_JSON, ...), JSON lines as
 * Lambda's AWS_LAMBDA_LOG_FORMAT=JSON expects
 * ({"timestamp":"...","level":"WARN","message":"...","requestId":"..."}).
 * Callers never pass secrets: connection strings go through db_mask first.
 */
#ifndef GOSLING_LOG_H
#define GOSLING_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "attr.h" /* MUSTCHECK */

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};
enum log_format {
	LOG_TEXT,
	LOG_JSON
};

/* log_init - choose format and the lowest level written (default: text, info). */
void log_init(enum log_format format, enum log_level min);

/*
 * log_request - the Lambda request id that JSON lines carry as "requestId"
 * while an invocation runs, as Lambda's own JSON log format has it; NULL (or
 * "") when none runs.  Copied (up to 256 bytes).
 */
void log_request(const char *id);

/* log_parse_level - "debug", "info", "warn", "error"; false if none. */
bool log_parse_level(const char *s, enum log_level *out) MUSTCHECK;

/* log_enabled - whether messages of level are written. */
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * errorf - write a reason into err (errlen bytes) and return false, for the
 * fallible functions that hand their reason to the caller (logs nothing):
 *   return errorf(err, errlen, "unable to read secret %s: %s", arn, why);
 */
bool errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

struct json_t;
/* json_kind - what a JSON value is, for such reasons: "an object", "a string", "null", ... */
const char *json_kind(const struct json_t *v);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
