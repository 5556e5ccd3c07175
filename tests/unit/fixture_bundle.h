/*
 * fixture_bundle.h - a bundle built in memory for the engine's unit tests
 * (test_history.c, test_plan.c): migrations with real exec, file and chain checksums,
 * as goslingc computes them, and history rows written the way gosling writes them.
 * Everything lives in a struct fixture on the test's stack; nothing is allocated.
 */
#ifndef GOSLING_FIXTURE_BUNDLE_H
#define GOSLING_FIXTURE_BUNDLE_H

#include <stdio.h>
#include <string.h>

#include "bundle.h"
#include "checksum.h"
#include "db.h"
#include "engine_impl.h"

#define FX_MAX 8
#define FX_STMTS 4

struct fixture {
	struct migration m[FX_MAX];
	struct stmt up[FX_MAX][FX_STMTS];
	struct stmt down[FX_MAX][FX_STMTS];
	char names[FX_MAX][64];
	char file[FX_MAX][CHECKSUM_LEN];
	char exec[FX_MAX][CHECKSUM_LEN];
	char chain[FX_MAX][CHECKSUM_LEN];
	struct bundle b;
	/* the history */
	struct db_row rows[FX_MAX + 2];
	char row_exec[FX_MAX + 2][CHECKSUM_LEN];
	char row_chain[FX_MAX + 2][CHECKSUM_LEN];
	char row_done[FX_MAX + 2][CHECKSUM_LEN];
	int64_t goose[FX_MAX + 2];
	struct history h;
};

/*
 * fx_add - migration <version>_<tag>.sql with its Up and Down statements (NULL-ended
 * lists), statement i on line 2 + 2 * i.  Its checksums are computed; chains follow.
 */
static inline void
fx_add(struct fixture *f, int64_t version, const char *tag, bool no_transaction, const char *const *up,
       const char *const *down)
{
	uint32_t k = f->b.count++;
	struct migration *m = &f->m[k];
	char text[256];

	memset(m, 0, sizeof *m);
	snprintf(f->names[k], sizeof f->names[k], "%06lld_%s.sql", (long long)version, tag);
	m->version = version;
	m->name = f->names[k];
	m->no_transaction = no_transaction;
	for (; up && up[m->nup]; m->nup++)
		f->up[k][m->nup] = (struct stmt){
			.sql = up[m->nup], .len = (uint32_t)strlen(up[m->nup]), .line = 2 + 2 * m->nup, .ncommands = 1
		};
	for (; down && down[m->ndown]; m->ndown++)
		f->down[k][m->ndown] = (struct stmt){ .sql = down[m->ndown],
						      .len = (uint32_t)strlen(down[m->ndown]),
						      .line = 20 + 2 * m->ndown,
						      .ncommands = 1 };
	m->up = f->up[k];
	m->down = f->down[k];
	snprintf(text, sizeof text, "-- +goose Up\n%s\n", tag);
	if (!checksum_exec(m, f->exec[k]) || !checksum_file(text, strlen(text), f->file[k]) ||
	    !checksum_chain(k ? f->chain[k - 1] : "", version, f->exec[k], f->chain[k]))
		fprintf(stderr, "fixture: a checksum failed\n");
	m->exec_checksum = f->exec[k];
	m->file_checksum = f->file[k];
	m->chain = f->chain[k];
	f->b.migrations = f->m;
	f->b.build_id = "0123456789abcdef";
}

/* fx_row - a complete history row for migration k, chained on the row before it (as gosling writes it). */
static inline struct db_row *
fx_row(struct fixture *f, size_t k)
{
	size_t i = f->h.nrows++;
	struct db_row *row = &f->rows[i];

	memset(row, 0, sizeof *row);
	row->version = f->m[k].version;
	row->name = f->m[k].name;
	row->file_checksum = f->m[k].file_checksum;
	snprintf(f->row_exec[i], CHECKSUM_LEN, "%s", f->m[k].exec_checksum);
	row->exec_checksum = f->row_exec[i];
	if (!checksum_chain(i ? f->rows[i - 1].chain : "", row->version, row->exec_checksum, f->row_chain[i]))
		fprintf(stderr, "fixture: a checksum failed\n");
	row->chain = f->row_chain[i];
	snprintf(row->applied_at, sizeof row->applied_at, "2026-01-0%zu 00:00:00+00", i + 1);
	row->execution_ms = 10 * (int64_t)(i + 1);
	f->h.rows = f->rows;
	return row;
}

/* fx_rechain - the row's chain recomputed (after a test changed its exec checksum or version). */
static inline void
fx_rechain(struct fixture *f, size_t i)
{
	if (!checksum_chain(i ? f->rows[i - 1].chain : "", f->rows[i].version, f->rows[i].exec_checksum,
			    f->row_chain[i]))
		fprintf(stderr, "fixture: a checksum failed\n");
}

/* fx_goose - goose's table says version applied (call in ascending order). */
static inline void
fx_goose(struct fixture *f, int64_t version)
{
	f->goose[f->h.ngoose++] = version;
	f->h.goose = f->goose;
}

/* fx_index - the bundle and the history together; history_index_free undoes it. */
static inline bool
fx_index(struct fixture *f)
{
	f->h.b = &f->b;
	return history_index(&f->h);
}

#endif
