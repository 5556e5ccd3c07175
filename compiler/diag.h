/*
 * diag.h - diagnostics: `path:line:col: error: message`, the source line and a
 * caret under the column, then notes and hints; counted so the caller can report
 * every error of a run and exit once.
 */
#ifndef GOSLING_DIAG_H
#define GOSLING_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum diag_level {
	DIAG_ERROR,
	DIAG_WARNING,
	DIAG_NOTE,
	DIAG_IO, /* an error because the system refused to open or read something */
};

struct diag {
	FILE *out;	     /* where diagnostics go (stderr, or a memstream in tests) */
	bool werror;	     /* warnings count as errors */
	bool quiet_warnings; /* do not print warnings (still counted) */
	unsigned errors;
	unsigned warnings;
	unsigned io_errors; /* the DIAG_IO ones among errors: goslingc exits 4 */
	/* where the last shown source line started, so that many diagnostics in one
	 * file cost one pass over it; diag_source() resets it for new text */
	const char *memo_data;
	uint32_t memo_line;
	size_t memo_off;
};

/*
 * diag_at - report at a position.  data/len is the whole file (to show the
 * line); line and col are 1-based, col in bytes; col 0 means "no caret".
 * hint may be NULL.
 */
void diag_at(struct diag *d, enum diag_level level, const char *path, const char *data, size_t len, uint32_t line,
	     uint32_t col, const char *hint, const char *fmt, ...) __attribute__((format(printf, 9, 10)));

/* diag_source - data is new text (a file just read): forget positions in the old one. */
void diag_source(struct diag *d, const char *data);

/* diag_file - report about a whole file (or folder) with no position. */
void diag_file(struct diag *d, enum diag_level level, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
