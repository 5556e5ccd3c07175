/*
 * fuzz_parse.c - libFuzzer target over the compiler's input handling: the
 * goose-level run of fuzz_goose (goose.c), then gosling's checks composed as
 * goslingc composes them (compile.h): PostgreSQL's parser through libpg_query
 * and the safety lint, in both directions and the Down alone.
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
#include "compile.h"
#include "goose.h"
#include "lint.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool run_checked(struct pfile *f, const char *data, size_t size, unsigned dirs)
{
	struct lint lint;
	struct compile_opts o = { { .dirs = dirs }, false, &lint };
	struct diag d = { .out = fuzz_devnull() };
	bool ok;

	lint_init(&lint, LINT_WARN);
	ok = compile_load(f, "fuzz.sql", data, size, &o, &d);
	/* every finding points at a line of an Up statement */
	for (size_t i = 0; i < lint.nfindings; i++)
		if (lint.findings[i].line == 0 || lint.findings[i].col == 0 || lint.findings[i].col_chars == 0 ||
		    lint.findings[i].col_chars > lint.findings[i].col)
			abort();
	lint_free(&lint);
	fuzz_parsed(f, ok, &d, false);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pfile goose, f;
	bool goose_ok = fuzz_goose(data, size, &goose);

	if (run_checked(&f, s, size, 0) && !(size >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)) {
		if (!goose_ok)
			abort();
		fuzz_same_cut(&goose, &f);
	}
	pfile_free(&goose);
	pfile_free(&f);
	(void)run_checked(&f, s, size, 1u << DIR_DOWN);
	pfile_free(&f);
	return 0;
}
