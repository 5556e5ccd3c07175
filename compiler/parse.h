/*
 * parse.h - goose's SQL migration parser, line for line, plus the lexical checks
 * goose leaves to deploy time (lexcheck.h), into a struct pfile (pfile.h).
 *
 * parse_file() runs goose's state machine (internal/sqlparser/parser.go) once per
 * direction, exactly as goose does, so every statement is byte-identical to what
 * goose would run.  Then the PostgreSQL lexer looks at each statement: where
 * goose's line rule cut it inside a literal, identifier, dollar body or comment,
 * that is an error here, at build time.  Unless goose_only, each statement the
 * lexer lets through then goes to the caller's checks (struct parse_checks:
 * compile.h composes PostgreSQL's parser and the safety lint there), so this
 * file links without libpg_query.
 */
#ifndef GOSLING_PARSE_H
#define GOSLING_PARSE_H

#include "lexcheck.h"
#include "pfile.h"

struct diag;

/* Options that change what parse_file() checks. */
struct parse_opts {
	bool goose_only; /* only goose's own rules (the `parse` verb) */
	unsigned dirs;	 /* bit 1 << DIR_UP, 1 << DIR_DOWN */
	/* Expand ENVSUB lines while parsing, as goose does (parse --envsub); NULL
	 * keeps them for the runtime, as ranges in each statement. */
	const char *(*getenv)(const char *name, void *arg);
	/* The checks after the lexer's, or NULL (compile.c composes them). */
	const struct parse_checks *checks;
};

/*
 * parse_file - read and parse one migration file.  Diagnostics go to d (all of
 * them, not just the first).  Returns false when any error was reported; the
 * statements of the directions that parsed are kept either way.  A file that
 * cannot be opened or read is a DIAG_IO error (goslingc then exits 4).
 */
bool parse_file(struct pfile *f, const char *path, const struct parse_opts *o, struct diag *d) MUSTCHECK;

/* parse_load - parse_file() on bytes already in memory (tests use it); f owns a copy. */
bool parse_load(struct pfile *f, const char *path, const char *data, size_t len, const struct parse_opts *o,
		struct diag *d) MUSTCHECK;

#endif
