/*
 * goose.c - the fuzz targets' goose-level half: goose's parser (goose-exact, with
 * ENVSUB expanded, and with the lexical checks), the PostgreSQL lexer, ENVSUB's
 * syntax check and expansion, goose's file-name rule and the c1 file checksum.
 * None of it needs libpg_query: fuzz_goose links this alone, fuzz_parse adds
 * PostgreSQL's parser and the lint on top (compile.h).
 */
#include "checksum.h"
#include "envsub.h"
#include "goose.h"

#include "folder.h"
#include "lexer.h"

#include <stdlib.h>
#include <string.h>

/* The goose corpus's ENVSUB environment, plus a value that ends in ';'. */
const char *fuzz_getenv(const char *name, void *arg)
{
	static const char *const env[][2] = {
		{ "GOOSE_ENV_REGION", "us_east_" },
		{ "GOOSE_ENV_SET_BUT_EMPTY_VALUE", "" },
		{ "GOOSE_ENV_NAME", "foo" },
		{ "SEMI", "x;" },
		{ "QUOTE", "'" },
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (strcmp(name, env[i][0]) == 0)
			return env[i][1];
	return NULL;
}

FILE *fuzz_devnull(void)
{
	static FILE *out;

	if (!out && !(out = fopen("/dev/null", "w")))
		abort();
	return out;
}

/* Expand every statement's ENVSUB ranges, as the runtime will. */
static void expand_all(const struct pfile *f)
{
	for (int dir = DIR_UP; dir <= DIR_DOWN; dir++) {
		for (size_t i = 0; i < f->nstmts[dir]; i++) {
			const struct pstmt *s = &f->stmts[dir][i];
			char err[256];
			uint32_t at = 0;
			char *x;

			if (!s->nenvsub)
				continue;
			x = envsub_expand(s->sql, s->envsub, s->nenvsub, fuzz_getenv, NULL, err, sizeof(err), &at);
			if (!x && at > s->len)
				abort();	/* the error offset must point into the statement */
			free(x);
		}
	}
}

/* Every statement's position must map back into the file. */
static void check_positions(const struct pfile *f)
{
	for (int dir = DIR_UP; dir <= DIR_DOWN; dir++) {
		for (size_t i = 0; i < f->nstmts[dir]; i++) {
			const struct pstmt *s = &f->stmts[dir][i];
			uint32_t line, col;

			if (strlen(s->sql) > s->len)
				abort();
			if (s->len == 0)
				continue;
			pstmt_where(s, s->len - 1, &line, &col);
			if (line < s->line || line == 0 || col == 0)
				abort();
		}
	}
}

void fuzz_parsed(const struct pfile *f, bool ok, const struct diag *d, bool expanded)
{
	if (ok != (d->errors == 0))
		abort();
	check_positions(f);
	if (!expanded)
		expand_all(f);
}

static bool run_parse(struct pfile *f, const char *data, size_t size, bool goose_only, bool envsub)
{
	struct parse_opts o = { .goose_only = goose_only, .getenv = envsub ? fuzz_getenv : NULL };
	struct diag d = { .out = fuzz_devnull() };
	bool ok = parse_load(f, "fuzz.sql", data, size, &o, &d);

	fuzz_parsed(f, ok, &d, envsub);
	return ok;
}

/*
 * gosling's checks only add errors: a file they accept must be cut exactly as
 * goose cuts it (apart from a leading BOM, which gosling drops).
 */
void fuzz_same_cut(const struct pfile *goose, const struct pfile *checked)
{
	if (goose->no_transaction != checked->no_transaction)
		abort();
	for (int dir = DIR_UP; dir <= DIR_DOWN; dir++) {
		if (goose->nstmts[dir] != checked->nstmts[dir])
			abort();
		for (size_t i = 0; i < goose->nstmts[dir]; i++) {
			const struct pstmt *a = &goose->stmts[dir][i], *b = &checked->stmts[dir][i];

			/* ncommands differs: PostgreSQL's parser counts in the checked mode */
			if (a->len != b->len || memcmp(a->sql, b->sql, a->len) != 0 || a->line != b->line)
				abort();
		}
	}
}

bool fuzz_goose(const uint8_t *data, size_t size, struct pfile *goose)
{
	const char *s = (const char *)data;
	char *z, err[256], sum[CHECKSUM_LEN];
	size_t zlen, at;
	struct lex_result r;
	struct pfile f;
	bool goose_ok = run_parse(goose, s, size, true, false);

	/* the lexical checks only add errors */
	if (run_parse(&f, s, size, false, false) && !(size >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)) {
		if (!goose_ok)
			abort();
		fuzz_same_cut(goose, &f);
	}
	pfile_free(&f);
	(void)run_parse(&f, s, size, true, true);
	pfile_free(&f);

	/* the lexer's contract: NUL-terminated, no NUL inside */
	z = malloc(size + 1);
	if (!z)
		abort();
	memcpy(z, data, size);
	z[size] = '\0';
	zlen = strlen(z);
	lex_scan(z, zlen, &r);
	if (r.open != LEX_CLOSED && (r.open_at >= zlen || r.open_at + r.open_len > zlen))
		abort();
	if (r.last_semicolon != (size_t)-1 && (r.last_semicolon >= zlen || z[r.last_semicolon] != ';'))
		abort();

	/* ENVSUB on the bytes as one line, as the parser and the runtime call it */
	free(envsub_line(s, size, fuzz_getenv, NULL, err, sizeof(err)));
	if (!envsub_check(s, size, err, sizeof(err), &at) && at > size)
		abort();

	/* lex_reopen: split at the first newline; the rest lexed after the reopened
	 * head ends where it ends after the whole head */
	{
		size_t k = strcspn(z, "\n");
		struct lex_result head, full, resumed;
		char *re, *joined;
		size_t relen;

		z[k] = '\0';
		lex_scan(z, k, &head);
		if (k < zlen) {
			z[k] = '\n';
			lex_scan(z, zlen, &full);
		}
		if (k < zlen && head.open != LEX_CLOSED) {
			if (!(re = lex_reopen(z, &head, &relen)))
				abort();
			if (!(joined = malloc(relen + zlen - k + 1)))
				abort();
			memcpy(joined, re, relen);
			memcpy(joined + relen, z + k, zlen - k + 1);
			lex_scan(joined, relen + zlen - k, &resumed);
			if (resumed.open != full.open || resumed.open_depth != full.open_depth ||
			    (resumed.open == LEX_DOLLAR &&
			     (resumed.open_len != full.open_len ||
			      memcmp(joined + resumed.open_at, z + full.open_at, full.open_len) != 0)))
				abort();
			free(joined);
			free(re);
		}
	}

	/* the first line as a migration file name */
	{
		char name[300], why[256];
		size_t n = strcspn(z, "\n");
		int64_t v;

		if (n > sizeof(name) - 5)
			n = sizeof(name) - 5;
		memcpy(name, z, n);
		memcpy(name + n, ".sql", 5);
		if (version_parse(name, &v, why, sizeof(why))) {
			char *end;
			long long w;

			/* strconv.ParseInt's answer, which strtoll gives for a digit string */
			w = strtoll(name, &end, 10);
			if (v < 1 || w != v || *end != '_')
				abort();
		}
	}
	free(z);

	if (!checksum_file(s, size, sum) || strncmp(sum, CHECKSUM_FILE_PREFIX, strlen(CHECKSUM_FILE_PREFIX)) != 0 ||
	    strlen(sum) != CHECKSUM_LEN - 1)
		abort();
	return goose_ok;
}
