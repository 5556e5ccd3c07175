/*
 * sum.c - pairing migrations.sum's entries with a folder's migrations.
 */
#include "sum.h"

#include <stdlib.h>
#include <string.h>

/* A string to pair on and the index of what it belongs to. */
struct key {
	const char *s;
	size_t i;
};

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	int c = strcmp(a->s, b->s);

	return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* Sort both lists and merge them: equal strings pair off, lowest index first. */
static void pair_keys(struct key *a, size_t na, struct key *b, size_t nb, size_t *a_to_b, size_t *b_to_a)
{
	size_t x = 0, y = 0;

	qsort(a, na, sizeof *a, key_cmp);
	qsort(b, nb, sizeof *b, key_cmp);
	while (x < na && y < nb) {
		int c = strcmp(a[x].s, b[y].s);

		if (c < 0) {
			x++;
		} else if (c > 0) {
			y++;
		} else {
			a_to_b[a[x].i] = b[y].i;
			b_to_a[b[y].i] = a[x].i;
			x++;
			y++;
		}
	}
}

bool sum_match(const struct sum_entry *e, size_t n, const struct migration *m, size_t k,
	       size_t *file_of, size_t *entry_of)
{
	struct key *ke = malloc((n + 1) * sizeof *ke), *km = malloc((k + 1) * sizeof *km);
	size_t ne = 0, nm = 0;

	if (!ke || !km) {
		free(ke);
		free(km);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		file_of[i] = SUM_NONE;
		ke[i] = (struct key){ e[i].name, i };
	}
	for (size_t j = 0; j < k; j++) {
		entry_of[j] = SUM_NONE;
		km[j] = (struct key){ m[j].name, j };
	}
	pair_keys(ke, n, km, k, file_of, entry_of);
	/* what is left: a file under another name is the same file if its bytes are */
	for (size_t i = 0; i < n; i++)
		if (file_of[i] == SUM_NONE)
			ke[ne++] = (struct key){ e[i].file, i };
	for (size_t j = 0; j < k; j++)
		if (entry_of[j] == SUM_NONE)
			km[nm++] = (struct key){ m[j].file_checksum, j };
	pair_keys(ke, ne, km, nm, file_of, entry_of);
	free(ke);
	free(km);
	return true;
}
