/*
 * sum.c - migrations.sum: pairing its entries with a folder's migrations, and
 * the file itself (read, checked line by line, written).
 */
#include "checksum.h"
#include "sum.h"

#include "diag.h"
#include "emit.h"
#include "fatal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string to pair on and the index of what it belongs to. */
struct key {
	const char *s;
	size_t i;
};

static int
key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	int c = strcmp(a->s, b->s);

	return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* Sort both lists and merge them: equal strings pair off, lowest index first. */
static void
pair_keys(struct key *a, size_t na, struct key *b, size_t nb, size_t *a_to_b, size_t *b_to_a)
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

bool
sum_match(const struct sum_entry *e, size_t n, const struct migration *m, size_t k, size_t *file_of, size_t *entry_of)
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

/* ---- the file ------------------------------------------------------------ */

/* migrations.sum: one line per file, "name file_checksum exec_checksum". */
#define SUM_HEADER                                                                     \
	"# migrations.sum: written by `goslingc sum`, checked by `goslingc verify`.\n" \
	"# Commit it with the migrations; do not edit it by hand.\n"

char *
sum_path(const char *dir)
{
	char *p = xmalloc(strlen(dir) + 20);

	sprintf(p, "%s/migrations.sum", dir);
	return p;
}

/* Whether s is exactly prefix followed by 64 lower-case hex digits. */
static bool
sum_checksum_ok(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	if (n != k + 64 || strncmp(s, prefix, k) != 0)
		return false;
	for (size_t i = k; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * sum_line - one line of migrations.sum, "<name> <file checksum> <exec checksum>".
 * The name is everything before the last two fields, so a name with spaces
 * round-trips; the checksums must be whole.
 */
static bool
sum_line(char *line, size_t n, struct sum_entry *e)
{
	char *x, *c;

	if (n > 0 && line[n - 1] == '\r') /* a checkout that turned LF into CRLF */
		line[--n] = '\0';
	x = memrchr(line, ' ', n);
	if (!x || x == line)
		return false;
	c = memrchr(line, ' ', (size_t)(x - line));
	if (!c || c == line || (size_t)(c - line) >= sizeof(e->name))
		return false;
	if (!sum_checksum_ok(c + 1, (size_t)(x - c - 1), CHECKSUM_FILE_PREFIX) ||
	    !sum_checksum_ok(x + 1, n - (size_t)(x - line) - 1, CHECKSUM_EXEC_PREFIX))
		return false;
	memcpy(e->name, line, (size_t)(c - line));
	e->name[c - line] = '\0';
	memcpy(e->file, c + 1, (size_t)(x - c - 1));
	e->file[x - c - 1] = '\0';
	strcpy(e->exec, x + 1);
	return true;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct sum_entry *)a)->name, ((const struct sum_entry *)b)->name);
}

bool
sum_read(const char *path, struct sum_entry **out, size_t *n, struct diag *d)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint32_t lineno = 0;
	bool ok = true;

	*out = NULL;
	*n = 0;
	if (!fp && errno == ENOENT) {
		diag_file(d, DIAG_ERROR, path,
			  "missing: run `goslingc sum %.*s` to record the migrations' "
			  "checksums, and commit it with them",
			  (int)(strlen(path) - strlen("/migrations.sum")), path);
		return false;
	}
	if (!fp) {
		diag_file(d, DIAG_IO, path, "cannot open: %s (run goslingc sum to create it)", strerror(errno));
		return false;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct sum_entry e = { 0 };

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (line[0] == '#' || len == 0)
			continue;
		if (!sum_line(line, (size_t)len, &e)) {
			diag_at(d, DIAG_ERROR, path, NULL, 0, lineno, 1, "run goslingc sum to write it again",
				"malformed line: expected \"<file> %s<64 hex> %s<64 hex>\"", CHECKSUM_FILE_PREFIX,
				CHECKSUM_EXEC_PREFIX);
			ok = false;
			continue;
		}
		if ((*n & (*n - 1)) == 0) /* doubles: capacity is the next power of two */
			*out = xrealloc(*out, (*n ? 2 * *n : 1) * sizeof(**out));
		(*out)[(*n)++] = e;
	}
	free(line);
	/* fopen() succeeds on a directory; the read is what fails */
	if (ferror(fp)) {
		diag_file(d, DIAG_IO, path, "cannot read: %s", strerror(errno));
		ok = false;
	}
	fclose(fp);
	if (ok && *n > 1) {
		/* one line per file: a duplicate would hide which checksum is meant */
		struct sum_entry *sorted = xmalloc(*n * sizeof(*sorted));

		memcpy(sorted, *out, *n * sizeof(*sorted));
		qsort(sorted, *n, sizeof(*sorted), by_name);
		for (size_t i = 1; i < *n; i++) {
			if (strcmp(sorted[i].name, sorted[i - 1].name) == 0 &&
			    (i == 1 || strcmp(sorted[i].name, sorted[i - 2].name) != 0)) {
				diag_file(d, DIAG_ERROR, path, "%s is listed more than once", sorted[i].name);
				ok = false;
			}
		}
		free(sorted);
	}
	return ok;
}

bool
sum_write(const char *path, const struct sum_entry *e, size_t n)
{
	char *data = NULL;
	size_t len = 0;
	FILE *mem = xopen_memstream(&data, &len);
	bool ok;

	fputs(SUM_HEADER, mem);
	for (size_t i = 0; i < n; i++)
		fprintf(mem, "%s %s %s\n", e[i].name, e[i].file, e[i].exec);
	fclose(mem);
	ok = write_file_atomic(path, data, len);
	if (!ok)
		fprintf(stderr, "goslingc: cannot write %s: %s\n", path, strerror(errno));
	free(data);
	return ok;
}
