/*
 * test_target.c - unit tests of runtime/target.c (issue 19): a fleet target's parse
 * (every field, unknown ones, hostile values), the allow-list (unset settings refuse
 * the field, patterns match whole values only), what an accepted target sets and its
 * lock key.  The environment is a table here, not the process's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "target.h"
#include "table_env.h"

/* parse JSON: must fail with an error holding each of the NULL-terminated strings */
static void
refused(const char *json, ...)
{
	struct target t;
	char err[512] = "";
	va_list ap;

	if (target_parse_text(json, &t, err, sizeof err))
		fail_msg("accepted %s", json);
	va_start(ap, json);
	for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
		if (!strstr(err, want))
			fail_msg("%s: error \"%s\" does not say \"%s\"", json, err, want);
	va_end(ap);
}

static void
test_parse_fields(void **state)
{
	struct target t;
	char err[512];

	(void)state;
	assert_true(target_parse_text("{\"id\": \"tenant_42\", \"database\": \"orders\", \"schema\": \"tenant_42\", "
				      "\"secret_arn\": \"arn:aws:secretsmanager:eu-west-1:1:secret:t42-AbCd\", "
				      "\"host\": \"db.example.com\", \"port\": \"6432\"}",
				      &t, err, sizeof err));
	assert_string_equal(t.id, "tenant_42");
	assert_string_equal(t.database, "orders");
	assert_string_equal(t.schema, "tenant_42");
	assert_string_equal(t.secret_arn, "arn:aws:secretsmanager:eu-west-1:1:secret:t42-AbCd");
	assert_string_equal(t.host, "db.example.com");
	assert_int_equal(t.port, 6432);
	assert_true(target_parse_text("{\"id\": \"eu-west-1/orders:7\", \"port\": 5432}", &t, err, sizeof err));
	assert_string_equal(t.id, "eu-west-1/orders:7");
	assert_int_equal(t.port, 5432);
	assert_string_equal(t.schema, "");
}

static void
test_parse_refusals(void **state)
{
	char big[5000];

	(void)state;
	refused("[]", "\"target\" must be an object", NULL);
	refused("{}", "\"target.id\" is required", NULL);
	refused("{\"schema\": \"s\"}", "\"target.id\" is required", NULL);
	refused("{\"id\": \"t\", \"region\": \"x\"}", "unknown field \"target.region\"", "id, database, schema", NULL);
	refused("{\"id\": \"t\", \"id\": \"u\"}", "duplicate", NULL);
	refused("{\"id\": 42}", "\"target.id\" must be a string, not an integer", NULL);
	refused("{\"id\": \"\"}", "\"target.id\" must not be empty", NULL);
	refused("{\"id\": \"a b\"}", "\"target.id\" must be letters", NULL);
	refused("{\"id\": \"t\", \"database\": null}", "\"target.database\" must be a string, not null", NULL);
	refused("{\"id\": \"t\", \"schema\": \"9lives\"}", "\"target.schema\" must be letters", NULL);
	refused("{\"id\": \"t\", \"schema\": \"Tenant-1\"}", "\"target.schema\" must be letters", NULL);
	refused("{\"id\": \"t\", \"port\": 0}", "\"target.port\" must be a port number", NULL);
	refused("{\"id\": \"t\", \"port\": 65536}", "\"target.port\"", NULL);
	refused("{\"id\": \"t\", \"port\": \"54x2\"}", "\"target.port\"", NULL);
	refused("{\"id\": \"t\", \"port\": 5432.0}", "\"target.port\"", "a number", NULL);
	refused("{\"id\": \"t\", \"host\": \"a\\u0000b\"}", "not valid JSON", NULL);
	{
		/* a NUL from a caller that let jansson keep it */
		json_t *o = json_pack("{s:s, s:s%}", "id", "t", "host", "a\0b", (size_t)3);
		struct target t;
		char err[256];

		assert_non_null(o);
		assert_false(target_parse(o, &t, err, sizeof err));
		assert_string_equal(err, "field \"target.host\" contains a NUL character");
		json_decref(o);
	}
	refused("{\"id\": \"t\", \"host\": \"a\\nb\"}", "\"target.host\" holds a control character", "a\\x0ab", NULL);
	/* very long values: refused by length, never copied past the field */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	{
		char json[sizeof big + 64];

		snprintf(json, sizeof json, "{\"id\": \"%s\"}", big);
		refused(json, "\"target.id\" is longer than 128 bytes", NULL);
		snprintf(json, sizeof json, "{\"id\": \"t\", \"database\": \"%.64s\"}", big);
		refused(json, "\"target.database\" is longer than 63 bytes", NULL);
		snprintf(json, sizeof json, "{\"id\": \"t\", \"secret_arn\": \"%s\"}", big);
		refused(json, "\"target.secret_arn\" is longer than 2048 bytes", NULL);
		snprintf(json, sizeof json, "{\"id\": \"t\", \"%.300s\": 1}", big);
		refused(json, "unknown field \"target.aaaa", "...\"", NULL); /* the name quoted, cut */
	}
	/* hostile text: quotes and multi-byte characters are quoted as \xNN, never raw */
	refused("{\"id\": \"t\\\"; DROP\"}", "\"target.id\" must be letters", "t\\x22; DROP", NULL);
	refused("{\"id\": \"t\", \"schema\": \"t\\u00e9nant\"}", "t\\xc3\\xa9nant", NULL);
	refused("{\"id\": \"t\", \"schema\": \"a\\\"b\"}", "a\\x22b", NULL);
	refused("{\"id\": \"t\u00e9\"}", "\"target.id\" must be letters", "t\\xc3\\xa9", NULL);
	refused("{\"id\": \"t\"", "not valid JSON", NULL);
}

/* allowed ENV... NULL, then JSON: whether the allow-list of that environment lets it through */
static bool
allowed(const char *const *env, const char *json, char *err, size_t errlen)
{
	struct config cfg;
	struct target t;
	char perr[512];
	bool ok;

	config_load(&cfg, table_get, (void *)env);
	if (!config_check(&cfg, perr, sizeof perr))
		fail_msg("config_check: %s", perr);
	if (!target_parse_text(json, &t, perr, sizeof perr))
		fail_msg("%s: %s", json, perr);
	err[0] = '\0';
	ok = target_allowed(&t, &cfg, err, errlen);
	config_free(&cfg);
	return ok;
}

static void
test_allow_list_unset_refuses(void **state)
{
	const char *none[] = { NULL };
	char err[512];

	(void)state;
	assert_true(allowed(none, "{\"id\": \"only_an_id\"}", err, sizeof err));
	assert_false(allowed(none, "{\"id\": \"t\", \"schema\": \"public\"}", err, sizeof err));
	assert_string_equal(err,
			    "field \"target.schema\" may not be given: GOSLING_TARGET_SCHEMAS (target-schemas) "
			    "is not set");
	assert_false(allowed(none, "{\"id\": \"t\", \"database\": \"d\"}", err, sizeof err));
	assert_non_null(strstr(err, "GOSLING_TARGET_DATABASES"));
	assert_false(allowed(none, "{\"id\": \"t\", \"secret_arn\": \"s\"}", err, sizeof err));
	assert_non_null(strstr(err, "GOSLING_TARGET_SECRET_ARNS"));
	assert_false(allowed(none, "{\"id\": \"t\", \"host\": \"h\"}", err, sizeof err));
	assert_non_null(strstr(err, "GOSLING_TARGET_HOSTS"));
	assert_false(allowed(none, "{\"id\": \"t\", \"port\": 5432}", err, sizeof err));
	assert_non_null(strstr(err, "GOSLING_TARGET_PORTS"));
	assert_false(allowed(none, "{\"id\": \"t\", \"cluster_arn\": \"arn:aws:rds:eu-west-1:1:cluster:c\"}", err,
			     sizeof err));
	assert_string_equal(err,
			    "field \"target.cluster_arn\" may not be given: GOSLING_TARGET_CLUSTER_ARNS "
			    "(target-cluster-arns) is not set");
}

/* a cluster target: the RDS Data API transport, over the function's secret and database or the target's */
static void
test_cluster_target(void **state)
{
	const char *dataapi[] = { "DB_CLUSTER_ARN=arn:aws:rds:eu-west-1:1:cluster:main",
				  "DB_NAME=app",
				  "DB_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:1:secret:main",
				  "GOSLING_TARGET_CLUSTER_ARNS=arn:aws:rds:eu-west-1:1:cluster:tenant-[a-z]+",
				  "GOSLING_TARGET_DATABASES=t_[0-9]+",
				  NULL };
	const char *libpq[] = { "DB_HOST=db.example.com", "GOSLING_TARGET_CLUSTER_ARNS=.*", NULL };
	struct config base, run;
	struct target t;
	char err[512];

	(void)state;
	assert_true(allowed(dataapi, "{\"id\": \"a\", \"cluster_arn\": \"arn:aws:rds:eu-west-1:1:cluster:tenant-eu\"}",
			    err, sizeof err));
	assert_false(allowed(dataapi, "{\"id\": \"a\", \"cluster_arn\": \"arn:aws:rds:eu-west-1:1:cluster:main2\"}",
			     err, sizeof err));
	assert_non_null(strstr(err,
			       "\"target.cluster_arn\": \"arn:aws:rds:eu-west-1:1:cluster:main2\" is not allowed by "
			       "GOSLING_TARGET_CLUSTER_ARNS"));
	config_load(&base, table_get, (void *)dataapi);
	assert_true(target_parse_text("{\"id\": \"a\", \"cluster_arn\": \"arn:aws:rds:eu-west-1:1:cluster:tenant-eu\", "
				      "\"database\": \"t_7\"}",
				      &t, err, sizeof err));
	assert_true(target_apply(&t, &base, &run));
	assert_string_equal(config_str(&run, SET_CLUSTER_ARN), "arn:aws:rds:eu-west-1:1:cluster:tenant-eu");
	assert_string_equal(config_source_name(&run, SET_CLUSTER_ARN), "target");
	assert_string_equal(config_str(&run, SET_DBNAME), "t_7");
	assert_true(config_check(&run, err, sizeof err));
	config_free(&run);
	config_free(&base);
	/* a function configured for libpq: a cluster target makes the invocation both, which config_check refuses */
	config_load(&base, table_get, (void *)libpq);
	assert_true(target_parse_text("{\"id\": \"b\", \"cluster_arn\": \"arn:aws:rds:eu-west-1:1:cluster:c\"}", &t,
				      err, sizeof err));
	assert_true(target_allowed(&t, &base, err, sizeof err));
	assert_true(target_apply(&t, &base, &run));
	assert_false(config_check(&run, err, sizeof err));
	assert_non_null(strstr(err, "--cluster-arn (target) selects the RDS Data API"));
	config_free(&run);
	config_free(&base);
}

static void
test_allow_list_whole_value(void **state)
{
	const char *env[] = { "GOSLING_TARGET_SCHEMAS=tenant_[0-9]+",
			      "GOSLING_TARGET_DATABASES=orders|billing",
			      "GOSLING_TARGET_HOSTS=db\\.example\\.com",
			      "GOSLING_TARGET_PORTS=5432|6432",
			      "GOSLING_TARGET_SECRET_ARNS=arn:aws:secretsmanager:eu-west-1:1:secret:tenant-.*",
			      NULL };
	char err[512];

	(void)state;
	assert_true(allowed(env, "{\"id\": \"t\", \"schema\": \"tenant_42\"}", err, sizeof err));
	assert_true(allowed(env, "{\"id\": \"t\", \"database\": \"billing\", \"port\": 6432}", err, sizeof err));
	assert_true(allowed(env,
			    "{\"id\": \"t\", \"host\": \"db.example.com\", \"secret_arn\": "
			    "\"arn:aws:secretsmanager:eu-west-1:1:secret:tenant-7\"}",
			    err, sizeof err));
	/* anchored: a prefix, a suffix or a part of the value is not a match */
	assert_false(allowed(env, "{\"id\": \"t\", \"schema\": \"tenant_42x\"}", err, sizeof err));
	assert_string_equal(err,
			    "field \"target.schema\": \"tenant_42x\" is not allowed by GOSLING_TARGET_SCHEMAS "
			    "(target-schemas)");
	assert_false(allowed(env, "{\"id\": \"t\", \"schema\": \"xtenant_42\"}", err, sizeof err));
	assert_false(allowed(env, "{\"id\": \"t\", \"schema\": \"tenant_\"}", err, sizeof err));
	/* the alternation stays inside the anchors: "orders|billing" is not "^orders|billing$" */
	assert_false(allowed(env, "{\"id\": \"t\", \"database\": \"ordersX\"}", err, sizeof err));
	assert_non_null(strstr(err, "\"target.database\": \"ordersX\""));
	assert_false(allowed(env, "{\"id\": \"t\", \"database\": \"Xbilling\"}", err, sizeof err));
	/* regex special characters in a value are plain characters to match */
	assert_false(allowed(env, "{\"id\": \"t\", \"host\": \"dbXexample.com\"}", err, sizeof err));
	assert_false(allowed(env, "{\"id\": \"t\", \"host\": \"db.example.com.evil\"}", err, sizeof err));
	assert_false(allowed(env, "{\"id\": \"t\", \"host\": \".*\"}", err, sizeof err));
	assert_false(allowed(env, "{\"id\": \"t\", \"database\": \"orders|billing\"}", err, sizeof err));
	assert_false(allowed(env, "{\"id\": \"t\", \"port\": 54320}", err, sizeof err));
	/* multi-byte and quotes: refused, quoted escaped */
	assert_false(allowed(env, "{\"id\": \"t\", \"database\": \"\u00f6rders\"}", err, sizeof err));
	assert_non_null(strstr(err, "\\xc3\\xb6rders"));
	assert_false(allowed(env, "{\"id\": \"t\", \"database\": \"orders'\\\"\"}", err, sizeof err));
	assert_non_null(strstr(err, "orders'\\x22"));
	/* one refused field refuses the target, whatever the others */
	assert_false(allowed(env, "{\"id\": \"t\", \"schema\": \"tenant_1\", \"host\": \"other\"}", err, sizeof err));
	assert_non_null(strstr(err, "\"target.host\""));
}

static void
test_allow_list_patterns_checked(void **state)
{
	const char *bad[] = { "GOSLING_TARGET_SCHEMAS=tenant_(", NULL };
	const char *escape[] = { "GOSLING_TARGET_SCHEMAS=a)|(.*", NULL };
	struct config cfg;
	char err[512];

	(void)state;
	config_load(&cfg, table_get, (void *)bad);
	assert_false(config_check(&cfg, err, sizeof err));
	assert_non_null(
		strstr(err, "--target-schemas (GOSLING_TARGET_SCHEMAS): not a POSIX extended regular expression"));
	config_free(&cfg);
	/* a pattern that would undo the anchors once wrapped is refused */
	config_load(&cfg, table_get, (void *)escape);
	assert_false(config_check(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "--target-schemas"));
	config_free(&cfg);
}

static void
test_apply(void **state)
{
	const char *env[] = { "DB_HOST=function-db",
			      "DB_NAME=main",
			      "GOSLING_LOCK_KEY=42",
			      "GOSLING_TARGET_SCHEMAS=.*",
			      "GOSLING_TARGET_DATABASES=.*",
			      "GOSLING_TARGET_PORTS=.*",
			      "DATABASE_URL=postgres://u@url-host/url-db",
			      NULL };
	struct config base, run;
	struct target t;
	enum config_source src;
	char err[512];

	(void)state;
	config_load(&base, table_get, (void *)env);
	assert_true(target_parse_text("{\"id\": \"t1\", \"database\": \"tenants\", \"schema\": \"tenant_1\", "
				      "\"port\": 6432}",
				      &t, err, sizeof err));
	assert_true(target_allowed(&t, &base, err, sizeof err));
	assert_true(target_apply(&t, &base, &run));
	/* over the function's own settings, DATABASE_URL's fields included */
	assert_string_equal(config_conn(&run, SET_DBNAME, "url-db", NULL, &src), "tenants");
	assert_int_equal(src, CONFIG_TARGET);
	assert_string_equal(config_conn(&run, SET_PORT, NULL, NULL, &src), "6432");
	assert_string_equal(config_conn(&run, SET_HOST, "url-host", NULL, &src), "url-host"); /* not given: kept */
	assert_int_equal(src, CONFIG_URL);
	assert_string_equal(config_str(&run, SET_SCHEMA), "tenant_1");
	assert_string_equal(config_source_name(&run, SET_SCHEMA), "target");
	assert_string_equal(config_search_path(&run), "tenant_1");
	assert_null(config_search_path(&base));
	assert_int_equal(config_int(&run, SET_LOCK_KEY), target_lock_key(42, "tenant_1"));
	assert_true(config_check(&run, err, sizeof err));
	config_free(&run);

	/* the function's own schema: its own lock key, so a plain run and this one serialise */
	assert_true(target_parse_text("{\"id\": \"t2\", \"schema\": \"public\"}", &t, err, sizeof err));
	assert_true(target_apply(&t, &base, &run));
	assert_int_equal(config_int(&run, SET_LOCK_KEY), 42);
	config_free(&run);

	/* no schema: no search_path, the configured key */
	assert_true(target_parse_text("{\"id\": \"t3\", \"database\": \"other\"}", &t, err, sizeof err));
	assert_true(target_apply(&t, &base, &run));
	assert_null(config_search_path(&run));
	assert_int_equal(config_int(&run, SET_LOCK_KEY), 42);
	config_free(&run);
	config_free(&base);
}

static void
test_lock_key(void **state)
{
	(void)state;
	/* FNV-1a 64 over the key's 8 bytes big-endian, then the schema; the top bit cleared */
	assert_int_equal(target_lock_key(7163289416054213907, "tenant_1"),
			 target_lock_key(7163289416054213907, "tenant_1"));
	assert_true(target_lock_key(7163289416054213907, "tenant_1") !=
		    target_lock_key(7163289416054213907, "tenant_2"));
	assert_true(target_lock_key(1, "tenant_1") != target_lock_key(2, "tenant_1"));
	assert_true(target_lock_key(-1, "s") >= 0);
	/* the value the docs give: key 0, schema "" is FNV-1a of eight zero bytes */
	assert_int_equal(target_lock_key(0, ""), (int64_t)(0xa8c7f832281a39c5u & INT64_MAX));
	{
		int64_t seen[1000];

		for (int i = 0; i < 1000; i++) {
			char s[32];

			snprintf(s, sizeof s, "tenant_%d", i);
			seen[i] = target_lock_key(7163289416054213907, s);
			assert_true(seen[i] >= 0);
			for (int j = 0; j < i; j++)
				assert_true(seen[j] != seen[i]);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_allow_list_unset_refuses),
		cmocka_unit_test(test_allow_list_whole_value),
		cmocka_unit_test(test_cluster_target),
		cmocka_unit_test(test_allow_list_patterns_checked),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_lock_key),
	};

	return cmocka_run_group_tests_name("target", tests, NULL, NULL);
}
