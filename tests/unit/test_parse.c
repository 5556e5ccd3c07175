/*
 * test_parse.c - unit tests of goose's parser (compiler/parse.c, through compile_load):
 * statements, blocks, NO TRANSACTION, a cut inside a literal, errors per direction,
 * annotations and ENVSUB ranges.  Built with AddressSanitizer and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bundle.h"
#include "compile.h"
#include "diag.h"
#include "envsub.h"
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse bytes; diagnostics into a memory stream the test can read. */
struct parsed {
	struct pfile f;
	bool ok;
	char *diags;
	size_t dlen;
};

static void
parse_text(struct parsed *p, const char *text, bool goose_only)
{
	struct compile_opts o = { { goose_only, 0, NULL, NULL }, false, NULL };
	struct diag d = { .out = NULL };

	d.out = open_memstream(&p->diags, &p->dlen);
	assert_non_null(d.out);
	p->ok = compile_load(&p->f, "m.sql", text, strlen(text), &o, &d);
	fclose(d.out);
}

static void
parsed_free(struct parsed *p)
{
	pfile_free(&p->f);
	free(p->diags);
}

static void
test_parse_basic(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p,
		   "-- +goose Up\nCREATE TABLE t (id int);\r\n\n-- c\nSELECT 2;   -- x\n"
		   "-- +goose Down\nDROP TABLE t;\n",
		   false);
	assert_true(p.ok);
	assert_int_equal(p.f.nstmts[DIR_UP], 2);
	assert_string_equal(p.f.stmts[DIR_UP][0].sql, "CREATE TABLE t (id int);");
	assert_int_equal(p.f.stmts[DIR_UP][0].line, 2);
	assert_string_equal(p.f.stmts[DIR_UP][1].sql, "SELECT 2;   -- x");
	assert_int_equal(p.f.stmts[DIR_UP][1].line, 5);
	assert_int_equal(p.f.nstmts[DIR_DOWN], 1);
	assert_int_equal(p.f.stmts[DIR_DOWN][0].line, 7);
	assert_false(p.f.no_transaction);
	parsed_free(&p);
}

static void
test_parse_block_and_notx(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p,
		   "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\n"
		   "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n"
		   "-- +goose StatementEnd\n",
		   false);
	assert_true(p.ok);
	assert_true(p.f.no_transaction);
	assert_int_equal(p.f.nstmts[DIR_UP], 1);
	assert_int_equal(p.f.stmts[DIR_UP][0].line, 4);
	assert_true(p.f.stmts[DIR_UP][0].block);
	assert_int_equal(p.f.stmts[DIR_UP][0].ncommands, 1);
	parsed_free(&p);
}

static void
test_parse_cut_in_literal(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p, "-- +goose Up\nINSERT INTO t VALUES ('a;\nb');\n", false);
	assert_false(p.ok);
	assert_non_null(strstr(p.diags, "m.sql:2:23: error: statement ends inside a string literal"));
	assert_non_null(strstr(p.diags, "StatementBegin"));
	parsed_free(&p);
	/* goose itself accepts the file: `parse` without --check does too */
	parse_text(&p, "-- +goose Up\nINSERT INTO t VALUES ('a;\nb');\n", true);
	assert_true(p.ok);
	assert_int_equal(p.f.nstmts[DIR_UP], 2);
	parsed_free(&p);
}

static void
test_parse_errors_per_direction(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p, "-- +goose Up\nSELECT 1\n-- +goose Down\nSELECT 2;\n", true);
	assert_false(p.ok);
	assert_false(p.f.ok[DIR_UP]);
	assert_true(p.f.ok[DIR_DOWN]);
	assert_int_equal(p.f.nstmts[DIR_DOWN], 1);
	parsed_free(&p);
}

static void
test_parse_annotations(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p, "-- +goose up\n--   +goose   STATEMENTBEGIN\nSELECT 1;\n-- +goose statementend\n", true);
	assert_true(p.ok);
	assert_int_equal(p.f.nstmts[DIR_UP], 1);
	parsed_free(&p);
	parse_text(&p, "-- +goose Up\n-- +goose Sideways\n", true);
	assert_false(p.ok);
	assert_non_null(
		strstr(p.diags, "m.sql:2:1: error: failed to parse annotation line: \"Sideways\" not supported"));
	parsed_free(&p);
	parse_text(&p, "-- +goose Up\nSELECT 1;\n-- +GOOSE DOWN\nSELECT 2;\n", true);
	assert_true(p.ok);
	assert_int_equal(p.f.nstmts[DIR_UP], 2); /* goose runs "SELECT 2" on the way up */
	assert_non_null(strstr(p.diags, "m.sql:3:1: warning: line looks like a goose annotation"));
	parsed_free(&p);
}

static void
test_parse_envsub_ranges(void **state)
{
	struct parsed p;
	const struct pstmt *s;

	(void)state;
	parse_text(&p, "-- +goose Up\n-- +goose ENVSUB ON\nCREATE TABLE ${P}t (\n-- +goose ENVSUB OFF\n  a int);\n",
		   false);
	assert_true(p.ok);
	s = &p.f.stmts[DIR_UP][0];
	assert_int_equal(s->nenvsub, 1);
	assert_int_equal(s->envsub[0].start, 0);
	assert_int_equal(s->envsub[0].end, strlen("CREATE TABLE ${P}t ("));
	parsed_free(&p);
	parse_text(&p, "-- +goose Up\n-- +goose ENVSUB ON\nSELECT $1;\n", false);
	assert_false(p.ok);
	assert_non_null(strstr(p.diags, "m.sql:3:9: error: ENVSUB: expected identifier to start with a letter"));
	parsed_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_basic),	     cmocka_unit_test(test_parse_block_and_notx),
		cmocka_unit_test(test_parse_cut_in_literal), cmocka_unit_test(test_parse_errors_per_direction),
		cmocka_unit_test(test_parse_annotations),    cmocka_unit_test(test_parse_envsub_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
