/*
 * dataapi_transport.c - the RDS Data API transport (issue 18): transport.h's calls over
 * rdsdata.h's four calls, with no libpq connection and no session.
 *
 *   - Reads (tables, history, goose's table) are one ExecuteStatement each, outside a
 *     transaction; the history is read in pages of HISTORY_PAGE rows (1 MiB answers).
 *   - A unit (one migration) is one transaction.  Consecutive units that fit in DO_CAP
 *     characters go as one DO block, one autocommit ExecuteStatement (dataapi_blocks.c's
 *     pack_run): it sets gosling's settings (set_config(..., true): lock_timeout,
 *     statement_timeout below the call's 45 s, a target's search_path), takes
 *     pg_advisory_xact_lock(run lock key), re-reads the block's history rows under it
 *     (another runner applied some: GS002 names them, nothing ran, and the block goes
 *     again without them, so each migration is applied once without a session), EXECUTEs
 *     each statement's text in order from one array and records the block's history rows
 *     in one INSERT.  A failure in one of them: the ones before it are sent again without
 *     it, then it is reported.  A unit too large for a block is a transaction
 *     (BeginTransaction, DO blocks of at most DO_CAP characters, a statement longer than
 *     that alone as its own call, CommitTransaction).  The first error inside a DO block
 *     is raised again with its SQLSTATE, its message prefixed "gosling [unit U ]statement N: ",
 *     so the failure names the unit and the statement.
 *   - gosling's own rows (begin .. commit) gather into one DO block sent at commit
 *     (dataapi_history.c), a transaction only past DO_CAP characters.
 *   - The run lock (lock_try on the lock link) is a lease row in the history's schema,
 *     gosling_lock (lock_key, locked_by, locked_at, lease_expires_at), taken in one DO
 *     block (the table made on first use) only while no session advisory lock of the key
 *     is held (a libpq runner's) and no unexpired lease of another run stands; unlock
 *     deletes it.  Its lease lasts until the run's hard deadline and a minute; a run
 *     without a deadline takes it for GOSLING_LEASE (2 minutes) and extends it before a
 *     run of units or a NO TRANSACTION statement once a third of that has passed, while
 *     the row still names this run (lost to another run: the run stops there).  The work
 *     lock is the per-unit transaction lock above: lock_try(work) always takes.
 *   - DatabaseResumingException is retried with backoff (1 s doubling to 8 s) until the
 *     deadline, past rdsdata.c's three attempts: a paused cluster takes 15 s and more
 *     to wake.  TransactionNotFoundException restarts the unit.  After a
 *     StatementTimeoutException the unit is never sent again blindly: its history row
 *     is read back and decides.
 *   - --atomic (run_units' atomic) is one transaction for every unit: one
 *     BeginTransaction, each unit's calls (its DO blocks as above, the key's lock and the
 *     history re-read included, units not packed together) naming it one after another,
 *     one CommitTransaction.  A failure rolls it back and names the unit and statement;
 *     TransactionNotFoundException (the service rolled it back) runs the whole set again
 *     from its first unit, UNIT_RESTARTS times at most; a CommitTransaction whose answer
 *     is lost is decided by the last unit's history row, after a RollbackTransaction that
 *     keeps an unarrived commit from landing late.
 *   - The resume of a failed CREATE INDEX CONCURRENTLY (dataapi_statement.c): index_invalid
 *     looks for the INVALID index in a transaction of its own (read only, rolled back) whose
 *     first call sets the target's search_path as a unit does, so the table resolves as in a
 *     unit; index_drop is DROP INDEX CONCURRENTLY IF EXISTS, one autocommit call run as a
 *     NO TRANSACTION statement is (below; done once the index is gone).
 *   - A NO TRANSACTION statement (dataapi_statement.c) is one autocommit ExecuteStatement
 *     with continueAfterTimeout, led by a block comment naming the run's owner, the version
 *     and the statement ("gosling <owner> version V statement N"), which PostgreSQL keeps in
 *     pg_stat_activity.query.  After a StatementTimeoutException it is never sent again: it
 *     runs on, and pg_stat_activity is polled (250 ms doubling to 4 s) until no backend runs
 *     it; then the catalog decides where it can (a named CREATE INDEX CONCURRENTLY: done when
 *     its index is valid, failed when it is INVALID or missing, which the next run's resume
 *     drops), and elsewhere the failure says the outcome is unknown and what to check.  Still
 *     running at the run's deadline, it is cancelled (pg_cancel_backend), as libpq cancels.
 *     gosling's settings do not apply to it (no session to set them in; a target's
 *     search_path included).
 */
#include "dataapi.h"
#include "dataapi_impl.h"

/* --- the table of calls ------------------------------------------------------ */

static bool
da_open(struct transport *t, enum transport_link link, struct db_error *err)
{
	(void)t;
	(void)link;
	(void)err;
	return true; /* no connection: each call is a request of its own */
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
	buf_free(&d->tx_sql);
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

bool
da_session(struct transport *t, const struct db_session *s, struct db_error *err)
{
	struct da_state *d = state(t);

	d->statement_ms = s->statement_ms;
	d->lock_ms = s->lock_ms;
	free(d->search_path);
	d->search_path = NULL;
	if (s->search_path) {
		/* the schema as one quoted identifier ("" doubled), as libpq's session sets it: never case-folded */
		struct buf q = { 0 };

		buf_char(&q, '"');
		for (const char *p = s->search_path; *p; p++) {
			if (*p == '"')
				buf_char(&q, '"');
			buf_char(&q, *p);
		}
		buf_char(&q, '"');
		if (!(d->search_path = buf_take(&q))) {
			da_error_set(err, "%s", "out of memory");
			return false;
		}
	}
	return true; /* in force from the next call on, an open transaction's DO block too */
}

static bool
da_restore(struct transport *t, struct db_error *err)
{
	(void)t;
	(void)err;
	return true; /* no session a migration could have changed */
}

#define LEASE_HELD "GS003" /* raised by the lease's call when another run holds it */

/*
 * The lease row's call: its table made on first use, then the row taken (inserted, or
 * updated from a lapsed lease or this run's own) only while no libpq runner holds the
 * key's session lock (the transaction lock is free) and no unexpired lease of another run
 * stands; not taken: LEASE_HELD.  One DO block, so one call.
 */
static void
lease_sql(struct da_state *d, struct buf *b, int64_t key, int64_t lease_ms)
{
	buf_str(b, "DO $gosling$ BEGIN\n");
	if (d->names.create_schema) {
		buf_str(b, "CREATE SCHEMA IF NOT EXISTS ");
		buf_str(b, d->names.schema);
		buf_str(b, ";\n");
	}
	buf_str(b, "CREATE TABLE IF NOT EXISTS ");
	buf_str(b, d->names.schema);
	buf_str(b,
		".gosling_lock (lock_key bigint PRIMARY KEY, locked_by text NOT NULL, "
		"locked_at timestamptz NOT NULL, lease_expires_at timestamptz NOT NULL);\nINSERT INTO ");
	buf_str(b, d->names.schema);
	buf_str(b, ".gosling_lock AS l (lock_key, locked_by, locked_at, lease_expires_at) ");
	da_sb_fmt(b, "SELECT %lld, ", (long long)key);
	da_sb_literal(b, d->owner);
	buf_str(b, ", pg_catalog.clock_timestamp(), ");
	da_sb_fmt(b, "pg_catalog.clock_timestamp() + %lld * interval '1 millisecond' ", (long long)lease_ms);
	da_sb_fmt(b, "WHERE pg_catalog.pg_try_advisory_xact_lock(%lld) ", (long long)key);
	buf_str(b,
		"ON CONFLICT (lock_key) DO UPDATE SET locked_by = EXCLUDED.locked_by, locked_at = EXCLUDED.locked_at, "
		"lease_expires_at = EXCLUDED.lease_expires_at "
		"WHERE l.lease_expires_at < pg_catalog.clock_timestamp() OR l.locked_by = EXCLUDED.locked_by;\n"
		"IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = '" LEASE_HELD "', "
		"MESSAGE = 'the run lock is held'; END IF;\nEND $gosling$");
}

static bool
da_lock_try(struct transport *t, int64_t key, bool work, bool *got, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };
	int64_t hard = d->hard_ms;
	bool ok;

	d->key = key;
	d->have_key = true;
	*got = false;
	if (work) {
		*got = true; /* each unit takes pg_advisory_xact_lock(key) in its own transaction */
		return true;
	}
	lease_sql(d, &b, key, hard ? hard - clock_now_ms() + 60000 : d->lease_ms);
	if (b.failed) {
		buf_free(&b);
		da_error_set(err, "%s", "out of memory");
		return false;
	}
	ok = da_query(d, "taking the run lock's lease", b.p, NULL, 0, NULL, err);
	/*
	 * two runs making the table (or schema) at once: IF NOT EXISTS does not serialize them, and
	 * the one that loses sees a unique violation of the catalog (23505), or, when the other has
	 * committed between its checks, the relation (42P07), the schema (42P06) or the table's
	 * row type ("type gosling_lock already exists", 42710) already there
	 */
	if (!ok &&
	    (strcmp(err->sqlstate, "23505") == 0 || strcmp(err->sqlstate, "42P07") == 0 ||
	     strcmp(err->sqlstate, "42P06") == 0 || strcmp(err->sqlstate, "42710") == 0))
		ok = da_query(d, "taking the run lock's lease", b.p, NULL, 0, NULL, err);
	buf_free(&b);
	if (!ok && strcmp(err->sqlstate, LEASE_HELD) == 0) {
		memset(err, 0, sizeof *err);
		return true;
	}
	*got = d->lease = ok;
	d->leased_at = clock_now_ms();
	return ok;
}

/*
 * Extend the lease of a run without a deadline by d->lease_ms once a third of it has
 * passed, while the row still names this run; false (err set) when it does not: another
 * run took a lease that lapsed, and this one must not go on.
 */
bool
da_lease_renew(struct da_state *d, struct db_error *err)
{
	char sql[512], k[32], lease[32];
	struct rdsdata_param p[3] = { { .name = "k", .string = k },
				      { .name = "o", .string = d->owner },
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
	if (!da_query(d, "extending the run lock's lease", sql, p, 3, &r, err))
		return false;
	ours = r.nrows == 1;
	rdsdata_result_free(&r);
	if (!ours) {
		d->lease = false;
		da_error_set(err,
			     "the run lock's lease lapsed and another run took it (%s): stopping before the "
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
	return da_query(d, "releasing the run lock's lease", sql, p, 2, NULL, err);
}

bool
dataapi_transport_init(struct transport *t, const struct config *cfg, struct db_error *err)
{
	struct da_state *d = calloc(1, sizeof *d);
	uint64_t nonce = 0;

	memset(t, 0, sizeof *t);
	if (!d || !(d->http = http_client_new())) {
		free(d);
		da_error_set(err, "%s", "out of memory");
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
	t->lock_poll_ms = 250; /* each try is an HTTPS call: 16 waiters make about 30 a second, not 160 */
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
