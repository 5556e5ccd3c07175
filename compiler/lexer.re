/*
 * lexer.re - PostgreSQL's lexical rules (src/backend/parser/scan.l), as far as
 * they decide where a statement ends.  re2c turns this into build/compiler/lexer.c.
 *
 * The input is NUL-terminated with no NUL inside (the parser rejects NUL bytes),
 * so the sentinel is the end: re2c:yyfill:enable = 0.  Every state has a rule
 * for NUL and for any other byte, so every byte is handled.
 */
#include "lexer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*!re2c
	re2c:define:YYCTYPE = "unsigned char";
	re2c:yyfill:enable = 0;
	re2c:indent:string = "\t";

	nul = "\x00";
	space = [ \t\n\r\f\v];
	ident_start = [A-Za-z\x80-\xff_];
	ident_cont = [A-Za-z\x80-\xff_0-9$];
	dolq_tag = ident_start [A-Za-z\x80-\xff_0-9]*;
*/

/* Inside a block comment, which nests.  Returns false at the end of the text,
 * with *depth the nesting level still open.  The first opener past
 * LEX_COMMENT_DEPTH_MAX goes to *deep (offset from base) if none is there yet. */
static bool lex_block_comment(const unsigned char **cursor, unsigned *depth, const unsigned char *base,
			      size_t *deep)
{
	const unsigned char *YYCURSOR = *cursor;

	*depth = 1;
	for (;;) {
	/*!re2c
		nul  { *cursor = YYCURSOR - 1; return false; }
		"/*" {
			if (++*depth > LEX_COMMENT_DEPTH_MAX && *deep == (size_t)-1)
				*deep = (size_t)(YYCURSOR - 2 - base);
			continue;
		}
		"*/" { if (--*depth == 0) { *cursor = YYCURSOR; return true; } continue; }
		[^]  { continue; }
	*/
	}
}

/* Inside '…' with '' for a quote; backslashes are ordinary (standard strings). */
static bool lex_string(const unsigned char **cursor)
{
	const unsigned char *YYCURSOR = *cursor;

	for (;;) {
	/*!re2c
		nul  { *cursor = YYCURSOR - 1; return false; }
		"''" { continue; }
		"'"  { *cursor = YYCURSOR; return true; }
		[^]  { continue; }
	*/
	}
}

/* Inside E'…': a backslash escapes the next byte, '' is a quote too. */
static bool lex_estring(const unsigned char **cursor)
{
	const unsigned char *YYCURSOR = *cursor;

	for (;;) {
	/*!re2c
		nul         { *cursor = YYCURSOR - 1; return false; }
		"\\" [^\x00] { continue; }
		"''"        { continue; }
		"'"         { *cursor = YYCURSOR; return true; }
		[^]         { continue; }
	*/
	}
}

/* Inside "…" with "" for a quote. */
static bool lex_ident(const unsigned char **cursor)
{
	const unsigned char *YYCURSOR = *cursor;

	for (;;) {
	/*!re2c
		nul      { *cursor = YYCURSOR - 1; return false; }
		["]["]   { continue; }
		["]      { *cursor = YYCURSOR; return true; }
		[^]      { continue; }
	*/
	}
}

/* Inside $tag$…$tag$: the body ends at the first copy of its opening tag. */
static bool lex_dollar_body(const unsigned char **cursor, const unsigned char *tag, size_t taglen)
{
	const char *end = strstr((const char *)*cursor, "$");

	while (end) {
		if (strncmp(end, (const char *)tag, taglen) == 0) {
			*cursor = (const unsigned char *)end + taglen;
			return true;
		}
		end = strchr(end + 1, '$');
	}
	*cursor += strlen((const char *)*cursor);
	return false;
}

void lex_scan(const char *s, size_t len, struct lex_result *r)
{
	const unsigned char *YYCURSOR = (const unsigned char *)s, *YYMARKER, *tok;
	const unsigned char *end = (const unsigned char *)s + len;
	unsigned depth = 0, comment_depth = 0;
	bool content = false;	/* the current command holds a token */
	enum lex_open open = LEX_CLOSED;

	memset(r, 0, sizeof(*r));
	r->last_semicolon = (size_t)-1;
	r->deep_comment_at = (size_t)-1;
	for (;;) {
		tok = YYCURSOR;
	/*!re2c
		nul {
			if (tok >= end)
				break;
			content = true;
			continue;
		}
		space+ { continue; }
		"--" [^\n\x00]* { continue; }
		"/*" {
			if (!lex_block_comment(&YYCURSOR, &comment_depth, (const unsigned char *)s, &r->deep_comment_at)) {
				open = LEX_COMMENT;
				break;
			}
			continue;
		}
		[eE] "'" {
			content = true;
			if (!lex_estring(&YYCURSOR)) {
				open = LEX_ESTRING;
				break;
			}
			continue;
		}
		([bBxXnN] | [uU] "&")? "'" {
			content = true;
			if (!lex_string(&YYCURSOR)) {
				open = LEX_STRING;
				break;
			}
			continue;
		}
		([uU] "&")? ["] {
			content = true;
			if (!lex_ident(&YYCURSOR)) {
				open = LEX_IDENT;
				break;
			}
			continue;
		}
		"$" dolq_tag? "$" {
			content = true;
			if (!lex_dollar_body(&YYCURSOR, tok, (size_t)(YYCURSOR - tok))) {
				open = LEX_DOLLAR;
				break;
			}
			continue;
		}
		"$" [0-9]+ { content = true; continue; }
		ident_start ident_cont* { content = true; continue; }
		"(" { depth++; content = true; continue; }
		")" { if (depth > 0) depth--; content = true; continue; }
		";" {
			if (depth == 0) {
				if (content)
					r->commands++;
				content = false;
				r->last_semicolon = (size_t)(tok - (const unsigned char *)s);
			}
			continue;
		}
		[^] { content = true; continue; }
	*/
	}
	if (open != LEX_CLOSED) {
		r->open = open;
		r->open_at = (size_t)(tok - (const unsigned char *)s);
		r->open_len = open == LEX_DOLLAR ? strcspn(s + r->open_at + 1, "$") + 2 :
			      open == LEX_COMMENT ? 2 : 1;
		r->open_depth = open == LEX_COMMENT ? comment_depth : 0;
		content = true;
	}
	if (content)
		r->commands++;
}

char *lex_reopen(const char *s, const struct lex_result *r, size_t *len)
{
	size_t n = r->open == LEX_DOLLAR ? r->open_len : r->open == LEX_COMMENT ? 2 * (size_t)r->open_depth : 2;
	char *p;

	if (r->open == LEX_CLOSED || !(p = malloc(n + 1)))
		return NULL;
	switch (r->open) {
	case LEX_STRING:
		n = 1;
		memcpy(p, "'", 2);
		break;
	case LEX_ESTRING:
		memcpy(p, "E'", 3);
		break;
	case LEX_IDENT:
		n = 1;
		memcpy(p, "\"", 2);
		break;
	case LEX_DOLLAR:
		memcpy(p, s + r->open_at, n);
		p[n] = '\0';
		break;
	case LEX_COMMENT:
		for (size_t i = 0; i < n; i += 2)
			memcpy(p + i, "/*", 2);
		p[n] = '\0';
		break;
	case LEX_CLOSED:
		break;
	}
	*len = n;
	return p;
}

const char *lex_open_name(enum lex_open open)
{
	switch (open) {
	case LEX_STRING:
		return "string literal";
	case LEX_ESTRING:
		return "string literal (E'...')";
	case LEX_IDENT:
		return "quoted identifier";
	case LEX_DOLLAR:
		return "dollar-quoted body";
	case LEX_COMMENT:
		return "block comment";
	case LEX_CLOSED:
		break;
	}
	return "statement";
}

bool lex_ident_char(unsigned char c)
{
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

size_t lex_find_word(const char *s, size_t from, size_t to, const char *word)
{
	size_t k = strlen(word);

	for (size_t i = from; i + k <= to; i++) {
		if (strncasecmp(s + i, word, k) != 0)
			continue;
		if (i > from && lex_ident_char((unsigned char)s[i - 1]))
			continue;
		if (i + k < to && lex_ident_char((unsigned char)s[i + k]))
			continue;
		return i;
	}
	return from;
}
