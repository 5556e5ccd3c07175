/*
 * dataapi_statement.c - the Data API transport's statements outside a unit: the INVALID index a
 * failed CREATE INDEX CONCURRENTLY left, found (index_invalid) and dropped (index_drop).
 */
#include "dataapi_impl.h"

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
		memset(st, 0, sizeof *st);
		st->code = RDSDATA_OTHER;
		snprintf(st->message, sizeof st->message, "out of memory");
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

bool
da_index_invalid(struct transport *t, const struct db_index_target *ix, char *schema, size_t schemalen, char *name,
		 size_t namelen, bool *found, bool *building, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_param p[2] = { { .name = "t", .string = ix->table }, { .name = "n", .string = ix->name } };
	struct rdsdata_statement s = { .params = p, .nparams = 2 };
	struct rdsdata_result r = { 0 };
	struct rdsdata_status st;
	char tx[RDSDATA_TXID_MAX], sql[1024];
	int version = 0;
	bool ok;

	*found = *building = false;
	if (!da_begin_tx(d, 0, tx, &st)) {
		da_error_of(&st, "the INVALID index lookup", err);
		return false;
	}
	s.transaction_id = tx;
	ok = lookup_settings(d, tx, &version, &st);
	/*
	 * As the libpq transport asks (db_index_invalid): to_regclass folds and resolves both names
	 * as the statement's parse would (an index lives in its table's schema); only an INVALID
	 * index of that table counts, and a backend building it now (pg_stat_progress_create_index,
	 * PostgreSQL 12 and later) makes it not ours to drop.
	 */
	snprintf(
		sql, sizeof sql,
		"SELECT n.nspname, c.relname, %s FROM pg_catalog.pg_index i "
		"JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE i.indrelid = pg_catalog.to_regclass(:t) AND NOT i.indisvalid "
		"AND c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(n.nspname) || '.' || :n)",
		version >= 120000
			? "EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = c.oid)"
			: "false");
	s.sql = sql;
	if (ok && (ok = da_exec(d, &s, 0, &r, &st)) && r.nrows == 1 && r.ncols == 3 && r.rows[0][0] && r.rows[0][1]) {
		*found = true;
		*building = r.rows[0][2] && strcmp(r.rows[0][2], "t") == 0;
		snprintf(schema, schemalen, "%s", r.rows[0][0]);
		snprintf(name, namelen, "%s", r.rows[0][1]);
	}
	if (ok)
		rdsdata_result_free(&r);
	else
		da_error_of(&st, "the INVALID index lookup", err);
	/* it only read: rolled back, and a failed rollback leaves nothing the 3-minute expiry would not end */
	d->db.deadline_ms = da_call_deadline(d, 0);
	if (!rdsdata_rollback(&d->db, tx, &st))
		log_debug("ROLLBACK over the RDS Data API: %s", st.message);
	return ok;
}

bool
da_index_drop(struct transport *t, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };
	struct rdsdata_statement s = { .once = true };
	struct rdsdata_result r;
	struct rdsdata_status st;
	bool ok;

	/* one autocommit call: DROP INDEX CONCURRENTLY cannot run inside a transaction */
	buf_str(&b, "DROP INDEX CONCURRENTLY IF EXISTS ");
	sb_ident(&b, schema);
	buf_char(&b, '.');
	sb_ident(&b, name);
	if (b.failed) {
		buf_free(&b);
		da_error_set(err, "%s", "out of memory");
		return false;
	}
	s.sql = b.p;
	if (!(ok = da_exec(d, &s, deadline_ms, &r, &st)))
		da_error_of(&st, "dropping the index", err);
	else
		rdsdata_result_free(&r);
	buf_free(&b);
	return ok;
}
