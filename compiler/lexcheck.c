/*
 * lexcheck.c - PostgreSQL's lexical view of what goose cut (lexcheck.h).
 */
#include "lexcheck.h"

#include "diag.h"
#include "fatal.h"
#include "lexer.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HINT_BLOCK                                                       \
	"goose ends a statement at a line whose last word ends in ';': " \
	"wrap this statement in '-- +goose StatementBegin' and '-- +goose StatementEnd'"

static bool
has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

/* The carry, cut back to the opening of what is still open (see lex_reopen). */
static size_t
carry_reopen(char **carry, const struct lex_result *r)
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
bool
lexcheck_statements(struct pfile *f, enum direction dir, bool count_only, const struct parse_checks *checks,
		    struct diag *d)
{
	char *carry = NULL;
	size_t carry_len = 0;
	bool ok = true;
	uint32_t from = 1; /* the line after the previous statement */

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
		if (count_only)
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
			if (checks && checks->stmt && !checks->stmt(checks->arg, f, dir, s, stmt_from, d))
				ok = false;
			continue;
		}
		pstmt_where(s, r.open_at, &line, &col);
		if (s->block) {
			snprintf(hint, sizeof(hint),
				 "the %s opened here is never closed before "
				 "'-- +goose StatementEnd'",
				 lex_open_name(r.open));
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, col, hint, "unterminated %s",
				lex_open_name(r.open));
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
static enum lex_open
stmt_open_at(const struct pstmt *s, long off, size_t *open_at)
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
static void
account_stmts(const struct pfile *f, enum direction dir, uint8_t *acc, uint32_t *lit_from, enum lex_open *lit)
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
				*lit = open; /* the first one's, the one reported */
			acc[s->line_no[k] + 1] |= ACCOUNT_IN_LITERAL;
			pstmt_where(s, at, &lit_from[s->line_no[k] + 1], &col);
		}
	}
}

/* The hint for a line in no statement: what left it out, when that is known. */
static const char *
account_hint(const struct pfile *f, enum direction dir, uint32_t line)
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
bool
lexcheck_lines(struct pfile *f, enum direction dir, struct diag *d)
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
				"at line %u",
				lex_open_name(lit), lit_from[line]);
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
bool
lexcheck_bytes(struct pfile *f, struct diag *d)
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
				diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, (uint32_t)(i - line_start) + 1,
					"PostgreSQL expects UTF-8 from gosling", "invalid UTF-8 byte 0x%02x", c);
				return false;
			}
		}
		i += k;
	}
	return true;
}
