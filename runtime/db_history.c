/*
 * db_history.c - gosling's history table and goose's: which exist, reading them
 * (rows one at a time, strings shared with the bundle where equal), writing them;
 * and the advisory locks a run holds.  Each query checks the shape of what comes back.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"

/* --- the advisory lock ---------------------------------------------------- */

bool
db_lock_try(PGconn *conn, int64_t key, bool *got, struct db_error *err)
{
	char k[32];
	const char *params[] = { k };
	PGresult *res;

	snprintf(k, sizeof k, "%lld", (long long)key);
	if (!db_query_run(conn, "pg_try_advisory_lock", "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", 1, params,
			  SHAPE_ROW(1), &res, err))
		return false;
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
db_work_lock_try(PGconn *conn, int64_t key, bool *got, struct db_error *err)
{
	char hi[16], lo[16];
	const char *params[] = { hi, lo };
	PGresult *res;

	snprintf(hi, sizeof hi, "%d", (int)(int32_t)(uint32_t)((uint64_t)key >> 32));
	snprintf(lo, sizeof lo, "%d", (int)(int32_t)(uint32_t)((uint64_t)key & 0xffffffffu));
	if (!db_query_run(conn, "pg_try_advisory_lock", "SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4)", 2,
			  params, SHAPE_ROW(1), &res, err))
		return false;
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
db_unlock(PGconn *conn, int64_t key, struct db_error *err)
{
	char k[32];
	const char *params[] = { k };
	PGresult *res;

	snprintf(k, sizeof k, "%lld", (long long)key);
	if (!db_query_run(conn, "pg_advisory_unlock", "SELECT pg_catalog.pg_advisory_unlock($1::bigint)", 1, params,
			  SHAPE_ROW(1), &res, err))
		return false;
	PQclear(res);
	return true;
}

/* --- reading the history -------------------------------------------------- */

bool
db_tables_probe(PGconn *conn, const struct db_names *n, struct db_tables *t, struct db_error *err)
{
	const char *params[] = { n->history, n->goose };
	PGresult *res;

	/* to_regclass resolves an unqualified goose table through search_path, as goose does. */
	if (!db_query_run(conn, "the table lookup",
			  "SELECT pg_catalog.to_regclass($1) IS NOT NULL, pg_catalog.to_regclass($2) IS NOT NULL, "
			  "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute "
			  "WHERE attrelid = pg_catalog.to_regclass($2) AND attname = 'id' AND attidentity <> '')",
			  2, params, SHAPE_ROW(3), &res, err))
		return false;
	t->history = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	t->goose = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	t->goose_identity = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	return true;
}

struct history_rows {
	struct db_row *rows;
	size_t n, cap;
	const struct bundle *known;
	size_t next; /* known's first migration not below the rows read so far */
};

/* s as a row keeps it: known when equal (bit goes into *shared), else a copy */
static const char *
row_str(const char *s, const char *known, unsigned bit, unsigned *shared)
{
	if (known && strcmp(s, known) == 0) {
		*shared |= bit;
		return known;
	}
	return strdup(s);
}

static bool
history_row(const PGresult *res, void *arg)
{
	struct history_rows *h = arg;
	const struct migration *m = NULL;
	struct db_row *r;

	if (!db_grow((void **)&h->rows, &h->cap, h->n, sizeof *h->rows))
		return false;
	r = &h->rows[h->n];
	memset(r, 0, sizeof *r);
	r->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	/* the rows come by version, as the bundle's migrations are */
	while (h->known && h->next < h->known->count && h->known->migrations[h->next].version < r->version)
		h->next++;
	if (h->known && h->next < h->known->count && h->known->migrations[h->next].version == r->version)
		m = &h->known->migrations[h->next];
	r->name = row_str(PQgetvalue(res, 0, 1), m ? m->name : NULL, DB_ROW_NAME, &r->shared);
	r->file_checksum = row_str(PQgetvalue(res, 0, 2), m ? m->file_checksum : NULL, DB_ROW_FILE, &r->shared);
	r->exec_checksum = row_str(PQgetvalue(res, 0, 3), m ? m->exec_checksum : NULL, DB_ROW_EXEC, &r->shared);
	r->chain = row_str(PQgetvalue(res, 0, 4), m ? m->chain : NULL, DB_ROW_CHAIN, &r->shared);
	snprintf(r->applied_at, sizeof r->applied_at, "%s", PQgetvalue(res, 0, 5));
	r->execution_ms = PQgetisnull(res, 0, 6) ? -1 : strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	r->build_id = row_str(PQgetvalue(res, 0, 7), h->known ? h->known->build_id : NULL, DB_ROW_BUILD, &r->shared);
	snprintf(r->origin, sizeof r->origin, "%s", PQgetvalue(res, 0, 8));
	r->failed_statement = PQgetisnull(res, 0, 9) ? 0 : (uint32_t)atoi(PQgetvalue(res, 0, 9));
	r->done_checksum = PQgetisnull(res, 0, 10) ? NULL : strdup(PQgetvalue(res, 0, 10));
	h->n++;
	return r->name && r->file_checksum && r->exec_checksum && r->chain && r->build_id &&
		(r->done_checksum || PQgetisnull(res, 0, 10));
}

bool
db_history_head(PGconn *conn, const struct db_names *n, struct db_head *h, struct db_error *err)
{
	char sql[512];
	PGresult *res;

	memset(h, 0, sizeof *h);
	snprintf(sql, sizeof sql,
		 "SELECT version, name, chain, "
		 "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "failed_statement FROM %s ORDER BY version DESC LIMIT 1",
		 n->history);
	if (!db_query_run(conn, "reading the history's newest row", sql, 0, NULL, SHAPE_ROWS(5), &res, err)) {
		/* undefined_table, invalid_schema_name: nothing applied here yet */
		return strcmp(err->sqlstate, "42P01") == 0 || strcmp(err->sqlstate, "3F000") == 0;
	}
	if (PQntuples(res) == 1) {
		h->found = true;
		h->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(h->name, sizeof h->name, "%s", PQgetvalue(res, 0, 1));
		snprintf(h->chain, sizeof h->chain, "%s", PQgetvalue(res, 0, 2));
		snprintf(h->applied_at, sizeof h->applied_at, "%s", PQgetvalue(res, 0, 3));
		h->failed_statement = PQgetisnull(res, 0, 4) ? 0 : (uint32_t)atoi(PQgetvalue(res, 0, 4));
	}
	PQclear(res);
	return true;
}

bool
db_history_read(PGconn *conn, const struct db_names *n, const struct bundle *known, struct db_row **rows, size_t *nrows,
		struct db_error *err)
{
	struct history_rows h = { .known = known };
	char sql[512];

	*rows = NULL;
	*nrows = 0;
	snprintf(sql, sizeof sql,
		 "SELECT version, name, file_checksum, exec_checksum, chain, "
		 "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "execution_ms, build_id, origin, failed_statement, "
		 /* through to_jsonb: a history table older than the column reads as NULL, not an error */
		 "CASE WHEN failed_statement IS NOT NULL THEN pg_catalog.to_jsonb(h) OPERATOR(pg_catalog.->>) "
		 "'done_checksum' END FROM %s h ORDER BY version",
		 n->history);
	if (!db_rows_run(conn, "reading the history", sql, 11, history_row, &h, err)) {
		db_rows_free(h.rows, h.n);
		return false;
	}
	if (!h.rows && !(h.rows = calloc(1, sizeof *h.rows))) {
		db_error_set(err, "out of memory reading %s", n->history);
		return false;
	}
	*rows = h.rows;
	*nrows = h.n;
	return true;
}

bool
db_goose_read(PGconn *conn, const struct db_names *n, int64_t **versions, size_t *nversions, struct db_error *err)
{
	char sql[512];
	PGresult *res = NULL;
	int64_t *v = NULL;
	int nt;
	bool ok = false;

	*versions = NULL;
	*nversions = 0;
	/* goose's legacy rule: a version's newest row decides whether it is applied. */
	snprintf(sql, sizeof sql,
		 "SELECT version_id FROM (SELECT DISTINCT ON (version_id) version_id, is_applied "
		 "FROM %s ORDER BY version_id, id DESC) g WHERE is_applied AND version_id > 0 "
		 "ORDER BY version_id",
		 n->goose);
	if (!db_query_run(conn, "reading goose's table", sql, 0, NULL, SHAPE_ROWS(1), &res, err))
		goto out;
	nt = PQntuples(res);
	v = calloc(nt ? (size_t)nt : 1, sizeof *v);
	if (!v) {
		db_error_set(err, "out of memory reading %s", n->goose);
		goto out;
	}
	for (int i = 0; i < nt; i++)
		v[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	*versions = v;
	*nversions = (size_t)nt;
	ok = true;
out:
	PQclear(res);
	return ok;
}

/* --- changing the history ------------------------------------------------- */

bool
db_history_create(PGconn *conn, const struct db_names *n, struct db_error *err)
{
	char sql[1536];

	if (n->create_schema) {
		snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", n->schema);
		if (!db_command_run(conn, "creating the history schema", sql, 0, NULL, err))
			return false;
	}
	db_history_ddl(n, sql, sizeof sql);
	return db_command_run(conn, "creating the history table", sql, 0, NULL, err);
}

bool
db_goose_insert(PGconn *conn, const struct db_names *n, int64_t version, struct db_error *err)
{
	char sql[256], v[32];
	const char *params[] = { v };

	snprintf(v, sizeof v, "%lld", (long long)version);
	snprintf(sql, sizeof sql, "INSERT INTO %s (version_id, is_applied) VALUES ($1, true)", n->goose);
	return db_command_run(conn, "recording the version in goose's table", sql, 1, params, err);
}

bool
db_history_upsert(PGconn *conn, const struct db_names *n, const struct db_record *r, bool goose, struct db_error *err)
{
	char sql[1024], v[32], ms[32], fs[32];
	const char *params[10];

	snprintf(v, sizeof v, "%lld", (long long)r->version);
	snprintf(ms, sizeof ms, "%lld", (long long)r->execution_ms);
	snprintf(fs, sizeof fs, "%u", r->failed_statement);
	params[0] = v;
	params[1] = r->name;
	params[2] = r->file_checksum;
	params[3] = r->exec_checksum;
	params[4] = r->chain;
	params[5] = r->execution_ms >= 0 ? ms : NULL;
	params[6] = r->build_id;
	params[7] = r->origin;
	params[8] = r->failed_statement ? fs : NULL;
	params[9] = r->error;
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s (version, name, file_checksum, exec_checksum, chain, applied_at, "
		 "execution_ms, build_id, origin, failed_statement, error) "
		 "VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp(), $6, $7, $8, $9, $10) "
		 "ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
		 "file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
		 "chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "
		 "execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, "
		 "origin = EXCLUDED.origin, failed_statement = EXCLUDED.failed_statement, "
		 "error = EXCLUDED.error",
		 n->history);
	if (!db_command_run(conn, "recording the migration in the history", sql, 10, params, err))
		return false;
	if (r->failed_statement > 0) {
		const char *p2[] = { v, r->done_checksum };

		snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS done_checksum text", n->history);
		if (!db_command_run(conn, "adding done_checksum to the history", sql, 0, NULL, err))
			return false;
		snprintf(sql, sizeof sql, "UPDATE %s SET done_checksum = $2 WHERE version = $1", n->history);
		return db_command_run(conn, "recording what a stopped migration ran", sql, 2, p2, err);
	}
	if (goose && r->failed_statement == 0)
		return db_goose_insert(conn, n, r->version, err);
	return true;
}

bool
db_history_delete(PGconn *conn, const struct db_names *n, int64_t version, bool goose, struct db_error *err)
{
	char sql[256], v[32];
	const char *params[] = { v };

	snprintf(v, sizeof v, "%lld", (long long)version);
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE version = $1", n->history);
	if (!db_command_run(conn, "deleting the history row", sql, 1, params, err))
		return false;
	if (!goose)
		return true;
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE version_id = $1", n->goose);
	return db_command_run(conn, "deleting goose's row", sql, 1, params, err);
}

bool
db_history_rechain(PGconn *conn, const struct db_names *n, int64_t version, const char *chain, struct db_error *err)
{
	char sql[256], v[32];
	const char *params[] = { chain, v };
	PGresult *res;
	bool ok;

	snprintf(v, sizeof v, "%lld", (long long)version);
	snprintf(sql, sizeof sql, "UPDATE %s SET chain = $1 WHERE version = $2", n->history);
	if (!db_query_run(conn, "re-chaining the history", sql, 2, params, SHAPE_COMMAND, &res, err))
		return false;
	ok = strcmp(PQcmdTuples(res), "1") == 0;
	if (!ok)
		db_error_set(err, "no history row of version %s to re-chain", v);
	PQclear(res);
	return ok;
}
