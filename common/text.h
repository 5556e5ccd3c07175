/*
 * text.h - UTF-8 and space as goose and Go see them: what ENVSUB trims, what a message
 * may carry into JSON, what the compiler calls a control character.
 */
#ifndef GOSLING_TEXT_H
#define GOSLING_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * text_rune_decode - one UTF-8 rune at s (n > 0 bytes left), *size its length: invalid
 * bytes decode as U+FFFD with size 1, as Go's utf8.DecodeRune does.
 */
uint32_t text_rune_decode(const unsigned char *s, size_t n, size_t *size);

/* text_space_at - bytes of the Unicode space (Go's unicode.IsSpace) at s, or 0. */
size_t text_space_at(const char *s, size_t n);

/*
 * text_utf8_fix - make s (NUL-terminated) valid UTF-8 in place, for JSON and logs: a
 * sequence cut short at the end (a message truncated to fit a buffer) is dropped, any
 * other byte that is not part of a valid sequence (a server's LATIN1 or SQL_ASCII text)
 * becomes '?'.  The text never grows.  Returns s.
 *   "caf\xe9 ok"       -> "caf? ok"
 *   "na\xc3"           -> "na"
 */
char *text_utf8_fix(char *s);

/*
 * text_char_at - the valid UTF-8 character at s (n > 0 bytes left): its length in
 * bytes, its code point in *rune; 0 when s does not start one (a stray or
 * overlong byte, a surrogate, a sequence cut by the end).
 */
size_t text_char_at(const char *s, size_t n, uint32_t *rune);

/* text_is_control - a C0 or C1 control character, or DEL (tab and newline included). */
bool text_is_control(uint32_t rune);

/* text_trim - Go's strings.TrimSpace on [*s, *s + *n): moves *s, shrinks *n. */
void text_trim(const char **s, size_t *n);

#endif
