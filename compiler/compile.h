/*
 * compile.h - a folder of migrations, parsed, checked and checksummed into the
 * same `struct bundle` the runtime reads, ready to emit or list.
 *
 * Here the checks are composed: goose's parser and the lexer (parse.h), then
 * PostgreSQL's parser on each statement (check.h) and the safety lint on each
 * command of an Up statement (lint.h).  parse.c knows neither of the last two.
 */
#ifndef GOSLING_COMPILE_H
#define GOSLING_COMPILE_H

#include "bundle.h"
#include "checksum.h"
#include "folder.h"
#include "parse.h"

struct diag;
struct lint;

/* What goslingc checks in a file. */
struct compile_opts {
	struct parse_opts parse; /* goose_only, dirs, getenv (checks: set here) */
	bool no_check;		 /* every failure of PostgreSQL's parser is a warning (--no-check) */
	struct lint *lint;	 /* the safety lint over the Up statements (build, lint), or NULL */
};

/* compile_file - parse_file() with PostgreSQL's parser and o->lint, unless o->parse.goose_only. */
bool compile_file(struct pfile *f, const char *path, const struct compile_opts *o, struct diag *d) MUSTCHECK;

/* compile_load - compile_file() on bytes already in memory (tests use it); f owns a copy. */
bool compile_load(struct pfile *f, const char *path, const char *data, size_t len, const struct compile_opts *o,
		  struct diag *d) MUSTCHECK;

struct compiled {
	struct mfile *files;
	size_t nfiles;
	struct pfile *parsed;	       /* one per file */
	struct migration *migrations;  /* one per file, pointing into parsed */
	struct stmt *stmts;	       /* every migration's statements */
	char (*sums)[3][CHECKSUM_LEN]; /* file, exec, chain per migration */
	char build_id[17];
	struct bundle bundle;
};

/* compile_folder - scan, parse and checksum dir.  All problems go to d; returns
 * false if there was any error (c is still filled as far as it went). */
bool compile_folder(struct compiled *c, const char *dir, const struct compile_opts *o, struct diag *d) MUSTCHECK;

void compile_free(struct compiled *c);

#endif
