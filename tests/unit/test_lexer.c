/*
 * test_lexer.c - unit tests of the re2c lexer (compiler/lexer.re): where statements
 * end, what stays open at the end of the text, the commands it recognises.  Built
 * with AddressSanitizer and UBSan (ninja/asan.ninja): lexer bugs are out-of-bounds reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lex a string literal; the lexer needs its NUL terminator. */
static struct lex_result
lex(const char *s)
{
	struct lex_result r;
	lex_scan(s, strlen(s), &r);
	return r;
}

static void
test_lex_closed(void **state)
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
	assert_int_equal(lex("SELECT foo$bar$ FROM t;").open, LEX_CLOSED); /* identifier, not a tag */
	assert_int_equal(lex("SELECT U&'d\\0061t' UESCAPE '!';").open, LEX_CLOSED);
}

static void
test_lex_open(void **state)
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

static void
test_lex_commands(void **state)
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex_closed),
		cmocka_unit_test(test_lex_open),
		cmocka_unit_test(test_lex_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
