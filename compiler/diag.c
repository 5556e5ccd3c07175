/*
 * diag.c - rendering of diagnostics, gcc style:
 *
 *   migrations/000003_x.sql:4:23: error: statement ends inside a string literal
 *       4 | INSERT INTO t VALUES ('a;
 *         |                       ^
 *   hint: wrap the statement in '-- +goose StatementBegin' / '-- +goose StatementEnd'
 */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

static const char *level_name(struct diag *d, enum diag_level level)
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
static bool diag_count(struct diag *d, enum diag_level level)
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

/* Bytes of a source line shown in full; longer ones are cut. */
#define SHOW_MAX 200

/* Print the source line and a caret under col (a byte column), keeping tabs so columns line up. */
static void show_line(struct diag *d, const char *data, size_t len, uint32_t line, uint32_t col)
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
		fprintf(out, "%5u | %.*s ... (%zu more bytes)\n", line, (int)keep, data + start,
			end - start - keep);
		end = start + keep;
	} else {
		fprintf(out, "%5u | %.*s\n", line, (int)(end - start), data + start);
	}
	if (col == 0)
		return;
	fputs("      | ", out);
	/* one blank per character: UTF-8 continuation bytes take no column */
	for (size_t i = 0; i + 1 < col && start + i < end; i++)
		if (((unsigned char)data[start + i] & 0xc0) != 0x80)
			fputc(data[start + i] == '\t' ? '\t' : ' ', out);
	fputs("^\n", out);
}

void diag_at(struct diag *d, enum diag_level level, const char *path, const char *data, size_t len,
	     uint32_t line, uint32_t col, const char *hint, const char *fmt, ...)
{
	va_list ap;

	if (!diag_count(d, level))
		return;
	if (col)
		fprintf(d->out, "%s:%u:%u: %s: ", path, line, col, level_name(d, level));
	else
		fprintf(d->out, "%s:%u: %s: ", path, line, level_name(d, level));
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	if (data)
		show_line(d, data, len, line, col);
	if (hint)
		fprintf(d->out, "hint: %s\n", hint);
	fflush(d->out);
}

void diag_source(struct diag *d, const char *data)
{
	d->memo_data = data;
	d->memo_line = 0;
	d->memo_off = 0;
}

void diag_file(struct diag *d, enum diag_level level, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!diag_count(d, level))
		return;
	fprintf(d->out, "%s: %s: ", path, level_name(d, level));
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	fflush(d->out);
}
