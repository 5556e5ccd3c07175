/*
 * pfile.c - positions in a migration file as goose cut it, and freeing it (pfile.h).
 */
#include "pfile.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

void
pstmt_where(const struct pstmt *s, size_t off, uint32_t *line, uint32_t *col)
{
	size_t k = 0;

	while (k + 1 < s->nlines && s->line_sql_off[k + 1] <= (long)off)
		k++;
	*line = s->line_no[k];
	*col = (uint32_t)((long)off - s->line_sql_off[k]) + 1;
}

static void
stmt_free(struct pstmt *s)
{
	free(s->sql);
	free(s->envsub);
	free(s->line_sql_off);
	free(s->line_file_off);
	free(s->line_no);
}

bool
pfile_line(const struct pfile *f, size_t *pos, const char **line, size_t *n, const char **t, size_t *tn)
{
	const char *nl;

	if (*pos >= f->len)
		return false;
	*line = f->data + *pos;
	nl = memchr(*line, '\n', f->len - *pos);
	*n = nl ? (size_t)(nl - *line) : f->len - *pos;
	*pos += *n + 1;
	*t = *line;
	*tn = *n;
	text_trim(t, tn);
	return true;
}

void
pfile_free(struct pfile *f)
{
	for (int dir = DIR_UP; dir <= DIR_DOWN; dir++) {
		for (size_t i = 0; i < f->nstmts[dir]; i++)
			stmt_free(&f->stmts[dir][i]);
		free(f->stmts[dir]);
	}
	free(f->data);
	memset(f, 0, sizeof(*f));
}
