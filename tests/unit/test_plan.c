/*
 * test_plan.c - unit tests of runtime/plan.c without PostgreSQL: the steps up, up-to,
 * down, down-to and plan take over a bundle built in memory (tests/unit/fixture_bundle.h)
 * and a history: pending migrations in order, a partial NO TRANSACTION one resumed where
 * it stopped, goose's versions counted as applied, ENVSUB expanded (and its failure
 * named by file, statement and line), --atomic refused over NO TRANSACTION, plan's SQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "fixture_bundle.h"

static const char *const up1[] = { "CREATE TABLE a (id int)", NULL };
static const char *const up2[] = { "CREATE TABLE b (id int)", "INSERT INTO b VALUES (1)", NULL };
static const char *const up_nt[] = { "CREATE INDEX CONCURRENTLY ia ON a (id)", "CREATE INDEX CONCURRENTLY ib ON b (id)",
				     "CREATE INDEX CONCURRENTLY ic ON b (id, a)", NULL };
static const char *const up5[] = { "CREATE TABLE e (id int)", NULL };
static const char *const down1[] = { "DROP TABLE a", NULL };
static const char *const down2[] = { "DELETE FROM b", "DROP TABLE b", NULL };

/* 1, 2 transactional; 3 NO TRANSACTION; 5 transactional (4 was never written) */
static void
bundle4(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	fx_add(f, 1, "a", false, up1, down1);
	fx_add(f, 2, "b", false, up2, down2);
	fx_add(f, 3, "idx", true, up_nt, NULL);
	fx_add(f, 5, "e", false, up5, NULL);
}

/* Each test's fixture, result and steps; teardown frees what a failed assertion left. */
struct plan_case {
	struct fixture f;
	struct engine_result res;
	struct step *steps;
	size_t n;
};

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct plan_case));
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	struct plan_case *c = *state;

	steps_free(c->steps, c->n);
	engine_result_free(&c->res);
	history_index_free(&c->f.h);
	free(c);
	return 0;
}

/* steps_free, and nothing left for teardown */
static void
steps_done(struct plan_case *c)
{
	steps_free(c->steps, c->n);
	c->steps = NULL;
	c->n = 0;
}

/* Start over: nothing planned or reported, bundle4 with migrations [0, applied) in the history. */
static void
again(struct plan_case *c, size_t applied)
{
	steps_done(c);
	engine_result_free(&c->res);
	history_index_free(&c->f.h);
	bundle4(&c->f);
	for (size_t k = 0; k < applied; k++)
		fx_row(&c->f, k);
}

static void
test_up_pending(void **state)
{
	struct plan_case *c = *state;

	again(c, 1);
	assert_true(fx_index(&c->f));
	assert_true(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 3);
	assert_ptr_equal(c->steps[0].m, &c->f.m[1]);
	assert_ptr_equal(c->steps[1].m, &c->f.m[2]);
	assert_ptr_equal(c->steps[2].m, &c->f.m[3]);
	for (size_t i = 0; i < c->n; i++) {
		assert_false(c->steps[i].down);
		assert_false(c->steps[i].resume);
		assert_int_equal(c->steps[i].first, 0);
		assert_int_equal(c->steps[i].nsql, c->steps[i].m->nup);
	}
	assert_ptr_equal(c->steps[0].sql[1], up2[1]); /* no ENVSUB: the bundle's own text */
	assert_null(c->steps[0].sql[2]);
	assert_true(plan_items(&c->f.h, &c->res, c->steps, c->n));
	assert_int_equal(c->res.nitems, 3);
	assert_ptr_equal(c->steps[1].item, &c->res.items[1]);
	assert_string_equal(c->res.items[1].state, "pending");
	assert_true(c->res.items[1].no_transaction);
	assert_true(plan_sql(&c->res, c->steps, c->n));
	assert_string_equal(c->res.items[0].sql, "CREATE TABLE b (id int)\n\nINSERT INTO b VALUES (1)");
	assert_string_equal(c->res.items[0].action, "would apply");
	steps_done(c);
	engine_result_free(&c->res);

	/* up-to 3 stops before 5; up-to 0 has nothing to do */
	assert_true(plan_up(&c->f.h, 3, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 2);
	assert_int_equal(c->steps[1].m->version, 3);
	steps_done(c);
	assert_true(plan_up(&c->f.h, 0, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 0);
	steps_done(c);
	assert_int_equal(c->res.status, ENGINE_OK);
}

/* 3 stopped at statement 2: up resumes it there; goose's versions count as applied. */
static void
test_up_resume(void **state)
{
	struct plan_case *c = *state;

	again(c, 0);
	fx_goose(&c->f, 1);
	fx_goose(&c->f, 2);
	fx_row(&c->f, 2)->failed_statement = 2;
	assert_true(fx_index(&c->f));
	assert_true(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 2);
	assert_int_equal(c->steps[0].m->version, 3);
	assert_true(c->steps[0].resume);
	assert_int_equal(c->steps[0].first, 1); /* 0-based: statement 2 */
	assert_int_equal(c->steps[1].m->version, 5);
	assert_true(plan_items(&c->f.h, &c->res, c->steps, c->n));
	assert_string_equal(c->res.items[0].state, "partial");
	assert_int_equal(c->res.items[0].failed_statement, 2);
	assert_true(plan_sql(&c->res, c->steps, c->n));
	assert_string_equal(c->res.items[0].sql,
			    "CREATE INDEX CONCURRENTLY ib ON b (id)\n\nCREATE INDEX CONCURRENTLY ic ON b (id, a)");

	/* the statement that stopped it was removed since: nothing is left to run */
	again(c, 2);
	fx_row(&c->f, 2)->failed_statement = 3;
	c->f.m[2].nup = 1;
	assert_true(fx_index(&c->f));
	assert_true(plan_up(&c->f.h, 3, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 1);
	assert_int_equal(c->steps[0].first, 1);
	assert_int_equal(c->steps[0].nsql, 1);
	steps_done(c);
}

static void
test_down(void **state)
{
	struct plan_case *c = *state;

	again(c, 3);
	assert_true(fx_index(&c->f));
	assert_true(plan_down(&c->f.h, -1, 1, &c->res, &c->steps, &c->n)); /* down: the newest applied */
	assert_int_equal(c->n, 1);
	assert_int_equal(c->steps[0].m->version, 3);
	assert_true(c->steps[0].down);
	assert_int_equal(c->steps[0].nsql, 0); /* no Down statements */
	steps_done(c);
	assert_true(plan_down(&c->f.h, 1, SIZE_MAX, &c->res, &c->steps, &c->n)); /* down-to 1: newest first */
	assert_int_equal(c->n, 2);
	assert_int_equal(c->steps[0].m->version, 3);
	assert_int_equal(c->steps[1].m->version, 2);
	assert_int_equal(c->steps[1].nsql, 2);
	assert_string_equal(c->steps[1].sql[0], "DELETE FROM b");
	assert_true(plan_items(&c->f.h, &c->res, c->steps, c->n));
	assert_string_equal(c->res.items[0].state, "applied");
	assert_string_equal(c->res.items[0].applied_at, "2026-01-03 00:00:00+00");
	steps_done(c);
	engine_result_free(&c->res);
	assert_true(plan_down(&c->f.h, 5, SIZE_MAX, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 0);
	steps_done(c);
	history_index_free(&c->f.h);

	/* a partial migration is finished or repaired before anything rolls back past it */
	c->f.rows[2].failed_statement = 2;
	assert_true(fx_index(&c->f));
	assert_false(plan_down(&c->f.h, -1, 1, &c->res, &c->steps, &c->n));
	assert_int_equal(c->res.status, ENGINE_MIGRATION_FAILED);
	assert_non_null(strstr(c->res.error.message, "000003_idx.sql stopped at statement 2"));
	steps_done(c);
}

/* ENVSUB: expanded from the environment; a variable that must be set names where it is. */
static void
test_envsub(void **state)
{
	static const char *const up[] = { "SELECT 1", "CREATE ROLE ${GOSLING_TEST_ROLE?needs a role}", NULL };
	struct envsub_range all = { 0, (uint32_t)strlen(up[1]) };
	struct plan_case *c = *state;

	memset(&c->f, 0, sizeof c->f);
	fx_add(&c->f, 1, "role", false, up, NULL);
	c->f.up[0][1].envsub = &all;
	c->f.up[0][1].nenvsub = 1;
	assert_true(fx_index(&c->f));
	setenv("GOSLING_TEST_ROLE", "reader", 1);
	assert_true(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_int_equal(c->n, 1);
	assert_ptr_equal(c->steps[0].sql[0], up[0]);
	assert_string_equal(c->steps[0].sql[1], "CREATE ROLE reader");
	steps_done(c); /* frees the expanded copy, not the bundle's text (ASan) */

	unsetenv("GOSLING_TEST_ROLE");
	assert_false(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_int_equal(c->res.status, ENGINE_CONFIG_ERROR);
	assert_int_equal(c->res.error.version, 1);
	assert_int_equal(c->res.error.statement, 2);
	assert_int_equal(c->res.error.line, 4);
	assert_string_equal(c->res.error.file, "000001_role.sql");
	assert_non_null(strstr(c->res.error.message, "unable to expand 000001_role.sql statement 2 (line 4)"));
	assert_non_null(strstr(c->res.error.message, "needs a role"));
	steps_done(c);
}

/* --atomic over a NO TRANSACTION step: refused, with the way round it. */
static void
test_atomic(void **state)
{
	struct plan_case *c = *state;

	again(c, 0);
	assert_true(fx_index(&c->f));
	assert_true(plan_up(&c->f.h, 2, &c->res, &c->steps, &c->n));
	assert_true(plan_atomic_check(&c->res, c->steps, c->n)); /* 1 and 2: transactional */
	steps_done(c);
	assert_true(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_false(plan_atomic_check(&c->res, c->steps, c->n));
	assert_int_equal(c->res.status, ENGINE_BAD_REQUEST);
	assert_int_equal(c->res.error.version, 3);
	assert_string_equal(c->res.error.file, "000003_idx.sql");
	assert_non_null(
		strstr(c->res.error.message, "apply the 2 before it atomically (up-to 2), then it without atomic"));

	/* second in line: the one before it can go atomically */
	again(c, 1);
	assert_true(fx_index(&c->f));
	assert_true(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_false(plan_atomic_check(&c->res, c->steps, c->n));
	assert_non_null(
		strstr(c->res.error.message, "apply the 1 before it atomically (up-to 2), then it without atomic"));

	/* first in line, and stopped part way */
	again(c, 2);
	fx_row(&c->f, 2)->failed_statement = 2;
	assert_true(fx_index(&c->f));
	assert_true(plan_up(&c->f.h, INT64_MAX, &c->res, &c->steps, &c->n));
	assert_false(plan_atomic_check(&c->res, c->steps, c->n));
	assert_non_null(strstr(c->res.error.message, "NO TRANSACTION (and stopped part way)"));
	assert_non_null(strstr(c->res.error.message, "apply it without atomic first"));
	steps_done(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_up_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envsub, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
