/*
 * parse.c - goose's SQL migration parser in C, and the lexical checks on top.
 *
 * The state machine below follows goose's internal/sqlparser/parser.go line for
 * line (states, annotation handling, the comment and blank-line rules, when the
 * buffer is written and reset), because a file goose accepts must mean the same
 * here, byte for byte.  It runs once per direction, as goose does.
 */
#include "parse.h"

#include "diag.h"
#include "fatal.h"
#include "lexer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bufio.Scanner's limit in goose: a longer line fails the parse. */
#define GOOSE_MAX_LINE (4 * 1024 * 1024)

#define HINT_BLOCK "goose ends a statement at a line whose last word ends in ';': " \
	"wrap this statement in '-- +goose StatementBegin' and '-- +goose StatementEnd'"

enum state {
	S_START,		/* 0 */
	S_UP,			/* 1 */
	S_BEGIN_UP,		/* 2 */
	S_END_UP,		/* 3 */
	S_DOWN,			/* 4 */
	S_BEGIN_DOWN,		/* 5 */
	S_END_DOWN,		/* 6 */
};

enum annotation {
	A_UP,
	A_DOWN,
	A_BEGIN,
	A_END,
	A_NO_TX,
	A_ENVSUB_ON,
	A_ENVSUB_OFF,
};

static const char *const annotation_names[] = {
	"Up", "Down", "StatementBegin", "StatementEnd", "NO TRANSACTION", "ENVSUB ON", "ENVSUB OFF",
};

/* The lines goose has buffered for the statement it is reading. */
struct buf {
	char *p;
	size_t n, cap;
	size_t nlines, capl;
	size_t *start;		/* buffer offset of each line */
	size_t *file_off;	/* file offset of each line */
	uint32_t *line_no;
	bool *envsub;
};

static void buf_add_line(struct buf *b, const char *s, size_t n, size_t file_off, uint32_t line_no,
			 bool envsub)
{
	if (b->n + n + 2 > b->cap) {
		b->cap = (b->n + n + 2) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	if (b->nlines == b->capl) {
		b->capl = b->capl ? b->capl * 2 : 16;
		b->start = xrealloc(b->start, b->capl * sizeof(*b->start));
		b->file_off = xrealloc(b->file_off, b->capl * sizeof(*b->file_off));
		b->line_no = xrealloc(b->line_no, b->capl * sizeof(*b->line_no));
		b->envsub = xrealloc(b->envsub, b->capl * sizeof(*b->envsub));
	}
	b->start[b->nlines] = b->n;
	b->file_off[b->nlines] = file_off;
	b->line_no[b->nlines] = line_no;
	b->envsub[b->nlines] = envsub;
	b->nlines++;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n++] = '\n';
	b->p[b->n] = '\0';
}

static void buf_reset(struct buf *b)
{
	b->n = 0;
	b->nlines = 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	free(b->start);
	free(b->file_off);
	free(b->line_no);
	free(b->envsub);
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

/* Does s (n bytes) contain needle?  With fold, ignoring ASCII case. */
static bool contains(const char *s, size_t n, const char *needle, bool fold)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if ((fold ? strncasecmp(s + i, needle, k) : memcmp(s + i, needle, k)) == 0)
			return true;
	return false;
}

/* Go's strings.EqualFold against an ASCII keyword: ASCII case folding, plus the
 * two non-ASCII runes that fold to ASCII letters (U+017F ſ → s, U+212A K → k). */
static bool equal_fold(const char *s, size_t n, const char *kw)
{
	size_t i = 0;

	for (; *kw; kw++) {
		char c = *kw;
		if (i >= n)
			return false;
		if ((c == 's' || c == 'S') && has_prefix(s + i, n - i, "\xc5\xbf")) {
			i += 2;
			continue;
		}
		if ((c == 'k' || c == 'K') && has_prefix(s + i, n - i, "\xe2\x84\xaa")) {
			i += 3;
			continue;
		}
		if ((unsigned char)s[i] != (unsigned char)c &&
		    !(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && (s[i] | 0x20) == (c | 0x20)))
			return false;
		i++;
	}
	return i == n;
}

/* goose's extractAnnotation.  On error writes goose's message to err. */
static bool extract_annotation(const char *line, size_t n, enum annotation *a, char *err, size_t errlen)
{
	char *cmd = xrealloc(NULL, n + 1), *p;
	size_t m = 0, i;
	const char *t;
	size_t tn;
	bool ok = false;

	if (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
		snprintf(err, errlen, "\"%.*s\" contains leading whitespace: invalid annotation", (int)n, line);
		free(cmd);
		return false;
	}
	/* strings.ReplaceAll(line, "--", "") */
	for (i = 0; i < n;) {
		if (i + 1 < n && line[i] == '-' && line[i + 1] == '-') {
			i += 2;
			continue;
		}
		cmd[m++] = line[i++];
	}
	cmd[m] = '\0';
	/* strings.Replace(cmd, "+goose", "", 1) */
	if ((p = strstr(cmd, "+goose")) != NULL) {
		memmove(p, p + 6, strlen(p + 6) + 1);
		m -= 6;
	}
	if (strstr(cmd, "+goose")) {
		snprintf(err, errlen, "\"%s\" contains multiple '+goose' annotations: invalid annotation", cmd);
		goto out;
	}
	t = cmd;
	tn = m;
	text_trim(&t, &tn);
	if (tn == 0) {
		snprintf(err, errlen, "empty annotation");
		goto out;
	}
	for (i = 0; i < sizeof(annotation_names) / sizeof(annotation_names[0]); i++) {
		if (equal_fold(t, tn, annotation_names[i])) {
			*a = (enum annotation)i;
			ok = true;
			goto out;
		}
	}
	snprintf(err, errlen, "\"%.*s\" not supported: invalid annotation", (int)tn, t);
out:
	free(cmd);
	return ok;
}

/* goose's endsWithSemicolon: the last whitespace-separated word before a word
 * starting with "--" ends in ';'. */
static bool ends_with_semicolon(const char *s, size_t n)
{
	const char *prev = NULL;
	size_t prevlen = 0, i = 0, k;

	while (i < n) {
		if ((k = text_space_at(s + i, n - i)) > 0) {
			i += k;
			continue;
		}
		size_t start = i;
		while (i < n && text_space_at(s + i, n - i) == 0)
			i++;
		if (has_prefix(s + start, i - start, "--"))
			break;
		prev = s + start;
		prevlen = i - start;
	}
	return prev && prev[prevlen - 1] == ';';
}

void pstmt_where(const struct pstmt *s, size_t off, uint32_t *line, uint32_t *col)
{
	size_t k = 0;

	while (k + 1 < s->nlines && s->line_sql_off[k + 1] <= (long)off)
		k++;
	*line = s->line_no[k];
	*col = (uint32_t)((long)off - s->line_sql_off[k]) + 1;
}

/* Turn the buffer into a statement: trim it, keep the line map and ENVSUB ranges. */
static struct pstmt stmt_from_buf(const struct buf *b, bool block)
{
	struct pstmt s = {0};
	const char *t = b->p;
	size_t tn = b->n;
	long lead;

	text_trim(&t, &tn);
	lead = (long)(t - b->p);
	s.sql = xrealloc(NULL, tn + 1);
	if (tn)		/* an empty block's statement has no buffer at all */
		memcpy(s.sql, t, tn);
	s.sql[tn] = '\0';
	s.len = tn;
	s.block = block;
	s.nlines = b->nlines;
	s.line_sql_off = xrealloc(NULL, b->nlines * sizeof(long));
	s.line_file_off = xrealloc(NULL, b->nlines * sizeof(size_t));
	s.line_no = xrealloc(NULL, b->nlines * sizeof(uint32_t));
	for (size_t i = 0; i < b->nlines; i++) {
		s.line_sql_off[i] = (long)b->start[i] - lead;
		s.line_file_off[i] = b->file_off[i];
		s.line_no[i] = b->line_no[i];
		if (!b->envsub[i])
			continue;
		/* this line's bytes, clipped to the trimmed text */
		long from = (long)b->start[i] - lead;
		long to = (i + 1 < b->nlines ? (long)b->start[i + 1] - 1 : (long)b->n - 1) - lead;
		if (from < 0)
			from = 0;
		if (to > (long)tn)
			to = (long)tn;
		if (to <= from)
			continue;
		if (s.nenvsub && s.envsub[s.nenvsub - 1].end + 1 == (uint32_t)from) {
			s.envsub[s.nenvsub - 1].end = (uint32_t)to;
			continue;
		}
		if ((s.nenvsub & (s.nenvsub - 1)) == 0)	/* doubles, as in store() */
			s.envsub = xrealloc(s.envsub, (s.nenvsub ? 2 * s.nenvsub : 1) * sizeof(*s.envsub));
		s.envsub[s.nenvsub].start = (uint32_t)from;
		s.envsub[s.nenvsub].end = (uint32_t)to;
		s.nenvsub++;
	}
	if (tn > 0) {
		uint32_t col;
		pstmt_where(&s, 0, &s.line, &col);
		pstmt_where(&s, tn - 1, &s.last_line, &col);
	} else {
		s.line = s.last_line = b->nlines ? b->line_no[0] : 0;
	}
	return s;
}

static void stmt_free(struct pstmt *s)
{
	free(s->sql);
	free(s->envsub);
	free(s->line_sql_off);
	free(s->line_file_off);
	free(s->line_no);
}

/* The error of one direction's pass, to avoid saying the same thing twice. */
struct pass_error {
	uint32_t line;
	char msg[512];
};

struct pass {
	struct pfile *f;
	enum direction dir;
	const struct parse_opts *o;
	struct diag *d;
	bool warn;		/* this pass reports warnings (only the first one does) */
	const struct pass_error *other;	/* the other pass's error, if any */
	struct pass_error err;
};

static bool pass_error(struct pass *p, uint32_t line, uint32_t col, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static bool pass_error(struct pass *p, uint32_t line, uint32_t col, const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err.msg, sizeof(p->err.msg), fmt, ap);
	va_end(ap);
	p->err.line = line;
	if (p->other && p->other->line == line && strcmp(p->other->msg, p->err.msg) == 0)
		return false;
	diag_at(p->d, DIAG_ERROR, p->f->path, p->f->data, p->f->len, line, col, hint, "%s", p->err.msg);
	return false;
}

static void store(struct pass *p, struct buf *b, bool block)
{
	struct pfile *f = p->f;
	size_t *n = &f->nstmts[p->dir];

	/* the array doubles when n is a power of two (its capacity is the next one):
	 * growing by one was quadratic wherever realloc moves, as under ASan */
	if ((*n & (*n - 1)) == 0)
		f->stmts[p->dir] = xrealloc(f->stmts[p->dir], (*n ? 2 * *n : 1) * sizeof(struct pstmt));
	f->stmts[p->dir][(*n)++] = stmt_from_buf(b, block);
	buf_reset(b);
}

static bool unfinished(struct pass *p, const struct buf *b, enum state st)
{
	const char *t = b->p;
	size_t tn = b->n;
	uint32_t line = b->nlines ? b->line_no[0] : 0;

	text_trim(&t, &tn);
	for (size_t i = 0; i < b->nlines; i++) {
		if ((size_t)(t - b->p) >= b->start[i])
			line = b->line_no[i];
	}
	return pass_error(p, line, 1, "end the statement with ';' at the end of its last line",
			  "unfinished statement, missing semicolon? "
			  "(goose: state %d, direction: %s: unexpected unfinished SQL query)",
			  (int)st, p->dir == DIR_UP ? "up" : "down");
}

/* One direction, exactly as goose's ParseSQLMigration. */
static bool parse_pass(struct pass *p)
{
	struct pfile *f = p->f;
	const char *data = f->data;
	size_t len = f->len, pos = 0;
	uint32_t lineno = 0;
	enum state st = S_START;
	bool use_tx = true, envsub = false, ok = false;
	char *expanded = NULL;
	struct buf b = {0};

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t line_off = pos, n = end - pos;
		const char *line = data + pos;
		const char *t;
		size_t tn;
		bool line_envsub;

		pos = nl ? end + 1 : len;
		lineno++;

		if (n >= GOOSE_MAX_LINE) {
			pass_error(p, lineno, 1, NULL, "line is longer than goose's limit of %d bytes",
				   GOOSE_MAX_LINE);
			goto out;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		t = line;
		tn = n;
		text_trim(&t, &tn);
		if (st == S_START && tn == 0)
			continue;

		if (has_prefix(t, tn, "--") && contains(line, n, "+goose", false)) {
			enum annotation a;
			char err[512];

			if (!extract_annotation(line, n, &a, err, sizeof(err))) {
				pass_error(p, lineno, 1, NULL, "failed to parse annotation line: %s", err);
				goto out;
			}
			switch (a) {
			case A_UP:
				if (st != S_START) {
					pass_error(p, lineno, 1, NULL,
						   "duplicate '-- +goose Up' annotation (goose: stateMachine=%d)", (int)st);
					goto out;
				}
				st = S_UP;
				f->up_line = lineno;
				continue;
			case A_DOWN:
				if (st != S_UP && st != S_END_UP) {
					pass_error(p, lineno, 1, NULL,
						   "'-- +goose Down' must come after '-- +goose Up' and outside "
						   "a StatementBegin block (goose: must start with '-- +goose Up' "
						   "annotation, stateMachine=%d)", (int)st);
					goto out;
				}
				{
					const char *r = b.p;
					size_t rn = b.n;
					text_trim(&r, &rn);
					if (rn > 0) {
						unfinished(p, &b, st);
						goto out;
					}
				}
				st = S_DOWN;
				f->down_line = lineno;
				continue;
			case A_BEGIN:
				if (st == S_UP || st == S_END_UP) {
					st = S_BEGIN_UP;
				} else if (st == S_DOWN || st == S_END_DOWN) {
					st = S_BEGIN_DOWN;
				} else {
					pass_error(p, lineno, 1, NULL,
						   "'-- +goose StatementBegin' must be defined after '-- +goose Up' "
						   "or '-- +goose Down' annotation (goose: stateMachine=%d)", (int)st);
					goto out;
				}
				continue;
			case A_END:
				if (st == S_BEGIN_UP) {
					st = S_END_UP;
				} else if (st == S_BEGIN_DOWN) {
					st = S_END_DOWN;
				} else {
					pass_error(p, lineno, 1, NULL,
						   "'-- +goose StatementEnd' must be defined after "
						   "'-- +goose StatementBegin'");
					goto out;
				}
				break;	/* goose falls through here, without `continue` */
			case A_NO_TX:
				use_tx = false;
				continue;
			case A_ENVSUB_ON:
				envsub = true;
				f->has_envsub = true;
				continue;
			case A_ENVSUB_OFF:
				envsub = false;
				continue;
			}
		} else if (p->warn && has_prefix(t, tn, "--") && contains(line, n, "+goose", true)) {
			diag_at(p->d, DIAG_WARNING, f->path, data, len, lineno,
				(uint32_t)(t - line) + 1,
				"goose ignores this line: its annotations are spelled '+goose' in lower case",
				"line looks like a goose annotation but is a comment to goose");
		}

		/* Comments and empty lines before a statement are not part of it. */
		if (b.n == 0 && (has_prefix(t, tn, "--") || n == 0))
			continue;

		line_envsub = envsub;
		if (st != S_END_UP && st != S_END_DOWN && envsub && p->o->getenv) {
			char err[512];
			char *x = envsub_line(line, n, p->o->getenv, NULL, err, sizeof(err));

			if (!x) {
				pass_error(p, lineno, 0, "set the variable, or give it a default: ${NAME:-default}",
					   "variable substitution failed: %s", err);
				goto out;
			}
			free(expanded);
			expanded = x;
			line = x;
			n = strlen(x);
			line_envsub = false;	/* expanded already */
		}
		if (st != S_END_UP && st != S_END_DOWN) {
			if (line_envsub && !p->o->goose_only) {
				char err[256];
				size_t at;
				if (!envsub_check(line, n, err, sizeof(err), &at)) {
					pass_error(p, lineno, (uint32_t)at + 1,
						   "write '$$' or '\\$' for a literal '$' under ENVSUB ON",
						   "ENVSUB: %s", err);
					goto out;
				}
			}
			buf_add_line(&b, line, n, line_off, lineno, line_envsub);
		}

		switch (st) {
		case S_UP:
		case S_BEGIN_UP:
		case S_END_UP:
			if (p->dir == DIR_DOWN) {
				buf_reset(&b);
				continue;
			}
			break;
		case S_DOWN:
		case S_BEGIN_DOWN:
		case S_END_DOWN:
			if (p->dir == DIR_UP) {
				buf_reset(&b);
				continue;
			}
			break;
		case S_START:
			pass_error(p, lineno, 1, "a goose migration starts with '-- +goose Up'",
				   "SQL before '-- +goose Up' (goose: unexpected state 0 on line)");
			goto out;
		}

		switch (st) {
		case S_UP:
		case S_DOWN:
			if (ends_with_semicolon(line, n))
				store(p, &b, false);
			break;
		case S_END_UP:
			store(p, &b, true);
			st = S_UP;
			break;
		case S_END_DOWN:
			store(p, &b, true);
			st = S_DOWN;
			break;
		default:
			break;
		}
	}

	switch (st) {
	case S_START:
		pass_error(p, lineno ? lineno : 1, 0, "a goose migration starts with '-- +goose Up'",
			   "no '-- +goose Up' annotation (goose: must start with '-- +goose Up' annotation)");
		goto out;
	case S_BEGIN_UP:
	case S_BEGIN_DOWN:
		pass_error(p, lineno, 0, "close the block with '-- +goose StatementEnd'",
			   "missing '-- +goose StatementEnd' annotation");
		goto out;
	default:
		break;
	}
	{
		const char *r = b.p;
		size_t rn = b.n;
		text_trim(&r, &rn);
		if (rn > 0) {
			unfinished(p, &b, st);
			goto out;
		}
	}
	f->no_transaction = !use_tx;
	ok = true;
out:
	free(expanded);
	buf_free(&b);
	return ok;
}

/* The carry, cut back to the opening of what is still open (see lex_reopen). */
static size_t carry_reopen(char **carry, const struct lex_result *r)
{
	size_t n;
	char *p = lex_reopen(*carry, r, &n);

	if (!p)
		fatal("out of memory");
	free(*carry);
	*carry = p;
	return n;
}

/*
 * PostgreSQL's lexical view of each statement goose cut.  After a statement that
 * ends inside a literal, the following ones are its remains: they are lexed
 * together with it (carry) and not reported again until the joined text closes.
 * The carry keeps only the opening of the construct still open, so a stray quote
 * before 100,000 statements costs one pass, not one per statement.
 * Then (beyond goose) the caller's checks on each statement the lexer let through
 * (PostgreSQL's own parser: check.h); never on remains.
 */
static bool check_statements(struct pfile *f, enum direction dir, const struct parse_opts *o, struct diag *d)
{
	char *carry = NULL;
	size_t carry_len = 0;
	bool ok = true;
	uint32_t from = 1;	/* the line after the previous statement */

	if (dir == DIR_DOWN && f->nstmts[DIR_UP])
		from = f->stmts[DIR_UP][f->nstmts[DIR_UP] - 1].last_line + 1;
	for (size_t i = 0; i < f->nstmts[dir]; i++) {
		struct pstmt *s = &f->stmts[dir][i];
		struct lex_result r;
		uint32_t line, col, stmt_from = from;
		char hint[256];

		from = s->last_line + 1;
		lex_scan(s->sql, s->len, &r);
		s->ncommands = r.commands;
		if (o->goose_only)
			continue;
		if (carry) {
			carry = xrealloc(carry, carry_len + s->len + 2);
			carry[carry_len++] = '\n';
			memcpy(carry + carry_len, s->sql, s->len + 1);
			carry_len += s->len;
			lex_scan(carry, carry_len, &r);
			if (r.open == LEX_CLOSED) {
				free(carry);
				carry = NULL;
			} else {
				carry_len = carry_reopen(&carry, &r);
			}
			continue;
		}
		if (r.open == LEX_CLOSED && r.deep_comment_at != (size_t)-1) {
			/* PostgreSQL's lexer (ours to call, and the server's) is quadratic in the depth */
			pstmt_where(s, r.deep_comment_at, &line, &col);
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, col,
				"flatten the comment: PostgreSQL's lexer takes time quadratic in the nesting",
				"block comment nested more than %d levels deep", LEX_COMMENT_DEPTH_MAX);
			ok = false;
			continue;
		}
		if (r.open == LEX_CLOSED) {
			if (o->checks && o->checks->stmt && !o->checks->stmt(o->checks->arg, f, dir, s, stmt_from, d))
				ok = false;
			continue;
		}
		pstmt_where(s, r.open_at, &line, &col);
		if (s->block) {
			snprintf(hint, sizeof(hint), "the %s opened here is never closed before "
				 "'-- +goose StatementEnd'", lex_open_name(r.open));
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, col, hint,
				"unterminated %s", lex_open_name(r.open));
		} else {
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, col, HINT_BLOCK,
				"statement ends inside a %s: goose would cut it at line %u", lex_open_name(r.open),
				s->last_line);
			carry = xrealloc(NULL, s->len + 1);
			memcpy(carry, s->sql, s->len + 1);
			carry_len = carry_reopen(&carry, &r);
		}
		ok = false;
	}
	free(carry);
	return ok;
}

/* A line's account in one direction: in how many statements (saturating at 2),
 * and whether goose took it out of a statement while a literal was open. */
#define ACCOUNT_COUNT 0x03
#define ACCOUNT_IN_LITERAL 0x80

/* Where s->sql stands lexically at offset off (a line start): LEX_CLOSED or what is open. */
static enum lex_open stmt_open_at(const struct pstmt *s, long off, size_t *open_at)
{
	struct lex_result r;
	char *prefix;

	if (off <= 0)
		return LEX_CLOSED;
	prefix = xrealloc(NULL, (size_t)off + 1);
	memcpy(prefix, s->sql, (size_t)off);
	prefix[off] = '\0';
	lex_scan(prefix, (size_t)off, &r);
	free(prefix);
	*open_at = r.open_at;
	return r.open;
}

/* Count each line of dir's statements in acc; mark the lines goose took out of
 * the middle of a statement (annotations: parser.go:127-196 come before the
 * buffer) where a literal was open, with where it opened in lit_from and, for
 * the first one, what it is in *lit. */
static void account_stmts(const struct pfile *f, enum direction dir, uint8_t *acc, uint32_t *lit_from,
			  enum lex_open *lit)
{
	for (size_t i = 0; i < f->nstmts[dir]; i++) {
		const struct pstmt *s = &f->stmts[dir][i];

		for (size_t k = 0; k < s->nlines; k++) {
			size_t at;
			uint32_t col;
			enum lex_open open;

			if ((acc[s->line_no[k]] & ACCOUNT_COUNT) < 2)
				acc[s->line_no[k]]++;
			if (k + 1 == s->nlines || s->line_no[k + 1] == s->line_no[k] + 1)
				continue;
			/* in a comment or a dollar-quoted body (a function's code, where a
			 * '--' line is a comment too: goose's own envsub test02 puts ENVSUB
			 * ON there) the line was no data; in a string or identifier it was */
			open = stmt_open_at(s, s->line_sql_off[k + 1], &at);
			if (open == LEX_CLOSED || open == LEX_COMMENT || open == LEX_DOLLAR)
				continue;
			if (*lit == LEX_CLOSED)
				*lit = open;	/* the first one's, the one reported */
			acc[s->line_no[k] + 1] |= ACCOUNT_IN_LITERAL;
			pstmt_where(s, at, &lit_from[s->line_no[k] + 1], &col);
		}
	}
}

/* The hint for a line in no statement: what left it out, when that is known. */
static const char *account_hint(const struct pfile *f, enum direction dir, uint32_t line)
{
	const struct pstmt *prev = NULL;

	for (size_t i = 0; i < f->nstmts[dir] && f->stmts[dir][i].last_line < line; i++)
		prev = &f->stmts[dir][i];
	if (prev && prev->block && prev->len == 0)
		return "goose skips the first line after a '-- +goose StatementBegin' / "
		       "'-- +goose StatementEnd' block that holds no SQL: remove the empty block";
	return "goose's line rules leave this line out of every statement: "
	       "end the statement before it with ';' or wrap both in StatementBegin/StatementEnd";
}

/*
 * Prove that goose runs every line of dir's section (issue 15.3): each line that
 * is neither blank nor a '--' line (comment or annotation) is in exactly one
 * statement, and no annotation was taken out of a literal.  One count over the
 * statements as cut, not a mirror of goose's paths.  Those paths, from
 * pressly/goose internal/sqlparser/parser.go (commit 520411a):
 *   :121-123  blank lines before '-- +goose Up' are skipped (blank);
 *   :127-196  any line whose trimmed text starts with '--' and holds '+goose' is an
 *             annotation, even inside a statement's string literal or quoted
 *             identifier (the ACCOUNT_IN_LITERAL case: that text is lost from it);
 *   :200-205  '--' lines and empty lines while no statement is buffered are
 *             skipped; the StatementEnd line of a block that buffered nothing is
 *             one of them, so :258-262 never store and reset the state, and
 *             :207-209 then leave the next line out of the buffer: it is dropped;
 *   :228-240  lines of the other direction's section are discarded (not this one's);
 *   :241-242, :151-153, :275-284  SQL before Up, SQL left without ';' before Down
 *             or at the end: goose's own errors, not drops.
 * tests/compiler/dropped/ holds a case per path.
 */
static bool account_lines(struct pfile *f, enum direction dir, struct diag *d)
{
	uint32_t from = dir == DIR_UP ? f->up_line : f->down_line;
	uint32_t to = dir == DIR_UP && f->down_line ? f->down_line : UINT32_MAX;
	uint32_t nlines = 1, line = 0, *lit_from;
	enum lex_open lit = LEX_CLOSED;
	uint8_t *acc;
	size_t pos = 0, n, tn;
	const char *l, *t;
	bool ok = true;

	if (from == 0)
		return true;
	for (size_t i = 0; i < f->len; i++)
		nlines += f->data[i] == '\n';
	acc = xrealloc(NULL, nlines + 2);
	memset(acc, 0, nlines + 2);
	lit_from = xrealloc(NULL, (nlines + 2) * sizeof(*lit_from));
	account_stmts(f, dir, acc, lit_from, &lit);
	while (ok && pfile_line(f, &pos, &l, &n, &t, &tn)) {
		const char *section = dir == DIR_UP ? "Up" : "Down";

		if (++line <= from || line >= to)
			continue;
		if (acc[line] & ACCOUNT_IN_LITERAL) {
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, (uint32_t)(t - l) + 1,
				"goose reads a line that starts with '--' and holds '+goose' as an annotation "
				"wherever it is: change the text so that no line of the literal looks like one",
				"goose takes this line for an annotation and drops it from the %s opened "
				"at line %u", lex_open_name(lit), lit_from[line]);
			ok = false;
		} else if (tn > 0 && !has_prefix(t, tn, "--") && (acc[line] & ACCOUNT_COUNT) != 1) {
			if ((acc[line] & ACCOUNT_COUNT) == 0)
				diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, (uint32_t)(t - l) + 1,
					account_hint(f, dir, line),
					"goose drops this line: it is in no statement of the %s section", section);
			else
				diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, (uint32_t)(t - l) + 1, NULL,
					"this line is in more than one statement of the %s section", section);
			ok = false;
		}
	}
	free(acc);
	free(lit_from);
	return ok;
}

/* Bytes goose would accept but PostgreSQL cannot run: NUL, invalid UTF-8. */
static bool check_bytes(struct pfile *f, struct diag *d)
{
	uint32_t line = 1;
	size_t line_start = 0;

	for (size_t i = 0; i < f->len;) {
		unsigned char c = (unsigned char)f->data[i];
		size_t k = 1;

		if (c == '\n') {
			line++;
			line_start = i + 1;
		} else if (c == 0) {
			/* the line shows up to the NUL, the caret just after it */
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, (uint32_t)(i - line_start) + 1,
				"PostgreSQL cannot take a NUL byte in SQL text: remove it",
				"NUL byte in migration file");
			return false;
		} else if (c >= 0x80) {
			uint32_t rune;

			k = text_char_at(f->data + i, f->len - i, &rune);
			if (k == 0) {
				diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line,
					(uint32_t)(i - line_start) + 1, "PostgreSQL expects UTF-8 from gosling",
					"invalid UTF-8 byte 0x%02x", c);
				return false;
			}
		}
		i += k;
	}
	return true;
}

bool parse_load(struct pfile *f, const char *path, const char *data, size_t len,
		const struct parse_opts *o, struct diag *d)
{
	struct pass up = {0}, down = {0};
	unsigned dirs = o->dirs ? o->dirs : (1u << DIR_UP) | (1u << DIR_DOWN);
	unsigned errors = d->errors;
	bool bytes_ok = true;

	memset(f, 0, sizeof(*f));
	f->path = path;
	f->data = xrealloc(NULL, len + 1);
	memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;
	diag_source(d, f->data);

	if (!o->goose_only) {
		bytes_ok = check_bytes(f, d);
		/* goose fails on a leading BOM (it is not space to Go); gosling drops it */
		if (len >= 3 && memcmp(f->data, "\xef\xbb\xbf", 3) == 0) {
			diag_at(d, DIAG_WARNING, path, f->data, f->len, 1, 1,
				"save the file as UTF-8 without a BOM",
				"goose rejects a file that starts with a UTF-8 byte order mark; gosling ignores it");
			memmove(f->data, f->data + 3, len - 3 + 1);
			f->len -= 3;
			diag_source(d, f->data);
		}
	}

	up = (struct pass){ f, DIR_UP, o, d, true, NULL, { 0, "" } };
	if (dirs & (1u << DIR_UP)) {
		f->ok[DIR_UP] = parse_pass(&up);
		down.other = up.err.msg[0] ? &up.err : NULL;
	}
	down = (struct pass){ f, DIR_DOWN, o, d, !(dirs & (1u << DIR_UP)), down.other, { 0, "" } };
	if (dirs & (1u << DIR_DOWN))
		f->ok[DIR_DOWN] = parse_pass(&down);

	/* Lex what was cut even when the pass failed later: report every error. */
	if (bytes_ok) {
		const struct parse_checks *k = o->goose_only ? NULL : o->checks;

		if (k && k->file_begin)
			k->file_begin(k->arg, f, d);
		for (int dir = DIR_UP; dir <= DIR_DOWN; dir++) {
			if (!o->goose_only && f->ok[dir] && !account_lines(f, (enum direction)dir, d))
				f->ok[dir] = false;
			if (!check_statements(f, (enum direction)dir, o, d))
				f->ok[dir] = false;
		}
		if (k && k->file_end)
			k->file_end(k->arg, f, d);
	}
	return d->errors == errors;
}

bool parse_file(struct pfile *f, const char *path, const struct parse_opts *o, struct diag *d)
{
	FILE *fp = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	bool ok;

	if (!fp) {
		diag_file(d, DIAG_IO, path, "cannot open: %s", strerror(errno));
		memset(f, 0, sizeof(*f));
		f->path = path;
		return false;
	}
	for (;;) {
		if (len + 65536 > cap) {
			cap = (len + 65536) * 2;
			data = xrealloc(data, cap);
		}
		n = fread(data + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		diag_file(d, DIAG_IO, path, "cannot read: %s", strerror(errno));
		fclose(fp);
		free(data);
		memset(f, 0, sizeof(*f));
		f->path = path;
		return false;
	}
	fclose(fp);
	ok = parse_load(f, path, data, len, o, d);
	free(data);
	return ok;
}

bool pfile_line(const struct pfile *f, size_t *pos, const char **line, size_t *n, const char **t, size_t *tn)
{
	const char *nl;

	if (*pos >= f->len)
		return false;
	*line = f->data + *pos;
	nl = memchr(*line, '\n', f->len - *pos);
	*n = nl ? (size_t)(nl - *line) : f->len - *pos;
	*pos += *n + 1;
	*t = *line;
	*tn = *n;
	text_trim(t, tn);
	return true;
}

void pfile_free(struct pfile *f)
{
	for (int dir = DIR_UP; dir <= DIR_DOWN; dir++) {
		for (size_t i = 0; i < f->nstmts[dir]; i++)
			stmt_free(&f->stmts[dir][i]);
		free(f->stmts[dir]);
	}
	free(f->data);
	memset(f, 0, sizeof(*f));
}
