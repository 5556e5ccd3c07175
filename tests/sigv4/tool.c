/*
 * tool.c - build/tests/sigv4-tool: runtime/sigv4.c behind a JSON-lines pipe,
 * for tests/sigv4/crosscheck.js only (test code, not shipped).
 *
 * One request per input line, one result per output line:
 *
 *   {"id":7,"mode":"sign","method":"GET","path":"/a b","query":"x=1&y",
 *    "headers":[["Host","h"],["X-A","1"]],"body_hex":"616263",
 *    "payload_hash":null,"region":"us-east-1","service":"svc",
 *    "akid":"AK","secret":"SK","token":null,"time":1440938160,
 *    "path_as_is":false,"expires":900}
 *   -> {"id":7,"ok":true,"authorization":"...","canonical_request":"...",
 *       "string_to_sign":"...","query":null}
 *
 * mode "presign" fills "query"; mode "rds" takes "host", "port", "user",
 * "region", the credentials and "time" and fills "token".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sigv4.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static json_t *run(json_t *in)
{
	json_t *out = json_object();
	json_object_set(out, "id", json_object_get(in, "id"));
	struct sigv4_credentials creds = {str(in, "akid"), str(in, "secret"), str(in, "token")};
	time_t t = (time_t)json_integer_value(json_object_get(in, "time"));
	const char *mode = str(in, "mode");
	bool ok = false;

	if (mode && strcmp(mode, "rds") == 0) {
		char *tok = NULL;
		ok = sigv4_rds_iam_token(str(in, "host"),
					 (unsigned)json_integer_value(json_object_get(in, "port")),
					 str(in, "region"), str(in, "user"), &creds, t, &tok);
		if (ok)
			json_object_set_new(out, "token", json_string(tok));
		free(tok);
		json_object_set_new(out, "ok", json_boolean(ok));
		return out;
	}

	json_t *hs = json_object_get(in, "headers");
	size_t nh = json_array_size(hs);
	struct sigv4_header *h = calloc(nh + 1, sizeof *h);
	for (size_t i = 0; i < nh; i++) {
		json_t *p = json_array_get(hs, i);
		h[i].name = json_string_value(json_array_get(p, 0));
		h[i].value = json_string_value(json_array_get(p, 1));
	}
	const char *hex = str(in, "body_hex");
	size_t blen = hex ? strlen(hex) / 2 : 0;
	unsigned char *body = hex ? malloc(blen + 1) : NULL;
	for (size_t i = 0; i < blen; i++)
		body[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));

	struct sigv4_request req = {
		.method = str(in, "method"),
		.path = str(in, "path"),
		.query = str(in, "query"),
		.headers = h,
		.nheaders = nh,
		.payload = body,
		.payload_len = blen,
		.payload_hash = str(in, "payload_hash"),
		.region = str(in, "region"),
		.service = str(in, "service"),
		.time = t,
		.path_as_is = json_is_true(json_object_get(in, "path_as_is")),
	};
	struct sigv4_result r;
	if (mode && strcmp(mode, "presign") == 0)
		ok = sigv4_presign(&req, &creds,
				   (unsigned)json_integer_value(json_object_get(in, "expires")), &r);
	else
		ok = sigv4_sign(&req, &creds, &r);
	if (ok) {
		json_object_set_new(out, "canonical_request", json_string(r.canonical_request));
		json_object_set_new(out, "string_to_sign", json_string(r.string_to_sign));
		json_object_set_new(out, "authorization",
				    r.authorization ? json_string(r.authorization) : json_null());
		json_object_set_new(out, "query", r.query ? json_string(r.query) : json_null());
		sigv4_result_free(&r);
	}
	json_object_set_new(out, "ok", json_boolean(ok));
	free(h);
	free(body);
	return out;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, stdin) > 0) {
		json_error_t err;
		json_t *in = json_loads(line, 0, &err);
		if (!in) {
			fprintf(stderr, "sigv4-tool: line %d: %s\n", err.line, err.text);
			return 1;
		}
		json_t *out = run(in);
		char *s = json_dumps(out, JSON_COMPACT);
		puts(s);
		free(s);
		json_decref(out);
		json_decref(in);
	}
	free(line);
	return 0;
}
