/* dataapi_history.c - the Data API transport's reads and writes of the history and goose tables. */
#include "dataapi_impl.h"

bool
da_tables(struct transport *t, struct db_tables *out, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_param p[2] = { { .name = "h", .string = d->names.history },
				      { .name = "g", .string = d->names.goose } };
	struct rdsdata_result r;

	if (!da_query(d, "the table lookup",
		      "SELECT pg_catalog.to_regclass(:h) IS NOT NULL, pg_catalog.to_regclass(:g) IS NOT NULL, "
		      "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute "
		      "WHERE attrelid = pg_catalog.to_regclass(:g) AND attname = 'id' AND attidentity <> '')",
		      p, 2, &r, err))
		return false;
	if (r.nrows != 1 || r.ncols != 3 || !r.rows[0][0] || !r.rows[0][1] || !r.rows[0][2]) {
		rdsdata_result_free(&r);
		da_error_set(err, "%s", "the table lookup: an answer of an unexpected shape");
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

bool
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

		if (!da_query(d, "reading the history", sql, p, 1, &r, err))
			goto fail;
		if (r.nrows && r.ncols != 11) {
			rdsdata_result_free(&r);
			da_error_set(err, "%s", "reading the history: an answer of an unexpected shape");
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
	da_error_set(err, "out of memory reading %s", d->names.history);
fail:
	db_rows_free(out, n);
	return false;
}

bool
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
	if (!da_query(d, "reading the history's newest row", sql, NULL, 0, &r, err))
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

/*
 * goose's applied versions, in pages of GOOSE_PAGE (an answer of 10,000 versions is about 250 KB,
 * under the Data API's 1 MiB): a database goose ran for years may hold tens of thousands.
 */
bool
da_goose_read(struct transport *t, int64_t **versions, size_t *nversions, struct db_error *err)
{
	struct da_state *d = state(t);
	char sql[512], after[32] = "0";
	struct rdsdata_param p[1] = { { .name = "a", .string = after } };
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	bool more = true;

	*versions = NULL;
	*nversions = 0;
	snprintf(sql, sizeof sql,
		 "SELECT version_id FROM (SELECT DISTINCT ON (version_id) version_id, is_applied "
		 "FROM %s WHERE version_id > :a::bigint ORDER BY version_id, id DESC) g WHERE is_applied "
		 "ORDER BY version_id LIMIT %d",
		 d->names.goose, GOOSE_PAGE);
	while (more) {
		struct rdsdata_result r;
		size_t got;

		if (!da_query(d, "reading goose's table", sql, p, 1, &r, err)) {
			free(v);
			return false;
		}
		got = r.nrows;
		if (n + got + 1 > cap) {
			int64_t *g = realloc(v, (cap = n + got + 1) * sizeof *v);

			if (!g) {
				rdsdata_result_free(&r);
				free(v);
				da_error_set(err, "out of memory reading %s", d->names.goose);
				return false;
			}
			v = g;
		}
		for (size_t i = 0; i < got; i++)
			v[n++] = strtoll(r.rows[i][0] ? r.rows[i][0] : "0", NULL, 10);
		if (got)
			snprintf(after, sizeof after, "%lld", (long long)v[n - 1]);
		more = got == GOOSE_PAGE;
		rdsdata_result_free(&r);
	}
	if (!v && !(v = calloc(1, sizeof *v))) {
		da_error_set(err, "out of memory reading %s", d->names.goose);
		return false;
	}
	*versions = v;
	*nversions = n;
	return true;
}

/*
 * A transaction of gosling's own rows (begin .. commit: the history table, adopted and
 * baselined rows, a NO TRANSACTION migration's row) costs one call, not four: its
 * statements gather in d->tx_sql and go at commit as one DO block, gosling's settings and
 * the run lock's key first, one autocommit ExecuteStatement, all or nothing as any one
 * statement is.  Past DO_CAP characters a BeginTransaction is taken, each full block goes
 * in it and CommitTransaction ends it.  Nothing between begin and commit reads.
 */
bool
da_begin(struct transport *t, struct db_error *err)
{
	struct da_state *d = state(t);

	(void)err;
	buf_free(&d->tx_sql);
	d->txid[0] = '\0';
	d->open = true;
	return true;
}

/* the gathered statements as one DO block; last: commit's, else a full one (in a transaction begun here) */
static bool
tx_send(struct da_state *d, bool last, struct db_error *err)
{
	struct buf b = { 0 };
	struct rdsdata_status st;
	bool ok;

	if (!last && !d->txid[0] && !da_begin_tx(d, 0, d->txid, &st)) {
		da_error_of(&st, "BEGIN", err);
		return false;
	}
	buf_str(&b, "DO $gosling$ BEGIN\nPERFORM ");
	da_settings_sql(d, &b, 0);
	buf_str(&b, ";\n");
	buf_add(&b, d->tx_sql.p ? d->tx_sql.p : "", d->tx_sql.len);
	buf_str(&b, "END $gosling$");
	ok = !b.failed && !d->tx_sql.failed;
	buf_free(&d->tx_sql);
	if (!ok)
		da_error_set(err, "%s", "out of memory");
	else
		ok = da_query(d, "gosling's own rows", b.p, NULL, 0, NULL, err);
	buf_free(&b);
	return ok;
}

bool
da_rows_flush(struct da_state *d, struct db_error *err)
{
	return !d->tx_sql.len || tx_send(d, false, err);
}

bool
da_commit(struct transport *t, struct db_error *err)
{
	struct da_state *d = state(t);
	struct rdsdata_status st;
	bool ok;

	if (!d->open) {
		da_error_set(err, "%s", "COMMIT: no transaction");
		return false;
	}
	ok = !d->tx_sql.len || tx_send(d, true, err);
	d->open = false;
	if (!d->txid[0])
		return ok;
	d->db.deadline_ms = da_call_deadline(d, 0);
	if (!ok) {
		if (!rdsdata_rollback(&d->db, d->txid, &st))
			log_debug("ROLLBACK over the RDS Data API: %s", st.message);
	} else if (!rdsdata_commit(&d->db, d->txid, &st)) {
		da_error_of(&st, "COMMIT", err);
		ok = false;
	}
	d->txid[0] = '\0';
	return ok;
}

void
da_rollback(struct transport *t)
{
	struct da_state *d = state(t);
	struct rdsdata_status st;

	if (!d->open)
		return;
	d->open = false;
	buf_free(&d->tx_sql);
	if (!d->txid[0])
		return;
	d->db.deadline_ms = da_call_deadline(d, 0);
	if (!rdsdata_rollback(&d->db, d->txid, &st))
		log_debug("ROLLBACK over the RDS Data API: %s", st.message);
	d->txid[0] = '\0';
}

/*
 * Statements of gosling's own (';'-terminated, as built below): gathered into the open
 * transaction, else one autocommit DO block now.  body is consumed.
 */
static bool
own_rows(struct da_state *d, const char *what, struct buf *body, struct db_error *err)
{
	struct buf b = { 0 };
	bool ok;

	if (body->failed) {
		buf_free(body);
		da_error_set(err, "%s", "out of memory");
		return false;
	}
	if (d->open) {
		if (d->tx_sql.len &&
		    da_chars(d->tx_sql.p, d->tx_sql.len) + da_chars(body->p, body->len) + 2048 > DO_CAP &&
		    !tx_send(d, false, err)) {
			buf_free(body);
			return false;
		}
		buf_add(&d->tx_sql, body->p, body->len);
		buf_free(body);
		if (d->tx_sql.failed) {
			da_error_set(err, "%s", "out of memory");
			return false;
		}
		return true;
	}
	buf_str(&b, "DO $gosling$ BEGIN\n");
	buf_add(&b, body->p, body->len);
	buf_str(&b, "END $gosling$");
	buf_free(body);
	if (b.failed) {
		buf_free(&b);
		da_error_set(err, "%s", "out of memory");
		return false;
	}
	ok = da_query(d, what, b.p, NULL, 0, NULL, err);
	buf_free(&b);
	return ok;
}

bool
da_history_create(struct transport *t, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };
	char sql[1536];

	if (d->names.create_schema) {
		buf_str(&b, "CREATE SCHEMA IF NOT EXISTS ");
		buf_str(&b, d->names.schema);
		buf_str(&b, ";\n");
	}
	db_history_ddl(&d->names, sql, sizeof sql);
	buf_str(&b, sql);
	buf_str(&b, ";\n");
	return own_rows(d, "creating the history table", &b, err);
}

/* The history row of r (and goose's), as SQL of one statement each into b, ';'-terminated. */
void
da_record_sql(struct da_state *d, struct buf *b, const struct db_record *r, bool goose, const char *elapsed)
{
	buf_str(b, "INSERT INTO ");
	buf_str(b, d->names.history);
	buf_str(b,
		" (version, name, file_checksum, exec_checksum, chain, applied_at, execution_ms, build_id, origin, "
		"failed_statement, error) VALUES (");
	da_sb_fmt(b, "%lld, ", (long long)r->version);
	da_sb_literal(b, r->name);
	buf_str(b, ", ");
	da_sb_literal(b, r->file_checksum);
	buf_str(b, ", ");
	da_sb_literal(b, r->exec_checksum);
	buf_str(b, ", ");
	da_sb_literal(b, r->chain);
	buf_str(b, ", pg_catalog.clock_timestamp(), ");
	if (elapsed)
		buf_str(b, elapsed);
	else if (r->execution_ms >= 0)
		da_sb_fmt(b, "%lld", (long long)r->execution_ms);
	else
		buf_str(b, "NULL");
	buf_str(b, ", ");
	da_sb_literal(b, r->build_id);
	buf_str(b, ", ");
	da_sb_literal(b, r->origin);
	if (r->failed_statement)
		da_sb_fmt(b, ", %lld, ", (long long)r->failed_statement);
	else
		buf_str(b, ", NULL, ");
	if (r->error)
		da_sb_literal(b, r->error);
	else
		buf_str(b, "NULL");
	buf_str(b, ")" DA_HISTORY_UPSERT ";\n");
	if (r->failed_statement) {
		buf_str(b, "ALTER TABLE ");
		buf_str(b, d->names.history);
		buf_str(b, " ADD COLUMN IF NOT EXISTS done_checksum text;\nUPDATE ");
		buf_str(b, d->names.history);
		buf_str(b, " SET done_checksum = ");
		if (r->done_checksum)
			da_sb_literal(b, r->done_checksum);
		else
			buf_str(b, "NULL");
		da_sb_fmt(b, " WHERE version = %lld;\n", (long long)r->version);
	} else if (goose) {
		buf_str(b, "INSERT INTO ");
		buf_str(b, d->names.goose);
		da_sb_fmt(b, " (version_id, is_applied) VALUES (%lld, true);\n", (long long)r->version);
	}
}

void
da_delete_sql(struct da_state *d, struct buf *b, int64_t version, bool goose)
{
	buf_str(b, "DELETE FROM ");
	buf_str(b, d->names.history);
	da_sb_fmt(b, " WHERE version = %lld;\n", (long long)version);
	if (goose) {
		buf_str(b, "DELETE FROM ");
		buf_str(b, d->names.goose);
		da_sb_fmt(b, " WHERE version_id = %lld;\n", (long long)version);
	}
}

void
da_rechain_sql(struct da_state *d, struct buf *b, int64_t version, const char *chain)
{
	buf_str(b, "UPDATE ");
	buf_str(b, d->names.history);
	buf_str(b, " SET chain = ");
	da_sb_literal(b, chain);
	da_sb_fmt(b, " WHERE version = %lld;\n", (long long)version);
}

bool
da_history_upsert(struct transport *t, const struct db_record *r, bool goose, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };

	da_record_sql(d, &b, r, goose, NULL);
	return own_rows(d, "recording the migration in the history", &b, err);
}

bool
da_history_delete(struct transport *t, int64_t version, bool goose, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };

	da_delete_sql(d, &b, version, goose);
	return own_rows(d, "deleting the history row", &b, err);
}

bool
da_history_rechain(struct transport *t, int64_t version, const char *chain, struct db_error *err)
{
	struct da_state *d = state(t);
	struct buf b = { 0 };

	da_rechain_sql(d, &b, version, chain);
	da_sb_fmt(&b, "IF NOT FOUND THEN RAISE EXCEPTION 'no history row of version %lld to re-chain'; END IF;\n",
		  (long long)version);
	return own_rows(d, "re-chaining the history", &b, err);
}
