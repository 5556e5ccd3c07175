/*
 * secrets.c - Secrets Manager's GetSecretValue and RDS IAM tokens, without an
 * AWS SDK: runtime/http.c carries the request, runtime/sigv4.c signs it.
 *
 * Buffers that held the secret's text or a token are wiped before they are
 * freed (jansson's own copies cannot be: they live only while the JSON is
 * parsed).
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "secrets.h"
#include "sigv4.h"

#define TARGET "secretsmanager.GetSecretValue"
#define CONTENT_TYPE "application/x-amz-json-1.1"
#define HTTP_TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 5000L
#define IAM_TOKEN_SECONDS 900

static bool fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static void
wipe_free(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}

/* --- where to send the request ----------------------------------------------------- */

struct endpoint {
	char url[600];		/* https://secretsmanager.eu-west-2.amazonaws.com/ */
	char host[256];		/* the Host header, and what is signed: host[:port] */
	char path[256];		/* "/" or the override's path */
	char region[64];
};

/*
 * The region: a secret ARN's own (arn:aws:secretsmanager:eu-west-2:1234:secret:x),
 * else AWS_REGION, else AWS_DEFAULT_REGION.  partition gets the ARN's, or "aws".
 */
static bool
secret_region(const char *secret, char *region, size_t rlen, char *partition, size_t plen)
{
	const char *r;

	snprintf(partition, plen, "aws");
	if (strncmp(secret, "arn:", 4) == 0) {
		const char *p = secret + 4, *svc = strchr(p, ':'), *end;

		if (svc && (r = strchr(svc + 1, ':')) != NULL && (end = strchr(r + 1, ':')) != NULL && end > r + 1) {
			snprintf(partition, plen, "%.*s", (int)(svc - p), p);
			snprintf(region, rlen, "%.*s", (int)(end - r - 1), r + 1);
			return true;
		}
	}
	if (!(r = env("AWS_REGION")) && !(r = env("AWS_DEFAULT_REGION")))
		return false;
	snprintf(region, rlen, "%s", r);
	return true;
}

static bool
endpoint_find(const char *secret, struct endpoint *ep, char *err, size_t errlen)
{
	const char *e = env("AWS_ENDPOINT_URL_SECRETS_MANAGER"), *name = "AWS_ENDPOINT_URL_SECRETS_MANAGER";
	char partition[32];

	if (!secret_region(secret, ep->region, sizeof ep->region, partition, sizeof partition))
		return fail(err, errlen, "no AWS region for secret %s: set AWS_REGION or use the secret's ARN", secret);
	if (!e) {
		e = env("AWS_ENDPOINT_URL");
		name = "AWS_ENDPOINT_URL";
	}
	if (e) {
		const char *h = e + 8;
		size_t n = strcspn(h, "/?#");

		/* the secret comes back in the answer: never over plain HTTP */
		if (strncmp(e, "https://", 8) != 0 || n == 0 || n >= sizeof ep->host)
			return fail(err, errlen, "%s must be an https:// URL", name);
		snprintf(ep->host, sizeof ep->host, "%.*s", (int)n, h);
		snprintf(ep->path, sizeof ep->path, "%s", h[n] == '/' ? h + n : "/");
		snprintf(ep->url, sizeof ep->url, "https://%s%s", ep->host, ep->path);
		return true;
	}
	snprintf(ep->host, sizeof ep->host, "secretsmanager.%s.amazonaws.com%s", ep->region,
		 strcmp(partition, "aws-cn") == 0 ? ".cn" : "");
	snprintf(ep->path, sizeof ep->path, "/");
	snprintf(ep->url, sizeof ep->url, "https://%s/", ep->host);
	return true;
}

static bool
credentials(struct sigv4_credentials *cr, char *err, size_t errlen, const char *what)
{
	cr->access_key_id = env("AWS_ACCESS_KEY_ID");
	cr->secret_access_key = env("AWS_SECRET_ACCESS_KEY");
	cr->session_token = env("AWS_SESSION_TOKEN");
	if (!cr->access_key_id || !cr->secret_access_key)
		return fail(err, errlen,
			    "%s needs AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", what);
	return true;
}

/* --- GetSecretValue ------------------------------------------------------------------- */

/* AWS's JSON error: {"__type": "...#ResourceNotFoundException", "message": "..."} (or "Message"). */
static void
aws_error(const struct http_response *rs, char *out, size_t outlen)
{
	json_t *o = json_loadb(rs->body, rs->len, 0, NULL);
	const char *type = NULL, *msg = NULL, *h;

	if (o && json_is_object(o)) {
		type = json_string_value(json_object_get(o, "__type"));
		msg = json_string_value(json_object_get(o, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(o, "Message"));
	}
	if (!type && (h = http_header(rs, "x-amzn-ErrorType")) != NULL)
		type = h;
	if (type) {
		const char *hash = strrchr(type, '#');
		size_t n;

		if (hash)
			type = hash + 1;
		n = strcspn(type, ":");	/* x-amzn-ErrorType may carry ":http://..." */
		snprintf(out, outlen, "%.*s: %s", (int)n, type, msg ? msg : "(no message)");
	} else {
		snprintf(out, outlen, "HTTP %ld from secrets manager", rs->status);
	}
	json_decref(o);
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
		aws_error(rs, why, sizeof why);
		return fail(err, errlen, "unable to read secret %s: %s", secret, why);
	}
	/* the answer holds the secret: its text goes nowhere, not even into a parse error */
	o = json_loadb(rs->body, rs->len, 0, NULL);
	if (!o || !json_is_object(o)) {
		fail(err, errlen, "unable to read secret %s: the answer is not a JSON object", secret);
		goto out;
	}
	v = json_object_get(o, "SecretString");
	if (!json_is_string(v)) {
		fail(err, errlen, "secret %s has no SecretString%s", secret,
		     json_object_get(o, "SecretBinary") ? " (a binary secret is not supported)" : "");
		goto out;
	}
	*len = json_string_length(v);
	if (!(*text = malloc(*len + 1))) {
		*len = 0;
		fail(err, errlen, "out of memory");
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
secret_fetch(struct http_client *http, const char *secret, int64_t deadline_ms, char **text, size_t *len,
	     char *err, size_t errlen)
{
	struct sigv4_credentials cr;
	struct sigv4_result sig = { 0 };
	struct http_response rs = { 0 };
	struct endpoint ep;
	json_t *req = NULL;
	char *body = NULL;
	long timeout = HTTP_TIMEOUT_MS;
	bool ok = false;

	*text = NULL;
	*len = 0;
	if (!endpoint_find(secret, &ep, err, errlen) || !credentials(&cr, err, errlen, "DB_SECRET_ARN"))
		return false;
	req = json_pack("{s:s}", "SecretId", secret);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return fail(err, errlen, "out of memory");
	{
		struct sigv4_header sh[] = {
			{ "host", ep.host }, { "content-type", CONTENT_TYPE }, { "x-amz-target", TARGET },
		};
		struct sigv4_request sr = {
			.method = "POST", .path = ep.path, .headers = sh, .nheaders = 3, .payload = body,
			.payload_len = strlen(body), .region = ep.region, .service = "secretsmanager", .time = time(NULL),
		};

		if (!sigv4_sign(&sr, &cr, &sig)) {
			fail(err, errlen, "unable to sign the request for secret %s", secret);
			goto out;
		}
	}
	if (deadline_ms) {
		int64_t left = deadline_ms - db_now_ms();

		timeout = left < 1000 ? 1000 : left < timeout ? (long)left : timeout;
	}
	{
		struct http_header hh[3 + 3];
		size_t nh = 0;
		struct http_request rq = {
			.method = "POST", .url = ep.url, .headers = hh, .body = body, .len = strlen(body),
			.timeout_ms = timeout, .connect_timeout_ms = CONNECT_TIMEOUT_MS, .max_body = 1u << 20,
		};

		hh[nh++] = (struct http_header){ "Host", ep.host };
		hh[nh++] = (struct http_header){ "Content-Type", CONTENT_TYPE };
		hh[nh++] = (struct http_header){ "X-Amz-Target", TARGET };
		for (size_t i = 0; i < sig.nheaders && nh < sizeof hh / sizeof *hh; i++)
			hh[nh++] = (struct http_header){ sig.headers[i].name, sig.headers[i].value };
		rq.nheaders = nh;
		log_debug("secrets manager: GetSecretValue %s at %s (region %s)", secret, ep.url, ep.region);
		if (!http_do(http, &rq, &rs)) {
			fail(err, errlen, "unable to read secret %s: %s", secret, rs.error);
			goto out;
		}
	}
	ok = secrets_read_answer(&rs, secret, text, len, err, errlen);
out:
	if (rs.body)
		explicit_bzero(rs.body, rs.len);
	http_response_free(&rs);
	sigv4_result_free(&sig);
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
		{ "host", SET_HOST }, { "port", SET_PORT }, { "dbname", SET_DBNAME },
		{ "username", SET_USER }, { "password", SET_PASSWORD },
	};
	json_error_t jerr;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	char took[128] = "", kept[128] = "", port[24];
	bool ok = false;

	if (!o || !json_is_object(o)) {
		/* not jerr.text: jansson quotes the text near the error, and that is the secret */
		if (o)
			fail(err, errlen, "secret %s: SecretString is not a JSON object", label);
		else
			fail(err, errlen, "secret %s: SecretString is not valid JSON (line %d, column %d)", label,
			     jerr.line, jerr.column);
		goto out;
	}
	v = json_object_get(o, "engine");
	if (v && !(json_is_string(v) && strstr(json_string_value(v), "postgres"))) {
		fail(err, errlen, "secret %s: its engine is %s%s%s, not PostgreSQL", label, json_is_string(v) ? "\"" : "",
		     json_is_string(v) ? json_string_value(v) : "not a string", json_is_string(v) ? "\"" : "");
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
			fail(err, errlen, "secret %s: field \"%s\" must be %s", label, fields[i].key,
			     fields[i].id == SET_PORT ? "a port number (or a string of digits)" : "a string");
			goto out;
		}
		if (!*s)
			continue;
		if (!config_fill(run, fields[i].id, s, "secret", &filled)) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		{
			char *list = filled ? took : kept;	/* both sizeof took */
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

/*
 * What libpq will use for key: a flag, then DATABASE_URL's field, then the
 * configuration (DB_* or the secret), then libpq's PG* variable.
 */
static const char *
effective(const struct config *cfg, const PQconninfoOption *url, enum setting_id id, const char *key,
	  const char *pgenv)
{
	const char *src = cfg->source[id];

	if (cfg->value[id] && src && strcmp(src, "flag") == 0)
		return cfg->value[id];
	for (const PQconninfoOption *o = url; o && o->keyword; o++)
		if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
			return o->val;
	if (cfg->value[id] && src && strcmp(src, "default") != 0)
		return cfg->value[id];
	return env(pgenv);
}

static bool
iam_apply(struct config *run, char *err, size_t errlen)
{
	struct sigv4_credentials cr;
	PQconninfoOption *url = NULL;
	const char *dburl = config_str(run, SET_DATABASE_URL), *host, *port, *user, *mode, *region;
	char *token = NULL;
	unsigned portn = 5432;
	bool ok = false;

	if (dburl && !(url = db_url_parse(dburl, err, errlen)))
		return false;
	host = effective(run, url, SET_HOST, "host", "PGHOST");
	port = effective(run, url, SET_PORT, "port", "PGPORT");
	user = effective(run, url, SET_USER, "user", "PGUSER");
	mode = effective(run, url, SET_SSLMODE, "sslmode", "PGSSLMODE");
	if (!(region = env("AWS_REGION")) && !(region = env("AWS_DEFAULT_REGION"))) {
		fail(err, errlen, "DB_IAM_AUTH needs AWS_REGION");
		goto out;
	}
	if (!host || host[0] == '/' || strchr(host, ',')) {
		fail(err, errlen,
		     "DB_IAM_AUTH needs one database host name (DB_HOST, the secret's host or DATABASE_URL)");
		goto out;
	}
	if (!user) {
		fail(err, errlen, "DB_IAM_AUTH needs a database user (DB_USER, the secret's username or DATABASE_URL)");
		goto out;
	}
	if (port) {
		char *end;
		unsigned long n = strtoul(port, &end, 10);

		if (*end || n == 0 || n > 65535) {
			fail(err, errlen, "DB_IAM_AUTH: invalid port \"%s\"", port);
			goto out;
		}
		portn = (unsigned)n;
	}
	/* RDS takes a token only over TLS; libpq's default, prefer, could send it in clear */
	if (mode && (strcmp(mode, "disable") == 0 || strcmp(mode, "allow") == 0 || strcmp(mode, "prefer") == 0)) {
		fail(err, errlen, "DB_IAM_AUTH needs sslmode require, verify-ca or verify-full, not %s", mode);
		goto out;
	}
	if (!credentials(&cr, err, errlen, "DB_IAM_AUTH"))
		goto out;
	if (!sigv4_rds_iam_token(host, portn, region, user, &cr, time(NULL), &token)) {
		fail(err, errlen, "unable to compute the IAM authentication token");
		goto out;
	}
	if (!config_set(run, SET_PASSWORD, token) || (!mode && !config_set(run, SET_SSLMODE, "require"))) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	log_info("iam auth: token for %s@%s:%u in %s, sslmode %s", user, host, portn, region, mode ? mode : "require");
	ok = true;
out:
	wipe_free(token, token ? strlen(token) : 0);
	if (url)
		PQconninfoFree(url);
	return ok;
}

/* --- both --------------------------------------------------------------------------------------- */

bool
secrets_resolve(const struct config *base, struct config *run, struct http_client *http, int64_t deadline_ms,
		char *err, size_t errlen)
{
	const char *secret = config_str(base, SET_SECRET_ARN);

	config_derive(run, base);
	if (secret) {
		char *text = NULL;
		size_t len = 0;
		bool ok;

		if (!http)
			return fail(err, errlen, "unable to read secret %s: no HTTP client", secret);
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
