/*
 * lexcheck.h - PostgreSQL's lexical view of what goose cut (parse.c runs it after
 * goose's passes, unless goose_only): bytes PostgreSQL cannot take, lines goose
 * drops or reads twice, statements cut inside a literal, identifier, dollar body
 * or comment.  Each statement the lexer lets through then goes to the caller's
 * checks (struct parse_checks).
 */
#ifndef GOSLING_LEXCHECK_H
#define GOSLING_LEXCHECK_H

#include "pfile.h"

struct diag;

/*
 * Checks beyond goose's rules and the lexer's, called by parse_file() in file
 * order (so diagnostics come in file order); any may be NULL.  Not called under
 * goose_only, nor for a file with bytes PostgreSQL cannot take (NUL, bad UTF-8).
 */
struct parse_checks {
	/* f's goose passes are done (f->no_transaction is known); its statements follow */
	void (*file_begin)(void *arg, const struct pfile *f, struct diag *d);
	/* Statement s of direction dir passed the lexer; from is the file line after
	 * the previous statement.  f->ok[dir] says whether goose's pass over dir
	 * completed.  Returns false when it reported an error. */
	bool (*stmt)(void *arg, const struct pfile *f, enum direction dir, struct pstmt *s, uint32_t from,
		     struct diag *d);
	/* after f's last statement */
	void (*file_end)(void *arg, const struct pfile *f, struct diag *d);
	void *arg;
};

/* lexcheck_bytes - NUL bytes and invalid UTF-8 (goose takes both, PostgreSQL neither). */
bool lexcheck_bytes(struct pfile *f, struct diag *d) MUSTCHECK;

/*
 * lexcheck_lines - that goose runs every line of dir's section: each line that is
 * neither blank nor a '--' line is in exactly one statement, and no annotation
 * was taken out of a literal.  Call it after a pass over dir that completed.
 */
bool lexcheck_lines(struct pfile *f, enum direction dir, struct diag *d) MUSTCHECK;

/*
 * lexcheck_statements - lex each statement of dir: its command count, and (unless
 * count_only) where goose's line rule cut it inside a literal, an error; then
 * checks->stmt on each statement the lexer lets through (checks may be NULL).
 * Returns false when it, or a check, reported an error.
 */
bool lexcheck_statements(struct pfile *f, enum direction dir, bool count_only, const struct parse_checks *checks,
			 struct diag *d) MUSTCHECK;

#endif
