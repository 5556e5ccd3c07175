/*
 * lexer.h - PostgreSQL's lexical structure, enough to know where a statement
 * really ends: string literals ('', E'', U&'', B'', X'', N''), quoted identifiers,
 * dollar-quoted bodies, nested block comments, line comments, parentheses and ';'.
 */
#ifndef GOSLING_LEXER_H
#define GOSLING_LEXER_H

#include <stddef.h>

enum lex_open {
	LEX_CLOSED,		/* the text ends outside any literal or comment */
	LEX_STRING,		/* inside '…' (also B'', X'', N'', U&'') */
	LEX_ESTRING,		/* inside E'…' */
	LEX_IDENT,		/* inside "…" */
	LEX_DOLLAR,		/* inside $tag$…$tag$ */
	LEX_COMMENT,		/* inside a block comment */
};

struct lex_result {
	enum lex_open open;	/* where the text ends */
	size_t open_at;		/* offset of the construct that is still open */
	size_t open_len;	/* length of its opening token ("$body$" is 6) */
	unsigned commands;	/* non-empty commands, split at ';' outside parentheses */
	size_t last_semicolon;	/* offset of the last top-level ';', or (size_t)-1 */
};

/*
 * lex_scan - scan s (len bytes, s[len] must be '\0', no '\0' inside) and
 * describe how it ends.
 */
void lex_scan(const char *s, size_t len, struct lex_result *r);

/* lex_open_name - "string literal", "dollar-quoted body", … for messages. */
const char *lex_open_name(enum lex_open open);

#endif
