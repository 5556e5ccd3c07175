/*
 * pfile.h - a migration file as goose cuts it: its statements per direction, each
 * with the map from its text back to the file's lines (parse.h fills it; the
 * checks, the lint and compile.c read it).
 */
#ifndef GOSLING_PFILE_H
#define GOSLING_PFILE_H

#include "bundle.h"

enum direction {
	DIR_UP,
	DIR_DOWN,
};

/* A statement as goose cuts it, with what it takes to point into the file. */
struct pstmt {
	char *sql; /* trimmed text, NUL-terminated */
	size_t len;
	uint32_t line;	    /* file line of its first byte */
	uint32_t last_line; /* file line of its last line */
	bool block;	    /* from StatementBegin / StatementEnd */
	unsigned ncommands; /* SQL commands: PostgreSQL's parser's count, else the lexer's */
	uint32_t flags;	    /* enum stmt_flag bits, set by the checks (check.h) */
	struct envsub_range *envsub;
	uint32_t nenvsub;
	/* raw line starts: sql offset (may be negative before trimming) → file offset */
	size_t nlines;
	long *line_sql_off;    /* offset in sql where each raw line starts */
	size_t *line_file_off; /* byte offset in the file where that line starts */
	uint32_t *line_no;     /* its 1-based line number */
};

struct pfile {
	const char *path; /* as given, for messages */
	char *data;	  /* the file's bytes, NUL-terminated */
	size_t len;
	bool no_transaction;
	bool has_envsub;
	/* lines of the '-- +goose Up' and '-- +goose Down' annotations, 0 when absent:
	 * a direction's section runs from the one to the next */
	uint32_t up_line, down_line;
	struct pstmt *stmts[2]; /* indexed by enum direction */
	size_t nstmts[2];
	bool ok[2]; /* the direction parsed without error */
};

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
