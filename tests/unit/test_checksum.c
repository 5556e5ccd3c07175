/*
 * test_checksum.c - unit tests of common/checksum.c: the file checksum's canonical form
 * and the chain.  Built with AddressSanitizer and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "checksum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		cmocka_unit_test(test_checksums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
