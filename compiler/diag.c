/*
 * diag.c - rendering of diagnostics, gcc style:
 *
 *   migrations/000003_x.sql:4:23: error: statement ends inside a string literal
 *       4 | INSERT INTO t VALUES ('a;
 *         |                       ^
 *   hint: wrap the statement in '-- +goose StatementBegin' / '-- +goose StatementEnd'
 */
#include "diag.h"

#include "bundle.h"
#include "text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *
level_name(struct diag *d, enum diag_level level)
{
	switch (level) {
	case DIAG_ERROR:
	case DIAG_IO:
		return "error";
	case DIAG_WARNING:
		return d->werror ? "error" : "warning";
	case DIAG_NOTE:
		return "note";
	}
	return "error";
}

/* Count, and say whether to print. */
static bool
diag_count(struct diag *d, enum diag_level level)
{
	if (level == DIAG_IO)
		d->io_errors++;
	if (level == DIAG_ERROR || level == DIAG_IO || (level == DIAG_WARNING && d->werror)) {
		d->errors++;
		return true;
	}
	if (level == DIAG_WARNING) {
		d->warnings++;
		return !d->quiet_warnings;
	}
	return true;
}

/*
 * One character of text to show at s[i], before end: its byte length (*len) and
 * whether it is shown as is.  What is not (a control character but tab, DEL, a
 * C1 control, a byte that is not UTF-8) is shown as \xHH per byte, so a file
 * cannot drive the terminal or corrupt a log line.
 */
static bool
char_shown(const char *s, size_t i, size_t end, size_t *len)
{
	uint32_t rune;
	size_t k = text_char_at(s + i, end - i, &rune);

	bool shown = k > 0 && (rune == '\t' || !text_is_control(rune));

	*len = shown ? k : 1; /* what is not shown is escaped byte by byte */
	return shown;
}

/* Write s[0, n) with what char_shown() refuses as \xHH. */
static void
put_escaped(FILE *out, const char *s, size_t n)
{
	size_t run = 0; /* start of the bytes shown as is, written at once (stderr is unbuffered) */

	for (size_t i = 0, k; i < n; i += k) {
		if (char_shown(s, i, n, &k))
			continue;
		fwrite(s + run, 1, i - run, out);
		fprintf(out, "\\x%02x", (unsigned char)s[i]);
		run = i + k;
	}
	fwrite(s + run, 1, n - run, out);
}

/* Bytes of a source line shown in full; longer ones are cut. */
#define SHOW_MAX 200

/* Print the source line and a caret under col (a byte column), keeping tabs so columns line up. */
static void
show_line(struct diag *d, const char *data, size_t len, uint32_t line, uint32_t col)
{
	FILE *out = d->out;
	size_t start = 0, end;
	uint32_t n = 1;

	/* start from the last line shown when it is at or before this one */
	if (d->memo_data == data && d->memo_line <= line && d->memo_line > 0 && d->memo_off <= len) {
		n = d->memo_line;
		start = d->memo_off;
	}
	while (n < line && start < len) {
		const char *nl = memchr(data + start, '\n', len - start);
		if (!nl)
			return;
		start = (size_t)(nl - data) + 1;
		n++;
	}
	if (n != line || start > len)
		return;
	d->memo_data = data;
	d->memo_line = line;
	d->memo_off = start;
	end = start;
	while (end < len && data[end] != '\n')
		end++;
	if (end > start && data[end - 1] == '\r')
		end--;
	/* a huge line is cut after the caret's neighbourhood */
	if (end - start > SHOW_MAX && end - start > (size_t)col + SHOW_MAX / 2) {
		size_t keep = col > SHOW_MAX / 2 ? (size_t)col + SHOW_MAX / 2 : SHOW_MAX;
		fprintf(out, "%5u | ", line);
		put_escaped(out, data + start, keep);
		fprintf(out, " ... (%zu more bytes)\n", end - start - keep);
		end = start + keep;
	} else {
		fprintf(out, "%5u | ", line);
		put_escaped(out, data + start, end - start);
		fputc('\n', out);
	}
	if (col == 0)
		return;
	fputs("      | ", out);
	/* one blank per character shown, four per \xHH */
	for (size_t i = 0, k; i + 1 < col && start + i < end; i += k) {
		if (char_shown(data, start + i, end, &k))
			fputc(data[start + i] == '\t' ? '\t' : ' ', out);
		else
			fputs("    ", out);
	}
	fputs("^\n", out);
}

/* The formatted message, escaped (it may quote the source: names, tokens), and a newline. */
static void
put_message(FILE *out, const char *fmt, va_list ap)
{
	char buf[1024], *p = buf;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n >= (int)sizeof(buf)) {
		p = malloc((size_t)n + 1);
		if (p)
			vsnprintf(p, (size_t)n + 1, fmt, ap2);
		else
			p = buf, n = (int)sizeof(buf) - 1; /* out of memory: the message cut */
	}
	va_end(ap2);
	if (n > 0)
		put_escaped(out, p, (size_t)n);
	if (p != buf)
		free(p);
	fputc('\n', out);
}

void
diag_at(struct diag *d, enum diag_level level, const char *path, const char *data, size_t len, uint32_t line,
	uint32_t col, const char *hint, const char *fmt, ...)
{
	va_list ap;

	if (!diag_count(d, level))
		return;
	put_escaped(d->out, path, strlen(path));
	if (col)
		fprintf(d->out, ":%u:%u: %s: ", line, col, level_name(d, level));
	else
		fprintf(d->out, ":%u: %s: ", line, level_name(d, level));
	va_start(ap, fmt);
	put_message(d->out, fmt, ap);
	va_end(ap);
	if (data)
		show_line(d, data, len, line, col);
	if (hint)
		fprintf(d->out, "hint: %s\n", hint);
	fflush(d->out);
}

void
diag_source(struct diag *d, const char *data)
{
	d->memo_data = data;
	d->memo_line = 0;
	d->memo_off = 0;
}

void
diag_file(struct diag *d, enum diag_level level, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!diag_count(d, level))
		return;
	put_escaped(d->out, path, strlen(path));
	fprintf(d->out, ": %s: ", level_name(d, level));
	va_start(ap, fmt);
	put_message(d->out, fmt, ap);
	va_end(ap);
	fflush(d->out);
}
