/*
 * test_bundle.c - unit tests of common/bundle.c: ENVSUB's expansion (goose's
 * interpolate), text_utf8_fix, and the file and chain checksums.  Built with
 * AddressSanitizer and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
fake_env(const char *name, void *arg)
{
	(void)arg;
	if (strcmp(name, "REGION") == 0)
		return "eu_";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

static void
test_envsub_expand(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
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

static void
test_checksums(void **state)
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
			{ "a\r\rb\r\n", "a\n\nb\n" }, { "\xef\xbb\xbf", "" },
			{ "\r\n\r\n", "" },	      { "a\r", "a\n" },
			{ "\r\na", "\na\n" },	      { "\xef\xbb\xbf\ra\n\r", "\na\n" },
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envsub_expand),
		cmocka_unit_test(test_utf8_fix),
		cmocka_unit_test(test_checksums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
