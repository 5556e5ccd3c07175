/*
 * test_envsub.c - unit tests of common/envsub.c: ENVSUB's expansion, as goose's
 * interpolate does it.  Built with AddressSanitizer and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "envsub.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envsub_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
