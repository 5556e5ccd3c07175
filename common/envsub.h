/*
 * envsub.h - goose's ENVSUB (-- +goose ENVSUB ON): the compiler checks the syntax, the
 * runtime expands the ranges each statement records (struct envsub_range, bundle.h).
 */
#ifndef GOSLING_ENVSUB_H
#define GOSLING_ENVSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h"
#include "bundle.h" /* struct envsub_range */

/*
 * envsub_expand - goose's ENVSUB: expand $VAR, ${VAR}, ${VAR:-default},
 * ${VAR-default}, ${VAR?msg}, ${VAR:offset[:length]}, with `\$` and `$$` for a
 * literal `$`, in the ranges of s, reading values through get (getenv-like; NULL
 * means unset).  Follows github.com/mfridman/interpolate, which goose uses, line
 * by line: so ${VAR:?msg} is not the shell's "required" but an offset that does
 * not parse ("unable to parse offset"), as in goose.
 *
 * On success returns a malloc'd, trimmed string.  On failure returns NULL and
 * writes a message to err ("$NAME: not set", or a syntax error with its byte
 * offset in s); *err_offset gets the offset in s of the failing line.
 */
char *
envsub_expand(const char *s, const struct envsub_range *r, uint32_t nr, const char *(*get)(const char *name, void *arg),
	      void *arg, char *err, size_t errlen, uint32_t *err_offset) MUSTCHECK;

/*
 * envsub_line - expand one line exactly as goose does (no trimming).  Returns a
 * malloc'd string, or NULL with the reason in err.
 */
char *envsub_line(const char *s, size_t n, const char *(*get)(const char *name, void *arg), void *arg, char *err,
		  size_t errlen) MUSTCHECK;

/* env_get - the process environment (getenv) as the lookup envsub and config_load take; arg unused. */
const char *env_get(const char *name, void *arg);

/* envsub_check - syntax-check ENVSUB text without expanding: the compiler uses it. */
bool envsub_check(const char *s, size_t len, char *err, size_t errlen, size_t *err_offset) MUSTCHECK;

#endif
