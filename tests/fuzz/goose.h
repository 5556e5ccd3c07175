/*
 * goose.h - what the parser fuzz targets share (goose.c): the goose-level half of
 * each input's run, and the properties every parse must hold.
 */
#ifndef GOSLING_FUZZ_GOOSE_H
#define GOSLING_FUZZ_GOOSE_H

#include "bundle.h"
#include "diag.h"
#include "parse.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The goose corpus's ENVSUB environment, plus values that end in ';' and hold a quote. */
const char *fuzz_getenv(const char *name, void *arg);

/* /dev/null, opened once: diagnostics are rendered there, so diag.c is fuzzed too. */
FILE *fuzz_devnull(void);

/* What every parse must hold: ok iff no error was reported, every statement's
 * position maps back into the file, and (unless expanded already) its ENVSUB
 * ranges expand or fail at an offset inside it.  Aborts otherwise. */
void fuzz_parsed(const struct pfile *f, bool ok, const struct diag *d, bool expanded);

/* gosling's checks only add errors: a file they accept must be cut exactly as
 * goose cuts it (apart from a leading BOM, which gosling drops).  Aborts otherwise. */
void fuzz_same_cut(const struct pfile *goose, const struct pfile *checked);

/* The goose-level run over one input; *goose is its goose-exact parse (free it
 * with pfile_free()).  Returns whether goose accepts it.  Aborts on a violation. */
bool fuzz_goose(const uint8_t *data, size_t size, struct pfile *goose);

#endif
