/* buf.c - the growable byte buffer (buf.h). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

bool
buf_reserve(struct buf *b, size_t n)
{
	size_t need = b->len + n + 1, cap;
	char *p;

	if (b->failed || need < n) {
		b->failed = true;
		return false;
	}
	if (need <= b->cap)
		return true;
	if (!b->cap) {
		cap = need > 256 ? need : 256;
	} else {
		for (cap = b->cap; cap < need; cap *= 2)
			;
	}
	if (!(p = realloc(b->p, cap))) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
buf_add(struct buf *b, const void *data, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_char(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

char *
buf_take(struct buf *b)
{
	char *s = b->failed ? NULL : b->p ? b->p : calloc(1, 1);

	if (b->failed)
		free(b->p);
	memset(b, 0, sizeof *b);
	return s;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
