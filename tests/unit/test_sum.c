/*
 * test_sum.c - unit tests of compiler/sum.c: matching migrations.sum's entries to
 * the folder's files (renames, new and removed files), and that it stays n log n at
 * 10,000 files.  Built with AddressSanitizer and UBSan, and linked with
 * --wrap=strcmp (ninja/asan.ninja) so the comparisons can be counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bundle.h"
#include "checksum.h"
#include "sum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * sum_match.  The test binary is linked with --wrap=strcmp, so every strcmp call
 * of sum.c (and of this file) goes through here and can be counted.
 */
int __real_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b);
static size_t strcmp_calls;

int
__wrap_strcmp(const char *a, const char *b)
{
	strcmp_calls++;
	return __real_strcmp(a, b);
}

static void
sum_set(struct sum_entry *e, const char *name, const char *file)
{
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", name);
	snprintf(e->file, sizeof e->file, "%s%s", CHECKSUM_FILE_PREFIX, file);
	snprintf(e->exec, sizeof e->exec, "%s%s", CHECKSUM_EXEC_PREFIX, file);
}

static void
test_sum_match(void **state)
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
	sum_set(&e[0], "4_d.sql", "dd"); /* entries in any order */
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
	assert_int_equal(file_of[3], SUM_NONE); /* c: removed */
	assert_int_equal(file_of[4], 3);	/* e1 by name, not taken by e2's bytes */
	assert_int_equal(file_of[5], 4);	/* e2's bytes are e3's: a rename */
	assert_int_equal(entry_of[0], 1);
	assert_int_equal(entry_of[1], 2);
	assert_int_equal(entry_of[2], 0);
	assert_int_equal(entry_of[3], 4);
	assert_int_equal(entry_of[4], 5);
	assert_int_equal(entry_of[5], SUM_NONE); /* f: new */
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
static void
test_sum_match_scale(void **state)
{
	enum {
		N = 10000
	};
	struct sum_entry *e = calloc(N, sizeof *e);
	struct migration *m = calloc(N, sizeof *m);
	char(*names)[32] = calloc(N, sizeof *names), (*sums)[CHECKSUM_LEN] = calloc(N, sizeof *sums);
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
		limit += 4 * N; /* 4 N log2 N */
	if (strcmp_calls > limit)
		fail_msg("sum_match made %zu string comparisons for %d entries and files (limit %zu)", strcmp_calls, N,
			 limit);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_match),
		cmocka_unit_test(test_sum_match_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
