/*
 * fuzz_parse.c - libFuzzer target over the compiler's input handling: goose's
 * parser in both modes (goose-exact, and with gosling's checks, PostgreSQL's
 * parser through libpg_query and the safety lint included), ENVSUB
 * expansion through a fixed fake environment, the PostgreSQL lexer, ENVSUB's
 * syntax check and expansion, and the c1 file checksum.
 *
 * Every input runs through all of them: the parser sees the bytes as a file
 * (NUL bytes, invalid UTF-8, CR and all), the lexer sees them up to the first
 * NUL (its contract), ENVSUB sees them as one line, and goose's file-name rule
 * sees their first line as a file name.  Diagnostics are rendered
 * to /dev/null, so diag.c's line and caret code is fuzzed too.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined by `ninja fuzz`; run by
 * tests/fuzz.sh.
 */
#include "bundle.h"
#include "diag.h"
#include "folder.h"
#include "lexer.h"
#include "lint.h"
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The goose corpus's ENVSUB environment, plus a value that ends in ';'. */
static const char *fake_getenv(const char *name, void *arg)
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

static FILE *devnull(void)
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
			x = envsub_expand(s->sql, s->envsub, s->nenvsub, fake_getenv, NULL, err, sizeof(err), &at);
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

static bool run_parse(struct pfile *f, const char *data, size_t size, bool goose_only, bool envsub,
		      unsigned dirs)
{
	struct parse_opts o = { .goose_only = goose_only, .dirs = dirs, .getenv = envsub ? fake_getenv : NULL };
	struct diag d = { .out = devnull() };
	struct lint lint;
	bool ok;

	lint_init(&lint, LINT_WARN);
	o.lint = goose_only ? NULL : &lint;
	ok = parse_load(f, "fuzz.sql", data, size, &o, &d);
	if (ok != (d.errors == 0))
		abort();
	/* every finding points at a line of an Up statement */
	for (size_t i = 0; i < lint.nfindings; i++)
		if (lint.findings[i].line == 0 || lint.findings[i].col == 0 || lint.findings[i].col_chars == 0 ||
		    lint.findings[i].col_chars > lint.findings[i].col)
			abort();
	lint_free(&lint);
	check_positions(f);
	if (!envsub)
		expand_all(f);
	return ok;
}

/*
 * gosling's checks only add errors: a file they accept must be cut exactly as
 * goose cuts it (apart from a leading BOM, which gosling drops).
 */
static void same_cut(const struct pfile *goose, const struct pfile *checked)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *z, err[256], sum[CHECKSUM_LEN];
	size_t zlen, at;
	struct lex_result r;

	struct pfile goose, checked, f;
	bool goose_ok = run_parse(&goose, s, size, true, false, 0);
	bool checked_ok = run_parse(&checked, s, size, false, false, 0);

	if (checked_ok && !(size >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)) {
		if (!goose_ok)
			abort();
		same_cut(&goose, &checked);
	}
	pfile_free(&goose);
	pfile_free(&checked);
	(void)run_parse(&f, s, size, true, true, 0);
	pfile_free(&f);
	(void)run_parse(&f, s, size, false, false, 1u << DIR_DOWN);
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
	free(envsub_line(s, size, fake_getenv, NULL, err, sizeof(err)));
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

	checksum_file(s, size, sum);
	if (strncmp(sum, CHECKSUM_FILE_PREFIX, strlen(CHECKSUM_FILE_PREFIX)) != 0 || strlen(sum) != CHECKSUM_LEN - 1)
		abort();
	return 0;
}
