/*
 * dataapi_transport.c - the RDS Data API transport (issue 18): transport.h's calls over
 * rdsdata.h's four calls, with no libpq connection and no session.
 *
 *   - Reads (tables, history, goose's table) are one ExecuteStatement each, outside a
 *     transaction; the history is read in pages of HISTORY_PAGE rows (1 MiB answers).
 *   - A unit (one migration) is one transaction: a DO block that sets gosling's
 *     settings (set_config(..., true): lock_timeout, statement_timeout below the call's
 *     45 s, a target's search_path), takes pg_advisory_xact_lock(run lock key), re-reads
 *     the unit's history row under it (another runner applied it: skipped, so each
 *     migration is applied once without a session), EXECUTEs each statement's text in
 *     order and records the history row.  Consecutive units that fit in DO_CAP
 *     characters go as one DO block, one autocommit ExecuteStatement (a failure in one
 *     of them: the ones before it are sent again without it, then it is reported); a
 *     unit too large for one is a transaction
 *     (BeginTransaction, DO blocks of at most DO_CAP characters, a statement longer than
 *     that alone as its own call, CommitTransaction).  The first error inside a DO block
 *     is raised again with its SQLSTATE, its message prefixed "gosling [unit U ]statement N: ",
 *     so the failure names the unit and the statement.
 *   - The run lock (lock_try on the lock link) is a lease row in the history's schema,
 *     gosling_lock (lock_key, locked_by, locked_at, lease_expires_at), taken only while
 *     no session advisory lock of the key is held (a libpq runner's) and no unexpired
 *     lease of another run stands; unlock deletes it.  Its lease lasts until the run's
 *     hard deadline and a minute; a run without a deadline takes it for GOSLING_LEASE
 *     (2 minutes) and extends it before a run of units or a NO TRANSACTION statement
 *     once a third of that has passed, while the row still names this run (lost to
 *     another run: the run stops there).  The work lock is the per-unit transaction
 *     lock above: lock_try(work) always takes.
 *   - DatabaseResumingException is retried with backoff (1 s doubling to 8 s) until the
 *     deadline, past rdsdata.c's three attempts: a paused cluster takes 15 s and more
 *     to wake.  TransactionNotFoundException restarts the unit.  After a
 *     StatementTimeoutException the unit is never sent again blindly: its history row
 *     is read back and decides.
 *   - Not over the Data API yet: index_invalid and index_drop (the resume of a failed
 *     CREATE INDEX CONCURRENTLY); NO TRANSACTION statements run one ExecuteStatement
 *     each without gosling's settings (no session to set them in).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "dataapi.h"
#include "http.h"
#include "log.h"
#include "rdsdata.h"

#define DO_CAP (60 * 1024)		/* characters of one DO block: under RDSDATA_SQL_MAX with room */
#define HISTORY_PAGE 1000		/* history rows per read: well under the 1 MiB answer */
#define CALL_MAX_MS 44000		/* statement_timeout inside a unit: below the service's 45 s per call */
#define UNIT_RESTARTS 3			/* TransactionNotFoundException: restarts of a unit */
#define SKIP_STATE "GS001"		/* raised by a unit whose history row says another run did it */
#define SKIPS_STATE "GS002"		/* raised by a block of units some of which another run did */
#define PACK_MAX (DO_CAP / 1024)	/* units in one block at most (each takes over 1 KiB of it) */

struct da_state {
	const struct config *cfg;
	struct db_names names;
	struct http_client *http;
	struct rdsdata db;
	char txid[RDSDATA_TXID_MAX];	/* begin()'s transaction, "" = none */
	bool open;
	int64_t until_ms, each_ms, hard_ms;
	int64_t key;			/* the run lock's key, once lock_try named it */
	bool have_key;
	bool lease;			/* the lease row is ours */
	int64_t lease_ms;		/* its length in a run without a deadline (GOSLING_LEASE) */
	int64_t leased_at;		/* when it was last taken or extended, ms since the epoch */
	char owner[96];
	int64_t statement_ms, lock_ms;
	char *search_path;
};

static struct da_state *
state(struct transport *t)
{
	return t->state;
}

/* --- building SQL (common/buf.h) ------------------------------------------- */

static void
sb_fmt(struct buf *b, const char *fmt, long long v)
{
	char num[96];

	snprintf(num, sizeof num, fmt, v);
	buf_str(b, num);
}

/* s as an E'' literal: quotes and backslashes doubled, so it means s under any standard_conforming_strings */
static void
sb_literal(struct buf *b, const char *s)
{
	buf_str(b, "E'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'' || *p == '\\')
			buf_char(b, *p);
		buf_char(b, *p);
	}
	buf_str(b, "'");
}

/* characters of UTF-8 text s[0, n): the service's limit counts characters */
static size_t
chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static size_t
literal_chars(const char *s)
{
	size_t c = 0;

	for (const char *p = s; *p; p++)
		c += (((unsigned char)*p & 0xC0) != 0x80) + (*p == '\'' || *p == '\\');
	return c + 3;
}

/* --- errors and calls ------------------------------------------------------- */

/*
 * st as a db_error: PostgreSQL's message without the Data API's "ERROR: " and
 * "; SQLState: X" wrapping, its detail and hint, and its SQLSTATE.
 */
static void
error_of(const struct rdsdata_status *st, const char *what, struct db_error *err)
{
	const char *m = st->message, *p;
	char *cut;

	memset(err, 0, sizeof *err);
	if (st->code != RDSDATA_DATABASE) {
		snprintf(err->message, sizeof err->message, "%s over the RDS Data API: %.900s", what, m);
		err->not_ready = st->code == RDSDATA_RESUMING || st->code == RDSDATA_UNAVAILABLE ||
				 st->code == RDSDATA_THROTTLED;
		snprintf(err->sqlstate, sizeof err->sqlstate, "%s", st->code == RDSDATA_TIMEOUT ? "57014" : "");
		return;
	}
	snprintf(err->sqlstate, sizeof err->sqlstate, "%s", st->sqlstate);
	if ((p = strstr(m, "DatabaseErrorException: ")))
		m = p + strlen("DatabaseErrorException: ");
	if (strncmp(m, "ERROR: ", 7) == 0)
		m += 7;
	snprintf(err->message, sizeof err->message, "%.1000s", m);
	if ((cut = strstr(err->message, "; SQLState: ")))
		*cut = '\0';
	if ((p = strstr(err->message, "\n  Detail: ")))
		snprintf(err->detail, sizeof err->detail, "%.*s", (int)strcspn(p + 11, "\n"), p + 11);
	if ((p = strstr(err->message, "\n  Hint: ")))
		snprintf(err->hint, sizeof err->hint, "%.*s", (int)strcspn(p + 9, "\n"), p + 9);
	if ((cut = strchr(err->message, '\n')))
		*cut = '\0';
}

static void
error_set(struct db_error *err, const char *fmt, const char *arg)
{
	memset(err, 0, sizeof *err);
	snprintf(err->message, sizeof err->message, fmt, arg);
}

/* the deadline of gosling's own calls (migration: a unit's, whose deadline_ms is given) */
static int64_t
call_deadline(const struct da_state *d, int64_t deadline_ms)
{
	int64_t dl = deadline_ms ? deadline_ms : d->until_ms;

	if (!deadline_ms && d->each_ms) {
		int64_t e = clock_now_ms() + d->each_ms;

		dl = dl && dl < e ? dl : e;
	}
	if (d->hard_ms && (!dl || d->hard_ms < dl))
		dl = d->hard_ms;
	return dl;
}

/* Wait before another try of a resuming cluster: 1 s doubling to 8 s; false past the deadline. */
static bool
resume_wait(int64_t deadline, int *tries)
{
	int64_t delay = 1000L << (*tries < 3 ? *tries : 3);

	if (deadline && clock_now_ms() + delay >= deadline)
		return false;
	log_info("the database is resuming (DatabaseResumingException): trying again in %lld ms", (long long)delay);
	clock_sleep_ms(delay);
	(*tries)++;
	return true;
}

/* The Data API's calls that may meet a resuming cluster (nothing ran: the service says so). */
enum da_call { CALL_EXECUTE, CALL_BEGIN };

/* call, retried while the cluster resumes, within the deadline */
static bool
resuming_retried(struct da_state *d, enum da_call call, const struct rdsdata_statement *s, int64_t deadline_ms,
		 struct rdsdata_result *r, char *txid, struct rdsdata_status *st)
{
	int tries = 0;

	d->db.deadline_ms = call_deadline(d, deadline_ms);
	while (!(call == CALL_EXECUTE ? rdsdata_execute(&d->db, s, r, st)
				      : rdsdata_begin(&d->db, txid, RDSDATA_TXID_MAX, st)))
		if (st->code != RDSDATA_RESUMING || !resume_wait(d->db.deadline_ms, &tries))
			return false;
	return true;
}

/* ExecuteStatement, retried while the cluster resumes */
static bool
exec(struct da_state *d, const struct rdsdata_statement *s, int64_t deadline_ms, struct rdsdata_result *r,
     struct rdsdata_status *st)
{
	return resuming_retried(d, CALL_EXECUTE, s, deadline_ms, r, NULL, st);
}

/* BeginTransaction, retried while the cluster resumes */
static bool
begin_tx(struct da_state *d, int64_t deadline_ms, char *txid, struct rdsdata_status *st)
{
	return resuming_retried(d, CALL_BEGIN, NULL, deadline_ms, NULL, txid, st);
}

/* One statement of gosling's own with string parameters (NULL: SQL NULL); rows into *r when r. */
static bool
query(struct da_state *d, const char *what, const char *sql, const struct rdsdata_param *p, size_t np,
      struct rdsdata_result *r, struct db_error *err)
{
	struct rdsdata_statement s = { .sql = sql, .params = p, .nparams = np,
				       .transaction_id = d->open ? d->txid : NULL };
	struct rdsdata_result tmp;
	struct rdsdata_status st;

	if (!exec(d, &s, 0, r ? r : &tmp, &st)) {
		error_of(&st, what, err);
		return false;
	}
	if (!r)
		rdsdata_result_free(&tmp);
	return true;
}

/* gosling's settings and the run lock's transaction lock, as set_config calls of one SELECT list */
static void
settings_sql(struct da_state *d, struct buf *b, int64_t deadline_ms)
{
	int64_t sm = d->statement_ms && d->statement_ms < CALL_MAX_MS ? d->statement_ms : CALL_MAX_MS;

	if (deadline_ms) {
		int64_t left = deadline_ms - clock_now_ms();

		if (left < sm)
			sm = left > 1 ? left : 1;
	}
	sb_fmt(b, "pg_catalog.set_config('statement_timeout', '%lld', true)", (long long)sm);
	sb_fmt(b, ", pg_catalog.set_config('lock_timeout', '%lld', true)", (long long)d->lock_ms);
	if (d->search_path) {
		buf_str(b, ", pg_catalog.set_config('search_path', ");
		sb_literal(b, d->search_path);
		buf_str(b, ", true)");
	}
	if (d->have_key)
		sb_fmt(b, ", pg_catalog.pg_advisory_xact_lock(%lld)", (long long)d->key);
}

/* gosling's settings (and the run lock's key) in begin()'s open transaction, from the next call on */
static bool
settings_run(struct da_state *d, struct db_error *err)
{
	struct buf b = { 0 };
	bool ok;

	buf_str(&b, "SELECT ");
	settings_sql(d, &b, 0);
	if (b.failed) {
		buf_free(&b);
		error_set(err, "%s", "out of memory");
		return false;
	}
	ok = query(d, "setting gosling's settings", b.p, NULL, 0, NULL, err);
	buf_free(&b);
	return ok;
}

/* --- the table of calls ------------------------------------------------------ */

static bool
da_open(struct transport *t, enum transport_link link, struct db_error *err)
{
	(void)t;
	(void)link;
	(void)err;
	return true;	/* no connection: each call is a request of its own */
}

static bool
da_alive(struct transport *t, enum transport_link link)
{
	(void)t;
	(void)link;
	return true;
}

static void
da_close(struct transport *t, enum transport_link link)
{
	(void)t;
	(void)link;
}

static void
da_release(struct transport *t)
{
	struct da_state *d = t->state;

	if (!d)
		return;
	http_client_free(d->http);
	free(d->search_path);
	free(d);
	t->state = NULL;
}

static void
da_describe(struct transport *t, char *out, size_t outlen)
{
	struct da_state *d = state(t);

	snprintf(out, outlen, "%s/%s (RDS Data API)", d->db.resource_arn, d->db.database ? d->db.database : "");
}

static void
da_limit(struct transport *t, int64_t until_ms, int64_t each_ms, int64_t hard_ms)
{
	struct da_state *d = state(t);

	d->until_ms = until_ms;
	d->each_ms = each_ms;
	d->hard_ms = hard_ms;
}

static void
da_text_sent(struct transport *t, const char *text, size_t len)
{
	(void)t;
	(void)text;
	(void)len;
}

static bool
da_session(struct transport *t, const struct db_session *s, struct db_error *err)
{
	struct da_state *d = state(t);

	d->statement_ms = s->statement_ms;
	d->lock_ms = s->lock_ms;
	free(d->search_path);
	d->search_path = NULL;
	if (s->search_path && !(d->search_path = strdup(s->search_path))) {
		error_set(err, "%s", "out of memory");
		return false;
	}
	if (d->open) {
		/* settings of a transaction of gosling's own rows: in force from the next call on */
		return settings_run(d, err);
	}
	return true;
}

static bool
da_restore(struct transport *t, struct db_error *err)
{
	(void)t;
	(void)err;
	return true;	/* no session a migration could have changed */
}

static bool
lease_table(struct da_state *d, struct db_error *err)
{
	char sql[512];

	if (d->names.create_schema) {
		snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", d->names.schema);
		if (!query(d, "creating the history schema", sql, NULL, 0, NULL, err) &&
		    strcmp(err->sqlstate, "23505") != 0 && strcmp(err->sqlstate, "42P06") != 0)
			return false;
	}
	snprintf(sql, sizeof sql,
		 "CREATE TABLE IF NOT EXISTS %s.gosling_lock (lock_key bigint PRIMARY KEY, locked_by text NOT NULL, "
		 "locked_at timestamptz NOT NULL, lease_expires_at timestamptz NOT NULL)",
		 d->names.schema);
	/* two runs creating it at once: one of them sees a unique violation of the catalog */
	return query(d, "creating the run lock's table", sql, NULL, 0, NULL, err) ||
	       strcmp(err->sqlstate, "23505") == 0 || strcmp(err->sqlstate, "42P07") == 0;
}

static bool
da_lock_try(struct transport *t, int64_t key, bool work, bool *got, struct db_error *err)
{
	struct da_state *d = state(t);
	char sql[1024], k[32], lease[32];
	struct rdsdata_param p[3] = { { .name = "k", .string = k }, { .name = "o", .string = d->owner },
				      { .name = "l", .string = lease } };
	struct rdsdata_result r;
	int64_t hard = d->hard_ms;

	d->key = key;
	d->have_key = true;
	*got = false;
	if (work) {
		*got = true;	/* each unit takes pg_advisory_xact_lock(key) in its own transaction */
		return true;
	}
	if (!lease_table(d, err))
		return false;
	snprintf(k, sizeof k, "%lld", (long long)key);
	snprintf(lease, sizeof lease, "%lld", (long long)(hard ? hard - clock_now_ms() + 60000 : d->lease_ms));
	/* the xact lock is free only while no libpq runner holds the key's session lock */
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s.gosling_lock AS l (lock_key, locked_by, locked_at, lease_expires_at) "
		 "SELECT :k::bigint, :o, pg_catalog.clock_timestamp(), "
		 "pg_catalog.clock_timestamp() + :l::bigint * interval '1 millisecond' "
		 "WHERE pg_catalog.pg_try_advisory_xact_lock(:k::bigint) "
		 "ON CONFLICT (lock_key) DO UPDATE SET locked_by = EXCLUDED.locked_by, locked_at = EXCLUDED.locked_at, "
		 "lease_expires_at = EXCLUDED.lease_expires_at "
		 "WHERE l.lease_expires_at < pg_catalog.clock_timestamp() OR l.locked_by = EXCLUDED.locked_by "
		 "RETURNING l.locked_by",
		 d->names.schema);
	if (!query(d, "taking the run lock's lease", sql, p, 3, &r, err))
		return false;
	*got = d->lease = r.nrows == 1;
	d->leased_at = clock_now_ms();
	rdsdata_result_free(&r);
	return true;
}

/*
 * Extend the lease of a run without a deadline by d->lease_ms once a third of it has
 * passed, while the row still names this run; false (err set) when it does not: another
 * run took a lease that lapsed, and this one must not go on.
 */
static bool
lease_renew(struct da_state *d, struct db_error *err)
{
	char sql[512], k[32], lease[32];
	struct rdsdata_param p[3] = { { .name = "k", .string = k }, { .name = "o", .string = d->owner },
				      { .name = "l", .string = lease } };
	struct rdsdata_result r;
	bool ours;

	if (!d->lease || d->hard_ms || clock_now_ms() - d->leased_at < d->lease_ms / 3)
		return true;
	snprintf(k, sizeof k, "%lld", (long long)d->key);
	snprintf(lease, sizeof lease, "%lld", (long long)d->lease_ms);
	snprintf(sql, sizeof sql,
		 "UPDATE %s.gosling_lock SET lease_expires_at = pg_catalog.clock_timestamp() + "
		 ":l::bigint * interval '1 millisecond' WHERE lock_key = :k::bigint AND locked_by = :o RETURNING 1",
		 d->names.schema);
	if (!query(d, "extending the run lock's lease", sql, p, 3, &r, err))
		return false;
	ours = r.nrows == 1;
	rdsdata_result_free(&r);
	if (!ours) {
		d->lease = false;
		error_set(err, "the run lock's lease lapsed and another run took it (%s): stopping before the "
			       "next migration; raise GOSLING_LEASE",
			  "no row of this run in gosling_lock");
		return false;
	}
	log_debug("extended the run lock's lease by %lld ms", (long long)d->lease_ms);
	d->leased_at = clock_now_ms();
	return true;
}

static bool
da_unlock(struct transport *t, int64_t key, struct db_error *err)
{
	struct da_state *d = state(t);
	char sql[256], k[32];
	struct rdsdata_param p[2] = { { .name = "k", .string = k }, { .name = "o", .string = d->owner } };

	if (!d->lease)
		return true;
	snprintf(k, sizeof k, "%lld", (long long)key);
	snprintf(sql, sizeof sql, "DELETE FROM %s.gosling_lock WHERE lock_key = :k::bigint AND locked_by = :o",
		 d->names.schema);
	d->lease = false;
	return query(d, "releasing the run lock's lease", sql, p, 2, NULL, err);
}

static bool
da_tables(struct transport *t, struct db_tables *out, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_param p[2] = { { .name = "h", .string = d->names.history }, { .name = "g", .string = d->names.goose } };
	struct rdsdata_result r;

	if (!query(d, "the table lookup",
		   "SELECT pg_catalog.to_regclass(:h) IS NOT NULL, pg_catalog.to_regclass(:g) IS NOT NULL, "
		   "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute "
		   "WHERE attrelid = pg_catalog.to_regclass(:g) AND attname = 'id' AND attidentity <> '')",
		   p, 2, &r, err))
		return false;
	if (r.nrows != 1 || r.ncols != 3 || !r.rows[0][0] || !r.rows[0][1] || !r.rows[0][2]) {
		rdsdata_result_free(&r);
		error_set(err, "%s", "the table lookup: an answer of an unexpected shape");
		return false;
	}
	out->history = strcmp(r.rows[0][0], "t") == 0;
	out->goose = strcmp(r.rows[0][1], "t") == 0;
	out->goose_identity = strcmp(r.rows[0][2], "t") == 0;
	rdsdata_result_free(&r);
	return true;
}

/* s as a row keeps it: known when equal (bit goes into *shared), else a copy */
static const char *
row_str(const char *s, const char *known, unsigned bit, unsigned *shared)
{
	if (!s)
		s = "";
	if (known && strcmp(s, known) == 0) {
		*shared |= bit;
		return known;
	}
	return strdup(s);
}

static bool
da_history_read(struct transport *t, const struct bundle *known, struct db_row **rows, size_t *nrows,
		struct db_error *err)
{
	struct da_state *d = state(t);
	struct db_row *out = NULL;
	size_t n = 0, cap = 0, next = 0;
	char sql[1024], after[32] = "-9223372036854775808";
	struct rdsdata_param p[1] = { { .name = "a", .string = after } };
	bool more = true;

	*rows = NULL;
	*nrows = 0;
	snprintf(sql, sizeof sql,
		 "SELECT version, name, file_checksum, exec_checksum, chain, "
		 "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "execution_ms, build_id, origin, failed_statement, "
		 "CASE WHEN failed_statement IS NOT NULL THEN pg_catalog.to_jsonb(h) OPERATOR(pg_catalog.->>) "
		 "'done_checksum' END FROM %s h WHERE version > :a::bigint ORDER BY version LIMIT %d",
		 d->names.history, HISTORY_PAGE);
	while (more) {
		struct rdsdata_result r;

		if (!query(d, "reading the history", sql, p, 1, &r, err))
			goto fail;
		if (r.nrows && r.ncols != 11) {
			rdsdata_result_free(&r);
			error_set(err, "%s", "reading the history: an answer of an unexpected shape");
			goto fail;
		}
		for (size_t i = 0; i < r.nrows; i++) {
			char **v = r.rows[i];
			const struct migration *m = NULL;
			struct db_row *row;

			if (n == cap) {
				struct db_row *g = realloc(out, (cap = cap ? cap * 2 : 64) * sizeof *out);

				if (!g) {
					rdsdata_result_free(&r);
					goto oom;
				}
				out = g;
			}
			row = &out[n];
			memset(row, 0, sizeof *row);
			row->version = strtoll(v[0] ? v[0] : "0", NULL, 10);
			while (known && next < known->count && known->migrations[next].version < row->version)
				next++;
			if (known && next < known->count && known->migrations[next].version == row->version)
				m = &known->migrations[next];
			row->name = row_str(v[1], m ? m->name : NULL, DB_ROW_NAME, &row->shared);
			row->file_checksum = row_str(v[2], m ? m->file_checksum : NULL, DB_ROW_FILE, &row->shared);
			row->exec_checksum = row_str(v[3], m ? m->exec_checksum : NULL, DB_ROW_EXEC, &row->shared);
			row->chain = row_str(v[4], m ? m->chain : NULL, DB_ROW_CHAIN, &row->shared);
			snprintf(row->applied_at, sizeof row->applied_at, "%s", v[5] ? v[5] : "");
			row->execution_ms = v[6] ? strtoll(v[6], NULL, 10) : -1;
			row->build_id = row_str(v[7], known ? known->build_id : NULL, DB_ROW_BUILD, &row->shared);
			snprintf(row->origin, sizeof row->origin, "%s", v[8] ? v[8] : "");
			row->failed_statement = v[9] ? (uint32_t)strtoul(v[9], NULL, 10) : 0;
			row->done_checksum = v[10] ? strdup(v[10]) : NULL;
			n++;
			if (!row->name || !row->file_checksum || !row->exec_checksum || !row->chain || !row->build_id ||
			    (v[10] && !row->done_checksum)) {
				rdsdata_result_free(&r);
				goto oom;
			}
			snprintf(after, sizeof after, "%lld", (long long)row->version);
		}
		more = r.nrows == HISTORY_PAGE;
		rdsdata_result_free(&r);
	}
	if (!out && !(out = calloc(1, sizeof *out)))
		goto oom;
	*rows = out;
	*nrows = n;
	return true;
oom:
	error_set(err, "out of memory reading %s", d->names.history);
fail:
	db_rows_free(out, n);
	return false;
}

static bool
da_history_head(struct transport *t, struct db_head *h, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_result r;
	char sql[512];

	memset(h, 0, sizeof *h);
	snprintf(sql, sizeof sql,
		 "SELECT version, name, chain, "
		 "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "failed_statement FROM %s ORDER BY version DESC LIMIT 1",
		 d->names.history);
	if (!query(d, "reading the history's newest row", sql, NULL, 0, &r, err))
		return strcmp(err->sqlstate, "42P01") == 0 || strcmp(err->sqlstate, "3F000") == 0;
	if (r.nrows == 1 && r.ncols == 5) {
		char **v = r.rows[0];

		h->found = true;
		h->version = strtoll(v[0] ? v[0] : "0", NULL, 10);
		snprintf(h->name, sizeof h->name, "%s", v[1] ? v[1] : "");
		snprintf(h->chain, sizeof h->chain, "%s", v[2] ? v[2] : "");
		snprintf(h->applied_at, sizeof h->applied_at, "%s", v[3] ? v[3] : "");
		h->failed_statement = v[4] ? (uint32_t)strtoul(v[4], NULL, 10) : 0;
	}
	rdsdata_result_free(&r);
	return true;
}

static bool
da_goose_read(struct transport *t, int64_t **versions, size_t *nversions, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_result r;
	char sql[512];
	int64_t *v;

	*versions = NULL;
	*nversions = 0;
	snprintf(sql, sizeof sql,
		 "SELECT version_id FROM (SELECT DISTINCT ON (version_id) version_id, is_applied "
		 "FROM %s ORDER BY version_id, id DESC) g WHERE is_applied AND version_id > 0 "
		 "ORDER BY version_id",
		 d->names.goose);
	if (!query(d, "reading goose's table", sql, NULL, 0, &r, err))
		return false;
	if (!(v = calloc(r.nrows ? r.nrows : 1, sizeof *v))) {
		rdsdata_result_free(&r);
		error_set(err, "out of memory reading %s", d->names.goose);
		return false;
	}
	for (size_t i = 0; i < r.nrows; i++)
		v[i] = strtoll(r.rows[i][0] ? r.rows[i][0] : "0", NULL, 10);
	*versions = v;
	*nversions = r.nrows;
	rdsdata_result_free(&r);
	return true;
}

static bool
da_begin(struct transport *t, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_status st;

	if (!begin_tx(d, 0, d->txid, &st)) {
		error_of(&st, "BEGIN", err);
		return false;
	}
	d->open = true;
	/* gosling's settings, and its rows changed under the run lock's key like a unit's */
	return settings_run(d, err);
}

static bool
da_commit(struct transport *t, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_status st;

	if (!d->open) {
		error_set(err, "%s", "COMMIT: no transaction");
		return false;
	}
	d->db.deadline_ms = call_deadline(d, 0);
	d->open = false;
	if (!rdsdata_commit(&d->db, d->txid, &st)) {
		error_of(&st, "COMMIT", err);
		return false;
	}
	return true;
}

static void
da_rollback(struct transport *t)
{
	struct da_state *d = state(t);
	struct rdsdata_status st;

	if (!d->open)
		return;
	d->open = false;
	d->db.deadline_ms = call_deadline(d, 0);
	if (!rdsdata_rollback(&d->db, d->txid, &st))
		log_debug("ROLLBACK over the RDS Data API: %s", st.message);
}

static bool
da_history_create(struct transport *t, struct db_error *err)
{
	struct da_state *d = state(t);
	char sql[1536];

	if (d->names.create_schema) {
		snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", d->names.schema);
		if (!query(d, "creating the history schema", sql, NULL, 0, NULL, err))
			return false;
	}
	db_history_ddl(&d->names, sql, sizeof sql);
	return query(d, "creating the history table", sql, NULL, 0, NULL, err);
}

/* The history row of r (and goose's), as SQL of one statement each into b, ';'-terminated. */
static void
record_sql(struct da_state *d, struct buf *b, const struct db_record *r, bool goose, const char *elapsed)
{
	buf_str(b, "INSERT INTO ");
	buf_str(b, d->names.history);
	buf_str(b, " (version, name, file_checksum, exec_checksum, chain, applied_at, execution_ms, build_id, origin, "
		  "failed_statement, error) VALUES (");
	sb_fmt(b, "%lld, ", (long long)r->version);
	sb_literal(b, r->name);
	buf_str(b, ", ");
	sb_literal(b, r->file_checksum);
	buf_str(b, ", ");
	sb_literal(b, r->exec_checksum);
	buf_str(b, ", ");
	sb_literal(b, r->chain);
	buf_str(b, ", pg_catalog.clock_timestamp(), ");
	if (elapsed)
		buf_str(b, elapsed);
	else if (r->execution_ms >= 0)
		sb_fmt(b, "%lld", (long long)r->execution_ms);
	else
		buf_str(b, "NULL");
	buf_str(b, ", ");
	sb_literal(b, r->build_id);
	buf_str(b, ", ");
	sb_literal(b, r->origin);
	if (r->failed_statement)
		sb_fmt(b, ", %lld, ", (long long)r->failed_statement);
	else
		buf_str(b, ", NULL, ");
	if (r->error)
		sb_literal(b, r->error);
	else
		buf_str(b, "NULL");
	buf_str(b, ") ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
		  "file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
		  "chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "
		  "execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, "
		  "origin = EXCLUDED.origin, failed_statement = EXCLUDED.failed_statement, error = EXCLUDED.error;\n");
	if (r->failed_statement) {
		buf_str(b, "ALTER TABLE ");
		buf_str(b, d->names.history);
		buf_str(b, " ADD COLUMN IF NOT EXISTS done_checksum text;\nUPDATE ");
		buf_str(b, d->names.history);
		buf_str(b, " SET done_checksum = ");
		if (r->done_checksum)
			sb_literal(b, r->done_checksum);
		else
			buf_str(b, "NULL");
		sb_fmt(b, " WHERE version = %lld;\n", (long long)r->version);
	} else if (goose) {
		buf_str(b, "INSERT INTO ");
		buf_str(b, d->names.goose);
		sb_fmt(b, " (version_id, is_applied) VALUES (%lld, true);\n", (long long)r->version);
	}
}

static void
delete_sql(struct da_state *d, struct buf *b, int64_t version, bool goose)
{
	buf_str(b, "DELETE FROM ");
	buf_str(b, d->names.history);
	sb_fmt(b, " WHERE version = %lld;\n", (long long)version);
	if (goose) {
		buf_str(b, "DELETE FROM ");
		buf_str(b, d->names.goose);
		sb_fmt(b, " WHERE version_id = %lld;\n", (long long)version);
	}
}

static void
rechain_sql(struct da_state *d, struct buf *b, int64_t version, const char *chain)
{
	buf_str(b, "UPDATE ");
	buf_str(b, d->names.history);
	buf_str(b, " SET chain = ");
	sb_literal(b, chain);
	sb_fmt(b, " WHERE version = %lld;\n", (long long)version);
}

/* statements of gosling's own (';'-separated, as built above) as one DO block */
static bool
do_run(struct da_state *d, const char *what, struct buf *body, struct db_error *err)
{
	struct buf b = { 0 };
	bool ok;

	buf_str(&b, "DO $gosling$ BEGIN\n");
	buf_add(&b, body->p ? body->p : "", body->len);
	buf_str(&b, "END $gosling$");
	buf_free(body);
	if (b.failed || body->failed) {
		buf_free(&b);
		error_set(err, "%s", "out of memory");
		return false;
	}
	ok = query(d, what, b.p, NULL, 0, NULL, err);
	buf_free(&b);
	return ok;
}

static bool
da_history_upsert(struct transport *t, const struct db_record *r, bool goose, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };

	record_sql(d, &b, r, goose, NULL);
	return do_run(d, "recording the migration in the history", &b, err);
}

static bool
da_history_delete(struct transport *t, int64_t version, bool goose, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };

	delete_sql(d, &b, version, goose);
	return do_run(d, "deleting the history row", &b, err);
}

static bool
da_history_rechain(struct transport *t, int64_t version, const char *chain, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };

	rechain_sql(d, &b, version, chain);
	sb_fmt(&b, "IF NOT FOUND THEN RAISE EXCEPTION 'no history row of version %lld to re-chain'; END IF;\n",
	       (long long)version);
	return do_run(d, "re-chaining the history", &b, err);
}

/* --- units ------------------------------------------------------------------ */

/* A piece of a unit's work: one call. */
struct piece {
	struct buf sql;
	uint32_t first, last;	/* 1-based statements it runs (DO: through EXECUTE), 0 = none */
	bool raw;		/* one statement sent as it is */
};

/* The DO block's head: variables, the settings and lock, the re-read of the unit's history row. */
static void
do_head(struct da_state *d, struct buf *b, const struct db_unit *u, bool first, int64_t deadline_ms)
{
	buf_str(b, "DO $gosling$ DECLARE gosling_u int := 0; gosling_i int := 0; "
		  "gosling_t0 timestamptz := pg_catalog.clock_timestamp(); "
		  "gosling_st text; gosling_m text; gosling_d text; gosling_h text; BEGIN\n");
	if (first) {
		buf_str(b, "PERFORM ");
		settings_sql(d, b, deadline_ms);
		buf_str(b, ";\ngosling_t0 := pg_catalog.clock_timestamp();\n");
		buf_str(b, u->down ? "IF NOT EXISTS (SELECT 1 FROM " : "IF EXISTS (SELECT 1 FROM ");
		buf_str(b, d->names.history);
		sb_fmt(b, " WHERE version = %lld AND failed_statement IS NULL) THEN ", (long long)u->rec.version);
		buf_str(b, "RAISE EXCEPTION USING ERRCODE = '" SKIP_STATE "', MESSAGE = 'applied by another run'; END IF;\n");
	}
	buf_str(b, "BEGIN\n");
}

/* The end of a DO block; after: PL/pgSQL run after the statements' handler (NULL: none). */
static void
do_tail(struct buf *b, const char *after)
{
	buf_str(b, "EXCEPTION WHEN OTHERS THEN\n"
		  "GET STACKED DIAGNOSTICS gosling_st = RETURNED_SQLSTATE, gosling_m = MESSAGE_TEXT, "
		  "gosling_d = PG_EXCEPTION_DETAIL, gosling_h = PG_EXCEPTION_HINT;\n"
		  "IF gosling_i = 0 AND gosling_u = 0 THEN RAISE; END IF;\n"
		  "RAISE EXCEPTION USING ERRCODE = gosling_st, MESSAGE = 'gosling ' || CASE WHEN gosling_u > 0 THEN "
		  "'unit ' || gosling_u || ' ' ELSE '' END || 'statement ' || gosling_i || ': ' || gosling_m, "
		  "DETAIL = coalesce(gosling_d, ''), HINT = coalesce(gosling_h, '');\n"
		  "END;\n");
	if (after)
		buf_str(b, after);
	buf_str(b, "END $gosling$");
}

/* the unit's history bookkeeping, inside the last DO block */
static void
do_record(struct da_state *d, struct buf *b, const struct db_unit *u)
{
	buf_str(b, "gosling_i := 0;\n");
	if (u->down)
		delete_sql(d, b, u->rec.version, u->goose);
	else
		record_sql(d, b, &u->rec, u->goose,
			   "(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - gosling_t0) * 1000)::bigint");
	for (size_t c = 0; c < u->nrechain; c++)
		rechain_sql(d, b, u->rechain[c].version, u->rechain[c].chain);
}

/* the bookkeeping's characters at most (do_record's SQL; a literal at most doubles) */
static size_t
record_chars(const struct db_unit *u)
{
	const struct db_record *r = &u->rec;
	size_t c = 1100 + 2 * (strlen(r->name) + strlen(r->file_checksum) + strlen(r->exec_checksum) +
			       strlen(r->chain) + strlen(r->build_id) + strlen(r->origin));

	if (r->error)
		c += 2 * strlen(r->error);
	for (size_t k = 0; k < u->nrechain; k++)
		c += 256 + 2 * strlen(u->rechain[k].chain);
	return c;
}

static void
pieces_free(struct piece *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].sql.p);
	free(p);
}

/* room for want pieces in *p */
static bool
pieces_grow(struct piece **p, size_t *cap, size_t want)
{
	struct piece *g;
	size_t c = *cap ? *cap : 8;

	while (c < want)
		c *= 2;
	if (c == *cap)
		return true;
	if (!(g = realloc(*p, c * sizeof *g)))
		return false;
	*p = g;
	*cap = c;
	return true;
}

/* Cut unit u's work into calls of at most DO_CAP characters (a longer statement alone, raw). */
static bool
pieces_build(struct da_state *d, const struct db_unit *u, int64_t deadline_ms, struct piece **out, size_t *nout)
{
	struct piece *p = NULL;
	size_t n = 0, cap = 0;
	size_t rec = record_chars(u);
	bool oom = false;

	for (uint32_t i = 0; i <= u->nstmts && !oom; i++) {
		bool last = i == u->nstmts;
		size_t need = last ? rec : literal_chars(u->sql[i]) + 64;
		struct piece *cur = n ? &p[n - 1] : NULL;

		if (!last && need > DO_CAP - 4096) {
			/* alone, as written: the service refuses it past RDSDATA_SQL_MAX, which is the error */
			if (!pieces_grow(&p, &cap, n + 2)) {
				oom = true;
				break;
			}
			if (!n) {
				/* the settings, the lock and the re-read come first all the same */
				memset(&p[n], 0, sizeof p[n]);
				do_head(d, &p[n].sql, u, true, deadline_ms);
				cur = &p[n++];
			}
			if (!cur->raw)
				do_tail(&cur->sql, NULL);
			memset(&p[n], 0, sizeof p[n]);
			p[n].raw = true;
			p[n].first = p[n].last = i + 1;
			buf_str(&p[n].sql, u->sql[i]);
			oom = p[n].sql.failed;
			n++;
			continue;
		}
		if (!cur || cur->raw || chars(cur->sql.p, cur->sql.len) + need + 512 > DO_CAP) {
			if (cur && !cur->raw)
				do_tail(&cur->sql, NULL);
			if (!pieces_grow(&p, &cap, n + 1)) {
				oom = true;
				break;
			}
			memset(&p[n], 0, sizeof p[n]);
			do_head(d, &p[n].sql, u, n == 0, deadline_ms);
			cur = &p[n++];
		}
		if (last) {
			do_record(d, &cur->sql, u);
			do_tail(&cur->sql, NULL);
		} else {
			sb_fmt(&cur->sql, "gosling_i := %lld; EXECUTE ", (long long)i + 1);
			sb_literal(&cur->sql, u->sql[i]);
			buf_str(&cur->sql, ";\n");
			if (!cur->first)
				cur->first = i + 1;
			cur->last = i + 1;
		}
		oom = cur->sql.failed;
	}
	if (oom) {
		pieces_free(p, n);
		return false;
	}
	*out = p;
	*nout = n;
	return true;
}

/*
 * From the error of a DO block: strip "gosling [unit U ]statement N: " off its message;
 * *unit is U (0 when the block ran one unit), the result N (0: gosling's own bookkeeping).
 */
static uint32_t
error_statement(struct db_error *err, uint32_t *unit)
{
	char *m = err->message, *p = m, *end;
	unsigned long u = 0, k;

	*unit = 0;
	if (strncmp(p, "gosling ", 8) != 0)
		return 0;
	p += 8;
	if (strncmp(p, "unit ", 5) == 0) {
		u = strtoul(p + 5, &end, 10);
		if (*end != ' ')
			return 0;
		p = end + 1;
	}
	if (strncmp(p, "statement ", 10) != 0)
		return 0;
	k = strtoul(p + 10, &end, 10);
	if (strncmp(end, ": ", 2) != 0)
		return 0;
	memmove(m, end + 2, strlen(end + 2) + 1);
	*unit = (uint32_t)u;
	return (uint32_t)k;
}

/* From the error of a call that ran piece pc: the goose statement (1-based, 0 = gosling's own). */
static uint32_t
failed_statement(const struct piece *pc, struct db_error *err)
{
	uint32_t unit;

	return pc->raw ? pc->first : error_statement(err, &unit);
}

/* Is unit u's history row as the unit leaves it (after a call whose outcome is not known)? */
static bool
unit_landed(struct da_state *d, const struct db_unit *u, bool *landed, struct db_error *err)
{
	char sql[512];
	struct rdsdata_result r;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE version = %lld AND failed_statement IS NULL",
		 d->names.history, (long long)u->rec.version);
	if (!query(d, "reading the history back", sql, NULL, 0, &r, err))
		return false;
	*landed = r.nrows == 1 && r.rows[0][0] && (strcmp(r.rows[0][0], "0") != 0) != u->down;
	rdsdata_result_free(&r);
	return true;
}

enum unit_outcome { UNIT_DONE, UNIT_SKIPPED, UNIT_FAILED, UNIT_RESTART };

/* Was st's answer lost on the way (the request may have arrived and run)? */
static bool
answer_lost(const struct rdsdata_status *st)
{
	return st->code == RDSDATA_OTHER && !st->aws_code[0];
}

/* One try of unit u; on UNIT_FAILED *statement and *err say why. */
static enum unit_outcome
unit_try(struct da_state *d, const struct db_unit *u, int64_t deadline_ms, uint32_t *statement, struct db_error *err)
{
	struct piece *p;
	size_t np;
	struct rdsdata_status st;
	struct rdsdata_result r;
	char tx[RDSDATA_TXID_MAX] = "";
	enum unit_outcome out = UNIT_DONE;
	bool timed_out = false, lost = false;

	*statement = 0;
	if (!pieces_build(d, u, deadline_ms, &p, &np)) {
		error_set(err, "%s", "out of memory building the unit's calls");
		return UNIT_FAILED;
	}
	if (np > 1 || p[0].raw) {
		if (!begin_tx(d, deadline_ms, tx, &st)) {
			error_of(&st, "BEGIN", err);
			pieces_free(p, np);
			return UNIT_FAILED;
		}
	}
	for (size_t i = 0; i < np; i++) {
		struct rdsdata_statement s = { .sql = p[i].sql.p, .transaction_id = tx[0] ? tx : NULL, .once = true };

		if (exec(d, &s, deadline_ms, &r, &st)) {
			rdsdata_result_free(&r);
			continue;
		}
		if (st.code == RDSDATA_DATABASE && strcmp(st.sqlstate, SKIP_STATE) == 0) {
			out = UNIT_SKIPPED;
		} else if (st.code == RDSDATA_TXN_NOT_FOUND) {
			out = UNIT_RESTART;
		} else {
			error_of(&st, "running the migration", err);
			*statement = failed_statement(&p[i], err);
			timed_out = st.code == RDSDATA_TIMEOUT || st.code == RDSDATA_UNAVAILABLE ||
				    st.code == RDSDATA_OTHER;
			lost = answer_lost(&st);
			out = UNIT_FAILED;
		}
		break;
	}
	pieces_free(p, np);
	if (tx[0]) {
		d->db.deadline_ms = call_deadline(d, deadline_ms);
		if (out == UNIT_DONE && !rdsdata_commit(&d->db, tx, &st)) {
			if (st.code == RDSDATA_TXN_NOT_FOUND)
				return UNIT_RESTART;
			error_of(&st, "COMMIT", err);
			timed_out = true;
			lost = answer_lost(&st);
			out = UNIT_FAILED;
		} else if (out != UNIT_DONE && !rdsdata_rollback(&d->db, tx, &st)) {
			log_debug("ROLLBACK over the RDS Data API: %s", st.message);
		}
	}
	if (out == UNIT_FAILED && timed_out) {
		/* the call may have committed: the history row says, nothing is sent again blindly */
		struct db_error e2;
		bool landed = false;

		if (!unit_landed(d, u, &landed, &e2))
			return out;
		if (landed) {
			log_warn("version %lld: %s, but the history shows it committed", (long long)u->rec.version,
				 err->message);
			return UNIT_DONE;
		}
		if (lost) {
			/* sent again, it re-reads its history row under the key's lock: never twice */
			log_warn("version %lld: %s, and the history shows it did not commit: running it again",
				 (long long)u->rec.version, err->message);
			return UNIT_RESTART;
		}
	}
	return out;
}

/* characters unit u takes in a DO block of several */
static size_t
unit_chars(const struct db_unit *u)
{
	size_t c = record_chars(u) + 512;

	for (uint32_t i = 0; i < u->nstmts; i++)
		c += literal_chars(u->sql[i]) + 48;
	return c;
}

/* How many units from units[0] go in one DO block of at most DO_CAP characters (0: not even the first). */
static size_t
pack_count(const struct db_unit *units, size_t n)
{
	size_t total = 2048, k = 0;

	while (k < n && k < PACK_MAX && total + unit_chars(&units[k]) <= DO_CAP) {
		total += unit_chars(&units[k]);
		k++;
	}
	return k;
}

/*
 * units[0, n) but those skip marks in one DO block, one transaction: the settings and the
 * lock once, then each unit under its re-read history row, its statements and its history
 * row.  An error names the unit (1-based in the pack) and the statement.  A row another run
 * wrote meanwhile rolls the block back with SKIPS_STATE, "gosling skipped U ...": those
 * units are to be marked and the rest sent again, so the result can say which ran here.
 */
static bool
pack_run(struct da_state *d, const struct db_unit *units, size_t n, const bool *skip, int64_t deadline_ms,
	 struct rdsdata_status *st)
{
	struct buf b = { 0 };
	struct rdsdata_statement s = { 0 };
	struct rdsdata_result r;
	bool ok;

	buf_str(&b, "DO $gosling$ DECLARE gosling_u int := 0; gosling_i int := 0; "
		    "gosling_t0 timestamptz := pg_catalog.clock_timestamp(); "
		    "gosling_st text; gosling_m text; gosling_d text; gosling_h text; gosling_skip text := ''; "
		    "BEGIN\nPERFORM ");
	settings_sql(d, &b, deadline_ms);
	buf_str(&b, ";\nBEGIN\n");
	for (size_t k = 0; k < n; k++) {
		const struct db_unit *u = &units[k];

		if (skip[k])
			continue;

		sb_fmt(&b, "gosling_u := %lld; gosling_i := 0; gosling_t0 := pg_catalog.clock_timestamp();\n",
		       (long long)k + 1);
		buf_str(&b, u->down ? "IF EXISTS (SELECT 1 FROM " : "IF NOT EXISTS (SELECT 1 FROM ");
		buf_str(&b, d->names.history);
		sb_fmt(&b, " WHERE version = %lld AND failed_statement IS NULL) THEN\n", (long long)u->rec.version);
		for (uint32_t i = 0; i < u->nstmts; i++) {
			sb_fmt(&b, "gosling_i := %lld; EXECUTE ", (long long)i + 1);
			sb_literal(&b, u->sql[i]);
			buf_str(&b, ";\n");
		}
		do_record(d, &b, u);
		sb_fmt(&b, "ELSE gosling_skip := gosling_skip || ' %lld';\nEND IF;\n", (long long)k + 1);
	}
	do_tail(&b, "IF gosling_skip <> '' THEN RAISE EXCEPTION USING ERRCODE = '" SKIPS_STATE "', "
		    "MESSAGE = 'gosling skipped' || gosling_skip; END IF;\n");
	if (b.failed) {
		buf_free(&b);
		memset(st, 0, sizeof *st);
		st->code = RDSDATA_OTHER;
		snprintf(st->message, sizeof st->message, "out of memory building the call");
		return false;
	}
	s.sql = b.p;
	s.once = true;
	ok = exec(d, &s, deadline_ms, &r, st);
	if (ok)
		rdsdata_result_free(&r);
	buf_free(&b);
	return ok;
}

/*
 * Units [cur->unit, cur->unit + n) as one DO block.  A unit that fails rolls back the units
 * before it in the block: they are sent again (without it) before its failure is reported.
 */
static bool
pack_units(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms,
	   void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	   struct db_batch_failure *f)
{
	size_t first = cur->unit;
	int64_t t0 = clock_now_ms();
	struct rdsdata_status st;
	uint32_t unit = 0, statement = 0;
	struct db_error e;
	bool ok, skip[PACK_MAX] = { false };
	int tries = 0;

	while (!(ok = pack_run(d, &units[first], n, skip, deadline_ms, &st)) && tries++ < UNIT_RESTARTS) {
		struct db_error e2;
		bool landed = false;

		if (st.code == RDSDATA_DATABASE && strcmp(st.sqlstate, SKIPS_STATE) == 0) {
			/* another run applied some meanwhile: the block again without them */
			const char *p = strstr(st.message, "gosling skipped");
			char *end;

			for (p = p ? p + 15 : ""; *p == ' '; p = end) {
				unsigned long k = strtoul(p + 1, &end, 10);

				if (k >= 1 && k <= n && !skip[k - 1]) {
					skip[k - 1] = true;
					log_warn("version %lld: %s by another run meanwhile; not run again",
						 (long long)units[first + k - 1].rec.version,
						 units[first + k - 1].down ? "rolled back" : "applied");
				}
			}
			continue;
		}
		if (!answer_lost(&st))
			break;
		/* the block re-reads each history row under the key's lock: sent again, nothing runs twice */
		if (!unit_landed(d, &units[first + n - 1], &landed, &e2) || landed)
			break;
		log_warn("running the migrations: %s, and the history shows they did not commit: sending them again",
			 st.message);
	}
	if (!ok) {
		error_of(&st, "running the migrations", &e);
		if (st.code == RDSDATA_DATABASE)
			statement = error_statement(&e, &unit);
		if (st.code != RDSDATA_DATABASE) {
			/* one transaction: its last unit's row says whether it committed */
			struct db_error e2;
			bool landed = false;

			if (!unit_landed(d, &units[first + n - 1], &landed, &e2) || !landed) {
				f->unit = first;
				f->err = e;
				return false;
			}
			log_warn("%s, but the history shows the %zu migrations committed", e.message, n);
		} else {
			if (unit < 1 || unit > n)
				unit = 1;
			if (unit > 1 && !pack_run(d, &units[first], unit - 1, skip, deadline_ms, &st)) {
				error_of(&st, "running the migrations again", &f->err);
				f->statement = error_statement(&f->err, &unit);
				f->unit = first + (unit ? unit - 1 : 0);
				return false;
			}
			for (size_t k = 0; k + 1 < unit; k++)
				done(first + k, skip[k] ? -1 : (clock_now_ms() - t0) / (int64_t)unit, arg);
			f->unit = first + unit - 1;
			f->statement = statement;
			f->err = e;
			cur->unit = f->unit;
			return false;
		}
	}
	for (size_t k = 0; k < n; k++)
		done(first + k, skip[k] ? -1 : (clock_now_ms() - t0) / (int64_t)n, arg);
	cur->unit = first + n;
	cur->statement = 0;
	cur->last_end_ms = clock_now_ms();
	return true;
}

static bool
da_run_units(struct transport *t, const struct db_unit *units, size_t nunits, bool atomic, const struct db_session *s,
	     int64_t deadline_ms, void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	     struct db_batch_failure *f)
{
	struct da_state *d = state(t);
	const struct db_unit *u = &units[cur->unit];
	int64_t t0 = clock_now_ms();
	struct db_error e;
	uint32_t statement = 0;
	enum unit_outcome out = UNIT_RESTART;

	memset(f, 0, sizeof *f);
	if (atomic) {
		f->unit = cur->unit;
		f->unsent = true;
		error_set(&f->err, "%s", "--atomic is not supported over the RDS Data API yet");
		return false;
	}
	if (!lease_renew(d, &f->err)) {
		/* "unable to apply <the migration it stopped before>: ..." */
		f->unit = f->last_unit = cur->unit;
		f->lost = true;
		return false;
	}
	if (!da_session(t, s, &f->err)) {
		f->unit = cur->unit;
		f->unsent = true;
		return false;
	}
	if (pack_count(u, nunits - cur->unit) >= 2)
		return pack_units(d, units, pack_count(u, nunits - cur->unit), deadline_ms, done, arg, cur, f);
	for (int restarts = 0; out == UNIT_RESTART && restarts <= UNIT_RESTARTS; restarts++) {
		if (restarts)
			log_warn("version %lld: the Data API lost its transaction (TransactionNotFoundException): "
				 "running it again", (long long)u->rec.version);
		out = unit_try(d, u, deadline_ms, &statement, &e);
	}
	if (out == UNIT_RESTART) {
		error_set(&e, "%s", "the Data API lost the transaction again and again (TransactionNotFoundException)");
		out = UNIT_FAILED;
	}
	if (out == UNIT_FAILED) {
		f->unit = cur->unit;
		f->statement = statement;
		f->err = e;
		return false;
	}
	if (out == UNIT_SKIPPED)
		log_warn("version %lld: %s by another run meanwhile; not run again", (long long)u->rec.version,
			 u->down ? "rolled back" : "applied");
	done(cur->unit, out == UNIT_SKIPPED ? -1 : clock_now_ms() - t0, arg);
	cur->unit++;
	cur->statement = 0;
	cur->last_end_ms = clock_now_ms();
	return true;
}

static bool
da_run_statement(struct transport *t, const char *sql, int64_t deadline_ms, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_statement s = { .sql = sql, .once = true };
	struct rdsdata_result r;
	struct rdsdata_status st;

	if (!lease_renew(d, err))
		return false;
	if (!exec(d, &s, deadline_ms, &r, &st)) {
		error_of(&st, "running the statement", err);
		return false;
	}
	rdsdata_result_free(&r);
	return true;
}

static bool
da_index_invalid(struct transport *t, const struct db_index_target *ix, char *schema, size_t schemalen, char *name,
		 size_t namelen, bool *found, bool *building, struct db_error *err)
{
	(void)t;
	(void)ix;
	(void)schema;
	(void)schemalen;
	(void)name;
	(void)namelen;
	*found = *building = false;
	error_set(err, "%s", "resuming a CREATE INDEX CONCURRENTLY is not supported over the RDS Data API yet: "
			     "drop the INVALID index by hand and run again");
	return false;
}

static bool
da_index_drop(struct transport *t, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err)
{
	(void)t;
	(void)schema;
	(void)name;
	(void)deadline_ms;
	error_set(err, "%s", "dropping an INVALID index is not supported over the RDS Data API yet");
	return false;
}

bool
dataapi_transport_init(struct transport *t, const struct config *cfg, struct db_error *err)
{
	struct da_state *d = calloc(1, sizeof *d);
	uint64_t nonce = 0;

	memset(t, 0, sizeof *t);
	if (!d || !(d->http = http_client_new())) {
		free(d);
		error_set(err, "%s", "out of memory");
		return false;
	}
	d->cfg = cfg;
	db_names_init(&d->names, cfg);
	d->db.http = d->http;
	d->db.resource_arn = config_str(cfg, SET_CLUSTER_ARN);
	d->db.secret_arn = config_str(cfg, SET_SECRET_ARN);
	d->db.database = config_str(cfg, SET_DBNAME);
	d->lock_ms = config_int(cfg, SET_LOCK_TIMEOUT);
	d->lease_ms = config_int(cfg, SET_LEASE) * 1000;
	/* the lease's owner: this run only (Lambda sandboxes share pids) */
	if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
		nonce = (uint64_t)clock_now_ms() * 2654435761u ^ (uint64_t)(uintptr_t)d;
	snprintf(d->owner, sizeof d->owner, "gosling %lld.%ld.%016llx", (long long)clock_now_ms(), (long)getpid(),
		 (unsigned long long)nonce);
	t->state = d;
	t->open = da_open;
	t->alive = da_alive;
	t->close = da_close;
	t->release = da_release;
	t->describe = da_describe;
	t->limit = da_limit;
	t->text_sent = da_text_sent;
	t->session = da_session;
	t->restore = da_restore;
	t->lock_try = da_lock_try;
	t->unlock = da_unlock;
	t->tables = da_tables;
	t->history_read = da_history_read;
	t->history_head = da_history_head;
	t->goose_read = da_goose_read;
	t->begin = da_begin;
	t->commit = da_commit;
	t->rollback = da_rollback;
	t->history_create = da_history_create;
	t->history_upsert = da_history_upsert;
	t->history_delete = da_history_delete;
	t->history_rechain = da_history_rechain;
	t->run_units = da_run_units;
	t->run_statement = da_run_statement;
	t->index_invalid = da_index_invalid;
	t->index_drop = da_index_drop;
	return true;
}
