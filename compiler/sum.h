/*
 * sum.h - migrations.sum: its format (one line per file, "<name> <file checksum>
 * <exec checksum>" after a comment header), and which summed entry is which
 * migration of a folder.
 */
#ifndef GOSLING_SUM_H
#define GOSLING_SUM_H

#include "bundle.h"
#include "checksum.h"

struct diag;

/* One line of migrations.sum: "<name> <file checksum> <exec checksum>". */
struct sum_entry {
	char name[512];
	char file[CHECKSUM_LEN];
	char exec[CHECKSUM_LEN];
};

/* No partner: a summed entry whose file is gone, or a migration not yet summed. */
#define SUM_NONE SIZE_MAX

/*
 * sum_match - pair the n entries of migrations.sum with the k migrations of a
 * folder: first by file name; then each entry left over by its file checksum,
 * among the migrations left over (a file renamed or renumbered).  Equal keys
 * pair off in order.  Writes per entry the index of its migration, or SUM_NONE
 * (removed), to file_of[n]; per migration the index of its entry, or SUM_NONE
 * (new), to entry_of[k].  A pair by checksum is one whose names differ.
 *
 * Sorts and merges, so O((n + k) log(n + k)) string comparisons: `goslingc
 * verify` of 10,000 files must not cost 10,000 x 10,000.  Returns false, with
 * nothing written, when out of memory.
 */
bool sum_match(const struct sum_entry *e, size_t n, const struct migration *m, size_t k, size_t *file_of,
	       size_t *entry_of) MUSTCHECK;

/* sum_path - DIR/migrations.sum, malloc'd. */
char *sum_path(const char *dir);

/*
 * sum_read - the entries of the migrations.sum at path into *out (malloc'd, *n
 * of them; free *out either way).  A missing file, a malformed line or a name
 * listed twice is an error to d, a file that cannot be opened or read a
 * DIAG_IO one (exit 4); returns false then.
 */
bool sum_read(const char *path, struct sum_entry **out, size_t *n, struct diag *d) MUSTCHECK;

/* sum_write - write path (atomically): the header, then e's n entries in order.
 * False, with the reason on stderr, when it cannot be written. */
bool sum_write(const char *path, const struct sum_entry *e, size_t n) MUSTCHECK;

#endif
