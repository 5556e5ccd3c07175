/*
 * lint.h - the safety lint: named rules over PostgreSQL's parse tree of each Up
 * statement, for migrations that run on a live database.
 *
 * Each rule finds a statement that takes a lock that blocks traffic for as long
 * as it scans or rewrites a table (or that breaks running clients), says why in
 * one line and what to do instead.  The lint is goose-aware: only Up statements
 * are linted, and it knows the file's transaction mode (a transactional file is
 * one transaction with gosling's history row; a NO TRANSACTION file commits each
 * statement).  Tables, indexes and enum types created in the same migration are
 * exempt, learned from the tree; facts that outlive a migration (column types,
 * NOT NULL columns, validated CHECK (col IS NOT NULL) constraints, functions
 * declared IMMUTABLE or STABLE) are learned from the earlier files of the bundle.
 *
 * A comment line
 *
 *     -- gosling:allow RULE[,RULE...] reason
 *
 * before '-- +goose Up' accepts those rules for the whole file; anywhere else it
 * accepts them for the next statement (or the statement whose lines hold it).
 * The reason is required.  An accepted finding is kept (JSON, SARIF) but not
 * printed.
 *
 * Use: lint_file_begin() before a file's statements are checked, lint_command()
 * for each SQL command of each Up statement PostgreSQL's parser accepted (check.c
 * calls it with the tree it already has), lint_file_end() after.
 */
#ifndef GOSLING_LINT_H
#define GOSLING_LINT_H

#include "bundle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct diag;
struct pfile;
struct pstmt;
struct PgQuery__Node;
struct lint_state;

/* The marker, as it appears after "--" and optional blanks. */
#define LINT_MARKER "gosling:allow"

enum lint_mode {
	LINT_OFF,
	LINT_WARN,  /* findings are warnings (the default) */
	LINT_ERROR, /* findings are errors: the build fails */
};

/* A rule: a stable name, why it matters, what to do instead (one line each). */
struct lint_rule {
	const char *name;
	const char *why;
	const char *fix;
};

extern const struct lint_rule lint_rules[];
extern const size_t lint_nrules;

/*
 * Built-in functions whose every overload is IMMUTABLE or STABLE, sorted: data in
 * compiler/functions.txt, which the build turns into build/compiler/functions.c.
 */
extern const char *const lint_nonvolatile[];
extern const size_t lint_nnonvolatile;

struct lint_finding {
	unsigned rule;	    /* index in lint_rules */
	const char *path;   /* the file's path as given (borrowed: outlives the lint run) */
	uint32_t line, col; /* 1-based; col in bytes, as diagnostics count it */
	uint32_t col_chars; /* the same column in characters (SARIF) */
	char *message;	    /* what this statement does and why it hurts */
	char *allowed;	    /* the gosling:allow reason that accepted it, or NULL */
};

struct lint {
	enum lint_mode mode;
	bool quiet;		       /* keep findings without printing them (lint --json / --sarif) */
	struct lint_finding *findings; /* every finding, in file and statement order */
	size_t nfindings;
	struct lint_state *st; /* what the lint learned: private to lint.c */
};

/* lint_init - an empty lint in mode m; free with lint_free(). */
void lint_init(struct lint *l, enum lint_mode m);

/* lint_bundle_reset - forget what earlier files taught (a new folder begins). */
void lint_bundle_reset(struct lint *l);

/*
 * lint_file_begin - a new migration: forget what the previous one created, and
 * read f's gosling:allow markers (a malformed one is a warning to d).  Call it
 * after goose's passes over f completed (it needs f->no_transaction).
 */
void lint_file_begin(struct lint *l, const struct pfile *f, struct diag *d);

/*
 * lint_command - lint one SQL command of Up statement s: node is the command in
 * libpg_query's parse tree (protobuf, unpacked), text the statement's text as
 * parsed (node locations are offsets in it), [start, end) the command's bytes.
 * Findings go to d at their file position, with the rule's name and a hint.
 */
void lint_command(struct lint *l, const struct pfile *f, const struct pstmt *s, const char *text,
		  const struct PgQuery__Node *node, size_t start, size_t end, struct diag *d);

/* lint_file_end - the migration ends: report gosling:allow markers that accepted nothing. */
void lint_file_end(struct lint *l, const struct pfile *f, struct diag *d);

/* lint_print_json - the findings as one JSON object on out (see docs/lint.md). */
void lint_print_json(const struct lint *l, FILE *out, size_t nfiles);

/* lint_print_sarif - the findings as a SARIF 2.1.0 log on out, for code-review annotations. */
void lint_print_sarif(const struct lint *l, FILE *out, const char *version);

/* lint_print_rules - the rule table, one "name<TAB>why<TAB>do instead" line per rule. */
void lint_print_rules(FILE *out);

/* lint_mode_parse - "warn", "error" or "off"; false for anything else. */
bool lint_mode_parse(const char *s, enum lint_mode *m) MUSTCHECK;

void lint_free(struct lint *l);

#endif
