/*
 * db_index.c - what a CREATE INDEX CONCURRENTLY statement builds, read from its text
 * with a small reader of PostgreSQL's tokens (white space, comments, identifiers):
 * no server, no libpq, unit-tested in tests/unit/test_db_index.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "transport.h"

/* One token of a statement: an identifier or key word (raw, quotes kept), or one other byte. */
struct token {
	const char *p;
	size_t n;
	bool ident;
	bool quoted;
};

/* Past white space and comments: -- to the end of the line, and nested block comments. */
static const char *
sql_skip(const char *s)
{
	for (;;) {
		while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
			s++;
		if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			int depth = 1;

			for (s += 2; *s && depth > 0;) {
				if (s[0] == '/' && s[1] == '*')
					depth++, s += 2;
				else if (s[0] == '*' && s[1] == '/')
					depth--, s += 2;
				else
					s++;
			}
		} else {
			return s;
		}
	}
}

/* PostgreSQL's identifier characters (scan.l: ident_start, ident_cont); bytes >= 0x80 are letters. */
static bool
ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool
ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* The token at s into *t; returns where the next one starts.  At the end, t->n is 0. */
static const char *
sql_token(const char *s, struct token *t)
{
	s = sql_skip(s);
	*t = (struct token){ s, 0, false, false };
	if (ident_start((unsigned char)*s)) {
		while (ident_cont((unsigned char)*s))
			s++;
		t->ident = true;
	} else if (*s == '"') {
		for (s++;; s++) {
			if (!*s)
				return s; /* unterminated: no token */
			if (*s == '"' && s[1] != '"')
				break;
			if (*s == '"')
				s++; /* "" stands for " */
		}
		s++;
		t->ident = t->quoted = true;
	} else if (*s) {
		s++;
	}
	t->n = (size_t)(s - t->p);
	return s;
}

static bool
sql_keyword(const struct token *t, const char *kw)
{
	return t->ident && !t->quoted && t->n == strlen(kw) && strncasecmp(t->p, kw, t->n) == 0;
}

/* The next token into *k, past *s; whether it is the key word kw. */
static bool
sql_next(const char **s, struct token *k, const char *kw)
{
	*s = sql_token(*s, k);
	return sql_keyword(k, kw);
}

bool
db_index_target(const char *sql, struct db_index_target *t)
{
	struct token k, peek;
	const char *s = sql, *after;
	size_t len = 0;

	memset(t, 0, sizeof *t);
	if (!sql_next(&s, &k, "create"))
		return false;
	if (sql_next(&s, &k, "unique"))
		(void)sql_next(&s, &k, "index");
	if (!sql_keyword(&k, "index") || !sql_next(&s, &k, "concurrently"))
		return false;
	s = sql_token(s, &k);
	/* IF NOT EXISTS name; IF alone is a name (an unreserved key word) */
	after = sql_token(s, &peek);
	if (sql_keyword(&k, "if") && sql_keyword(&peek, "not")) {
		s = after;
		if (!sql_next(&s, &k, "exists") || sql_next(&s, &k, "on"))
			return false; /* IF NOT EXISTS needs a name */
	}
	if (!sql_keyword(&k, "on")) {
		if (!k.ident || k.n >= sizeof t->name)
			return false;
		memcpy(t->name, k.p, k.n);
		if (!sql_next(&s, &k, "on"))
			return false;
	}
	if (sql_next(&s, &k, "only"))
		s = sql_token(s, &k);
	/* the table: name [. name ...], written back without what stood between the parts */
	for (;;) {
		if (!k.ident || len + k.n + 2 > sizeof t->table)
			return false;
		memcpy(t->table + len, k.p, k.n);
		len += k.n;
		after = sql_token(s, &peek);
		if (peek.ident || peek.n != 1 || *peek.p != '.')
			break;
		t->table[len++] = '.';
		s = sql_token(after, &k);
	}
	t->table[len] = '\0';
	return true;
}
