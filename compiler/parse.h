/*
 * parse.h - goose's SQL migration parser, line for line, plus the lexical checks
 * goose leaves to deploy time.
 *
 * parse_file() runs goose's state machine (internal/sqlparser/parser.go) once per
 * direction, exactly as goose does, so every statement is byte-identical to what
 * goose would run.  Then the PostgreSQL lexer looks at each statement: where
 * goose's line rule cut it inside a literal, identifier, dollar body or comment,
 * that is an error here, at build time.  Unless goose_only, each statement the
 * lexer lets through then goes to the caller's checks (struct parse_checks:
 * compile.h composes PostgreSQL's parser and the safety lint there), so this
 * file links without libpg_query.
 */
#ifndef GOSLING_PARSE_H
#define GOSLING_PARSE_H

#include "bundle.h"

struct diag;

enum direction {
	DIR_UP,
	DIR_DOWN,
};

/* A statement as goose cuts it, with what it takes to point into the file. */
struct pstmt {
	char *sql;		/* trimmed text, NUL-terminated */
	size_t len;
	uint32_t line;		/* file line of its first byte */
	uint32_t last_line;	/* file line of its last line */
	bool block;		/* from StatementBegin / StatementEnd */
	unsigned ncommands;	/* SQL commands: PostgreSQL's parser's count, else the lexer's */
	uint32_t flags;		/* enum stmt_flag bits, set by the checks (check.h) */
	struct envsub_range *envsub;
	uint32_t nenvsub;
	/* raw line starts: sql offset (may be negative before trimming) → file offset */
	size_t nlines;
	long *line_sql_off;	/* offset in sql where each raw line starts */
	size_t *line_file_off;	/* byte offset in the file where that line starts */
	uint32_t *line_no;	/* its 1-based line number */
};

struct pfile {
	const char *path;	/* as given, for messages */
	char *data;		/* the file's bytes, NUL-terminated */
	size_t len;
	bool no_transaction;
	bool has_envsub;
	/* lines of the '-- +goose Up' and '-- +goose Down' annotations, 0 when absent:
	 * a direction's section runs from the one to the next */
	uint32_t up_line, down_line;
	struct pstmt *stmts[2];	/* indexed by enum direction */
	size_t nstmts[2];
	bool ok[2];		/* the direction parsed without error */
};

/*
 * Checks beyond goose's rules and the lexer's, called by parse_file() in file
 * order (so diagnostics come in file order); any may be NULL.  Not called under
 * goose_only, nor for a file with bytes PostgreSQL cannot take (NUL, bad UTF-8).
 */
struct parse_checks {
	/* f's goose passes are done (f->no_transaction is known); its statements follow */
	void (*file_begin)(void *arg, const struct pfile *f, struct diag *d);
	/* Statement s of direction dir passed the lexer; from is the file line after
	 * the previous statement.  f->ok[dir] says whether goose's pass over dir
	 * completed.  Returns false when it reported an error. */
	bool (*stmt)(void *arg, const struct pfile *f, enum direction dir, struct pstmt *s, uint32_t from,
		     struct diag *d);
	/* after f's last statement */
	void (*file_end)(void *arg, const struct pfile *f, struct diag *d);
	void *arg;
};

/* Options that change what parse_file() checks. */
struct parse_opts {
	bool goose_only;	/* only goose's own rules (the `parse` verb) */
	unsigned dirs;		/* bit 1 << DIR_UP, 1 << DIR_DOWN */
	/* Expand ENVSUB lines while parsing, as goose does (parse --envsub); NULL
	 * keeps them for the runtime, as ranges in each statement. */
	const char *(*getenv)(const char *name, void *arg);
	/* The checks after the lexer's, or NULL (compile.h's compile_checks()). */
	const struct parse_checks *checks;
};

/*
 * parse_file - read and parse one migration file.  Diagnostics go to d (all of
 * them, not just the first).  Returns false when any error was reported; the
 * statements of the directions that parsed are kept either way.  A file that
 * cannot be opened or read is a DIAG_IO error (goslingc then exits 4).
 */
bool parse_file(struct pfile *f, const char *path, const struct parse_opts *o, struct diag *d) MUSTCHECK;

/* parse_load - parse_file() on bytes already in memory (tests use it); f owns a copy. */
bool parse_load(struct pfile *f, const char *path, const char *data, size_t len,
		const struct parse_opts *o, struct diag *d) MUSTCHECK;

/* pstmt_where - the file line and 1-based byte column of offset off in s->sql. */
void pstmt_where(const struct pstmt *s, size_t off, uint32_t *line, uint32_t *col);

void pfile_free(struct pfile *f);

/*
 * pfile_line - the line of f that starts at *pos: line and n its bytes without
 * the LF, t and tn the same trimmed (Go's strings.TrimSpace); *pos moves to the
 * next line.  False when *pos is at the end.
 */
bool pfile_line(const struct pfile *f, size_t *pos, const char **line, size_t *n, const char **t, size_t *tn);

#endif
