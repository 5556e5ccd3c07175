/*
 * test_text.c - unit tests of common/text.c: text_utf8_fix, what the runtime does to
 * every message before JSON.  Built with AddressSanitizer and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* text_utf8_fix: what the runtime does to every message before JSON (common/text.c). */
static void
test_utf8_fix(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "caf\xc3\xa9", "caf\xc3\xa9" },   /* valid: unchanged */
		{ "caf\xe9 ok", "caf? ok" },	    /* LATIN1 byte */
		{ "na\xc3", "na" },		    /* cut after the lead byte */
		{ "\xe2\x82", "" },		    /* cut inside a 3-byte sequence */
		{ "\xf0\x9f\x98", "" },		    /* cut inside a 4-byte sequence */
		{ "\xe2\x82x", "??x" },		    /* not a cut: bad in the middle */
		{ "\xc0\xaf", "??" },		    /* overlong */
		{ "\xed\xa0\x80", "???" },	    /* surrogate */
		{ "\xef\xbf\xbd", "\xef\xbf\xbd" }, /* U+FFFD itself is valid */
		{ "\xe9\xc3", "?" },		    /* a bad byte, then a cut */
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char buf[32];

		snprintf(buf, sizeof buf, "%s", cases[i].in);
		assert_string_equal(text_utf8_fix(buf), cases[i].out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_fix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
