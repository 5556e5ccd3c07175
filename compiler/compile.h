/*
 * compile.h - a folder of migrations, parsed, checked and checksummed into the
 * same `struct bundle` the runtime reads, ready to emit or list.
 */
#ifndef GOSLING_COMPILE_H
#define GOSLING_COMPILE_H

#include "bundle.h"
#include "folder.h"
#include "parse.h"

struct diag;

struct compiled {
	struct mfile *files;
	size_t nfiles;
	struct pfile *parsed;		/* one per file */
	struct migration *migrations;	/* one per file, pointing into parsed */
	struct stmt *stmts;		/* every migration's statements */
	char (*sums)[3][CHECKSUM_LEN];	/* file, exec, chain per migration */
	char build_id[17];
	struct bundle bundle;
};

/* compile_folder - scan, parse and checksum dir.  All problems go to d; returns
 * false if there was any error (c is still filled as far as it went). */
bool compile_folder(struct compiled *c, const char *dir, const struct parse_opts *o, struct diag *d) MUSTCHECK;

void compile_free(struct compiled *c);

#endif
