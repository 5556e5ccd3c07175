/*
 * lexer.h - PostgreSQL's lexical structure, enough to know where a statement
 * really ends: string literals ('', E'', U&'', B'', X'', N''), quoted identifiers,
 * dollar-quoted bodies, nested block comments, line comments, parentheses and ';'.
 */
#ifndef GOSLING_LEXER_H
#define GOSLING_LEXER_H

#include <stdbool.h>
#include <stddef.h>

enum lex_open {
	LEX_CLOSED,  /* the text ends outside any literal or comment */
	LEX_STRING,  /* inside '…' (also B'', X'', N'', U&'') */
	LEX_ESTRING, /* inside E'…' */
	LEX_IDENT,   /* inside "…" */
	LEX_DOLLAR,  /* inside $tag$…$tag$ */
	LEX_COMMENT, /* inside a block comment */
};

struct lex_result {
	enum lex_open open;	/* where the text ends */
	size_t open_at;		/* offset of the construct that is still open */
	size_t open_len;	/* length of its opening token ("$body$" is 6) */
	unsigned open_depth;	/* nesting depth of an open block comment */
	unsigned commands;	/* non-empty commands, split at ';' outside parentheses */
	size_t last_semicolon;	/* offset of the last top-level ';', or (size_t)-1 */
	size_t deep_comment_at; /* offset of a block comment opened at depth
				   LEX_COMMENT_DEPTH_MAX + 1, or (size_t)-1 */
};

/* Nesting of block comments beyond which the text is refused: PostgreSQL's own
 * lexer takes time quadratic in the depth (40,000 levels: seconds). */
#define LEX_COMMENT_DEPTH_MAX 1000

/*
 * lex_scan - scan s (len bytes, s[len] must be '\0', no '\0' inside) and
 * describe how it ends.
 */
void lex_scan(const char *s, size_t len, struct lex_result *r);

/*
 * lex_reopen - the shortest text that leaves the lexer where r (the result of
 * lex_scan(s, ...)) says s ends: inside the construct still open ("'", "E'",
 * "$tag$", the comment opener once per nesting level).  Lexing reopen + "\n" +
 * more ends in the same state as lexing s + "\n" + more (no token crosses a
 * newline), so a caller that keeps appending statements to an open literal need
 * not lex it all again.
 * Returns a malloc'd NUL-terminated string and its length in *len, or NULL when
 * out of memory (or when r->open is LEX_CLOSED).
 */
char *lex_reopen(const char *s, const struct lex_result *r, size_t *len);

/* lex_ident_char - whether c may continue an identifier or keyword (a byte >= 0x80 may). */
bool lex_ident_char(unsigned char c);

/* lex_find_word - the first whole-word, case-insensitive occurrence of word in s's [from, to), or from. */
size_t lex_find_word(const char *s, size_t from, size_t to, const char *word);

/* lex_open_name - "string literal", "dollar-quoted body", … for messages. */
const char *lex_open_name(enum lex_open open);

#endif
