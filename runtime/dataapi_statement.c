/*
 * dataapi_statement.c - the Data API transport's statements outside a unit: NO TRANSACTION
 * statements (run_statement), one autocommit call each with continueAfterTimeout, waited for in
 * pg_stat_activity past the call's limit and judged by the catalog; the INVALID index a failed
 * CREATE INDEX CONCURRENTLY left, found (index_invalid) and dropped (index_drop).
 */
#include "dataapi_impl.h"
#include "signals.h"

/* name as a quoted identifier ("" doubled): the catalog's names are never trusted as SQL */
static void
sb_ident(struct buf *b, const char *name)
{
	buf_char(b, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_char(b, '"');
		buf_char(b, *p);
	}
	buf_char(b, '"');
}

/*
 * The first call of the lookup's transaction: the server's version, and the target's search_path
 * set as a unit sets it (set_config(..., true): no session outside a transaction), so to_regclass
 * resolves the table as the statement does.
 */
static bool
lookup_settings(struct da_state *d, const char *tx, int *version, struct rdsdata_status *st)
{
	struct buf b = { 0 };
	struct rdsdata_statement s = { .transaction_id = tx };
	struct rdsdata_result r;
	bool ok;

	buf_str(&b, "SELECT pg_catalog.current_setting('server_version_num')::int");
	da_sb_fmt(&b, ", pg_catalog.set_config('statement_timeout', '%lld', true)", CALL_MAX_MS);
	if (d->search_path) {
		buf_str(&b, ", pg_catalog.set_config('search_path', ");
		da_sb_literal(&b, d->search_path);
		buf_str(&b, ", true)");
	}
	if (b.failed) {
		buf_free(&b);
		da_status_oom(st);
		return false;
	}
	s.sql = b.p;
	ok = da_exec(d, &s, 0, &r, st);
	buf_free(&b);
	if (!ok)
		return false;
	*version = r.nrows == 1 && r.rows[0][0] ? atoi(r.rows[0][0]) : 0;
	rdsdata_result_free(&r);
	return true;
}

/* The index a CREATE INDEX CONCURRENTLY names, as the catalog has it. */
struct index_seen {
	bool found;
	bool valid;    /* pg_index.indisvalid */
	bool building; /* a backend is building it now */
	char schema[128], name[128];
};

/*
 * The index ix names, on ix's table, into *seen.  As the libpq transport asks (db_index_invalid):
 * to_regclass folds and resolves both names as the statement's parse would (an index lives in its
 * table's schema), in a transaction of its own (read only, rolled back) whose first call sets the
 * target's search_path; pg_stat_progress_create_index (PostgreSQL 12 and later) shows a build.
 */
static bool
index_find(struct da_state *d, const struct db_index_target *ix, struct index_seen *seen, struct db_error *err)
{
	struct rdsdata_param p[2] = { { .name = "t", .string = ix->table }, { .name = "n", .string = ix->name } };
	struct rdsdata_statement s = { .params = p, .nparams = 2 };
	struct rdsdata_result r = { 0 };
	struct rdsdata_status st;
	char tx[RDSDATA_TXID_MAX], sql[1024];
	int version = 0;
	bool ok;

	memset(seen, 0, sizeof *seen);
	if (!da_begin_tx(d, 0, tx, &st)) {
		da_error_of(&st, "looking for the index", err);
		return false;
	}
	s.transaction_id = tx;
	ok = lookup_settings(d, tx, &version, &st);
	snprintf(
		sql, sizeof sql,
		"SELECT n.nspname, c.relname, i.indisvalid, %s FROM pg_catalog.pg_index i "
		"JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE i.indrelid = pg_catalog.to_regclass(:t) "
		"AND c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(n.nspname) || '.' || :n)",
		version >= 120000
			? "EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = c.oid)"
			: "false");
	s.sql = sql;
	if (ok && (ok = da_exec(d, &s, 0, &r, &st)) && r.nrows == 1 && r.ncols == 4 && r.rows[0][0] && r.rows[0][1]) {
		seen->found = true;
		seen->valid = r.rows[0][2] && strcmp(r.rows[0][2], "t") == 0;
		seen->building = r.rows[0][3] && strcmp(r.rows[0][3], "t") == 0;
		snprintf(seen->schema, sizeof seen->schema, "%s", r.rows[0][0]);
		snprintf(seen->name, sizeof seen->name, "%s", r.rows[0][1]);
	}
	if (ok)
		rdsdata_result_free(&r);
	else
		da_error_of(&st, "looking for the index", err);
	/* it only read: a failed rollback leaves nothing the 3-minute expiry would not end */
	d->db.deadline_ms = da_call_deadline(d, 0);
	if (!rdsdata_rollback(&d->db, tx, &st))
		log_debug("ROLLBACK over the RDS Data API: %s", st.message);
	return ok;
}

bool
da_index_invalid(struct transport *t, const struct db_index_target *ix, char *schema, size_t schemalen, char *name,
		 size_t namelen, bool *found, bool *building, struct db_error *err)
{
	struct index_seen seen;

	*found = *building = false;
	if (!index_find(state(t), ix, &seen, err))
		return false;
	/* only an INVALID index counts; a valid one of that name is never dropped */
	if (seen.found && !seen.valid) {
		*found = true;
		*building = seen.building;
		snprintf(schema, schemalen, "%s", seen.schema);
		snprintf(name, namelen, "%s", seen.name);
	}
	return true;
}

/* --- statements that run past their call (continueAfterTimeout) ------------------------------- */

/* What the catalog can tell of a statement whose call ran out while it ran on. */
struct judge {
	const struct db_index_target *build; /* CREATE INDEX CONCURRENTLY name: done when valid */
	const char *drop;		     /* DROP INDEX CONCURRENTLY of this quoted name: done once gone */
};

/* How many backends run the statement tagged tag right now (its text holds the tag), and one's pid. */
static bool
tagged_running(struct da_state *d, const char *tag, long long *n, long long *pid, struct db_error *err)
{
	struct rdsdata_param p[1] = { { .name = "tag", .string = tag } };
	struct rdsdata_result r;

	/* the tag is a parameter, so this query's own text does not hold it */
	if (!da_query(d, "looking for the statement in pg_stat_activity",
		      "SELECT count(*), min(pid) FROM pg_catalog.pg_stat_activity WHERE state <> 'idle' "
		      "AND pg_catalog.strpos(query, :tag) > 0 AND pid <> pg_catalog.pg_backend_pid()",
		      p, 1, &r, err))
		return false;
	*n = r.nrows == 1 && r.rows[0][0] ? atoll(r.rows[0][0]) : 0;
	*pid = r.nrows == 1 && r.rows[0][1] ? atoll(r.rows[0][1]) : 0;
	rdsdata_result_free(&r);
	return true;
}

/*
 * Wait, polling pg_stat_activity (250 ms doubling to 4 s), until no backend runs the statement
 * tagged tag: *ended.  Past the deadline (or the hard one) or on a signal the wait stops with it
 * still running: *ended false, *pid its backend.
 */
static bool
wait_ended(struct da_state *d, const char *tag, int64_t deadline_ms, bool *ended, long long *pid, struct db_error *err)
{
	int64_t limit = deadline_ms, delay = 250;
	long long n;

	if (d->hard_ms && (!limit || d->hard_ms < limit))
		limit = d->hard_ms;
	for (;;) {
		int64_t now;

		if (!tagged_running(d, tag, &n, pid, err))
			return false;
		*ended = n == 0;
		now = clock_now_ms();
		if (*ended || signals_interrupted() || (limit && now >= limit))
			return true;
		/* the last nap ends at the limit, not a backoff step before it */
		clock_sleep_ms(limit && limit - now < delay ? limit - now : delay);
		delay = delay < 4000 ? delay * 2 : 4000;
	}
}

/* After a statement that ran on past its call ended: whether the catalog shows it done (err: why not). */
static bool
judged_done(struct da_state *d, const struct judge *j, const char *what, struct db_error *err)
{
	char head[320];

	snprintf(head, sizeof head,
		 "%s ran past the RDS Data API's per-call limit (StatementTimeoutException) and ended on the server "
		 "later; PostgreSQL's answer went with the call",
		 what);
	if (j->build) {
		struct index_seen seen;

		if (!index_find(d, j->build, &seen, err))
			return false;
		if (seen.found && seen.valid) {
			log_info(
				"%s ran past the RDS Data API's per-call limit and ended on the server later: the index "
				"%s.%s it builds is valid",
				what, seen.schema, seen.name);
			return true;
		}
		da_error_set(err, "%s", "");
		if (seen.found)
			snprintf(err->message, sizeof err->message,
				 "%s: the index %s.%s it builds is INVALID, so it failed (the next up drops it and "
				 "builds it again)",
				 head, seen.schema, seen.name);
		else
			snprintf(err->message, sizeof err->message,
				 "%s: the index %s it builds does not exist, so it failed (the next up runs it again)",
				 head, j->build->name);
		return false;
	}
	if (j->drop) {
		char sql[600];
		struct rdsdata_result r;
		bool gone;

		snprintf(sql, sizeof sql, "SELECT pg_catalog.to_regclass(%s) IS NULL", j->drop);
		if (!da_query(d, "looking for the index", sql, NULL, 0, &r, err))
			return false;
		gone = r.nrows == 1 && r.rows[0][0] && strcmp(r.rows[0][0], "t") == 0;
		rdsdata_result_free(&r);
		if (gone)
			return true;
		da_error_set(err, "%s: the index is still there, so it failed", head);
		return false;
	}
	da_error_set(err,
		     "%s, so its outcome is unknown; gosling does not run it again: check whether it took effect "
		     "(the catalog, the rows it changes); the next up starts again at this statement, so undo it, "
		     "or make it safe to run twice, first",
		     head);
	return false;
}

/* Cancel backend pid's statement (pg_cancel_backend); a failure is logged: the error says enough. */
static void
cancel_backend(struct da_state *d, long long pid)
{
	char sql[96];
	struct db_error e;

	snprintf(sql, sizeof sql, "SELECT pg_catalog.pg_cancel_backend(%lld)", pid);
	if (!da_query(d, "cancelling the statement", sql, NULL, 0, NULL, &e))
		log_warn("cancelling backend %lld: %s", pid, e.message);
}

/*
 * sql as one autocommit ExecuteStatement with continueAfterTimeout, after tag (a comment that
 * finds its backend in pg_stat_activity).  A StatementTimeoutException is never answered by
 * sending it again: the statement runs on, is waited for until it ends, and the catalog decides
 * its outcome where it can (j); past the deadline it is cancelled (pg_cancel_backend).
 */
static bool
long_run(struct da_state *d, const char *tag, const char *sql, int64_t deadline_ms, const struct judge *j,
	 const char *what, struct db_error *err)
{
	struct buf b = { 0 };
	struct rdsdata_statement s = { .once = true, .continue_after_timeout = true };
	struct rdsdata_result r;
	struct rdsdata_status st;
	bool ok, ended = false;
	long long pid = 0;

	buf_str(&b, tag);
	buf_str(&b, sql);
	if (b.failed) {
		buf_free(&b);
		da_error_set(err, "%s", "out of memory");
		return false;
	}
	s.sql = b.p;
	ok = da_exec(d, &s, deadline_ms, &r, &st);
	buf_free(&b);
	if (ok) {
		rdsdata_result_free(&r);
		return true;
	}
	da_error_of(&st, what, err);
	if (st.code != RDSDATA_TIMEOUT)
		return false;
	log_info("%s: the call's limit ran out, the statement runs on: waiting for it in pg_stat_activity", what);
	if (!wait_ended(d, tag, deadline_ms, &ended, &pid, err))
		return false;
	if (ended)
		return judged_done(d, j, what, err);
	/* past the deadline, as a libpq run cancels its statement: the next run finds where it stands */
	cancel_backend(d, pid);
	da_error_set(err,
		     "%s ran past the RDS Data API's per-call limit (StatementTimeoutException) and was still running "
		     "at the run's deadline: cancelled (pg_cancel_backend); whether it took effect before that is "
		     "unknown: check it before the next up, which starts again at this statement",
		     what);
	snprintf(err->sqlstate, sizeof err->sqlstate, "57014");
	return false;
}

bool
da_run_statement(struct transport *t, const char *sql, int64_t version, uint32_t statement, int64_t deadline_ms,
		 struct db_error *err)
{
	struct da_state *d = state(t);
	struct db_index_target ix;
	struct judge j = { 0 };
	char tag[192];

	if (d->search_path) {
		/*
		 * One statement per call and no session: nothing can set a fleet target's search_path
		 * for it, so its names would resolve in the database's default schema, not the tenant's.
		 */
		da_error_set(err,
			     "a NO TRANSACTION statement cannot run in a target's schema (%s) over the RDS Data API: "
			     "each call is a statement of its own with no session to set the search_path in; migrate "
			     "this target over libpq (host, port), or make the migration transactional",
			     d->search_path);
		return false;
	}
	if (!da_lease_renew(d, err))
		return false;
	if (db_index_target(sql, &ix) && ix.name[0])
		j.build = &ix;
	/* the run's owner is random: no other statement's text holds the tag */
	snprintf(tag, sizeof tag, "/* %s version %lld statement %u */ ", d->owner, (long long)version, statement);
	return long_run(d, tag, sql, deadline_ms, &j, "the statement", err);
}

bool
da_index_drop(struct transport *t, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf q = { 0 }, sql = { 0 }, lit = { 0 };
	struct judge j = { 0 };
	char tag[160];
	bool ok = false;

	sb_ident(&q, schema);
	buf_char(&q, '.');
	sb_ident(&q, name);
	/* one autocommit call: DROP INDEX CONCURRENTLY cannot run inside a transaction */
	buf_str(&sql, "DROP INDEX CONCURRENTLY IF EXISTS ");
	if (!q.failed) {
		buf_str(&sql, q.p);
		da_sb_literal(&lit, q.p); /* for to_regclass afterwards: gone is done */
	}
	if (q.failed || sql.failed || lit.failed) {
		da_error_set(err, "%s", "out of memory");
	} else {
		j.drop = lit.p;
		snprintf(tag, sizeof tag, "/* %s drop of an INVALID index */ ", d->owner);
		ok = long_run(d, tag, sql.p, deadline_ms, &j, "dropping the index", err);
	}
	buf_free(&q);
	buf_free(&sql);
	buf_free(&lit);
	return ok;
}
