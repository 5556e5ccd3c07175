/*
 * bundle.h - what goslingc and gosling share: the compiled migrations' C structs,
 * the checksum functions and ENVSUB expansion.
 *
 * goslingc writes gen/bundle.c, which defines `gosling_bundle` with these types;
 * the runtime links it and reads it.  Nothing here allocates except
 * envsub_expand(), whose result the caller frees, and OpenSSL for a checksum; nothing
 * aborts: a checksum function returns false when OpenSSL could not allocate.
 */
#ifndef GOSLING_BUNDLE_H
#define GOSLING_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h"

/* Checksum names: every stored or printed checksum starts with one of these. */
#define CHECKSUM_FILE_PREFIX "sha256:c1:"  /* canonical file text */
#define CHECKSUM_EXEC_PREFIX "sha256:x1:"  /* what runs: statements as cut */
#define CHECKSUM_CHAIN_PREFIX "sha256:h1:" /* chain over the history */
#define CHECKSUM_DONE_PREFIX "sha256:p1:"  /* the Up statements a stopped NO TRANSACTION migration ran */
/* prefix (10) + 64 hex digits + NUL */
#define CHECKSUM_LEN 75

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

/* Every checksum_* function returns false, with out "", when OpenSSL could not allocate. */

/*
 * checksum_file - the c1 checksum of a file's bytes: drop a leading UTF-8 BOM,
 * turn CRLF and lone CR into LF, end with exactly one LF (an empty file stays
 * empty), then SHA-256.  Writes "sha256:c1:<hex>" to out.  For a file already
 * in that form this equals `sha256sum`.
 */
bool checksum_file(const char *data, size_t len, char out[CHECKSUM_LEN]) MUSTCHECK;

/*
 * checksum_exec - the x1 checksum of what runs: the transaction flag, then the
 * Up and Down statements with their ENVSUB ranges, each length-prefixed:
 *
 *   "gosling-x1\n" "tx <0|1>\n"
 *   for dir in up, down:  "<dir> <count>\n"
 *     for each statement: "<len>\n<sql>\n" then "envsub <start> <end>\n" per range
 *
 * Comments and blank lines outside statements do not reach it.
 */
bool checksum_exec(const struct migration *m, char out[CHECKSUM_LEN]) MUSTCHECK;

/*
 * checksum_done - the p1 checksum of m's first n Up statements, as checksum_exec covers
 * them ("gosling-p1\n" then "up <n>\n" and each statement length-prefixed): what a NO
 * TRANSACTION migration that stopped at statement n + 1 has run.  An edit from statement
 * n + 1 on leaves it unchanged, so such a migration can be fixed and resumed.
 */
bool checksum_done(const struct migration *m, uint32_t n, char out[CHECKSUM_LEN]) MUSTCHECK;

/*
 * checksum_chain - H(prev ‖ version ‖ exec): SHA-256 of "<prev>\n<version>\n<exec>\n"
 * where prev is the previous migration's chain ("" for the first).
 */
bool checksum_chain(const char *prev, int64_t version, const char *exec, char out[CHECKSUM_LEN]) MUSTCHECK;

/*
 * checksum_build_id - 16 hex digits naming a bundle: SHA-256 over every
 * migration's version, name, file and exec checksums.  No time, no host: the same
 * migrations give the same id, so builds are reproducible.
 */
bool checksum_build_id(const struct migration *m, uint32_t n, char out[17]) MUSTCHECK;

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

/* text_space_at - bytes of the Unicode space (Go's unicode.IsSpace) at s, or 0. */
size_t text_space_at(const char *s, size_t n);

/*
 * text_utf8_fix - make s (NUL-terminated) valid UTF-8 in place, for JSON and logs: a
 * sequence cut short at the end (a message truncated to fit a buffer) is dropped, any
 * other byte that is not part of a valid sequence (a server's LATIN1 or SQL_ASCII text)
 * becomes '?'.  The text never grows.  Returns s.
 *   "caf\xe9 ok"       -> "caf? ok"
 *   "na\xc3"           -> "na"
 */
char *text_utf8_fix(char *s);

/*
 * text_char_at - the valid UTF-8 character at s (n > 0 bytes left): its length in
 * bytes, its code point in *rune; 0 when s does not start one (a stray or
 * overlong byte, a surrogate, a sequence cut by the end).
 */
size_t text_char_at(const char *s, size_t n, uint32_t *rune);

/* text_is_control - a C0 or C1 control character, or DEL (tab and newline included). */
bool text_is_control(uint32_t rune);

/* text_trim - Go's strings.TrimSpace on [*s, *s + *n): moves *s, shrinks *n. */
void text_trim(const char **s, size_t *n);

#endif
