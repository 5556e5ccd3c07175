/*
 * check.h - every statement through PostgreSQL 15's own parser (libpg_query):
 * syntax errors, PL/pgSQL bodies (CREATE FUNCTION … LANGUAGE plpgsql, DO), the
 * number of SQL commands a statement holds, and commands that PostgreSQL refuses
 * inside a transaction block.
 *
 * The escape hatch for SQL the 15 grammar does not know: a comment line
 *
 *     -- gosling:no-check [reason]
 *
 * before '-- +goose Up' covers the whole file; anywhere else it covers the next
 * statement (or the statement whose lines hold it).  `--no-check` covers every
 * file.  Under the hatch a parse failure is a warning and the statement keeps the
 * lexer's command count; a statement that did parse is still checked for
 * transaction safety.
 */
#ifndef GOSLING_CHECK_H
#define GOSLING_CHECK_H

#include "pfile.h"

struct diag;
struct PgQuery__Node;

/* The marker, as it appears after "--" and optional blanks. */
#define CHECK_MARKER "gosling:no-check"

/* The escape-hatch markers of one file. */
struct check_marks {
	bool file;	 /* a marker before '-- +goose Up': the whole file */
	uint32_t *lines; /* every marker's line number, ascending */
	size_t n;
};

/* check_marks_scan - find f's markers (one pass); free with check_marks_free(). */
void check_marks_scan(const struct pfile *f, struct check_marks *m);

/*
 * check_marks_cover - whether the hatch covers s: a file marker, or a marker in
 * file lines [from, s->last_line], from being the line after the previous
 * statement (so the comment lines just before s, and s's own lines).
 */
bool check_marks_cover(const struct check_marks *m, uint32_t from, const struct pstmt *s);

void check_marks_free(struct check_marks *m);

/*
 * check_command_fn - called by check_stmt() for each SQL command of a statement
 * that parsed: node is the command in libpg_query's parse tree (protobuf,
 * unpacked), text the statement's text as parsed (node locations are offsets
 * in it), [start, end) the command's bytes.  compile.c passes the safety lint.
 */
typedef void check_command_fn(void *arg, const char *text, const struct PgQuery__Node *node, size_t start, size_t end);

/*
 * check_stmt - parse s with PostgreSQL's parser and report what fails to d.
 * hatch turns a parse failure into a warning.  On a successful parse
 * s->ncommands becomes the parser's command count; otherwise it keeps the
 * lexer's.  Transaction safety uses f->no_transaction, so call it only after a
 * pass that completed.  With each (may be NULL), each command of the tree also
 * goes to each(arg, ...).  Returns false when it reported an error.
 */
bool check_stmt(const struct pfile *f, struct pstmt *s, bool hatch, bool hatch_global, bool tx_check,
		check_command_fn *each, void *arg, struct diag *d) MUSTCHECK;

#endif
