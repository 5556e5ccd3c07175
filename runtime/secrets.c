/*
 * secrets.c - Secrets Manager's GetSecretValue and RDS IAM tokens, without an
 * AWS SDK: runtime/http.c carries the request, runtime/sigv4.c signs it.
 *
 * Buffers that held the secret's text or a token are wiped before they are
 * freed (jansson's own copies cannot be: they live only while the JSON is
 * parsed).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "secrets.h"
#include "sigv4.h"

#define IAM_TOKEN_SECONDS 900

static void
wipe_free(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}

/* --- GetSecretValue ------------------------------------------------------------------- */

static const struct aws_service secretsmanager = {
	"secretsmanager",
	"AWS_ENDPOINT_URL_SECRETS_MANAGER",
	"secretsmanager",
	true, /* the secret comes back in the answer: never over plain HTTP */
	NULL,
};

/* A secret ARN's own region (arn:aws:secretsmanager:eu-west-2:1234:secret:x), else false. */
static bool
secret_region(const char *secret, char *region, size_t rlen)
{
	const char *svc, *r, *end;

	if (strncmp(secret, "arn:", 4) != 0 || !(svc = strchr(secret + 4, ':')) || !(r = strchr(svc + 1, ':')) ||
	    !(end = strchr(r + 1, ':')) || end == r + 1)
		return false;
	snprintf(region, rlen, "%.*s", (int)(end - r - 1), r + 1);
	return true;
}

bool
secrets_read_answer(const struct http_response *rs, const char *secret, char **text, size_t *len, char *err,
		    size_t errlen)
{
	json_t *o, *v;
	char why[768];
	bool ok = false;

	*text = NULL;
	*len = 0;
	if (rs->status != 200) {
		aws_error_text(rs, why, sizeof why);
		return errorf(err, errlen, "unable to read secret %s: %s", secret, why);
	}
	/* the answer holds the secret: its text goes nowhere, not even into a parse error */
	o = json_loadb(rs->body, rs->len, 0, NULL);
	if (!o || !json_is_object(o)) {
		errorf(err, errlen, "unable to read secret %s: the answer is not a JSON object", secret);
		goto out;
	}
	v = json_object_get(o, "SecretString");
	if (!json_is_string(v)) {
		errorf(err, errlen, "secret %s has no SecretString%s", secret,
		       json_object_get(o, "SecretBinary") ? " (a binary secret is not supported)" : "");
		goto out;
	}
	*len = json_string_length(v);
	if (!(*text = malloc(*len + 1))) {
		*len = 0;
		errorf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*text, json_string_value(v), *len + 1);
	log_info("read secret %s (version %s)", secret,
		 json_is_string(json_object_get(o, "VersionId")) ? json_string_value(json_object_get(o, "VersionId"))
								 : "unknown");
	ok = true;
out:
	json_decref(o);
	return ok;
}

/*
 * secret_fetch - GetSecretValue of secret; *text is the SecretString, malloc'd
 * (wipe it, then free it, with wipe_free(*text, *len)).
 */
static bool
secret_fetch(struct http_client *http, const char *secret, int64_t deadline_ms, char **text, size_t *len, char *err,
	     size_t errlen)
{
	struct http_response rs;
	char region[64], why[1024];
	json_t *req = json_pack("{s:s}", "SecretId", secret);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	struct aws_request rq = {
		.service = &secretsmanager,
		.operation = "GetSecretValue",
		.region = secret_region(secret, region, sizeof region) ? region : NULL,
		.body = body,
		.len = body ? strlen(body) : 0,
		.deadline_ms = deadline_ms,
		.who = "DB_SECRET_ARN",
	};
	bool ok;

	*text = NULL;
	*len = 0;
	json_decref(req);
	if (!body)
		return errorf(err, errlen, "out of memory");
	ok = aws_call(http, &rq, &rs, why, sizeof why);
	if (ok)
		ok = secrets_read_answer(&rs, secret, text, len, err, errlen);
	else
		errorf(err, errlen, "unable to read secret %s: %s", secret, why);
	if (rs.body)
		explicit_bzero(rs.body, rs.len);
	http_response_free(&rs);
	free(body);
	return ok;
}

/* --- the secret's fields --------------------------------------------------------------- */

bool
secrets_apply_json(struct config *run, const char *label, const char *json, size_t len, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		enum setting_id id;
	} fields[] = {
		{ "host", SET_HOST },	  { "port", SET_PORT },		{ "dbname", SET_DBNAME },
		{ "username", SET_USER }, { "password", SET_PASSWORD },
	};
	json_error_t jerr;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	char took[128] = "", kept[128] = "", port[24];
	bool ok = false;

	if (!o || !json_is_object(o)) {
		/* not jerr.text: jansson quotes the text near the error, and that is the secret */
		if (o)
			errorf(err, errlen, "secret %s: SecretString is not a JSON object", label);
		else
			errorf(err, errlen, "secret %s: SecretString is not valid JSON (line %d, column %d)", label,
			       jerr.line, jerr.column);
		goto out;
	}
	v = json_object_get(o, "engine");
	if (v && !(json_is_string(v) && strstr(json_string_value(v), "postgres"))) {
		errorf(err, errlen, "secret %s: its engine is %s%s%s, not PostgreSQL", label,
		       json_is_string(v) ? "\"" : "", json_is_string(v) ? json_string_value(v) : "not a string",
		       json_is_string(v) ? "\"" : "");
		goto out;
	}
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		const char *s;
		bool filled;

		v = json_object_get(o, fields[i].key);
		if (!v || json_is_null(v))
			continue;
		if (fields[i].id == SET_PORT && json_is_integer(v) && json_integer_value(v) > 0 &&
		    json_integer_value(v) < 65536) {
			snprintf(port, sizeof port, "%lld", (long long)json_integer_value(v));
			s = port;
		} else if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
			   (fields[i].id != SET_PORT ||
			    (json_string_length(v) > 0 && json_string_length(v) < 6 &&
			     strspn(json_string_value(v), "0123456789") == json_string_length(v) &&
			     atoi(json_string_value(v)) > 0 && atoi(json_string_value(v)) < 65536))) {
			s = json_string_value(v);
		} else {
			errorf(err, errlen, "secret %s: field \"%s\" must be %s", label, fields[i].key,
			       fields[i].id == SET_PORT ? "a port number (or a string of digits)" : "a string");
			goto out;
		}
		if (!*s)
			continue;
		if (!config_fill(run, fields[i].id, s, &filled)) {
			errorf(err, errlen, "out of memory");
			goto out;
		}
		{
			char *list = filled ? took : kept; /* both sizeof took */
			size_t n = strlen(list);

			snprintf(list + n, sizeof took - n, "%s%s", n ? ", " : "", fields[i].key);
		}
	}
	log_info("secret %s gives %s%s%s", label, took[0] ? took : "nothing", kept[0] ? "; configured, kept: " : "",
		 kept);
	ok = true;
out:
	json_decref(o);
	return ok;
}

/* --- RDS IAM authentication --------------------------------------------------------------- */

static bool
iam_apply(struct config *run, char *err, size_t errlen)
{
	struct sigv4_credentials cr;
	struct db_target target;
	const char *host, *port, *user, *mode, *region;
	const char *region_from = "AWS_REGION";
	char rds_region[64];
	char *token = NULL;
	unsigned portn = 5432;
	bool ok = false;

	if (!db_target_read(run, &target, err, errlen))
		return false;
	host = target.host;
	port = target.port;
	user = target.user;
	mode = target.sslmode;

	if (!host || host[0] == '/' || strchr(host, ',')) {
		errorf(err, errlen,
		       "DB_IAM_AUTH needs one database host name (DB_HOST, the secret's host or DATABASE_URL)");
		goto out;
	}
	/* the token is signed for the database's region, which need not be the function's */
	if ((region = config_str(run, SET_IAM_REGION)) != NULL) {
		region_from = "DB_IAM_REGION";
	} else if (aws_rds_region(host, rds_region, sizeof rds_region)) {
		region = rds_region;
		region_from = "the host name";
	} else if (!(region = aws_region())) {
		errorf(err, errlen, "DB_IAM_AUTH needs a region: DB_IAM_REGION, an RDS host name or AWS_REGION");
		goto out;
	}
	if (!user) {
		errorf(err, errlen,
		       "DB_IAM_AUTH needs a database user (DB_USER, the secret's username or DATABASE_URL)");
		goto out;
	}
	if (port) {
		char *end;
		unsigned long n = strtoul(port, &end, 10);

		if (*end || n == 0 || n > 65535) {
			errorf(err, errlen, "DB_IAM_AUTH: invalid port \"%s\"", port);
			goto out;
		}
		portn = (unsigned)n;
	}
	/* RDS takes a token only over TLS; libpq's default, prefer, could send it in clear */
	if (mode && (strcmp(mode, "disable") == 0 || strcmp(mode, "allow") == 0 || strcmp(mode, "prefer") == 0)) {
		errorf(err, errlen, "DB_IAM_AUTH needs sslmode require, verify-ca or verify-full, not %s", mode);
		goto out;
	}
	if (!aws_credentials(&cr, "DB_IAM_AUTH", err, errlen))
		goto out;
	if (!sigv4_rds_iam_token(host, portn, region, user, &cr, time(NULL), &token)) {
		errorf(err, errlen, "unable to compute the IAM authentication token");
		goto out;
	}
	if (!config_set(run, SET_PASSWORD, token) || (!mode && !config_set(run, SET_SSLMODE, "require"))) {
		errorf(err, errlen, "out of memory");
		goto out;
	}
	log_info("iam auth: token for %s@%s:%u in %s (from %s), sslmode %s", user, host, portn, region, region_from,
		 mode ? mode : "require");
	ok = true;
out:
	wipe_free(token, token ? strlen(token) : 0);
	db_target_free(&target);
	return ok;
}

/* --- both --------------------------------------------------------------------------------------- */

bool
secrets_resolve(const struct config *base, struct config *run, struct http_client *http, int64_t deadline_ms, char *err,
		size_t errlen)
{
	const char *secret = config_str(base, SET_SECRET_ARN);

	config_derive(run, base);
	/* the RDS Data API logs in with the secret itself: nothing of it is read here */
	if (secret && !config_str(base, SET_CLUSTER_ARN)) {
		char *text = NULL;
		size_t len = 0;
		bool ok;

		if (!http)
			return errorf(err, errlen, "unable to read secret %s: no HTTP client", secret);
		if (!secret_fetch(http, secret, deadline_ms, &text, &len, err, errlen))
			return false;
		ok = secrets_apply_json(run, secret, text, len, err, errlen);
		wipe_free(text, len);
		if (!ok)
			return false;
	}
	if (config_bool(base, SET_IAM_AUTH) && !iam_apply(run, err, errlen))
		return false;
	return true;
}
