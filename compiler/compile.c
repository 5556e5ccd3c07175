/*
 * compile.c - from a folder to a struct bundle: the one path that `build`,
 * `list`, `verify` and `sum` share, so they never disagree.
 */
#include "checksum.h"
#include "compile.h"

#include "check.h"
#include "diag.h"
#include "fatal.h"
#include "lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPILER_VERSION_STR "0.1.0"

/* One file's checks after the lexer's: the gosling:no-check markers, PostgreSQL's parser, the lint. */
struct checking {
	const struct compile_opts *o;
	struct check_marks marks;
	/* the statement being checked, for lint_each */
	const struct pfile *f;
	const struct pstmt *s;
	struct diag *d;
};

static void
checks_begin(void *arg, const struct pfile *f, struct diag *d)
{
	struct checking *k = arg;

	check_marks_scan(f, &k->marks);
	if (k->o->lint)
		lint_file_begin(k->o->lint, f, d);
}

static void
lint_each(void *arg, const char *text, const struct PgQuery__Node *node, size_t start, size_t end)
{
	struct checking *k = arg;

	lint_command(k->o->lint, k->f, k->s, text, node, start, end, k->d);
}

static bool
checks_stmt(void *arg, const struct pfile *f, enum direction dir, struct pstmt *s, uint32_t from, struct diag *d)
{
	struct checking *k = arg;
	bool hatch = check_marks_cover(&k->marks, from, s);

	k->f = f;
	k->s = s;
	k->d = d;
	return check_stmt(f, s, hatch, k->o->no_check, f->ok[dir], dir == DIR_UP && k->o->lint ? lint_each : NULL, k,
			  d);
}

static void
checks_end(void *arg, const struct pfile *f, struct diag *d)
{
	struct checking *k = arg;

	if (k->o->lint)
		lint_file_end(k->o->lint, f, d);
	check_marks_free(&k->marks);
}

/* With path and no data, the file at path; else data. */
static bool
compile_one(struct pfile *f, const char *path, const char *data, size_t len, const struct compile_opts *o,
	    struct diag *d)
{
	struct checking k = { o, { false, NULL, 0 }, NULL, NULL, NULL };
	struct parse_checks checks = { checks_begin, checks_stmt, checks_end, &k };
	struct parse_opts po = o->parse;

	po.checks = &checks;
	return data ? parse_load(f, path, data, len, &po, d) : parse_file(f, path, &po, d);
}

bool
compile_file(struct pfile *f, const char *path, const struct compile_opts *o, struct diag *d)
{
	return compile_one(f, path, NULL, 0, o, d);
}

bool
compile_load(struct pfile *f, const char *path, const char *data, size_t len, const struct compile_opts *o,
	     struct diag *d)
{
	return compile_one(f, path, data ? data : "", len, o, d);
}

static const struct stmt *
convert(struct compiled *c, size_t *next, const struct pfile *pf, enum direction dir)
{
	const struct stmt *first = c->stmts + *next;

	for (size_t i = 0; i < pf->nstmts[dir]; i++) {
		const struct pstmt *p = &pf->stmts[dir][i];
		struct stmt *s = &c->stmts[(*next)++];

		s->sql = p->sql;
		s->len = (uint32_t)p->len;
		s->line = p->line;
		s->ncommands = p->ncommands;
		s->envsub = p->envsub;
		s->nenvsub = p->nenvsub;
		s->flags = p->flags;
	}
	return first;
}

bool
compile_folder(struct compiled *c, const char *dir, const struct compile_opts *o, struct diag *d)
{
	unsigned errors = d->errors;
	size_t total = 0, next = 0;
	const char *prev = "";

	memset(c, 0, sizeof(*c));
	if (!folder_scan(dir, &c->files, &c->nfiles, d) && c->nfiles == 0)
		return false;
	/* goose fails with ErrNoMigrationFiles at run time; an empty bundle is
	 * legitimate (a new project), so this is a warning, an error with --werror */
	if (c->nfiles == 0 && d->errors == errors)
		diag_file(d, DIAG_WARNING, dir, "no migrations: no <version>_<name>.sql files in this folder");
	c->parsed = xcalloc(c->nfiles, sizeof(*c->parsed));
	for (size_t i = 0; i < c->nfiles; i++) {
		if (!compile_file(&c->parsed[i], c->files[i].path, o, d))
			continue;
		total += c->parsed[i].nstmts[DIR_UP] + c->parsed[i].nstmts[DIR_DOWN];
	}
	if (d->errors != errors)
		return false;

	c->migrations = xcalloc(c->nfiles, sizeof(*c->migrations));
	c->stmts = xcalloc(total, sizeof(*c->stmts));
	c->sums = xcalloc(c->nfiles, sizeof(*c->sums));
	for (size_t i = 0; i < c->nfiles; i++) {
		struct migration *m = &c->migrations[i];
		const struct pfile *pf = &c->parsed[i];

		m->version = c->files[i].version;
		m->name = c->files[i].name;
		m->no_transaction = pf->no_transaction;
		m->up = convert(c, &next, pf, DIR_UP);
		m->nup = (uint32_t)pf->nstmts[DIR_UP];
		m->down = convert(c, &next, pf, DIR_DOWN);
		m->ndown = (uint32_t)pf->nstmts[DIR_DOWN];
		if (!checksum_file(pf->data, pf->len, c->sums[i][0]) || !checksum_exec(m, c->sums[i][1]) ||
		    !checksum_chain(prev, m->version, c->sums[i][1], c->sums[i][2]))
			fatal("out of memory");
		prev = c->sums[i][2];
		m->file_checksum = c->sums[i][0];
		m->exec_checksum = c->sums[i][1];
		m->chain = c->sums[i][2];
	}
	if (!checksum_build_id(c->migrations, (uint32_t)c->nfiles, c->build_id))
		fatal("out of memory");
	c->bundle.build_id = c->build_id;
	c->bundle.compiler_version = COMPILER_VERSION_STR;
	c->bundle.migrations = c->migrations;
	c->bundle.count = (uint32_t)c->nfiles;
	return d->errors == errors;
}

void
compile_free(struct compiled *c)
{
	for (size_t i = 0; c->parsed && i < c->nfiles; i++)
		pfile_free(&c->parsed[i]);
	free(c->parsed);
	free(c->migrations);
	free(c->stmts);
	free(c->sums);
	folder_free(c->files, c->nfiles);
	memset(c, 0, sizeof(*c));
}
