/* config.c - the settings table, loading from the environment and flags, checks. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* the range and unit of a setting that is not an integer */
#define NO_RANGE 0, 0, NULL

/* the table is laid out by hand: one setting, its strings and range, a stanza */
/* clang-format off */
const struct setting settings[SET_COUNT] = {
	[SET_DATABASE_URL] = { "database-url", "DATABASE_URL", NULL, NULL, SETTING_SECRET,
		"PostgreSQL connection URI or conninfo string; its fields override the DB_* variables", NO_RANGE },
	[SET_HOST] = { "host", "DB_HOST", "DB_ADDRESS", NULL, SETTING_STRING,
		"database host name or socket directory (else PGHOST, else libpq's default)", NO_RANGE },
	[SET_PORT] = { "port", "DB_PORT", NULL, NULL, SETTING_INT,
		"database port (else PGPORT, else 5432)", 1, 65535, NULL },
	[SET_DBNAME] = { "dbname", "DB_NAME", NULL, NULL, SETTING_STRING,
		"database name (else PGDATABASE, else the user name)", NO_RANGE },
	[SET_USER] = { "user", "DB_USER", "DB_USERNAME", NULL, SETTING_STRING,
		"database user (else PGUSER, else the operating system user)", NO_RANGE },
	[SET_PASSWORD] = { "password", "DB_PASSWORD", NULL, NULL, SETTING_SECRET,
		"database password (else PGPASSWORD or ~/.pgpass); never logged", NO_RANGE },
	[SET_SSLMODE] = { "sslmode", "DB_SSLMODE", NULL, NULL, SETTING_STRING,
		"disable, allow, prefer, require, verify-ca or verify-full (else PGSSLMODE, else prefer)", NO_RANGE },
	[SET_SSLROOTCERT] = { "sslrootcert", "DB_SSLROOTCERT", NULL, NULL, SETTING_STRING,
		"CA certificate file for verify-ca / verify-full (else PGSSLROOTCERT, else the compiled-in CA bundle)", NO_RANGE },
	[SET_SECRET_ARN] = { "secret-arn", "DB_SECRET_ARN", NULL, NULL, SETTING_STRING,
		"Secrets Manager secret (ARN or name) read per run: its JSON username, password, host, port, dbname "
		"fill what is not configured", NO_RANGE },
	[SET_IAM_AUTH] = { "iam-auth", "DB_IAM_AUTH", NULL, "false", SETTING_BOOL,
		"authenticate with an RDS IAM token computed from the function's credentials (sslmode require or stronger)", NO_RANGE },
	[SET_IAM_REGION] = { "iam-region", "DB_IAM_REGION", NULL, NULL, SETTING_STRING,
		"region the IAM token is signed for (else the RDS host name's, <name>.<region>.rds.amazonaws.com, "
		"else AWS_REGION)", NO_RANGE },
	[SET_CLUSTER_ARN] = { "cluster-arn", "DB_CLUSTER_ARN", "DB_RESOURCE_ARN", NULL, SETTING_STRING,
		"Aurora cluster ARN: migrate over the RDS Data API (HTTPS, no libpq connection), logging in with "
		"DB_SECRET_ARN's secret to DB_NAME; no host or DATABASE_URL with it", NO_RANGE },
	[SET_CONNECT_TIMEOUT] = { "connect-timeout", "GOSLING_CONNECT_TIMEOUT", NULL, "10", SETTING_INT,
		"seconds to wait for a connection", 0, 3600, "seconds" },
	[SET_CONNECT_RETRY] = { "connect-retry", "GOSLING_CONNECT_RETRY", NULL, "30", SETTING_INT,
		"seconds to keep retrying a connection the server refuses, resets, does not answer or is not ready "
		"for (starting, resuming, failing over), inside the lock wait and the deadline; 0 for one try",
		0, 3600, "seconds" },
	[SET_SCHEMA] = { "schema", "GOSLING_SCHEMA", NULL, "public", SETTING_STRING,
		"schema of gosling's history table", NO_RANGE },
	[SET_TABLE] = { "table", "GOSLING_TABLE", NULL, "gosling_migrations", SETTING_STRING,
		"name of gosling's history table", NO_RANGE },
	[SET_GOOSE_TABLE] = { "goose-table", "GOSLING_GOOSE_TABLE", NULL, "goose_db_version", SETTING_STRING,
		"goose's version table, adopted and kept in step when it exists ([schema.]name)", NO_RANGE },
	[SET_LOCK_WAIT] = { "lock-wait", "GOSLING_LOCK_WAIT", NULL, "60", SETTING_INT,
		"seconds to wait for the advisory lock before giving up with the lock-timeout exit code", 0, 86400, "seconds" },
	[SET_LEASE] = { "lease", "GOSLING_LEASE", NULL, "120", SETTING_INT,
		"RDS Data API: seconds the run lock's lease row lasts in a run without a deadline, renewed between "
		"migrations; a crashed run's lease lapses after it", 1, 86400, "seconds" },
	[SET_LOCK_KEY] = { "lock-key", "GOSLING_LOCK_KEY", NULL, "7163289416054213907", SETTING_INT,
		"key of the session advisory lock that serialises concurrent runs", 0, INT64_MAX, NULL },
	[SET_STATEMENT_TIMEOUT] = { "statement-timeout", "GOSLING_STATEMENT_TIMEOUT", NULL, "0", SETTING_INT,
		"milliseconds any one statement may run, 0 for no limit (a deadline shortens it)", 0, INT32_MAX, "ms" },
	[SET_LOCK_TIMEOUT] = { "lock-timeout", "GOSLING_LOCK_TIMEOUT", NULL, "3000", SETTING_INT,
		"milliseconds a statement may wait for a table lock (queries on that table queue behind it) before its "
		"migration is rolled back and retried, 0 to wait up to the deadline", 0, INT32_MAX, "ms" },
	[SET_LOCK_RETRIES] = { "lock-retries", "GOSLING_LOCK_RETRIES", NULL, "10", SETTING_INT,
		"times a transactional migration is retried after a lock timeout or a deadlock, with jittered "
		"exponential backoff, inside the deadline", 0, 1000, NULL },
	[SET_DEADLINE_MARGIN] = { "deadline-margin", "GOSLING_DEADLINE_MARGIN", NULL, "3000", SETTING_INT,
		"milliseconds kept free before a deadline to cancel, roll back and report", 0, 900000, "ms" },
	[SET_ALLOW_OUT_OF_ORDER] = { "allow-out-of-order", "GOSLING_ALLOW_OUT_OF_ORDER", NULL, "false", SETTING_BOOL,
		"apply pending migrations numbered below the newest applied one (goose's -allow-missing)", NO_RANGE },
	[SET_LOG_FORMAT] = { "log-format", "AWS_LAMBDA_LOG_FORMAT", NULL, "text", SETTING_STRING,
		"text or json: the format of diagnostics on stderr", NO_RANGE },
	[SET_LOG_LEVEL] = { "log-level", "GOSLING_LOG_LEVEL", NULL, "info", SETTING_STRING,
		"debug, info, warn or error", NO_RANGE },
	[SET_TARGET_DATABASES] = { "target-databases", "GOSLING_TARGET_DATABASES", NULL, NULL, SETTING_STRING,
		"the database names an event's target may name: a POSIX extended regular expression matching the "
		"whole name; unset: a target may not name a database", NO_RANGE },
	[SET_TARGET_SCHEMAS] = { "target-schemas", "GOSLING_TARGET_SCHEMAS", NULL, NULL, SETTING_STRING,
		"the schemas an event's target may migrate (its search_path and history table), a whole-value "
		"regular expression such as tenant_[0-9]+; unset: a target may not name a schema", NO_RANGE },
	[SET_TARGET_SECRET_ARNS] = { "target-secret-arns", "GOSLING_TARGET_SECRET_ARNS", NULL, NULL, SETTING_STRING,
		"the secrets an event's target may read credentials from, a whole-value regular expression; unset: "
		"a target may not name a secret", NO_RANGE },
	[SET_TARGET_HOSTS] = { "target-hosts", "GOSLING_TARGET_HOSTS", NULL, NULL, SETTING_STRING,
		"the database hosts an event's target may name, a whole-value regular expression; unset: a target "
		"may not name a host", NO_RANGE },
	[SET_TARGET_PORTS] = { "target-ports", "GOSLING_TARGET_PORTS", NULL, NULL, SETTING_STRING,
		"the ports an event's target may name, a whole-value regular expression such as 5432|6432; unset: "
		"a target may not name a port", NO_RANGE },
	[SET_TARGET_CLUSTER_ARNS] = { "target-cluster-arns", "GOSLING_TARGET_CLUSTER_ARNS", NULL, NULL, SETTING_STRING,
		"the Aurora clusters an event's target may migrate over the RDS Data API (with its secret_arn and "
		"database), a whole-value regular expression; unset: a target may not name a cluster", NO_RANGE },
};
/* clang-format on */

void
config_load(struct config *cfg, const char *(*get)(const char *name, void *arg), void *arg)
{
	memset(cfg, 0, sizeof *cfg);
	for (int i = 0; i < SET_COUNT; i++) {
		const struct setting *s = &settings[i];
		const char *v = NULL;

		if (s->env && (v = get(s->env, arg)) != NULL && *v) {
			cfg->source[i] = CONFIG_ENV;
		} else if (s->env_alt && (v = get(s->env_alt, arg)) != NULL && *v) {
			cfg->source[i] = CONFIG_ENV_ALT;
		} else if (s->def) {
			v = s->def;
			cfg->source[i] = CONFIG_DEFAULT;
		} else {
			v = NULL;
		}
		cfg->value[i] = v;
	}
}

bool
config_find(const char *name, enum setting_id *id)
{
	for (int i = 0; i < SET_COUNT; i++) {
		if (strcmp(settings[i].name, name) == 0) {
			*id = (enum setting_id)i;
			return true;
		}
	}
	return false;
}

/* Free an owned value; a secret one (a password, an IAM token) is wiped first. */
static void
owned_free(struct config *cfg, int id)
{
	if (cfg->owned[id] && settings[id].kind == SETTING_SECRET)
		explicit_bzero(cfg->owned[id], strlen(cfg->owned[id]));
	free(cfg->owned[id]);
	cfg->owned[id] = NULL;
}

bool
config_put(struct config *cfg, enum setting_id id, const char *value, enum config_source source)
{
	char *copy = strdup(value);

	if (!copy)
		return false;
	owned_free(cfg, id);
	cfg->owned[id] = copy;
	cfg->value[id] = copy;
	cfg->source[id] = source;
	return true;
}

bool
config_set(struct config *cfg, enum setting_id id, const char *value)
{
	return config_put(cfg, id, value, CONFIG_FLAG);
}

bool
config_fill(struct config *cfg, enum setting_id id, const char *value, bool *filled)
{
	char *copy;

	*filled = false;
	if (cfg->source[id] > CONFIG_DEFAULT)
		return true;
	if (!(copy = strdup(value)))
		return false;
	owned_free(cfg, id);
	cfg->owned[id] = copy;
	cfg->value[id] = copy;
	cfg->source[id] = CONFIG_SECRET;
	*filled = true;
	return true;
}

const char *
config_conn(const struct config *cfg, enum setting_id id, const char *url_value, const char *pg_value,
	    enum config_source *source)
{
	/* the precedence is enum config_source's order: the highest source with a value wins */
	const struct {
		const char *value;
		enum config_source source;
	} c[] = { { cfg->value[id], cfg->source[id] }, { url_value, CONFIG_URL }, { pg_value, CONFIG_PGENV } };
	const char *v = NULL;

	*source = CONFIG_UNSET;
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		/* a built-in default is gosling's, never a connection parameter's: libpq has its own */
		if (c[i].value && *c[i].value && c[i].source > CONFIG_DEFAULT && c[i].source > *source) {
			v = c[i].value;
			*source = c[i].source;
		}
	}
	return v;
}

const char *
config_search_path(const struct config *cfg)
{
	return cfg->source[SET_SCHEMA] == CONFIG_TARGET ? config_str(cfg, SET_SCHEMA) : NULL;
}

const char *
config_source_name(const struct config *cfg, enum setting_id id)
{
	switch (cfg->source[id]) {
	case CONFIG_DEFAULT:
		return "default";
	case CONFIG_PGENV:
		return "PG*";
	case CONFIG_ENV:
		return settings[id].env;
	case CONFIG_ENV_ALT:
		return settings[id].env_alt;
	case CONFIG_SECRET:
		return "secret";
	case CONFIG_URL:
		return "DATABASE_URL";
	case CONFIG_FLAG:
		return "flag";
	case CONFIG_TARGET:
		return "target";
	case CONFIG_UNSET:
		break;
	}
	return "unset";
}

void
config_derive(struct config *dst, const struct config *src)
{
	memcpy(dst->value, src->value, sizeof dst->value);
	memcpy(dst->source, src->source, sizeof dst->source);
	memset(dst->owned, 0, sizeof dst->owned);
}

static bool
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	/* digits only: strtoll would also take blanks and a '+', and saturates out of range */
	if (!(*s >= '0' && *s <= '9') && !(*s == '-' && s[1] >= '0' && s[1] <= '9'))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

static bool
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off", "" };

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Identifiers gosling quotes itself: keep them plain so messages stay readable. */
static bool
plain_identifier(const char *s, bool allow_dot)
{
	if (!*s || strlen(s) > 63 * 2 + 1)
		return false;
	for (const char *p = s; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (p != s && *p >= '0' && *p <= '9') || (allow_dot && *p == '.' && p != s)))
			return false;
	}
	return true;
}

/* Whether the n bytes at s hold c. */
static bool
holds(const char *s, size_t n, char c)
{
	return memchr(s, c, n) != NULL;
}

/* A DATABASE_URL that libpq would cut in the wrong place: what is wrong, and what to do. */
static bool
url_bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "invalid DATABASE_URL: %s: %s", what, CONFIG_URL_HINT);
	return false;
}

/* Whether the n bytes at s hold a '%' that is no %XX byte (or is %00, which libpq refuses). */
static bool
bad_percent(const char *s, size_t n)
{
	for (const char *p = s; p < s + n; p++)
		if (*p == '%' &&
		    !(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) && !(p[1] == '0' && p[2] == '0')))
			return true;
	return false;
}

bool
config_url_check(const char *url, char *err, size_t errlen)
{
	const char *rest, *host;
	size_t n;

	if (strncmp(url, "postgresql://", 13) == 0)
		rest = url + 13;
	else if (strncmp(url, "postgres://", 11) == 0)
		rest = url + 11;
	else
		return true; /* a key=value string: libpq's own parse (db_url_parse) judges it */
	/*
	 * libpq takes the user name and password up to the first '@' or '/', and the host
	 * after that '@' up to the next '/' or '?'.  A password holding a raw '@' moves the
	 * rest of it into the host; one holding a raw '/' makes "user:pass" the host and
	 * port; either way libpq's messages would quote those pieces of the password.
	 */
	n = strcspn(rest, "@/");
	if (rest[n] == '@') {
		host = rest + n + 1;
		if (holds(host, strcspn(host, "/?"), '@'))
			return url_bad(err, errlen, "more than one '@' before the host");
		if (bad_percent(rest, n))
			return url_bad(
				err, errlen,
				"a '%' in the user name or password that is not a percent-encoded byte (%XX, not %00)");
	} else if (rest[n] == '/' && holds(rest + n + 1, strcspn(rest + n + 1, "/?"), '@')) {
		return url_bad(err, errlen, "an '@' after a '/' (a user name or password holding '/'?)");
	}
	return true;
}

bool
config_regcomp(regex_t *re, const char *pattern, char *why, size_t whylen)
{
	size_t n = strlen(pattern);
	char *anchored;
	int rc;

	/*
	 * The pattern alone first: wrapped, "a)|(.*" would compile as "^(a)|(.*)$", which
	 * matches anything; alone its unmatched '(' is an error.
	 */
	if ((rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, why, whylen);
		return false;
	}
	regfree(re);
	if (!(anchored = malloc(n + 5))) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	snprintf(anchored, n + 5, "^(%s)$", pattern);
	rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		regerror(rc, re, why, whylen);
		return false;
	}
	return true;
}

/* An integer setting: digits, within the setting's range (a huge value would overflow later). */
static bool
int_check(const struct setting *s, const char *source, const char *v, char *err, size_t errlen)
{
	int64_t n;
	bool digits = *v && strspn(v, "-0123456789") == strlen(v);

	if (parse_int(v, &n) && n >= s->min && n <= s->max)
		return true;
	if (!parse_int(v, &n) && !digits)
		snprintf(err, errlen, "invalid value for --%s (%s): \"%.64s\" is not an integer", s->name, source, v);
	else
		snprintf(err, errlen, "invalid value for --%s (%s): \"%.64s\" is out of range: %lld to %lld%s%s",
			 s->name, source, v, (long long)s->min, (long long)s->max, s->unit ? " " : "",
			 s->unit ? s->unit : "");
	return false;
}

/*
 * The RDS Data API's settings: the cluster with its secret and database, and nothing
 * that names a libpq connection (neither wins over the other: the run would go to a
 * database the configuration's author did not mean).
 */
static bool
dataapi_check(const struct config *cfg, char *err, size_t errlen)
{
	static const enum setting_id conn[] = { SET_DATABASE_URL, SET_HOST, SET_PORT, SET_USER, SET_PASSWORD };

	if (!cfg->value[SET_SECRET_ARN] || !cfg->value[SET_DBNAME]) {
		snprintf(err, errlen,
			 "--cluster-arn (%s) selects the RDS Data API, which needs --secret-arn "
			 "(DB_SECRET_ARN) and --dbname (DB_NAME): %s is not set",
			 config_source_name(cfg, SET_CLUSTER_ARN),
			 !cfg->value[SET_SECRET_ARN] ? "DB_SECRET_ARN" : "DB_NAME");
		return false;
	}
	for (size_t i = 0; i < sizeof conn / sizeof *conn; i++) {
		if (cfg->value[conn[i]]) {
			snprintf(err, errlen,
				 "--cluster-arn (%s) selects the RDS Data API, and --%s (%s) a libpq "
				 "connection: set one of them",
				 config_source_name(cfg, SET_CLUSTER_ARN), settings[conn[i]].name,
				 config_source_name(cfg, conn[i]));
			return false;
		}
	}
	if (config_bool(cfg, SET_IAM_AUTH)) {
		snprintf(err, errlen,
			 "--cluster-arn (%s) selects the RDS Data API, which logs in with the secret: "
			 "--iam-auth does not apply",
			 config_source_name(cfg, SET_CLUSTER_ARN));
		return false;
	}
	return true;
}

bool
config_check(const struct config *cfg, char *err, size_t errlen)
{
	static const char *const sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca", "verify-full" };

	for (int i = 0; i < SET_COUNT; i++) {
		const char *v = cfg->value[i];
		bool b;

		if (!v)
			continue;
		if (settings[i].kind == SETTING_INT &&
		    !int_check(&settings[i], config_source_name(cfg, (enum setting_id)i), v, err, errlen))
			return false;
		if (settings[i].kind == SETTING_BOOL && !parse_bool(v, &b)) {
			snprintf(err, errlen, "invalid value for --%s (%s): \"%s\" is not true or false",
				 settings[i].name, config_source_name(cfg, (enum setting_id)i), v);
			return false;
		}
	}
	for (int i = SET_TARGET_DATABASES; i <= SET_TARGET_CLUSTER_ARNS; i++) {
		regex_t re;
		char why[128];

		if (!cfg->value[i])
			continue;
		if (!config_regcomp(&re, cfg->value[i], why, sizeof why)) {
			snprintf(err, errlen,
				 "invalid value for --%s (%s): not a POSIX extended regular expression: %s",
				 settings[i].name, config_source_name(cfg, (enum setting_id)i), why);
			return false;
		}
		regfree(&re);
	}
	if (cfg->value[SET_CLUSTER_ARN] && !dataapi_check(cfg, err, errlen))
		return false;
	if (cfg->value[SET_DATABASE_URL] && !config_url_check(cfg->value[SET_DATABASE_URL], err, errlen))
		return false;
	if (cfg->value[SET_SSLMODE]) {
		bool ok = false;

		for (size_t i = 0; i < sizeof sslmodes / sizeof *sslmodes; i++)
			ok |= strcmp(cfg->value[SET_SSLMODE], sslmodes[i]) == 0;
		if (!ok) {
			snprintf(err, errlen, "invalid value for --sslmode (%s): \"%s\"",
				 config_source_name(cfg, SET_SSLMODE), cfg->value[SET_SSLMODE]);
			return false;
		}
	}
	if (!plain_identifier(cfg->value[SET_SCHEMA], false) || !plain_identifier(cfg->value[SET_TABLE], false) ||
	    !plain_identifier(cfg->value[SET_GOOSE_TABLE], true)) {
		snprintf(err, errlen, "invalid table or schema name: use letters, digits and _ only");
		return false;
	}
	if (strcasecmp(cfg->value[SET_LOG_FORMAT], "text") != 0 &&
	    strcasecmp(cfg->value[SET_LOG_FORMAT], "json") != 0) {
		snprintf(err, errlen, "invalid value for --log-format (%s): \"%s\"",
			 config_source_name(cfg, SET_LOG_FORMAT), cfg->value[SET_LOG_FORMAT]);
		return false;
	}
	if (strcmp(cfg->value[SET_LOG_LEVEL], "debug") != 0 && strcmp(cfg->value[SET_LOG_LEVEL], "info") != 0 &&
	    strcmp(cfg->value[SET_LOG_LEVEL], "warn") != 0 && strcmp(cfg->value[SET_LOG_LEVEL], "error") != 0) {
		snprintf(err, errlen, "invalid value for --log-level (%s): \"%s\"",
			 config_source_name(cfg, SET_LOG_LEVEL), cfg->value[SET_LOG_LEVEL]);
		return false;
	}
	return true;
}

const char *
config_str(const struct config *cfg, enum setting_id id)
{
	return cfg->value[id];
}

int64_t
config_int(const struct config *cfg, enum setting_id id)
{
	int64_t n = 0;

	if (cfg->value[id] && !parse_int(cfg->value[id], &n))
		n = 0;
	return n;
}

bool
config_bool(const struct config *cfg, enum setting_id id)
{
	bool b = false;

	if (cfg->value[id] && !parse_bool(cfg->value[id], &b))
		b = false;
	return b;
}

void
config_free(struct config *cfg)
{
	for (int i = 0; i < SET_COUNT; i++)
		owned_free(cfg, i);
}

char *
config_settings_json(void)
{
	static const char *const kinds[] = { "string", "integer", "boolean", "secret" };
	json_t *a = json_array();
	char *out = NULL;

	if (!a)
		return NULL;
	for (int i = 0; i < SET_COUNT; i++) {
		const struct setting *s = &settings[i];
		json_t *o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:s}", "name", s->name, "env", s->env, "env_alt",
				      s->env_alt, "default", s->def, "type", kinds[s->kind], "help", s->help);

		if (o && s->kind == SETTING_INT &&
		    (json_object_set_new(o, "min", json_integer(s->min)) != 0 ||
		     json_object_set_new(o, "max", json_integer(s->max)) != 0)) {
			json_decref(o);
			goto out;
		}
		if (!o || json_array_append_new(a, o) != 0)
			goto out;
	}
	out = json_dumps(a, JSON_INDENT(2));
out:
	json_decref(a);
	return out;
}
