/*
 * history.c - the history as read, against the bundle: which migrations ran, whole
 * or part way, their chains, and the drift and order checks.  Pure functions over
 * struct history (the rows, goose's versions, the bundle) and a result: no connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "checksum.h"
#include "engine_impl.h"

static const struct migration *
bundle_find(const struct bundle *b, int64_t version, size_t *index)
{
	size_t lo = 0, hi = b->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->migrations[mid].version == version) {
			if (index)
				*index = mid;
			return &b->migrations[mid];
		}
		if (b->migrations[mid].version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
history_index(struct history *h)
{
	size_t i;

	history_index_free(h);
	h->row_of = malloc((h->b->count + 1) * sizeof *h->row_of);
	h->goose_of = calloc(h->b->count + 1, sizeof *h->goose_of);
	h->chained = calloc(h->b->count + 1, sizeof *h->chained);
	if (!h->row_of || !h->goose_of || !h->chained)
		return false;
	for (i = 0; i < h->b->count; i++)
		h->row_of[i] = -1;
	for (i = 0; i < h->nrows; i++) {
		size_t k;

		if (bundle_find(h->b, h->rows[i].version, &k))
			h->row_of[k] = (int)i;
	}
	for (i = 0; i < h->ngoose; i++) {
		size_t k;

		if (bundle_find(h->b, h->goose[i], &k))
			h->goose_of[k] = true;
	}
	for (i = 0; i < h->b->count; i++)
		h->chained[i] = h->row_of[i] >= 0 || h->goose_of[i];
	return true;
}

void
history_index_free(struct history *h)
{
	free(h->row_of);
	free(h->goose_of);
	free(h->chained);
	h->row_of = NULL;
	h->goose_of = NULL;
	h->chained = NULL;
}

/*
 * The chain of migration k over the history as h->chained says it is: H(chain of
 * the previous applied migration, version, exec).  With no gaps below k this is
 * the bundle's compiled-in chain, so the newest row alone vouches for all of them.
 */
bool
history_chain_at(const struct history *h, size_t k, char out[CHECKSUM_LEN])
{
	const char *prev = "";
	char buf[2][CHECKSUM_LEN];
	bool gap = false;
	int flip = 0;

	for (size_t j = 0; j < k; j++)
		gap |= !h->chained[j];
	if (!gap) {
		snprintf(out, CHECKSUM_LEN, "%s", h->b->migrations[k].chain);
		return true;
	}
	for (size_t j = 0; j < k; j++) {
		if (!h->chained[j])
			continue;
		if (!checksum_chain(prev, h->b->migrations[j].version, h->b->migrations[j].exec_checksum, buf[flip]))
			return false;
		prev = buf[flip];
		flip ^= 1;
	}
	return checksum_chain(prev, h->b->migrations[k].version, h->b->migrations[k].exec_checksum, out);
}

/*
 * After migration k joins (or leaves) the chain: the history rows above it whose
 * chain changes.  Only out-of-order applies have any.
 */
bool
history_rechain_above(const struct history *h, size_t k, struct db_rechain **out, size_t *nout)
{
	struct db_rechain *list = NULL;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	for (size_t j = k + 1; j < h->b->count; j++) {
		const struct db_row *row = h->row_of[j] >= 0 ? &h->rows[h->row_of[j]] : NULL;
		struct db_rechain *t;

		if (!row || !h->chained[j])
			continue;
		if (!(t = realloc(list, (n + 1) * sizeof *t))) {
			free(list);
			return false;
		}
		list = t;
		list[n].version = row->version;
		if (!history_chain_at(h, j, list[n].chain)) {
			free(list);
			return false;
		}
		n++;
	}
	*out = list;
	*nout = n;
	return true;
}

const struct db_row *
history_row(const struct history *h, size_t k)
{
	return h->row_of[k] >= 0 ? &h->rows[h->row_of[k]] : NULL;
}

/* Applied completely: a complete history row, or goose's record of it. */
bool
history_applied(const struct history *h, size_t k)
{
	const struct db_row *row = history_row(h, k);

	return row ? row->failed_statement == 0 : h->goose_of[k];
}

bool
history_partial(const struct history *h, size_t k)
{
	const struct db_row *row = history_row(h, k);

	return row && row->failed_statement > 0;
}

bool
history_has(const struct history *h, int64_t version)
{
	for (size_t i = 0; i < h->nrows; i++)
		if (h->rows[i].version == version)
			return true;
	return false;
}

/* The newest applied version: history rows and goose's, whether or not in the bundle. */
int64_t
history_newest(const struct history *h)
{
	int64_t v = 0;

	for (size_t i = 0; i < h->nrows; i++)
		if (h->rows[i].failed_statement == 0 && h->rows[i].version > v)
			v = h->rows[i].version;
	for (size_t i = 0; i < h->ngoose; i++)
		if (h->goose[i] > v)
			v = h->goose[i];
	return v;
}

/*
 * A partial row (a NO TRANSACTION migration that stopped at statement n) whose file
 * changed: it can be resumed when it is still NO TRANSACTION and its statements before
 * n are the ones that ran (the row's done checksum; nothing ran before statement 1).
 */
static bool
partial_resumable(const struct db_row *row, const struct migration *m, bool *oom)
{
	char done[CHECKSUM_LEN];
	uint32_t ran = row->failed_statement - 1;

	if (ran == 0)
		return true; /* nothing ran: whatever the file is now, it runs whole */
	if (!m->no_transaction || ran > m->nup || !row->done_checksum)
		return false;
	if (!checksum_done(m, ran, done)) {
		*oom = true; /* OpenSSL could not allocate */
		return false;
	}
	return strcmp(done, row->done_checksum) == 0;
}

/* A partial row whose file changed before the statement that stopped it: what to do. */
static void
fail_partial(struct engine_result *res, const char *table, const struct db_row *row, const struct migration *m)
{
	uint32_t n = row->failed_statement;

	result_fail(res, ENGINE_DRIFT,
		    "migration %s is partial: it stopped at statement %u after statements 1 to %u ran, and its "
		    "file changed %s. To recover, either restore statements 1 to %u as they ran (change statement %u "
		    "onwards only, and keep -- +goose NO TRANSACTION), or undo by hand what statements 1 to %u did and "
		    "delete its history row (DELETE FROM %s WHERE version = %lld) so that up runs it whole",
		    m->name, n, n - 1,
		    !m->no_transaction ? "to a transactional migration"
			    : !row->done_checksum
			    ? "(and its history row, written by an older gosling, does not record "
			      "what ran)"
			    : "before that statement",
		    n - 1, n, n - 1, table, (long long)m->version);
}

/*
 * The drift check.  Each row is compared with the bundle, and its chain with
 * H(previous row's chain, version, its own exec checksum): a self-consistent row
 * whose checksum differs from the bundle's is a migration edited after it ran; a
 * row that does not match its own chain was edited by hand.  One query (the
 * history) and no per-row round trips.  Returns false, with res->error naming the
 * first migration, on drift.
 */
bool
history_check_drift(const struct history *h, const char *table, struct engine_result *res)
{
	const char *prev = "";

	for (size_t i = 0; i < h->nrows; i++) {
		const struct db_row *row = &h->rows[i];
		const struct migration *m = bundle_find(h->b, row->version, NULL);
		char self[CHECKSUM_LEN];
		bool oom = false;

		if (!m) {
			result_fail(res, ENGINE_DRIFT, "applied migration %s (version %lld) is missing from the bundle",
				    row->name, (long long)row->version);
			res->error.version = row->version;
			snprintf(res->error.file, sizeof res->error.file, "%s", row->name);
			return false;
		}
		if (!checksum_chain(prev, row->version, row->exec_checksum, self)) {
			result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
			return false;
		}
		prev = row->chain;
		if (strcmp(row->exec_checksum, m->exec_checksum) != 0) {
			if (strcmp(row->chain, self) == 0 && row->failed_statement > 0 &&
			    partial_resumable(row, m, &oom)) {
				result_warn(
					res,
					"migration %s, stopped at statement %u, was changed from that statement on: "
					"up resumes it there with the new text and records the change",
					m->name, row->failed_statement);
				continue;
			}
			if (oom)
				result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
			else if (strcmp(row->chain, self) == 0 && row->failed_statement > 0)
				fail_partial(res, table, row, m);
			else if (strcmp(row->chain, self) == 0)
				result_fail(
					res, ENGINE_DRIFT,
					"migration %s was changed after it was applied: its executable checksum is %s, "
					"the database recorded %s",
					m->name, m->exec_checksum, row->exec_checksum);
			else
				result_fail(
					res, ENGINE_DRIFT,
					"history row of migration %s was edited by hand: its checksum does not match "
					"its chain",
					m->name);
		} else if (strcmp(row->chain, self) != 0) {
			result_fail(res, ENGINE_DRIFT,
				    "history row of migration %s was edited by hand: its chain does not match",
				    m->name);
		} else {
			if (strcmp(row->file_checksum, m->file_checksum) != 0)
				result_warn(
					res,
					"migration %s was edited after it was applied, in comments or blank lines only",
					m->name);
			if (strcmp(row->name, m->name) != 0)
				result_warn(res, "applied migration %lld was renamed from %s to %s",
					    (long long)m->version, row->name, m->name);
			continue;
		}
		res->error.version = m->version;
		snprintf(res->error.file, sizeof res->error.file, "%s", m->name);
		return false;
	}
	for (size_t i = 0; i < h->ngoose; i++) {
		if (!bundle_find(h->b, h->goose[i], NULL) && !history_has(h, h->goose[i])) {
			result_fail(res, ENGINE_DRIFT,
				    "migration version %lld, applied according to goose's table, is missing from the "
				    "bundle",
				    (long long)h->goose[i]);
			res->error.version = h->goose[i];
			return false;
		}
	}
	return true;
}

/* Pending migrations below the newest applied one: goose's "missing" migrations. */
bool
history_check_order(const struct history *h, int64_t target, bool report_only, struct engine_result *res)
{
	int64_t newest = history_newest(h);

	for (size_t k = 0; k < h->b->count; k++) {
		const struct migration *m = &h->b->migrations[k];

		if (m->version >= newest || m->version > target)
			break;
		if (history_applied(h, k) || history_partial(h, k))
			continue;
		if (report_only) {
			result_warn(res, "migration %s is pending but numbered below the newest applied version %lld",
				    m->name, (long long)newest);
			continue;
		}
		result_fail(res, ENGINE_DRIFT,
			    "migration %s is pending but numbered below the newest applied version %lld: "
			    "renumber it, or allow it with --allow-out-of-order",
			    m->name, (long long)newest);
		res->error.version = m->version;
		snprintf(res->error.file, sizeof res->error.file, "%s", m->name);
		return false;
	}
	return true;
}

/* --- what status and verify list ------------------------------------------------ */

void
history_item_state(const struct history *h, struct engine_item *it, size_t k)
{
	const struct db_row *row = history_row(h, k);

	it->no_transaction = h->b->migrations[k].no_transaction;
	if (row) {
		it->state = row->failed_statement ? "partial" : "applied";
		snprintf(it->applied_at, sizeof it->applied_at, "%s", row->applied_at);
		it->duration_ms = row->execution_ms;
		it->failed_statement = row->failed_statement;
	} else {
		it->state = h->goose_of[k] ? "applied" : "pending";
	}
}

/* status, verify: every migration of the bundle and every applied one it lacks. */
void
history_list(const struct history *h, struct engine_result *res)
{
	size_t k = 0, i = 0;

	/* a merge of two sorted lists: no sentinel, since a real version may be INT64_MAX */
	while (k < h->b->count || i < h->nrows) {
		const struct migration *m = k < h->b->count ? &h->b->migrations[k] : NULL;
		struct engine_item *it;

		if (i < h->nrows && (!m || h->rows[i].version < m->version)) {
			if ((it = result_item_add(res, h->rows[i].version, NULL)) != NULL) {
				it->owned_name = strdup(h->rows[i].name);
				it->name = it->owned_name;
				it->state = "missing";
				snprintf(it->applied_at, sizeof it->applied_at, "%s", h->rows[i].applied_at);
			}
			i++;
			continue;
		}
		if ((it = result_item_add(res, m->version, m->name)) != NULL)
			history_item_state(h, it, k);
		if (i < h->nrows && h->rows[i].version == m->version)
			i++;
		k++;
	}
	for (size_t g = 0; g < h->ngoose; g++) {
		struct engine_item *it;

		if (bundle_find(h->b, h->goose[g], NULL) || history_has(h, h->goose[g]))
			continue;
		if ((it = result_item_add(res, h->goose[g], "(goose)")) != NULL)
			it->state = "missing";
	}
}

bool
history_head_matches(const struct bundle *b, const struct db_head *head, size_t *k)
{
	return head->found && !head->failed_statement && bundle_find(b, head->version, k) &&
		strcmp(head->chain, b->migrations[*k].chain) == 0 && strcmp(head->name, b->migrations[*k].name) == 0;
}
