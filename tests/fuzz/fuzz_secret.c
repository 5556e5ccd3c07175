/*
 * fuzz_secret.c - libFuzzer target over the secret's JSON: a SecretString
 * through secrets_apply_json() into a per-invocation configuration, twice: once
 * over an empty base (the secret fills everything it carries) and once over a
 * base that sets every field (explicit configuration wins).  An input that
 * starts with "HTTP/" is Secrets Manager's whole answer instead (status line,
 * header lines, empty line, JSON body): secrets_read_answer() takes the
 * SecretString out of it first.
 *
 * Beyond the sanitizers it checks the rule secrets.h states: an error never
 * quotes the secret; every value secrets_apply_json() takes is a string without
 * NUL, and a port is 1..65535.
 */
#include "config.h"
#include "http.h"
#include "log.h"
#include "secrets.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LABEL "arn:aws:secretsmanager:eu-west-2:123456789012:secret:db"

static const char *no_env(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

static const char *full_env(const char *name, void *arg)
{
	(void)arg;
	if (strcmp(name, "DB_HOST") == 0)
		return "configured.example";
	if (strcmp(name, "DB_PORT") == 0)
		return "6543";
	if (strcmp(name, "DB_NAME") == 0)
		return "configured_db";
	if (strcmp(name, "DB_USER") == 0)
		return "configured_user";
	if (strcmp(name, "DB_PASSWORD") == 0)
		return "configured-password";
	return NULL;
}

/* Every word secrets_apply_json's messages may hold by themselves. */
static const char template_words[] =
	"secret " LABEL ": SecretString is not a JSON object, not valid JSON (line column ) its engine is "
	"not a string, not PostgreSQL field \"host\" \"port\" \"dbname\" \"username\" \"password\" "
	"must be a port number (or a string of digits) a string out of memory";

/* A string of the secret (6 bytes or more) that err quotes, and no fixed text explains. */
static bool quotes(const char *err, const char *v, size_t n)
{
	return n >= 6 && strlen(v) == n && strstr(err, v) && !strstr(template_words, v);
}

/*
 * Whether err quotes the secret: with valid JSON, any string value but the
 * engine's; with invalid JSON, any run of 6 printable bytes after a quote.
 */
static bool quotes_secret(const char *err, const char *s, size_t size)
{
	json_t *o = json_loadb(s, size, 0, NULL), *v;
	const char *key;
	bool found = false;

	if (o) {
		if (json_is_object(o)) {
			/* the engine's value is named on purpose ("its engine is \"mysql\""),
			 * so text it holds does not count */
			const char *engine = json_string_value(json_object_get(o, "engine"));

			json_object_foreach(o, key, v) {
				if (strcmp(key, "engine") != 0 && json_is_string(v) &&
				    !(engine && strstr(engine, json_string_value(v))) &&
				    quotes(err, json_string_value(v), json_string_length(v)))
					found = true;
			}
		}
		json_decref(o);
		return found;
	}
	for (size_t i = 0; i < size && !found; i++) {
		char run[64];
		size_t k = 0;

		if (s[i] != '"')
			continue;
		for (size_t j = i + 1; j < size && k < sizeof run - 1 && s[j] != '"' && s[j] != '\\' &&
		     (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7f; j++)
			run[k++] = s[j];
		run[k] = '\0';
		found = quotes(err, run, k);
	}
	return found;
}

static void run(const char *s, size_t size, const char *(*env)(const char *, void *))
{
	struct config base, run_cfg;
	char err[1024];
	bool ok;

	config_load(&base, env, NULL);
	config_derive(&run_cfg, &base);
	err[0] = '\0';
	ok = secrets_apply_json(&run_cfg, LABEL, s, size, err, sizeof err);
	if (!ok && !err[0])
		abort();	/* a refusal says why */
	if (!ok && quotes_secret(err, s, size))
		abort();	/* an error that quotes the secret's text */
	if (ok) {
		const char *port = config_str(&run_cfg, SET_PORT);

		if (port && (strtol(port, NULL, 10) < 1 || strtol(port, NULL, 10) > 65535))
			abort();
	}
	config_free(&run_cfg);
	config_free(&base);
}

/* An answer of Secrets Manager: its SecretString, if any, goes on to run(). */
static void answer(const char *s, size_t size)
{
	struct http_response rs;
	size_t pos = 0;
	char err[1024], *text;
	size_t len;
	json_t *o, *v;

	memset(&rs, 0, sizeof rs);
	rs.status = strtol(s + 5 + strcspn(s + 5, " "), NULL, 10);	/* "HTTP/1.1 200 OK" */
	while (pos < size) {
		const char *nl = memchr(s + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - s) + 1 : size, n = end - pos;
		bool blank = (n == 1 && s[pos] == '\n') || (n == 2 && s[pos] == '\r' && s[pos + 1] == '\n');

		if (!http_response_header_line(&rs, s + pos, n))
			abort();
		pos = end;
		if (blank)
			break;
	}
	rs.len = size - pos;
	if (!(rs.body = malloc(rs.len + 1)))
		abort();
	memcpy(rs.body, s + pos, rs.len);
	rs.body[rs.len] = '\0';
	err[0] = '\0';
	if (secrets_read_answer(&rs, LABEL, &text, &len, err, sizeof err)) {
		if (!text)
			abort();
		run(text, len, no_env);
		run(text, len, full_env);
		free(text);
	} else {
		if (!err[0] || text)
			abort();
		/* the answer's SecretString never reaches an error */
		o = json_loadb(rs.body, rs.len, 0, NULL);
		v = o ? json_object_get(o, "SecretString") : NULL;
		if (json_is_string(v) && quotes(err, json_string_value(v), json_string_length(v)))
			abort();
		json_decref(o);
	}
	http_response_free(&rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	const char *s = (const char *)data;
	char *z;

	if (!quiet) {
		log_init(LOG_TEXT, LOG_ERROR);	/* the info line per secret would flood the run */
		quiet = true;
	}
	if (size >= 5 && memcmp(s, "HTTP/", 5) == 0) {
		if (!(z = malloc(size + 1)))
			abort();
		memcpy(z, s, size);
		z[size] = '\0';	/* for strtol on the status line */
		answer(z, size);
		free(z);
		return 0;
	}
	run(s, size, no_env);
	run(s, size, full_env);
	return 0;
}
