/*
 * test_compiler.c - unit tests of the lexer, the goose parser, ENVSUB and the
 * checksums.  Built with AddressSanitizer and UBSan (build.ninja): lexer bugs
 * are out-of-bounds reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bundle.h"
#include "compile.h"
#include "diag.h"
#include "lexer.h"
#include "parse.h"
#include "sum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lex a string literal; the lexer needs its NUL terminator. */
static struct lex_result lex(const char *s)
{
	struct lex_result r;
	lex_scan(s, strlen(s), &r);
	return r;
}

static void test_lex_closed(void **state)
{
	(void)state;
	assert_int_equal(lex("SELECT 1;").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT 'it''s';").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT E'it\\'s';").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT \"a\"\"b\";").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT $$a;b$$;").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT $x$ $$ $y$ $x$;").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT /* a /* nested */ b */ 1;").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT 1; -- 'not a string").open, LEX_CLOSED);
	assert_int_equal(lex("SELECT foo$bar$ FROM t;").open, LEX_CLOSED);	/* identifier, not a tag */
	assert_int_equal(lex("SELECT U&'d\\0061t' UESCAPE '!';").open, LEX_CLOSED);
}

static void test_lex_open(void **state)
{
	struct lex_result r;

	(void)state;
	r = lex("INSERT INTO t VALUES ('a;");
	assert_int_equal(r.open, LEX_STRING);
	assert_int_equal(r.open_at, 22);
	/* a standard string: the backslash does not escape the quote */
	assert_int_equal(lex("SELECT 'a\\';").open, LEX_CLOSED);
	r = lex("SELECT E'a\\';");
	assert_int_equal(r.open, LEX_ESTRING);
	assert_int_equal(r.open_at, 7);
	r = lex("SELECT \"abc;");
	assert_int_equal(r.open, LEX_IDENT);
	r = lex("CREATE FUNCTION f() AS $body$ BEGIN RETURN 1;");
	assert_int_equal(r.open, LEX_DOLLAR);
	assert_int_equal(r.open_at, 23);
	assert_int_equal(r.open_len, 6);
	r = lex("SELECT 1; /* a /* b */ c;");
	assert_int_equal(r.open, LEX_COMMENT);
	assert_int_equal(r.open_at, 10);
	/* $tag$ is closed only by the same tag */
	assert_int_equal(lex("SELECT $a$ x $b$;").open, LEX_DOLLAR);
}

static void test_lex_commands(void **state)
{
	(void)state;
	assert_int_equal(lex("SELECT 1").commands, 1);
	assert_int_equal(lex("SELECT 1;").commands, 1);
	assert_int_equal(lex("SELECT 3; SELECT 3;").commands, 2);
	assert_int_equal(lex("SELECT ';'; SELECT $$;$$;").commands, 2);
	assert_int_equal(lex("-- only a comment").commands, 0);
	assert_int_equal(lex("SELECT 1;;").commands, 1);
	assert_int_equal(lex("CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);").commands, 1);
}

/* Parse bytes; diagnostics into a memory stream the test can read. */
struct parsed {
	struct pfile f;
	bool ok;
	char *diags;
	size_t dlen;
};

static void parse_text(struct parsed *p, const char *text, bool goose_only)
{
	struct compile_opts o = { { goose_only, 0, NULL, NULL }, false, NULL };
	struct diag d = { .out = NULL };

	d.out = open_memstream(&p->diags, &p->dlen);
	assert_non_null(d.out);
	p->ok = compile_load(&p->f, "m.sql", text, strlen(text), &o, &d);
	fclose(d.out);
}

static void parsed_free(struct parsed *p)
{
	pfile_free(&p->f);
	free(p->diags);
}

static void test_parse_basic(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p, "-- +goose Up\nCREATE TABLE t (id int);\r\n\n-- c\nSELECT 2;   -- x\n"
		       "-- +goose Down\nDROP TABLE t;\n", false);
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

static void test_parse_block_and_notx(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p, "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\n"
		       "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n"
		       "-- +goose StatementEnd\n", false);
	assert_true(p.ok);
	assert_true(p.f.no_transaction);
	assert_int_equal(p.f.nstmts[DIR_UP], 1);
	assert_int_equal(p.f.stmts[DIR_UP][0].line, 4);
	assert_true(p.f.stmts[DIR_UP][0].block);
	assert_int_equal(p.f.stmts[DIR_UP][0].ncommands, 1);
	parsed_free(&p);
}

static void test_parse_cut_in_literal(void **state)
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

static void test_parse_errors_per_direction(void **state)
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

static void test_parse_annotations(void **state)
{
	struct parsed p;

	(void)state;
	parse_text(&p, "-- +goose up\n--   +goose   STATEMENTBEGIN\nSELECT 1;\n-- +goose statementend\n", true);
	assert_true(p.ok);
	assert_int_equal(p.f.nstmts[DIR_UP], 1);
	parsed_free(&p);
	parse_text(&p, "-- +goose Up\n-- +goose Sideways\n", true);
	assert_false(p.ok);
	assert_non_null(strstr(p.diags, "m.sql:2:1: error: failed to parse annotation line: \"Sideways\" not supported"));
	parsed_free(&p);
	parse_text(&p, "-- +goose Up\nSELECT 1;\n-- +GOOSE DOWN\nSELECT 2;\n", true);
	assert_true(p.ok);
	assert_int_equal(p.f.nstmts[DIR_UP], 2);	/* goose runs "SELECT 2" on the way up */
	assert_non_null(strstr(p.diags, "m.sql:3:1: warning: line looks like a goose annotation"));
	parsed_free(&p);
}

static void test_parse_envsub_ranges(void **state)
{
	struct parsed p;
	const struct pstmt *s;

	(void)state;
	parse_text(&p, "-- +goose Up\n-- +goose ENVSUB ON\nCREATE TABLE ${P}t (\n-- +goose ENVSUB OFF\n  a int);\n", false);
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

static const char *fake_env(const char *name, void *arg)
{
	(void)arg;
	if (strcmp(name, "REGION") == 0)
		return "eu_";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

static void test_envsub_expand(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "$REGION", "eu_" },
		{ "${REGION}x", "eu_x" },
		{ "${UNSET:-d}", "d" },
		{ "${EMPTY:-d}", "d" },
		{ "${EMPTY-d}", "" },
		{ "${UNSET-d}", "d" },
		{ "${REGION:1}", "u_" },
		{ "${REGION:0:2}", "eu" },
		{ "\\$REGION $$", "$REGION $" },
		{ "a\\\\b", "a\\\\b" },
		{ "$(cmd)", "$(cmd)" },
		{ "cost: 5$", "cost: 5$" },
		{ "${UNSET:-${REGION}}", "eu_" },
	};
	char err[256];
	uint32_t at;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envsub_range r = { 0, (uint32_t)strlen(cases[i].in) };
		char *got = envsub_expand(cases[i].in, &r, 1, fake_env, NULL, err, sizeof(err), &at);
		assert_non_null(got);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
	{
		const char *in = "x ${UNSET?required env var not set} y";
		struct envsub_range r = { 0, (uint32_t)strlen(in) };
		assert_null(envsub_expand(in, &r, 1, fake_env, NULL, err, sizeof(err), &at));
		assert_string_equal(err, "$UNSET: required env var not set");
	}
	{
		/* goose's interpolate reads ${VAR:?msg} as ${VAR:offset}, which does not parse */
		const char *in = "${REGION:?must be set}";
		struct envsub_range r = { 0, (uint32_t)strlen(in) };
		assert_null(envsub_expand(in, &r, 1, fake_env, NULL, err, sizeof(err), &at));
		assert_non_null(strstr(err, "offset"));
	}
}

/* text_utf8_fix: what the runtime does to every message before JSON (common/bundle.c). */
static void test_utf8_fix(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "caf\xc3\xa9", "caf\xc3\xa9" },		/* valid: unchanged */
		{ "caf\xe9 ok", "caf? ok" },			/* LATIN1 byte */
		{ "na\xc3", "na" },				/* cut after the lead byte */
		{ "\xe2\x82", "" },				/* cut inside a 3-byte sequence */
		{ "\xf0\x9f\x98", "" },				/* cut inside a 4-byte sequence */
		{ "\xe2\x82x", "??x" },				/* not a cut: bad in the middle */
		{ "\xc0\xaf", "??" },				/* overlong */
		{ "\xed\xa0\x80", "???" },			/* surrogate */
		{ "\xef\xbf\xbd", "\xef\xbf\xbd" },		/* U+FFFD itself is valid */
		{ "\xe9\xc3", "?" },				/* a bad byte, then a cut */
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char buf[32];

		snprintf(buf, sizeof buf, "%s", cases[i].in);
		assert_string_equal(text_utf8_fix(buf), cases[i].out);
	}
}

static void test_checksums(void **state)
{
	char a[CHECKSUM_LEN], b[CHECKSUM_LEN], c[CHECKSUM_LEN];

	(void)state;
	assert_true(checksum_file("x\ny\n", 4, a));
	assert_true(checksum_file("\xef\xbb\xbfx\r\ny\r\n", 9, b));
	assert_true(checksum_file("x\ry\n\n\n", 6, c));
	assert_string_equal(a, b);
	assert_string_equal(a, c);
	/* sha256 of "x\ny\n", as `printf 'x\ny\n' | sha256sum` prints it */
	assert_string_equal(a, "sha256:c1:09834d488008f5f1ef589a2d7cedc52425bee9dd23b2212e4c1d673c5cbb54e4");
	assert_true(checksum_file("x\ny", 3, b));
	assert_string_equal(a, b);
	/* the canonical form as checksum_file streams it: each raw text sums as its canonical one */
	{
		static const char *const pairs[][2] = {
			{ "a\r\rb\r\n", "a\n\nb\n" }, { "\xef\xbb\xbf", "" }, { "\r\n\r\n", "" },
			{ "a\r", "a\n" }, { "\r\na", "\na\n" }, { "\xef\xbb\xbf\ra\n\r", "\na\n" },
		};

		for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
			assert_true(checksum_file(pairs[i][0], strlen(pairs[i][0]), b));
			assert_true(checksum_file(pairs[i][1], strlen(pairs[i][1]), c));
			assert_string_equal(b, c);
		}
	}
	assert_true(checksum_chain("", 1, "sha256:x1:00", b));
	assert_true(checksum_chain("", 2, "sha256:x1:00", c));
	assert_string_not_equal(b, c);
	assert_int_equal(strncmp(b, CHECKSUM_CHAIN_PREFIX, strlen(CHECKSUM_CHAIN_PREFIX)), 0);
}

/*
 * sum_match.  The test binary is linked with --wrap=strcmp, so every strcmp call
 * of sum.c (and of this file) goes through here and can be counted.
 */
int __real_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b);
static size_t strcmp_calls;

int __wrap_strcmp(const char *a, const char *b)
{
	strcmp_calls++;
	return __real_strcmp(a, b);
}

static void sum_set(struct sum_entry *e, const char *name, const char *file)
{
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", name);
	snprintf(e->file, sizeof e->file, "%s%s", CHECKSUM_FILE_PREFIX, file);
	snprintf(e->exec, sizeof e->exec, "%s%s", CHECKSUM_EXEC_PREFIX, file);
}

static void test_sum_match(void **state)
{
	/* summed: a, b, c, d, and two byte-identical files e1, e2 */
	struct sum_entry e[6];
	/* the folder: a (edited), b renamed to b2, c gone, d, e2 gone but e3 with e2's bytes, f new */
	static const char *names[] = { "1_a.sql", "2_b2.sql", "4_d.sql", "5_e1.sql", "7_e3.sql", "8_f.sql" };
	static const char *files[] = { "aa", "bb", "dd", "ee", "ee", "ff" };
	struct migration m[6];
	char sums[6][CHECKSUM_LEN];
	size_t file_of[6], entry_of[6];

	(void)state;
	sum_set(&e[0], "4_d.sql", "dd");	/* entries in any order */
	sum_set(&e[1], "1_a.sql", "a0");
	sum_set(&e[2], "2_b.sql", "bb");
	sum_set(&e[3], "3_c.sql", "cc");
	sum_set(&e[4], "5_e1.sql", "ee");
	sum_set(&e[5], "6_e2.sql", "ee");
	memset(m, 0, sizeof m);
	for (size_t j = 0; j < 6; j++) {
		snprintf(sums[j], sizeof sums[j], "%s%s", CHECKSUM_FILE_PREFIX, files[j]);
		m[j].version = (int64_t)j + 1;
		m[j].name = names[j];
		m[j].file_checksum = sums[j];
	}
	assert_true(sum_match(e, 6, m, 6, file_of, entry_of));
	assert_int_equal(file_of[0], 2);	/* d: same name */
	assert_int_equal(file_of[1], 0);	/* a: same name, edited (the caller compares checksums) */
	assert_int_equal(file_of[2], 1);	/* b: renamed to b2, same bytes */
	assert_int_equal(file_of[3], SUM_NONE);	/* c: removed */
	assert_int_equal(file_of[4], 3);	/* e1 by name, not taken by e2's bytes */
	assert_int_equal(file_of[5], 4);	/* e2's bytes are e3's: a rename */
	assert_int_equal(entry_of[0], 1);
	assert_int_equal(entry_of[1], 2);
	assert_int_equal(entry_of[2], 0);
	assert_int_equal(entry_of[3], 4);
	assert_int_equal(entry_of[4], 5);
	assert_int_equal(entry_of[5], SUM_NONE);	/* f: new */
	/* nothing summed, nothing in the folder */
	assert_true(sum_match(e, 0, m, 0, file_of, entry_of));
	assert_true(sum_match(e, 0, m, 6, file_of, entry_of));
	assert_int_equal(entry_of[5], SUM_NONE);
}

/*
 * 10,000 files, 10,000 summed entries in another order, 100 renamed, 100 removed,
 * 100 new: every pair right, in O(n log n) comparisons.  Pairing by scanning the
 * folder once per entry (what `goslingc verify` did) makes about n²/2 = 5e7.
 */
static void test_sum_match_scale(void **state)
{
	enum { N = 10000 };
	struct sum_entry *e = calloc(N, sizeof *e);
	struct migration *m = calloc(N, sizeof *m);
	char (*names)[32] = calloc(N, sizeof *names), (*sums)[CHECKSUM_LEN] = calloc(N, sizeof *sums);
	size_t *file_of = calloc(N, sizeof *file_of), *entry_of = calloc(N, sizeof *entry_of);
	size_t limit = 0;

	(void)state;
	assert_non_null(e && m && names && sums && file_of && entry_of);
	for (size_t j = 0; j < N; j++) {
		char hex[65];

		/* files 0..99 renamed (entry under another name), 9900..9999 new */
		snprintf(names[j], sizeof names[j], "%06zu_%s.sql", j + 1, j < 100 ? "renamed" : "m");
		snprintf(hex, sizeof hex, "%064zx", j);
		snprintf(sums[j], sizeof sums[j], "%s%s", CHECKSUM_FILE_PREFIX, hex);
		m[j].version = (int64_t)j + 1;
		m[j].name = names[j];
		m[j].file_checksum = sums[j];
	}
	for (size_t i = 0; i < N; i++) {
		/* entry i is file (i * 7919) % N: a permutation; files >= 9900 are summed as removed ones */
		size_t j = i * 7919 % N;
		char name[32], hex[65];

		snprintf(name, sizeof name, "%06zu_m.sql", j >= 9900 ? j + 100000 : j + 1);
		snprintf(hex, sizeof hex, "%064zx", j >= 9900 ? j + 100000 : j);
		sum_set(&e[i], name, hex);
	}
	strcmp_calls = 0;
	assert_true(sum_match(e, N, m, N, file_of, entry_of));
	for (size_t n = N; n; n >>= 1)
		limit += 4 * N;		/* 4 N log2 N */
	if (strcmp_calls > limit)
		fail_msg("sum_match made %zu string comparisons for %d entries and files (limit %zu)",
			 strcmp_calls, N, limit);
	for (size_t i = 0; i < N; i++) {
		size_t j = i * 7919 % N;

		assert_int_equal(file_of[i], j >= 9900 ? SUM_NONE : j);
		assert_int_equal(entry_of[j], j >= 9900 ? SUM_NONE : i);
	}
	free(e);
	free(m);
	free(names);
	free(sums);
	free(file_of);
	free(entry_of);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex_closed),
		cmocka_unit_test(test_lex_open),
		cmocka_unit_test(test_lex_commands),
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_block_and_notx),
		cmocka_unit_test(test_parse_cut_in_literal),
		cmocka_unit_test(test_parse_errors_per_direction),
		cmocka_unit_test(test_parse_annotations),
		cmocka_unit_test(test_parse_envsub_ranges),
		cmocka_unit_test(test_envsub_expand),
		cmocka_unit_test(test_utf8_fix),
		cmocka_unit_test(test_checksums),
		cmocka_unit_test(test_sum_match),
		cmocka_unit_test(test_sum_match_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
