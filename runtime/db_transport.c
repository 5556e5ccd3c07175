/*
 * db_transport.c - the libpq transport: transport.h's calls over two libpq connections,
 * the work link (migrations and gosling's rows) and the lock link (a session advisory
 * lock held while the run lasts).  Each call is one of db.h's functions on one of them.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db_impl.h"

struct db_state {
	const struct config *cfg;
	struct db_names names;
	PGconn *work;
	PGconn *lock;
};

static struct db_state *
state(struct transport *t)
{
	return t->state;
}

static PGconn **
link_of(struct transport *t, enum transport_link link)
{
	return link == TRANSPORT_LOCK ? &state(t)->lock : &state(t)->work;
}

static bool
tp_open(struct transport *t, enum transport_link link, struct db_error *err)
{
	PGconn **conn = link_of(t, link);

	db_close(*conn);
	*conn = NULL;
	return db_connect(state(t)->cfg, link == TRANSPORT_LOCK ? "lock" : "migrations", conn, err);
}

static bool
tp_alive(struct transport *t, enum transport_link link)
{
	PGconn *conn = *link_of(t, link);

	return conn && PQstatus(conn) == CONNECTION_OK;
}

static void
tp_close(struct transport *t, enum transport_link link)
{
	PGconn **conn = link_of(t, link);

	db_close(*conn);
	*conn = NULL;
}

static void
tp_release(struct transport *t)
{
	if (!t->state)
		return;
	tp_close(t, TRANSPORT_LOCK);
	tp_close(t, TRANSPORT_WORK);
	free(t->state);
	t->state = NULL;
}

static void
tp_describe(struct transport *t, char *out, size_t outlen)
{
	db_describe(state(t)->work, out, outlen);
}

static void
tp_limit(struct transport *t, int64_t until_ms, int64_t each_ms, int64_t hard_ms)
{
	(void)t;
	db_limit(until_ms, each_ms, hard_ms);
}

static void
tp_text_sent(struct transport *t, const char *text, size_t len)
{
	(void)t;
	db_text_sent(text, len);
}

static bool
tp_session(struct transport *t, const struct db_session *s, struct db_error *err)
{
	return db_set_session(state(t)->work, s, err);
}

static bool
tp_restore(struct transport *t, struct db_error *err)
{
	return db_utf8(state(t)->work, err);
}

static bool
tp_lock_try(struct transport *t, int64_t key, bool work, bool *got, struct db_error *err)
{
	return work ? db_work_lock_try(state(t)->work, key, got, err) : db_lock_try(state(t)->lock, key, got, err);
}

static bool
tp_unlock(struct transport *t, int64_t key, struct db_error *err)
{
	return db_unlock(state(t)->lock, key, err);
}

static bool
tp_tables(struct transport *t, struct db_tables *out, struct db_error *err)
{
	return db_tables_probe(state(t)->work, &state(t)->names, out, err);
}

static bool
tp_history_read(struct transport *t, const struct bundle *known, struct db_row **rows, size_t *nrows,
		struct db_error *err)
{
	return db_history_read(state(t)->work, &state(t)->names, known, rows, nrows, err);
}

static bool
tp_history_head(struct transport *t, struct db_head *h, struct db_error *err)
{
	return db_history_head(state(t)->work, &state(t)->names, h, err);
}

static bool
tp_goose_read(struct transport *t, int64_t **versions, size_t *nversions, struct db_error *err)
{
	return db_goose_read(state(t)->work, &state(t)->names, versions, nversions, err);
}

static bool
tp_begin(struct transport *t, struct db_error *err)
{
	return db_begin(state(t)->work, err);
}

static bool
tp_commit(struct transport *t, struct db_error *err)
{
	return db_commit(state(t)->work, err);
}

static void
tp_rollback(struct transport *t)
{
	db_rollback(state(t)->work);
}

static bool
tp_history_create(struct transport *t, struct db_error *err)
{
	return db_history_create(state(t)->work, &state(t)->names, err);
}

static bool
tp_history_upsert(struct transport *t, const struct db_record *r, bool goose, struct db_error *err)
{
	return db_history_upsert(state(t)->work, &state(t)->names, r, goose, err);
}

static bool
tp_history_delete(struct transport *t, int64_t version, bool goose, struct db_error *err)
{
	return db_history_delete(state(t)->work, &state(t)->names, version, goose, err);
}

static bool
tp_history_rechain(struct transport *t, int64_t version, const char *chain, struct db_error *err)
{
	return db_history_rechain(state(t)->work, &state(t)->names, version, chain, err);
}

/* One batch (db_batch_new, db_batch_run): as many units from *cur as fit in BATCH_CAP. */
static bool
tp_run_units(struct transport *t, const struct db_unit *units, size_t nunits, bool atomic, const struct db_session *s,
	     int64_t deadline_ms, void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	     struct db_batch_failure *f)
{
	struct db_batch *b;
	struct db_error e;
	bool ok;

	if (!(b = db_batch_new(state(t)->work, &state(t)->names, s, units, nunits, atomic, cur, &e))) {
		memset(f, 0, sizeof *f);
		f->err = e;
		f->unit = cur->unit;
		f->unsent = true;
		return false;
	}
	ok = db_batch_run(state(t)->work, b, deadline_ms, done, arg, cur, f);
	db_batch_free(b);
	return ok;
}

static bool
tp_run_statement(struct transport *t, const char *sql, int64_t version, uint32_t statement, int64_t deadline_ms,
		 struct db_error *err)
{
	(void)version; /* the statement goes as it is: its text is the migration's, byte for byte */
	(void)statement;
	return db_migration_statement(state(t)->work, sql, deadline_ms, err);
}

static bool
tp_index_invalid(struct transport *t, const struct db_index_target *ix, char *schema, size_t schemalen, char *name,
		 size_t namelen, bool *found, bool *building, struct db_error *err)
{
	return db_index_invalid(state(t)->work, ix, schema, schemalen, name, namelen, found, building, err);
}

static bool
tp_index_drop(struct transport *t, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err)
{
	return db_index_drop(state(t)->work, schema, name, deadline_ms, err);
}

bool
db_transport_init(struct transport *t, const struct config *cfg, struct db_error *err)
{
	struct db_state *st = calloc(1, sizeof *st);

	if (!st) {
		memset(err, 0, sizeof *err);
		strcpy(err->message, "out of memory");
		return false;
	}
	st->cfg = cfg;
	db_names_init(&st->names, cfg);
	*t = (struct transport){
		.state = st,
		.lock_poll_ms = 50,
		.open = tp_open,
		.alive = tp_alive,
		.close = tp_close,
		.release = tp_release,
		.describe = tp_describe,
		.limit = tp_limit,
		.text_sent = tp_text_sent,
		.session = tp_session,
		.restore = tp_restore,
		.lock_try = tp_lock_try,
		.unlock = tp_unlock,
		.tables = tp_tables,
		.history_read = tp_history_read,
		.history_head = tp_history_head,
		.goose_read = tp_goose_read,
		.begin = tp_begin,
		.commit = tp_commit,
		.rollback = tp_rollback,
		.history_create = tp_history_create,
		.history_upsert = tp_history_upsert,
		.history_delete = tp_history_delete,
		.history_rechain = tp_history_rechain,
		.run_units = tp_run_units,
		.run_statement = tp_run_statement,
		.index_invalid = tp_index_invalid,
		.index_drop = tp_index_drop,
	};
	return true;
}
