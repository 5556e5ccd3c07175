/*
 * buf.h - the one growable byte buffer of gosling: the runtime's batches, HTTP
 * bodies, SigV4's canonical strings, ENVSUB's output and goslingc's zip files.
 *
 * Out of memory is sticky, never fatal: the append that cannot grow the buffer sets
 * b->failed, every later append does nothing, and the owner checks once, where it
 * uses the bytes (buf_take returns NULL).  Why this policy and not abort() or the
 * compiler's exit(4): the runtime must turn every failure into a value during an
 * invocation (an /error post, a JSON error), and a builder that checked every
 * append would hide what it builds under error paths (pgbouncer's builders work so).
 *
 *   struct buf b = { 0 };
 *   buf_str(&b, "SELECT ");
 *   buf_add(&b, name, n);
 *   char *sql = buf_take(&b);	// "SELECT name", or NULL: out of memory
 *
 * The bytes are NUL-terminated after len once anything was added (p is NULL before).
 */
#ifndef GOSLING_BUF_H
#define GOSLING_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "attr.h"

struct buf {
	char *p; /* malloc'd, owned by the buffer until buf_take */
	size_t len, cap;
	bool failed; /* sticky: an allocation failed */
};

/*
 * buf_reserve - room for n more bytes and the NUL: false (and b->failed) when memory
 * runs out.  An empty buffer gets exactly what it asks (at least 256 bytes), so a
 * caller that knows the size allocates once; later growth doubles.
 */
bool buf_reserve(struct buf *b, size_t n) MUSTCHECK;

/* buf_add, buf_str, buf_char - append n bytes, a C string, a byte (nothing once failed). */
void buf_add(struct buf *b, const void *data, size_t n);
void buf_str(struct buf *b, const char *s);
void buf_char(struct buf *b, char c);

/*
 * buf_take - the bytes built so far, owned by the caller from now on ("" when nothing
 * was added), or NULL after a failed allocation.  b is empty again afterwards.
 */
char *buf_take(struct buf *b) MUSTCHECK;

/* buf_free - release the bytes; b is empty again. */
void buf_free(struct buf *b);

#endif
