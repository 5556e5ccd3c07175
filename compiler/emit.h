/*
 * emit.h - what goslingc writes: gen/bundle.c, its depfile, and JSON.
 */
#ifndef GOSLING_EMIT_H
#define GOSLING_EMIT_H

#include "bundle.h"

#include <stdio.h>

/*
 * emit_bundle - write b as C source to path, through path.tmp and rename(),
 * and only when the bytes differ from what path holds (so ninja's restat sees
 * an unchanged bundle as unchanged).  *changed says which happened.  Exits on
 * I/O failure after removing the temp file: the compiler is a build tool.
 */
void emit_bundle(const struct bundle *b, const char *src_dir, const char *path, bool *changed);

/* emit_depfile - "target: dep dep …" for ninja, written through a temp file too. */
void emit_depfile(const char *path, const char *target, const char *const *deps, size_t n);

/* emit_json_string - s (n bytes) as a JSON string literal. */
void emit_json_string(FILE *out, const char *s, size_t n);

/* write_file_atomic - data to path via path.tmp + rename; false (errno set) on failure. */
bool write_file_atomic(const char *path, const char *data, size_t len) MUSTCHECK;

#endif
