/* text.c - UTF-8 and Go's notion of space, for ENVSUB, messages and the compiler (text.h). */
#include "text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- text helpers ------------------------------------------------------------ */

/* Decode one UTF-8 rune at s (n > 0 bytes left); *size gets its length.  Invalid
 * bytes decode as U+FFFD with size 1, as Go's utf8.DecodeRune does. */
uint32_t
text_rune_decode(const unsigned char *s, size_t n, size_t *size)
{
	uint32_t c = s[0], min;
	size_t len, i;

	if (c < 0x80) {
		*size = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, c &= 0x07, min = 0x10000;
	else
		goto bad;
	if (n < len)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*size = len;
	return c;
bad:
	*size = 1;
	return 0xfffd;
}

/* Whether the n bytes at s are the start of a valid sequence the end of the text cut short. */
static bool
rune_cut(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		: s[0] >= 0xe0 && s[0] <= 0xef	  ? 3
		: s[0] >= 0xf0 && s[0] <= 0xf4	  ? 4
						  : 0;

	if (n >= len)
		return false;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	return true;
}

char *
text_utf8_fix(char *s)
{
	size_t n = strlen(s), i = 0, size;

	while (i < n) {
		uint32_t rune;

		if ((size = text_char_at(s + i, n - i, &rune)) == 0) {
			if (rune_cut((const unsigned char *)s + i, n - i)) {
				s[i] = '\0';
				break;
			}
			s[i] = '?';
			size = 1;
		}
		i += size;
	}
	return s;
}

/* Go's unicode.IsSpace. */
static bool
rune_is_space(uint32_t c)
{
	switch (c) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return true;
	}
	return c >= 0x2000 && c <= 0x200a;
}

size_t
text_space_at(const char *s, size_t n)
{
	size_t size;

	if (n == 0)
		return 0;
	if (rune_is_space(text_rune_decode((const unsigned char *)s, n, &size)))
		return size;
	return 0;
}

size_t
text_char_at(const char *s, size_t n, uint32_t *rune)
{
	size_t size;

	if (n == 0)
		return 0;
	*rune = text_rune_decode((const unsigned char *)s, n, &size);
	return *rune == 0xfffd && size == 1 ? 0 : size;
}

bool
text_is_control(uint32_t rune)
{
	return rune < 0x20 || (rune >= 0x7f && rune <= 0x9f);
}

void
text_trim(const char **s, size_t *n)
{
	const char *p = *s;
	size_t len = *n, k;

	while (len > 0 && (k = text_space_at(p, len)) > 0)
		p += k, len -= k;
	/* Trailing: step back over a rune whose encoding ends at p + len. */
	while (len > 0) {
		size_t start = len - 1;
		while (start > 0 && len - start < 4 && ((unsigned char)p[start] & 0xc0) == 0x80)
			start--;
		k = text_space_at(p + start, len - start);
		if (k == 0 || start + k != len)
			break;
		len = start;
	}
	*s = p;
	*n = len;
}
