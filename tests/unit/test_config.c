/*
 * test_config.c - unit tests of runtime/config.c's one connection precedence
 * (config_conn): a flag, then DATABASE_URL's field, then the DB_* variable or the
 * secret, then libpq's PG* variable; empty values and built-in defaults never win.
 * The environment is a table here, not the process's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "table_env.h"

#include <string.h>

/* conn CFG ID URL PG WANT SOURCE: config_conn gives WANT (NULL: none) from SOURCE */
static void
conn(const struct config *cfg, enum setting_id id, const char *url, const char *pg, const char *want,
     enum config_source want_source)
{
	enum config_source source = CONFIG_FLAG;
	const char *got = config_conn(cfg, id, url, pg, &source);

	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
	assert_int_equal(source, want_source);
}

static void
test_conn_precedence(void **state)
{
	const char *env[] = { "DB_HOST=c", NULL };
	struct config cfg;

	(void)state;
	config_load(&cfg, table_get, env);
	conn(&cfg, SET_HOST, "b", "d", "b", CONFIG_URL); /* DATABASE_URL over DB_HOST over PGHOST */
	conn(&cfg, SET_HOST, NULL, "d", "c", CONFIG_ENV);
	conn(&cfg, SET_HOST, "", "d", "c", CONFIG_ENV); /* an empty URL field is no value */
	assert_true(config_set(&cfg, SET_HOST, "a"));
	conn(&cfg, SET_HOST, "b", "d", "a", CONFIG_FLAG); /* a flag over everything */
	config_free(&cfg);
}

static void
test_conn_alt_and_pgenv(void **state)
{
	const char *env[] = { "DB_ADDRESS=alt", NULL };
	const char *none[] = { NULL };
	struct config cfg;

	(void)state;
	config_load(&cfg, table_get, env);
	conn(&cfg, SET_HOST, NULL, "d", "alt", CONFIG_ENV_ALT); /* DB_ADDRESS ranks with DB_HOST */
	assert_string_equal(config_source_name(&cfg, SET_HOST), "DB_ADDRESS");
	config_free(&cfg);

	config_load(&cfg, table_get, none);
	conn(&cfg, SET_HOST, NULL, "d", "d", CONFIG_PGENV);
	conn(&cfg, SET_HOST, NULL, "", NULL, CONFIG_UNSET); /* none: libpq's own default */
	conn(&cfg, SET_PORT, NULL, NULL, NULL, CONFIG_UNSET);
	config_free(&cfg);
}

static void
test_conn_secret(void **state)
{
	const char *env[] = { "DB_USER=explicit", NULL };
	struct config cfg;
	bool filled;

	(void)state;
	config_load(&cfg, table_get, env);
	/* the secret fills only what is unset, and ranks with DB_*: below DATABASE_URL, above PG* */
	assert_true(config_fill(&cfg, SET_HOST, "from-secret", &filled));
	assert_true(filled);
	assert_true(config_fill(&cfg, SET_USER, "secret-user", &filled));
	assert_false(filled);
	conn(&cfg, SET_HOST, NULL, "d", "from-secret", CONFIG_SECRET);
	conn(&cfg, SET_HOST, "b", "d", "b", CONFIG_URL);
	conn(&cfg, SET_USER, NULL, "pguser", "explicit", CONFIG_ENV);
	assert_string_equal(config_source_name(&cfg, SET_HOST), "secret");
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_precedence),
		cmocka_unit_test(test_conn_alt_and_pgenv),
		cmocka_unit_test(test_conn_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
