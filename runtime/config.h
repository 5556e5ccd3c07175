/*
 * config.h - every setting gosling reads, in one table: name, environment
 * variable(s), default and help text.  The CLI's --help, `gosling settings`,
 * the README and the Terraform variables are all checked against this table.
 *
 * Precedence, highest first: CLI flags (config_set), DATABASE_URL, the seeds'
 * DB_* variables or the secret (config_fill), then libpq's own PG* variables
 * (libpq reads those itself for any connection parameter still unset).  It is
 * decided here only: enum config_source ranks the sources, config_conn applies it.
 */
#ifndef GOSLING_CONFIG_H
#define GOSLING_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */

enum setting_id {
	SET_DATABASE_URL,
	SET_HOST,
	SET_PORT,
	SET_DBNAME,
	SET_USER,
	SET_PASSWORD,
	SET_SSLMODE,
	SET_SSLROOTCERT,
	SET_SECRET_ARN,
	SET_IAM_AUTH,
	SET_IAM_REGION,
	SET_CLUSTER_ARN,
	SET_CONNECT_TIMEOUT,
	SET_CONNECT_RETRY,
	SET_SCHEMA,
	SET_TABLE,
	SET_GOOSE_TABLE,
	SET_LOCK_WAIT,
	SET_LEASE,
	SET_LOCK_KEY,
	SET_STATEMENT_TIMEOUT,
	SET_LOCK_TIMEOUT,
	SET_LOCK_RETRIES,
	SET_DEADLINE_MARGIN,
	SET_ALLOW_OUT_OF_ORDER,
	SET_LOG_FORMAT,
	SET_LOG_LEVEL,
	SET_TARGET_DATABASES,
	SET_TARGET_SCHEMAS,
	SET_TARGET_SECRET_ARNS,
	SET_TARGET_HOSTS,
	SET_TARGET_PORTS,
	SET_TARGET_CLUSTER_ARNS,
	SET_COUNT
};

enum setting_kind {
	SETTING_STRING,
	SETTING_INT,
	SETTING_BOOL,
	SETTING_SECRET
};

struct setting {
	const char *name;    /* CLI flag without "--", also the JSON key: "lock-wait" */
	const char *env;     /* primary environment variable, or NULL */
	const char *env_alt; /* alternative name (DB_ADDRESS for DB_HOST), or NULL */
	const char *def;     /* default, or NULL (libpq's PG* / built-in default) */
	enum setting_kind kind;
	const char *help;
	int64_t min, max; /* SETTING_INT: the accepted range, both ends included */
	const char *unit; /* SETTING_INT: "seconds", "ms", or NULL */
};

/* The table, indexed by enum setting_id; SET_COUNT entries. */
extern const struct setting settings[SET_COUNT];

/*
 * Where a value comes from, lowest precedence first: a source wins over every
 * source before it.  CONFIG_PGENV and CONFIG_URL are never stored in a config:
 * libpq's PG* variables and DATABASE_URL's fields rank there for the connection
 * settings (config_conn).
 */
enum config_source {
	CONFIG_UNSET,	/* no value, and no default */
	CONFIG_DEFAULT, /* the table's default (none for a connection setting: libpq has its own) */
	CONFIG_PGENV,	/* libpq's PG* variable (PGHOST for host) */
	CONFIG_ENV,	/* the setting's variable (DB_HOST) */
	CONFIG_ENV_ALT, /* its alternative (DB_ADDRESS): ranks with CONFIG_ENV, a value has one or the other */
	CONFIG_SECRET,	/* filled from the secret (config_fill): ranks with the DB_* variables */
	CONFIG_URL,	/* DATABASE_URL's field */
	CONFIG_FLAG,	/* a command-line flag, or a value gosling sets itself (config_set: the IAM token) */
	CONFIG_TARGET,	/* the event's (or --target-json's) target, once the allow-list passed it
				 * (runtime/target.h): the most specific of all, over the function's own */
};

struct config {
	const char *value[SET_COUNT]; /* NULL = unset and no default */
	enum config_source source[SET_COUNT];
	char *owned[SET_COUNT]; /* values the config allocated */
};

/*
 * config_load - fill cfg from the environment through get (getenv-like; NULL
 * means unset) and the defaults.  Nothing is validated yet.
 */
void config_load(struct config *cfg, const char *(*get)(const char *name, void *arg), void *arg);

/* config_find - the id of a setting by its name ("lock-wait"); false if none. */
bool config_find(const char *name, enum setting_id *id) MUSTCHECK;

/* config_set - set a value from a flag (copied); overrides the environment. */
bool config_set(struct config *cfg, enum setting_id id, const char *value) MUSTCHECK;

/* config_put - set a value (copied) from source, whatever was there (config_set is CONFIG_FLAG's). */
bool config_put(struct config *cfg, enum setting_id id, const char *value, enum config_source source) MUSTCHECK;

/*
 * config_fill - set a value (copied) from the secret only where the configuration
 * has none (unset, or only the built-in default); *filled says whether it did.  So
 * explicit settings win over what is filled in, and a filled value ranks with the
 * DB_* variables (CONFIG_SECRET): below DATABASE_URL and flags, above libpq's PG*
 * variables.
 */
bool config_fill(struct config *cfg, enum setting_id id, const char *value, bool *filled) MUSTCHECK;

/*
 * config_conn - the value a connection setting (SET_HOST, SET_PORT, SET_DBNAME, SET_USER,
 * SET_PASSWORD, SET_SSLMODE, SET_SSLROOTCERT) connects with, and in *source where it comes
 * from, by the one precedence: a flag, DATABASE_URL's field (url_value: NULL or "" when
 * none), the DB_* variable or the secret, libpq's PG* variable (pg_value: NULL or "" when
 * unset).  NULL and CONFIG_UNSET when none is set: libpq's built-in default applies.
 *   flag --host a, DATABASE_URL host b, DB_HOST c  -> "a", CONFIG_FLAG
 *   DATABASE_URL host b, DB_HOST c, PGHOST d       -> "b", CONFIG_URL
 *   DB_HOST c, PGHOST d                            -> "c", CONFIG_ENV
 */
const char *config_conn(const struct config *cfg, enum setting_id id, const char *url_value, const char *pg_value,
			enum config_source *source);

/*
 * config_source_name - where a value came from, for messages: "flag", the variable's
 * name ("DB_ADDRESS"), "secret", "target", "default"; "unset" when it has none.
 */
const char *config_source_name(const struct config *cfg, enum setting_id id);

/*
 * config_search_path - the schema a run's search_path is set to: the schema setting's
 * value when a fleet target set it (CONFIG_TARGET), else NULL (the server's search_path
 * stands).
 */
const char *config_search_path(const struct config *cfg);

/*
 * config_derive - make dst a per-invocation copy of src: dst borrows src's
 * values (keep src alive and unchanged while dst is used), owns only what is
 * set on it afterwards, and is released with config_free.
 */
void config_derive(struct config *dst, const struct config *src);

/*
 * config_check - validate every set value against its kind (integers within their
 * range, booleans, sslmode, identifiers, the target allow-lists' regular expressions) and
 * DATABASE_URL's shape (db_url_check); on
 * failure writes what is wrong to err, naming the setting and where it came from:
 *   invalid value for --lock-wait (GOSLING_LOCK_WAIT): "9223372036854775807" is out of
 *   range: 0 to 86400 seconds
 */
bool config_check(const struct config *cfg, char *err, size_t errlen) MUSTCHECK;

/*
 * config_url_check - whether DATABASE_URL url, a postgres:// URI, is cut by libpq where
 * its author meant: a raw '@' or '/' in the password, or a '%' that is no %XX byte,
 * would make libpq take part of the password for the host or port and quote it in its
 * messages.  On failure err says what is wrong (and to percent-encode the password)
 * without quoting any of the URL.  A key=value string passes: libpq judges it.
 */
bool config_url_check(const char *url, char *err, size_t errlen) MUSTCHECK;

/*
 * config_regcomp - compile pattern, a POSIX extended regular expression, into re to match
 * a whole value only ("^(pattern)$"); release re with regfree.  A pattern that does not
 * compile on its own is refused too, so no parenthesis in it can undo the anchoring.  On
 * failure why holds regerror's reason (re is then not to be freed).
 */
bool config_regcomp(regex_t *re, const char *pattern, char *why, size_t whylen) MUSTCHECK;

/* What every DATABASE_URL error (a URI) tells the user to do. */
#define CONFIG_URL_HINT "percent-encode special characters in the password (@ as %40, / as %2F, % as %25)"

/* Typed getters; values have passed config_check. */
const char *config_str(const struct config *cfg, enum setting_id id);
int64_t config_int(const struct config *cfg, enum setting_id id);
bool config_bool(const struct config *cfg, enum setting_id id);

/* config_free - free what config_set and config_fill allocated; secret values are wiped first. */
void config_free(struct config *cfg);

/*
 * config_settings_json - the table as a JSON array, malloc'd (caller frees):
 * [{"name":"host","env":"DB_HOST","env_alt":"DB_ADDRESS","default":null,"help":"..."}, ...]
 */
char *config_settings_json(void) MUSTCHECK;

#endif
