/*
 * test_history.c - unit tests of runtime/history.c without PostgreSQL: a bundle built
 * in memory (tests/unit/fixture_bundle.h) against histories as gosling and goose leave
 * them: complete, with a gap (an out-of-order apply pending), edited after the fact,
 * edited by hand, partial NO TRANSACTION rows, goose's table alone, versions the bundle
 * lacks.  Each case checks the state, the chain, and the drift and order verdicts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "checksum.h"
#include "fixture_bundle.h"

static const char *const up1[] = { "CREATE TABLE a (id int)", NULL };
static const char *const up2[] = { "CREATE TABLE b (id int)", NULL };
static const char *const up3[] = { "ALTER TABLE a ADD c int", "ALTER TABLE b ADD c int", NULL };
static const char *const up_nt[] = { "CREATE INDEX CONCURRENTLY ia ON a (id)", "CREATE INDEX CONCURRENTLY ib ON b (id)",
				     "CREATE INDEX CONCURRENTLY ic ON a (c)", NULL };
static const char *const down1[] = { "DROP TABLE a", NULL };

/* three transactional migrations, 1, 2, 3, then NO TRANSACTION 4 */
static void
four(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	fx_add(f, 1, "a", false, up1, down1);
	fx_add(f, 2, "b", false, up2, NULL);
	fx_add(f, 3, "c", false, up3, NULL);
	fx_add(f, 4, "idx", true, up_nt, NULL);
}

static void
result_done(struct engine_result *res)
{
	engine_result_free(res);
}

static void
test_complete(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };
	char chain[CHECKSUM_LEN];

	(void)state;
	four(&f);
	fx_row(&f, 0);
	fx_row(&f, 1);
	fx_row(&f, 2);
	assert_true(fx_index(&f));
	for (size_t k = 0; k < 3; k++) {
		assert_true(history_applied(&f.h, k));
		assert_false(history_partial(&f.h, k));
		assert_non_null(history_row(&f.h, k));
		assert_true(history_chain_at(&f.h, k, chain));
		assert_string_equal(chain, f.m[k].chain);    /* no gap: the bundle's own chain */
		assert_string_equal(chain, f.rows[k].chain); /* and the one gosling wrote */
	}
	assert_false(history_applied(&f.h, 3));
	assert_null(history_row(&f.h, 3));
	assert_int_equal(history_newest(&f.h), 3);
	assert_true(history_has(&f.h, 2));
	assert_false(history_has(&f.h, 4));
	assert_true(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.status, ENGINE_OK);
	assert_int_equal(res.nwarnings, 0);
	assert_true(history_check_order(&f.h, INT64_MAX, false, &res));
	history_list(&f.h, &res);
	assert_int_equal(res.nitems, 4);
	assert_string_equal(res.items[0].state, "applied");
	assert_string_equal(res.items[0].applied_at, "2026-01-01 00:00:00+00");
	assert_int_equal(res.items[2].duration_ms, 30);
	assert_string_equal(res.items[3].state, "pending");
	assert_true(res.items[3].no_transaction);
	history_index_free(&f.h);
	result_done(&res);
}

/* 1 and 3 applied, 2 pending below them: goose's "missing" migration. */
static void
test_gap(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };
	char chain[CHECKSUM_LEN], want[CHECKSUM_LEN];
	struct db_rechain *rc;
	size_t nrc;

	(void)state;
	four(&f);
	fx_row(&f, 0);
	fx_row(&f, 2); /* chained on row 1's chain: H(chain 1, 3, exec 3) */
	assert_true(fx_index(&f));
	assert_false(history_applied(&f.h, 1));
	assert_true(history_chain_at(&f.h, 2, chain));
	assert_string_not_equal(chain, f.m[2].chain); /* the gap changes it */
	assert_true(checksum_chain(f.m[0].chain, 3, f.m[2].exec_checksum, want));
	assert_string_equal(chain, want);
	assert_string_equal(chain, f.rows[1].chain);
	assert_true(history_check_drift(&f.h, "gosling_history", &res)); /* self-consistent: no drift */

	/* the order check: refused, or a warning for status */
	assert_false(history_check_order(&f.h, INT64_MAX, false, &res));
	assert_int_equal(res.status, ENGINE_DRIFT);
	assert_string_equal(res.error.file, "000002_b.sql");
	assert_int_equal(res.error.version, 2);
	assert_non_null(strstr(res.error.message, "below the newest applied version 3"));
	result_done(&res);
	assert_true(history_check_order(&f.h, 1, false, &res)); /* up-to 1: 2 is not asked for */
	assert_true(history_check_order(&f.h, INT64_MAX, true, &res));
	assert_int_equal(res.status, ENGINE_OK);
	assert_int_equal(res.nwarnings, 1);
	assert_non_null(strstr(res.warnings[0], "000002_b.sql is pending"));
	result_done(&res);

	/* 2 applied out of order: 3's row is re-chained to the bundle's chain */
	f.h.chained[1] = true;
	assert_true(history_rechain_above(&f.h, 1, &rc, &nrc));
	assert_int_equal(nrc, 1);
	assert_int_equal(rc[0].version, 3);
	assert_string_equal(rc[0].chain, f.m[2].chain);
	free(rc);
	assert_true(history_rechain_above(&f.h, 2, &rc, &nrc)); /* nothing applied above 3 */
	assert_int_equal(nrc, 0);
	free(rc);
	history_index_free(&f.h);
}

/* A partial migration below the newest applied one is not pending: up resumes it. */
static void
test_order_partial(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };

	(void)state;
	four(&f);
	fx_row(&f, 0);
	fx_row(&f, 1)->failed_statement = 1;
	fx_row(&f, 2);
	assert_true(fx_index(&f));
	assert_true(history_partial(&f.h, 1));
	assert_true(history_check_order(&f.h, INT64_MAX, false, &res));
	assert_int_equal(res.status, ENGINE_OK);
	assert_int_equal(res.nwarnings, 0);
	history_index_free(&f.h);
}

/* A migration edited after it ran, a row edited by hand, a version the bundle lacks. */
static void
test_drift(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };

	(void)state;
	four(&f);
	fx_row(&f, 0);
	fx_row(&f, 1);
	snprintf(f.row_exec[1], CHECKSUM_LEN, "%s", f.m[2].exec_checksum); /* ran other statements */
	fx_rechain(&f, 1);
	assert_true(fx_index(&f));
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.status, ENGINE_DRIFT);
	assert_int_equal(res.error.version, 2);
	assert_string_equal(res.error.file, "000002_b.sql");
	assert_non_null(strstr(res.error.message, "was changed after it was applied"));
	result_done(&res);

	/* the same exec checksum changed without its chain: edited by hand */
	snprintf(f.row_chain[1], CHECKSUM_LEN, "%s", f.m[1].chain);
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_non_null(strstr(res.error.message, "edited by hand: its checksum does not match its chain"));
	result_done(&res);

	/* the right checksum, the wrong chain */
	snprintf(f.row_exec[1], CHECKSUM_LEN, "%s", f.m[1].exec_checksum);
	snprintf(f.row_chain[1], CHECKSUM_LEN, "%s", f.m[2].chain);
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_non_null(strstr(res.error.message, "edited by hand: its chain does not match"));
	result_done(&res);
	history_index_free(&f.h);

	/* an applied version the bundle lacks */
	four(&f);
	fx_row(&f, 0);
	fx_row(&f, 1)->version = 7;
	fx_rechain(&f, 1);
	assert_true(fx_index(&f));
	assert_false(history_applied(&f.h, 1));
	assert_int_equal(history_newest(&f.h), 7);
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.error.version, 7);
	assert_non_null(strstr(res.error.message, "(version 7) is missing from the bundle"));
	result_done(&res);
	history_list(&f.h, &res); /* status lists it, by version, as missing */
	assert_int_equal(res.nitems, 5);
	assert_int_equal(res.items[4].version, 7);
	assert_string_equal(res.items[4].state, "missing");
	assert_string_equal(res.items[4].name, "000002_b.sql");
	assert_string_equal(res.items[1].state, "pending");
	result_done(&res);
	history_index_free(&f.h);
}

/* Edits that are not drift: comments (the file checksum), a new name. */
static void
test_cosmetic(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };

	(void)state;
	four(&f);
	fx_row(&f, 0)->file_checksum = f.m[1].file_checksum;
	fx_row(&f, 1)->name = "000002_old_name.sql";
	assert_true(fx_index(&f));
	assert_true(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.status, ENGINE_OK);
	assert_int_equal(res.nwarnings, 2);
	assert_non_null(strstr(res.warnings[0], "000001_a.sql was edited after it was applied, in comments"));
	assert_non_null(strstr(res.warnings[1], "renamed from 000002_old_name.sql to 000002_b.sql"));
	result_done(&res);
	history_index_free(&f.h);
}

/* Migration 4 (NO TRANSACTION) stopped at statement 2: statement 1 ran. */
static struct db_row *
partial(struct fixture *f)
{
	struct db_row *row;

	four(f);
	fx_row(f, 0);
	fx_row(f, 1);
	fx_row(f, 2);
	row = fx_row(f, 3);
	row->failed_statement = 2;
	if (!checksum_done(&f->m[3], 1, f->row_done[3]))
		fprintf(stderr, "fixture: a checksum failed\n");
	row->done_checksum = f->row_done[3];
	return row;
}

static void
test_partial(void **state)
{
	static const char *const edited[] = { "CREATE INDEX CONCURRENTLY ia ON a (id)",
					      "CREATE INDEX CONCURRENTLY ib ON b (id, c)", NULL };
	static const char *const rewritten[] = { "CREATE INDEX CONCURRENTLY ia2 ON a (id)", NULL };
	struct fixture f;
	struct engine_result res = { 0 };
	struct db_row *row;

	(void)state;
	row = partial(&f);
	assert_true(fx_index(&f));
	assert_true(history_partial(&f.h, 3));
	assert_false(history_applied(&f.h, 3));
	assert_int_equal(history_newest(&f.h), 3);			 /* a partial row is not applied */
	assert_true(history_check_drift(&f.h, "gosling_history", &res)); /* unchanged: no word */
	assert_int_equal(res.nwarnings, 0);
	history_list(&f.h, &res);
	assert_string_equal(res.items[3].state, "partial");
	assert_int_equal(res.items[3].failed_statement, 2);
	result_done(&res);
	history_index_free(&f.h);

	/* changed from statement 2 on: resumable, with a warning */
	row = partial(&f);
	f.m[3].nup = 2;
	f.up[3][1] = (struct stmt){ .sql = edited[1], .len = (uint32_t)strlen(edited[1]), .line = 4, .ncommands = 1 };
	assert_true(checksum_exec(&f.m[3], f.exec[3]));
	assert_true(fx_index(&f));
	assert_true(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.nwarnings, 1);
	assert_non_null(strstr(res.warnings[0], "stopped at statement 2, was changed from that statement on"));
	result_done(&res);

	/* statement 1, which ran, changed: refused with how to recover */
	f.m[3].nup = 1;
	f.up[3][0] =
		(struct stmt){ .sql = rewritten[0], .len = (uint32_t)strlen(rewritten[0]), .line = 2, .ncommands = 1 };
	assert_true(checksum_exec(&f.m[3], f.exec[3]));
	assert_false(history_check_drift(&f.h, "my.history", &res));
	assert_int_equal(res.status, ENGINE_DRIFT);
	assert_int_equal(res.error.version, 4);
	assert_non_null(strstr(res.error.message, "is partial: it stopped at statement 2 after statements 1 to 1 ran"));
	assert_non_null(strstr(res.error.message, "DELETE FROM my.history WHERE version = 4"));
	result_done(&res);

	/* a row from an older gosling records no done checksum: refused, saying so */
	row->done_checksum = NULL;
	f.up[3][0] = (struct stmt){ .sql = edited[0], .len = (uint32_t)strlen(edited[0]), .line = 2, .ncommands = 1 };
	f.m[3].nup = 2;
	assert_true(checksum_exec(&f.m[3], f.exec[3]));
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_non_null(strstr(res.error.message, "does not record what ran"));
	result_done(&res);

	/* stopped at statement 1: nothing ran, so any new text runs whole */
	row->failed_statement = 1;
	assert_true(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.nwarnings, 1);
	result_done(&res);

	/* now transactional: it cannot resume */
	row->failed_statement = 2;
	row->done_checksum = f.row_done[3];
	f.m[3].no_transaction = false;
	assert_true(checksum_exec(&f.m[3], f.exec[3]));
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_non_null(strstr(res.error.message, "changed to a transactional migration"));
	result_done(&res);
	history_index_free(&f.h);
}

/* goose's table alone (no gosling history yet), and a goose version the bundle lacks. */
static void
test_goose_only(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };
	char chain[CHECKSUM_LEN];

	(void)state;
	four(&f);
	fx_goose(&f, 1);
	fx_goose(&f, 2);
	assert_true(fx_index(&f));
	assert_true(history_applied(&f.h, 0));
	assert_true(history_applied(&f.h, 1));
	assert_false(history_applied(&f.h, 2));
	assert_null(history_row(&f.h, 1));
	assert_true(f.h.chained[1]);
	assert_true(history_chain_at(&f.h, 2, chain));
	assert_string_equal(chain, f.m[2].chain); /* goose's versions count in the chain */
	assert_int_equal(history_newest(&f.h), 2);
	assert_false(history_has(&f.h, 1)); /* no history row */
	assert_true(history_check_drift(&f.h, "gosling_history", &res));
	history_list(&f.h, &res);
	assert_string_equal(res.items[1].state, "applied");
	assert_string_equal(res.items[1].applied_at, "");
	result_done(&res);
	history_index_free(&f.h);

	four(&f);
	fx_goose(&f, 1);
	fx_goose(&f, 9);
	assert_true(fx_index(&f));
	assert_int_equal(history_newest(&f.h), 9);
	assert_false(history_check_drift(&f.h, "gosling_history", &res));
	assert_int_equal(res.error.version, 9);
	assert_non_null(strstr(res.error.message, "version 9, applied according to goose's table, is missing"));
	result_done(&res);
	history_list(&f.h, &res);
	assert_int_equal(res.nitems, 5);
	assert_string_equal(res.items[4].name, "(goose)");
	assert_string_equal(res.items[4].state, "missing");
	result_done(&res);
	/* pending 2 and 3 are below goose's 9 */
	assert_false(history_check_order(&f.h, INT64_MAX, false, &res));
	assert_int_equal(res.error.version, 2);
	result_done(&res);
	history_index_free(&f.h);
}

/* The first error is the one kept; an empty bundle and history are consistent. */
static void
test_first_error_and_empty(void **state)
{
	struct fixture f;
	struct engine_result res = { 0 };

	(void)state;
	result_fail(&res, ENGINE_LOCK_TIMEOUT, "first %d", 1);
	result_fail(&res, ENGINE_DRIFT, "second");
	assert_int_equal(res.status, ENGINE_LOCK_TIMEOUT);
	assert_string_equal(res.error.message, "first 1");
	result_done(&res);

	memset(&f, 0, sizeof f);
	assert_true(fx_index(&f));
	assert_int_equal(history_newest(&f.h), 0);
	assert_true(history_check_drift(&f.h, "gosling_history", &res));
	assert_true(history_check_order(&f.h, INT64_MAX, false, &res));
	history_list(&f.h, &res);
	assert_int_equal(res.nitems, 0);
	result_done(&res);
	history_index_free(&f.h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),      cmocka_unit_test(test_gap),
		cmocka_unit_test(test_order_partial), cmocka_unit_test(test_drift),
		cmocka_unit_test(test_cosmetic),      cmocka_unit_test(test_partial),
		cmocka_unit_test(test_goose_only),    cmocka_unit_test(test_first_error_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
