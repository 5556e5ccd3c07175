/*
 * parse.c - goose's SQL migration parser in C; the lexical checks on top are
 * lexcheck.c's.
 *
 * The state machine below follows goose's internal/sqlparser/parser.go line for
 * line (states, annotation handling, the comment and blank-line rules, when the
 * buffer is written and reset), because a file goose accepts must mean the same
 * here, byte for byte.  It runs once per direction, as goose does.
 */
#include "envsub.h"
#include "parse.h"

#include "diag.h"
#include "fatal.h"
#include "lexer.h"
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bufio.Scanner's limit in goose: a longer line fails the parse. */
#define GOOSE_MAX_LINE (4 * 1024 * 1024)

enum state {
	S_START,      /* 0 */
	S_UP,	      /* 1 */
	S_BEGIN_UP,   /* 2 */
	S_END_UP,     /* 3 */
	S_DOWN,	      /* 4 */
	S_BEGIN_DOWN, /* 5 */
	S_END_DOWN,   /* 6 */
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
	size_t *start;	  /* buffer offset of each line */
	size_t *file_off; /* file offset of each line */
	uint32_t *line_no;
	bool *envsub;
};

static void
buf_add_line(struct buf *b, const char *s, size_t n, size_t file_off, uint32_t line_no, bool envsub)
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

static void
buf_reset(struct buf *b)
{
	b->n = 0;
	b->nlines = 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	free(b->start);
	free(b->file_off);
	free(b->line_no);
	free(b->envsub);
}

static bool
has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

/* Does s (n bytes) contain needle?  With fold, ignoring ASCII case. */
static bool
contains(const char *s, size_t n, const char *needle, bool fold)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if ((fold ? strncasecmp(s + i, needle, k) : memcmp(s + i, needle, k)) == 0)
			return true;
	return false;
}

/* Go's strings.EqualFold against an ASCII keyword: ASCII case folding, plus the
 * two non-ASCII runes that fold to ASCII letters (U+017F ſ → s, U+212A K → k). */
static bool
equal_fold(const char *s, size_t n, const char *kw)
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
static bool
extract_annotation(const char *line, size_t n, enum annotation *a, char *err, size_t errlen)
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
static bool
ends_with_semicolon(const char *s, size_t n)
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

/* Turn the buffer into a statement: trim it, keep the line map and ENVSUB ranges. */
static struct pstmt
stmt_from_buf(const struct buf *b, bool block)
{
	struct pstmt s = { 0 };
	const char *t = b->p;
	size_t tn = b->n;
	long lead;

	text_trim(&t, &tn);
	lead = (long)(t - b->p);
	s.sql = xrealloc(NULL, tn + 1);
	if (tn) /* an empty block's statement has no buffer at all */
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
		if ((s.nenvsub & (s.nenvsub - 1)) == 0) /* doubles, as in store() */
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
	bool warn;			/* this pass reports warnings (only the first one does) */
	const struct pass_error *other; /* the other pass's error, if any */
	struct pass_error err;
};

static bool pass_error(struct pass *p, uint32_t line, uint32_t col, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static bool
pass_error(struct pass *p, uint32_t line, uint32_t col, const char *hint, const char *fmt, ...)
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

static void
store(struct pass *p, struct buf *b, bool block)
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

static bool
unfinished(struct pass *p, const struct buf *b, enum state st)
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

/* goose's state while it reads one direction. */
struct machine {
	enum state st;
	bool use_tx, envsub;
	struct buf b;
	char *expanded; /* the line being read, ENVSUB expanded (parse --envsub) */
};

/* What an annotation line leaves to do. */
enum step {
	STEP_NEXT, /* read the next line (goose's `continue`) */
	STEP_ON,   /* go on with this line (StatementEnd: goose falls through) */
	STEP_FAIL, /* stop: the pass failed (reported) */
};

/* Whether the buffer holds anything but space. */
static bool
buf_has_sql(const struct buf *b)
{
	const char *r = b->p;
	size_t rn = b->n;

	text_trim(&r, &rn);
	return rn > 0;
}

/* An annotation line: goose's state changes (parser.go:127-196). */
static enum step
annotation_line(struct pass *p, struct machine *m, const char *line, size_t n, uint32_t lineno)
{
	struct pfile *f = p->f;
	enum annotation a;
	char err[512];

	if (!extract_annotation(line, n, &a, err, sizeof(err))) {
		pass_error(p, lineno, 1, NULL, "failed to parse annotation line: %s", err);
		return STEP_FAIL;
	}
	switch (a) {
	case A_UP:
		if (m->st != S_START) {
			pass_error(p, lineno, 1, NULL, "duplicate '-- +goose Up' annotation (goose: stateMachine=%d)",
				   (int)m->st);
			return STEP_FAIL;
		}
		m->st = S_UP;
		f->up_line = lineno;
		return STEP_NEXT;
	case A_DOWN:
		if (m->st != S_UP && m->st != S_END_UP) {
			pass_error(p, lineno, 1, NULL,
				   "'-- +goose Down' must come after '-- +goose Up' and outside "
				   "a StatementBegin block (goose: must start with '-- +goose Up' "
				   "annotation, stateMachine=%d)",
				   (int)m->st);
			return STEP_FAIL;
		}
		if (buf_has_sql(&m->b)) {
			unfinished(p, &m->b, m->st);
			return STEP_FAIL;
		}
		m->st = S_DOWN;
		f->down_line = lineno;
		return STEP_NEXT;
	case A_BEGIN:
		if (m->st == S_UP || m->st == S_END_UP) {
			m->st = S_BEGIN_UP;
		} else if (m->st == S_DOWN || m->st == S_END_DOWN) {
			m->st = S_BEGIN_DOWN;
		} else {
			pass_error(p, lineno, 1, NULL,
				   "'-- +goose StatementBegin' must be defined after '-- +goose Up' "
				   "or '-- +goose Down' annotation (goose: stateMachine=%d)",
				   (int)m->st);
			return STEP_FAIL;
		}
		return STEP_NEXT;
	case A_END:
		if (m->st == S_BEGIN_UP) {
			m->st = S_END_UP;
		} else if (m->st == S_BEGIN_DOWN) {
			m->st = S_END_DOWN;
		} else {
			pass_error(p, lineno, 1, NULL,
				   "'-- +goose StatementEnd' must be defined after "
				   "'-- +goose StatementBegin'");
			return STEP_FAIL;
		}
		return STEP_ON; /* goose falls through here, without `continue` */
	case A_NO_TX:
		m->use_tx = false;
		return STEP_NEXT;
	case A_ENVSUB_ON:
		m->envsub = true;
		f->has_envsub = true;
		return STEP_NEXT;
	case A_ENVSUB_OFF:
		m->envsub = false;
		return STEP_NEXT;
	}
	return STEP_NEXT;
}

/* A line that may belong to a statement: expanded and buffered, the statement
 * stored when it ends, as goose does (parser.go:200-262).  False when the pass
 * failed (reported). */
static bool
sql_line(struct pass *p, struct machine *m, const char *line, size_t n, size_t line_off, uint32_t lineno)
{
	bool line_envsub = m->envsub;

	if (m->st != S_END_UP && m->st != S_END_DOWN && m->envsub && p->o->getenv) {
		char err[512];
		char *x = envsub_line(line, n, p->o->getenv, NULL, err, sizeof(err));

		if (!x) {
			pass_error(p, lineno, 0, "set the variable, or give it a default: ${NAME:-default}",
				   "variable substitution failed: %s", err);
			return false;
		}
		free(m->expanded);
		m->expanded = x;
		line = x;
		n = strlen(x);
		line_envsub = false; /* expanded already */
	}
	if (m->st != S_END_UP && m->st != S_END_DOWN) {
		if (line_envsub && !p->o->goose_only) {
			char err[256];
			size_t at;
			if (!envsub_check(line, n, err, sizeof(err), &at)) {
				pass_error(p, lineno, (uint32_t)at + 1,
					   "write '$$' or '\\$' for a literal '$' under ENVSUB ON", "ENVSUB: %s", err);
				return false;
			}
		}
		buf_add_line(&m->b, line, n, line_off, lineno, line_envsub);
	}

	switch (m->st) {
	case S_UP:
	case S_BEGIN_UP:
	case S_END_UP:
		if (p->dir == DIR_DOWN) {
			buf_reset(&m->b);
			return true;
		}
		break;
	case S_DOWN:
	case S_BEGIN_DOWN:
	case S_END_DOWN:
		if (p->dir == DIR_UP) {
			buf_reset(&m->b);
			return true;
		}
		break;
	case S_START:
		pass_error(p, lineno, 1, "a goose migration starts with '-- +goose Up'",
			   "SQL before '-- +goose Up' (goose: unexpected state 0 on line)");
		return false;
	}

	switch (m->st) {
	case S_UP:
	case S_DOWN:
		if (ends_with_semicolon(line, n))
			store(p, &m->b, false);
		break;
	case S_END_UP:
		store(p, &m->b, true);
		m->st = S_UP;
		break;
	case S_END_DOWN:
		store(p, &m->b, true);
		m->st = S_DOWN;
		break;
	default:
		break;
	}
	return true;
}

/* goose's checks at the end of the file (parser.go:275-284). */
static bool
pass_end(struct pass *p, struct machine *m, uint32_t lineno)
{
	switch (m->st) {
	case S_START:
		return pass_error(p, lineno ? lineno : 1, 0, "a goose migration starts with '-- +goose Up'",
				  "no '-- +goose Up' annotation (goose: must start with '-- +goose Up' annotation)");
	case S_BEGIN_UP:
	case S_BEGIN_DOWN:
		return pass_error(p, lineno, 0, "close the block with '-- +goose StatementEnd'",
				  "missing '-- +goose StatementEnd' annotation");
	default:
		break;
	}
	if (buf_has_sql(&m->b))
		return unfinished(p, &m->b, m->st);
	p->f->no_transaction = !m->use_tx;
	return true;
}

/* One direction, exactly as goose's ParseSQLMigration. */
static bool
parse_pass(struct pass *p)
{
	struct pfile *f = p->f;
	const char *data = f->data;
	size_t len = f->len, pos = 0;
	uint32_t lineno = 0;
	struct machine m = { S_START, true, false, { 0 }, NULL };
	bool ok = false;

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t line_off = pos, n = end - pos;
		const char *line = data + pos;
		const char *t;
		size_t tn;

		pos = nl ? end + 1 : len;
		lineno++;

		if (n >= GOOSE_MAX_LINE) {
			pass_error(p, lineno, 1, NULL, "line is longer than goose's limit of %d bytes", GOOSE_MAX_LINE);
			goto out;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		t = line;
		tn = n;
		text_trim(&t, &tn);
		if (m.st == S_START && tn == 0)
			continue;

		if (has_prefix(t, tn, "--") && contains(line, n, "+goose", false)) {
			enum step s = annotation_line(p, &m, line, n, lineno);

			if (s == STEP_FAIL)
				goto out;
			if (s == STEP_NEXT)
				continue;
		} else if (p->warn && has_prefix(t, tn, "--") && contains(line, n, "+goose", true)) {
			diag_at(p->d, DIAG_WARNING, f->path, data, len, lineno, (uint32_t)(t - line) + 1,
				"goose ignores this line: its annotations are spelled '+goose' in lower case",
				"line looks like a goose annotation but is a comment to goose");
		}

		/* Comments and empty lines before a statement are not part of it. */
		if (m.b.n == 0 && (has_prefix(t, tn, "--") || n == 0))
			continue;
		if (!sql_line(p, &m, line, n, line_off, lineno))
			goto out;
	}
	ok = pass_end(p, &m, lineno);
out:
	free(m.expanded);
	buf_free(&m.b);
	return ok;
}

bool
parse_load(struct pfile *f, const char *path, const char *data, size_t len, const struct parse_opts *o, struct diag *d)
{
	struct pass up = { 0 }, down = { 0 };
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
		bytes_ok = lexcheck_bytes(f, d);
		/* goose fails on a leading BOM (it is not space to Go); gosling drops it */
		if (len >= 3 && memcmp(f->data, "\xef\xbb\xbf", 3) == 0) {
			diag_at(d, DIAG_WARNING, path, f->data, f->len, 1, 1, "save the file as UTF-8 without a BOM",
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
			if (!o->goose_only && f->ok[dir] && !lexcheck_lines(f, (enum direction)dir, d))
				f->ok[dir] = false;
			if (!lexcheck_statements(f, (enum direction)dir, o->goose_only, k, d))
				f->ok[dir] = false;
		}
		if (k && k->file_end)
			k->file_end(k->arg, f, d);
	}
	return d->errors == errors;
}

bool
parse_file(struct pfile *f, const char *path, const struct parse_opts *o, struct diag *d)
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
