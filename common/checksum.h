/*
 * checksum.h - the checksums goslingc computes and gosling compares: a file's (c1),
 * what runs (x1), what a stopped NO TRANSACTION migration ran (p1), the history's
 * chain (h1), and a bundle's build id.  docs/checksums.md says why each exists.
 */
#ifndef GOSLING_CHECKSUM_H
#define GOSLING_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h"

struct migration;

/* Checksum names: every stored or printed checksum starts with one of these. */
#define CHECKSUM_FILE_PREFIX "sha256:c1:"  /* canonical file text */
#define CHECKSUM_EXEC_PREFIX "sha256:x1:"  /* what runs: statements as cut */
#define CHECKSUM_CHAIN_PREFIX "sha256:h1:" /* chain over the history */
#define CHECKSUM_DONE_PREFIX "sha256:p1:"  /* the Up statements a stopped NO TRANSACTION migration ran */
/* prefix (10) + 64 hex digits + NUL */
#define CHECKSUM_LEN 75

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

#endif
