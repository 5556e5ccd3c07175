/* envsub.c - goose's ENVSUB: github.com/mfridman/interpolate, in C (envsub.h). */
#include "envsub.h"
#include "buf.h"
#include "text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- ENVSUB: github.com/mfridman/interpolate, in C ---------------------------- */

/* One line being expanded.  With eval false the parser only checks syntax. */
struct interp {
	const char *s;
	size_t len, pos;
	const char *(*get)(const char *, void *);
	void *arg;
	char *err;
	size_t errlen;
	bool failed;
};

#define EOF_RUNE 0xffffffffu

static uint32_t
ip_peek(struct interp *ip)
{
	size_t size;

	if (ip->pos >= ip->len)
		return EOF_RUNE;
	return text_rune_decode((const unsigned char *)ip->s + ip->pos, ip->len - ip->pos, &size);
}

static uint32_t
ip_next(struct interp *ip)
{
	size_t size;
	uint32_t c;

	if (ip->pos >= ip->len)
		return EOF_RUNE;
	c = text_rune_decode((const unsigned char *)ip->s + ip->pos, ip->len - ip->pos, &size);
	ip->pos += size;
	return c;
}

static bool ip_fail(struct interp *ip, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool
ip_fail(struct interp *ip, const char *fmt, ...)
{
	va_list ap;

	if (!ip->failed) {
		va_start(ap, fmt);
		vsnprintf(ip->err, ip->errlen, fmt, ap);
		va_end(ap);
	}
	ip->failed = true;
	return false;
}

/* A rune for an error message: Go's %c, EOF as "EOF". */
static const char *
rune_str(uint32_t c, char buf[12])
{
	if (c == EOF_RUNE)
		return "EOF";
	if (c < 0x80) {
		buf[0] = (char)c, buf[1] = '\0';
	} else {
		snprintf(buf, 12, "U+%04X", (unsigned)(c & 0x1fffff));
	}
	return buf;
}

/* unicode.IsLetter for ASCII; any non-ASCII rune above U+00BF counts as a letter. */
static bool
rune_is_letter(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xc0 && c != EOF_RUNE && c != 0xfffd);
}

static bool
scan_identifier(struct interp *ip, size_t *start, size_t *end)
{
	char rb[12];
	uint32_t c = ip_peek(ip);

	if (!rune_is_letter(c))
		return ip_fail(ip, "expected identifier to start with a letter, got %s", rune_str(c, rb));
	*start = ip->pos;
	while ((c = ip_peek(ip)) != EOF_RUNE && (rune_is_letter(c) || (c >= '0' && c <= '9') || c == '_'))
		ip_next(ip);
	*end = ip->pos;
	return true;
}

static bool ip_expression(struct interp *ip, bool eval, bool stop_brace, struct buf *out);

/* Look a variable up; returns its value or NULL when unset. */
static const char *
ip_lookup(struct interp *ip, size_t start, size_t end)
{
	char name[256];
	size_t n = end - start;

	if (n >= sizeof(name))
		return NULL;
	memcpy(name, ip->s + start, n);
	name[n] = '\0';
	return ip->get(name, ip->arg);
}

static bool
parse_int(const char *s, size_t n, long *v)
{
	char buf[32];
	char *end;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*v = strtol(buf, &end, 10);
	return *end == '\0' && buf[0] != ' ';
}

static bool
ip_brace(struct interp *ip, bool eval, struct buf *out)
{
	size_t is, ie;
	uint32_t op1;
	char rb[12];
	const char *val;

	ip_next(ip); /* '{' */
	if (!scan_identifier(ip, &is, &ie))
		return false;
	val = eval ? ip_lookup(ip, is, ie) : NULL;
	if (ip_peek(ip) == '}') {
		ip_next(ip);
		if (eval && val)
			buf_add(out, val, strlen(val));
		return true;
	}
	op1 = ip_next(ip);
	if (op1 == ':' && ip_peek(ip) == '-') {
		ip_next(ip);
		/* ${VAR:-default}: the default when unset or empty */
		bool use = eval && (!val || !*val);
		if (eval && !use)
			buf_add(out, val, strlen(val));
		if (!ip_expression(ip, use, true, out))
			return false;
	} else if (op1 == ':') {
		/* ${VAR:offset[:length]}, byte offsets as in Go */
		size_t os = ip->pos, ls;
		long off, length = 0;
		bool has_len = false;
		uint32_t c;

		while ((c = ip_peek(ip)) != EOF_RUNE && c != ':' && c != '}' && c != 0xfffd)
			ip_next(ip);
		if (!parse_int(ip->s + os, ip->pos - os, &off))
			return ip_fail(ip, "unable to parse offset \"%.*s\"", (int)(ip->pos - os), ip->s + os);
		if (ip_peek(ip) != '}') {
			ip_next(ip);
			ls = ip->pos;
			while ((c = ip_peek(ip)) != EOF_RUNE && c != '}' && c != 0xfffd)
				ip_next(ip);
			if (!parse_int(ip->s + ls, ip->pos - ls, &length))
				return ip_fail(ip, "unable to parse length \"%.*s\"", (int)(ip->pos - ls), ip->s + ls);
			has_len = true;
		}
		if (eval) {
			const char *v = val ? val : "";
			long n = (long)strlen(v), from = off, to;
			if (from < 0)
				from += n;
			if (from < 0)
				from = 0;
			if (from > n)
				from = n;
			to = n;
			if (has_len) {
				if (length >= 0) {
					to = from + length;
				} else {
					to = length + n;
					if (to < from)
						to = from;
				}
				if (to > n)
					to = n;
			}
			buf_add(out, v + from, (size_t)(to - from));
		}
	} else if (op1 == '-') {
		/* ${VAR-default}: the default only when unset */
		bool use = eval && !val;
		if (eval && val)
			buf_add(out, val, strlen(val));
		if (!ip_expression(ip, use, true, out))
			return false;
	} else if (op1 == '?') {
		/* ${VAR?message}: an error when unset */
		struct buf msg = { 0 };
		bool unset = eval && !val;
		if (eval && val)
			buf_add(out, val, strlen(val));
		if (!ip_expression(ip, unset, true, &msg)) {
			free(msg.p);
			return false;
		}
		if (unset) {
			ip_fail(ip, "$%.*s: %s", (int)(ie - is), ip->s + is, msg.len ? msg.p : "not set");
			free(msg.p);
			return false;
		}
		free(msg.p);
	} else {
		return ip_fail(ip, "expected an operator, got %s", rune_str(op1, rb));
	}
	op1 = ip_next(ip);
	if (op1 != '}')
		return ip_fail(ip, "expected brace expansion to end with }, got %s", rune_str(op1, rb));
	return true;
}

static bool
ip_expansion(struct interp *ip, bool eval, struct buf *out)
{
	size_t is, ie;
	const char *val;

	ip_next(ip); /* '$' */
	if (ip_peek(ip) == '{')
		return ip_brace(ip, eval, out);
	if (!scan_identifier(ip, &is, &ie))
		return false;
	if (eval && (val = ip_lookup(ip, is, ie)) != NULL)
		buf_add(out, val, strlen(val));
	return true;
}

static bool
ip_expression(struct interp *ip, bool eval, bool stop_brace, struct buf *out)
{
	for (;;) {
		uint32_t c = ip_peek(ip);
		const char *p = ip->s + ip->pos;
		size_t left = ip->len - ip->pos, start, size;

		if (c == EOF_RUNE || (stop_brace && c == '}'))
			return true;
		if (left >= 2 && p[0] == '\\' && p[1] == '\\') {
			ip->pos += 2;
			if (eval)
				buf_add(out, "\\\\", 2);
			continue;
		}
		if (left >= 2 && (p[0] == '\\' || p[0] == '$') && p[1] == '$') {
			ip->pos += 2;
			if (eval)
				buf_add(out, "$", 1);
			continue;
		}
		if (left >= 2 && p[0] == '$' && p[1] == '(') {
			ip->pos += 2;
			if (eval)
				buf_add(out, "$(", 2);
			continue;
		}
		if (c == '$' && left > 1) {
			if (!ip_expansion(ip, eval, out))
				return false;
			continue;
		}
		/* One rune, then text up to the next '$', '\' or stop rune. */
		text_rune_decode((const unsigned char *)p, left, &size);
		if (eval) {
			if (c == 0xfffd)
				buf_add(out, "\xef\xbf\xbd", 3);
			else
				buf_add(out, p, size);
		}
		ip->pos += size;
		start = ip->pos;
		while ((c = ip_peek(ip)) != EOF_RUNE && c != '$' && c != '\\' && c != 0xfffd &&
		       !(stop_brace && c == '}'))
			ip_next(ip);
		if (eval)
			buf_add(out, ip->s + start, ip->pos - start);
	}
}

bool
envsub_check(const char *s, size_t len, char *err, size_t errlen, size_t *err_offset)
{
	size_t line = 0;

	while (line <= len) {
		const char *nl = memchr(s + line, '\n', len - line);
		size_t end = nl ? (size_t)(nl - s) : len;
		struct interp ip = { s + line, end - line, 0, NULL, NULL, err, errlen, false };

		if (!ip_expression(&ip, false, false, NULL)) {
			*err_offset = line + ip.pos;
			return false;
		}
		line = end + 1;
	}
	return true;
}

char *
envsub_line(const char *s, size_t n, const char *(*get)(const char *name, void *arg), void *arg, char *err,
	    size_t errlen)
{
	struct buf out = { 0 };
	struct interp ip = { s, n, 0, get, arg, err, errlen, false };
	char *line;

	/* goose parses the whole line before expanding any of it */
	if (!ip_expression(&ip, false, false, NULL) || (ip.pos = 0, !ip_expression(&ip, true, false, &out))) {
		buf_free(&out);
		return NULL;
	}
	if (!(line = buf_take(&out)))
		snprintf(err, errlen, "out of memory");
	return line;
}

const char *
env_get(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

char *
envsub_expand(const char *s, const struct envsub_range *r, uint32_t nr, const char *(*get)(const char *name, void *arg),
	      void *arg, char *err, size_t errlen, uint32_t *err_offset)
{
	struct buf out = { 0 };
	size_t at = 0, n;
	const char *t;

	for (uint32_t i = 0; i < nr; i++) {
		size_t pos = r[i].start;

		buf_add(&out, s + at, pos - at);
		while (pos < r[i].end) {
			const char *nl = memchr(s + pos, '\n', r[i].end - pos);
			size_t end = nl ? (size_t)(nl - s) : r[i].end;
			char *line = envsub_line(s + pos, end - pos, get, arg, err, errlen);

			if (!line) {
				*err_offset = (uint32_t)pos;
				buf_free(&out);
				return NULL;
			}
			buf_add(&out, line, strlen(line));
			free(line);
			pos = end;
			if (nl) {
				buf_add(&out, "\n", 1);
				pos++;
			}
		}
		at = r[i].end;
	}
	buf_add(&out, s + at, strlen(s + at));
	if (out.failed) {
		*err_offset = 0;
		snprintf(err, errlen, "out of memory");
		buf_free(&out);
		return NULL;
	}
	/* goose trims the statement after substitution */
	t = out.p;
	n = out.len;
	text_trim(&t, &n);
	memmove(out.p, t, n);
	out.p[n] = '\0';
	return out.p;
}
