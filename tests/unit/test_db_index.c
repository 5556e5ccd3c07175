/*
 * test_db_index.c - unit tests of what runtime/db_index.c reads from a migration's text without the
 * server: the index and table of a CREATE INDEX CONCURRENTLY (db_index_target), which a
 * resumed NO TRANSACTION migration drops when its failed run left the index INVALID.
 * Built with AddressSanitizer and UBSan: a reader of SQL text must not read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transport.h"

#include <stdio.h>
#include <string.h>

/* target SQL NAME TABLE: SQL is a CREATE INDEX CONCURRENTLY of index NAME on TABLE */
static void
target(const char *sql, const char *name, const char *table)
{
	struct db_index_target t;

	assert_true(db_index_target(sql, &t));
	assert_string_equal(t.name, name);
	assert_string_equal(t.table, table);
}

static void
not_target(const char *sql)
{
	struct db_index_target t;

	assert_false(db_index_target(sql, &t));
}

static void
test_index_target_read(void **state)
{
	(void)state;
	target("CREATE INDEX CONCURRENTLY users_email ON users (email)", "users_email", "users");
	target("create unique index concurrently Users_Email on public.users(email)", "Users_Email", "public.users");
	target("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY s.t USING btree (a)", "i", "s.t");
	target("CREATE INDEX CONCURRENTLY \"My \"\"odd\"\" idx\" ON \"App\" . \"Users\" (a)", "\"My \"\"odd\"\" idx\"",
	       "\"App\".\"Users\"");
	target("-- why\n/* a /* nested */ comment */ CREATE\tINDEX\nCONCURRENTLY -- here\n ix ON t(a)", "ix", "t");
	/* IF alone is a name: an unreserved key word */
	target("CREATE INDEX CONCURRENTLY if ON t (a)", "if", "t");
	target("CREATE INDEX CONCURRENTLY idx$1 ON t (a)", "idx$1", "t");
	target("CREATE INDEX CONCURRENTLY \xc3\xa9t\xc3\xa9 ON caf\xc3\xa9 (a)", "\xc3\xa9t\xc3\xa9", "caf\xc3\xa9");
	/* no name: PostgreSQL chooses one, which the caller cannot know */
	target("CREATE INDEX CONCURRENTLY ON t (a)", "", "t");
}

static void
test_index_target_refused(void **state)
{
	(void)state;
	not_target("");
	not_target("CREATE INDEX i ON t (a)");
	not_target("CREATE TABLE t (a int)");
	not_target("REINDEX INDEX CONCURRENTLY i");
	not_target("SELECT 'CREATE INDEX CONCURRENTLY i ON t (a)'");
	not_target("CREATE INDEX CONCURRENTLY IF NOT EXISTS ON t (a)");
	not_target("CREATE INDEX CONCURRENTLY U&\"d\\0061t\" ON t (a)");
	/* cut short anywhere */
	not_target("CREATE INDEX CONCURRENTLY");
	not_target("CREATE INDEX CONCURRENTLY i");
	not_target("CREATE INDEX CONCURRENTLY i ON");
	not_target("CREATE INDEX CONCURRENTLY \"unterminated ON t (a)");
	not_target("CREATE INDEX CONCURRENTLY i ON t. (a)");
	not_target("CREATE INDEX /* unterminated comment");
}

static void
test_index_target_long(void **state)
{
	char sql[2048], name[600];
	struct db_index_target t;

	(void)state;
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	snprintf(sql, sizeof sql, "CREATE INDEX CONCURRENTLY %s ON t (a)", name);
	assert_false(db_index_target(sql, &t)); /* longer than any name the server keeps: not read */
	snprintf(sql, sizeof sql, "CREATE INDEX CONCURRENTLY i ON %s.%s (a)", name, name);
	assert_false(db_index_target(sql, &t));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_target_read),
		cmocka_unit_test(test_index_target_refused),
		cmocka_unit_test(test_index_target_long),
	};

	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
