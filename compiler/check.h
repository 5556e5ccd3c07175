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

#include "parse.h"

struct diag;

/* The marker, as it appears after "--" and optional blanks. */
#define CHECK_MARKER "gosling:no-check"

/*
 * check_hatch_file - whether f carries the file-wide marker (a marker line
 * before its '-- +goose Up').
 */
bool check_hatch_file(const struct pfile *f);

/*
 * check_hatch_stmt - whether a marker line lies in file lines [from, s->last_line],
 * where from is the line after the previous statement (1 for the first).
 */
bool check_hatch_stmt(const struct pfile *f, uint32_t from, const struct pstmt *s);

/*
 * check_stmt - parse s with PostgreSQL's parser and report what fails to d.
 * hatch turns a parse failure into a warning.  On a successful parse
 * s->ncommands becomes the parser's command count; otherwise it keeps the
 * lexer's.  Transaction safety uses f->no_transaction, so call it only after a
 * pass that completed.  Returns false when it reported an error.
 */
bool check_stmt(const struct pfile *f, struct pstmt *s, bool hatch, bool hatch_global, bool tx_check,
		struct diag *d) MUSTCHECK;

#endif
