/*
 * fatal.h - goslingc's exit codes, and the one way it stops on what it cannot go
 * on from (memory runs out, a file it must write cannot be written): a build tool
 * keeps no partial output, so it says so in one line on stderr and exits
 * EXIT_IO.  Nothing here is for a migration's own errors: those are diagnostics
 * (diag.h), all of them reported, then EXIT_ERRORS.
 */
#ifndef GOSLING_FATAL_H
#define GOSLING_FATAL_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes, documented in --help and the README. */
enum {
	EXIT_OK = 0,
	EXIT_ERRORS = 1, /* the migrations have errors (diagnostics printed) */
	EXIT_USAGE = 2,	 /* bad command line */
	EXIT_SUM = 3,	 /* migrations.sum does not match the folder */
	EXIT_IO = 4,	 /* could not read or write a file (or memory ran out) */
};

/* fatal - "goslingc: <message>\n" on stderr, then exit(EXIT_IO). */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The allocators: each returns memory (never NULL, also for 0 bytes) or calls
 * fatal("out of memory"). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s); /* NULL for NULL */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
FILE *xopen_memstream(char **buf, size_t *len);

#endif
