/*
 * bundle.h - what goslingc writes and gosling reads: the compiled migrations' C structs.
 * goslingc writes gen/bundle.c, which defines `gosling_bundle` with these types; the
 * runtime links it and reads it.  The checksums over them are checksum.h's, ENVSUB's
 * expansion of their ranges envsub.h's, the text helpers text.h's (all in common/).
 */
#ifndef GOSLING_BUNDLE_H
#define GOSLING_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h"

/* A byte range [start, end) of a statement's sql that ENVSUB expands at run time. */
struct envsub_range {
	uint32_t start;
	uint32_t end;
};

/* What the compiler knows about a statement that the runtime must honour. */
enum stmt_flag {
	/* PostgreSQL 15's parser did not accept it (allowed by gosling:no-check or
	 * --no-check): it goes to the server in a query of its own, since the server
	 * parses a whole query before running any of it */
	STMT_UNCHECKED = 1u << 0,
	/* it holds a command PostgreSQL refuses in a transaction block (CREATE INDEX
	 * CONCURRENTLY, ...) where it will run in one, allowed by gosling:no-check or
	 * --no-check: the runtime warns before it runs it */
	STMT_NO_TX_BLOCK = 1u << 1,
};

/* One goose statement, as goose cuts it. */
struct stmt {
	const char *sql;    /* trimmed text, NUL-terminated, before ENVSUB */
	uint32_t len;	    /* strlen(sql) */
	uint32_t line;	    /* 1-based line in the file where the statement starts */
	uint32_t ncommands; /* SQL commands in the text (PostgreSQL's parser; the lexer's count under no-check) */
	const struct envsub_range *envsub; /* lines under ENVSUB ON, or NULL */
	uint32_t nenvsub;
	uint32_t flags; /* enum stmt_flag bits */
};

struct migration {
	int64_t version;
	const char *name;    /* file name, "000001_create_tables.sql" */
	bool no_transaction; /* -- +goose NO TRANSACTION */
	const struct stmt *up;
	uint32_t nup;
	const struct stmt *down;
	uint32_t ndown;
	const char *file_checksum; /* "sha256:c1:<hex>" of the canonical file */
	const char *exec_checksum; /* "sha256:x1:<hex>" of the statements */
	const char *chain;	   /* "sha256:h1:<hex>" = H(prev chain, version, exec) */
};

struct bundle {
	const char *build_id; /* 16 hex digits derived from every migration */
	const char *compiler_version;
	const struct migration *migrations; /* sorted by version, ascending */
	uint32_t count;
	/*
	 * Every statement's text, in version order (each migration's Up, then its Down),
	 * each ending in a NUL: up/down[].sql point into it.  NULL in a bundle built in
	 * memory (goslingc's own), where statements are allocated one by one.
	 */
	const char *text;
	size_t text_len;
};

/* Defined in gen/bundle.c. */
extern const struct bundle gosling_bundle;

#endif
