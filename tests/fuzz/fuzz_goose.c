/*
 * fuzz_goose.c - libFuzzer target over the compiler's input handling without
 * libpg_query: goose's parser (goose-exact, with ENVSUB expanded, and with the
 * lexical checks), the PostgreSQL lexer, ENVSUB, goose's file-name rule and the
 * c1 file checksum (goose.c).  It links parse.c, lexer.c, diag.c, folder.c and
 * common/ only, which is what proves parse.c stands without PostgreSQL's
 * parser; fuzz_parse adds that parser and the lint.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined by `ninja fuzz`; run by
 * tests/fuzz.sh.
 */
#include "goose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfile goose;

	(void)fuzz_goose(data, size, &goose);
	pfile_free(&goose);
	return 0;
}
