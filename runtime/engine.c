/*
 * engine.c - plan, apply, roll back and verify migrations.
 *
 * One engine_run() is one invocation: take the advisory lock (commands that
 * change things), read the history (one query), compare it with the bundle,
 * then run what is pending in as few round trips as possible.  Every failure
 * becomes res->status and res->error; nothing here exits or prints.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bundle.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "target.h"

static const char *const command_names[ENGINE_COMMAND_COUNT] = {
	[ENGINE_UP] = "up",		[ENGINE_UP_TO] = "up-to",     [ENGINE_DOWN] = "down",
	[ENGINE_DOWN_TO] = "down-to",	[ENGINE_REDO] = "redo",	      [ENGINE_STATUS] = "status",
	[ENGINE_VERIFY] = "verify",	[ENGINE_PLAN] = "plan",	      [ENGINE_BASELINE] = "baseline",
	[ENGINE_VERSION] = "version",	[ENGINE_LIST] = "list",
};

static const struct {
	int code;
	const char *reason;
	const char *name;
} statuses[ENGINE_STATUS_COUNT] = {
	[ENGINE_OK] = { 0, NULL, "ok" },
	[ENGINE_MIGRATION_FAILED] = { 1, "Function.MigrationFailed", "migration_failed" },
	[ENGINE_BAD_REQUEST] = { 2, "Function.BadRequest", "bad_request" },
	[ENGINE_CONFIG_ERROR] = { 3, "Function.ConfigError", "config_error" },
	[ENGINE_DRIFT] = { 4, "Function.DriftDetected", "drift" },
	[ENGINE_LOCK_TIMEOUT] = { 5, "Function.LockTimeout", "lock_timeout" },
};

const char *
engine_retries_text(uint32_t retries, char *buf, size_t len)
{
	if (retries == 0)
		return "";
	snprintf(buf, len, ", %u %s", retries, retries == 1 ? "retry" : "retries");
	return buf;
}

const char *
engine_command_name(enum engine_command c)
{
	return c < ENGINE_COMMAND_COUNT ? command_names[c] : "unknown";
}

bool
engine_command_parse(const char *name, enum engine_command *out)
{
	for (int i = 0; i < ENGINE_COMMAND_COUNT; i++) {
		if (strcmp(name, command_names[i]) == 0) {
			*out = (enum engine_command)i;
			return true;
		}
	}
	return false;
}

bool
engine_command_needs_version(enum engine_command c)
{
	return c == ENGINE_UP_TO || c == ENGINE_DOWN_TO || c == ENGINE_BASELINE;
}

int
engine_exit_code(enum engine_status s)
{
	return s < ENGINE_STATUS_COUNT ? statuses[s].code : 1;
}

const char *
engine_status_reason(enum engine_status s)
{
	return s < ENGINE_STATUS_COUNT ? statuses[s].reason : "Function.Unknown";
}

const char *
engine_status_name(enum engine_status s)
{
	return s < ENGINE_STATUS_COUNT ? statuses[s].name : "unknown";
}

/* --- one invocation ------------------------------------------------------- */

struct run {
	const struct config *cfg;
	const struct bundle *b;
	const struct engine_request *req;
	struct engine_result *res;
	struct db_names names;
	PGconn *lock;
	PGconn *conn;
	bool locked;
	int64_t lock_key;
	int64_t lock_start, lock_until;	/* the bounded wait for the locks */
	int64_t deadline;		/* request deadline minus the margin; 0 = none */
	int64_t hard;			/* no wait past this: the answer must go out; 0 = none */
	int64_t lock_wait;		/* GOSLING_LOCK_WAIT in ms: also the bound of each of gosling's own waits */
	struct db_session session;	/* set at connect, re-asserted after every migration */
	struct db_tables tables;
	struct db_row *rows;
	size_t nrows;
	int64_t *goose;
	size_t ngoose;
	int *row_of;			/* per bundle migration: index in rows, or -1 */
	bool *goose_of;			/* per bundle migration: goose says applied */
	bool *chained;			/* per bundle migration: in the history's chain (as it will be) */
	uint32_t progress_index;
	uint32_t progress_total;
};

/* What one step of a change runs: a migration up or down, and its items. */
struct step {
	const struct migration *m;
	bool down;
	uint32_t first;			/* 0-based first statement (a partial NO TRANSACTION resumes) */
	bool resume;			/* partial: first is the statement that stopped it */
	char **sql;			/* the statements as they run, owned */
	uint32_t nsql;
	struct engine_item *item;
	char chain[CHECKSUM_LEN];	/* the history row's chain */
	struct db_rechain *rechain;	/* rows above whose chain changes with this step, owned */
	size_t nrechain;
};

static void fail(struct run *r, enum engine_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fail(struct run *r, enum engine_status status, const char *fmt, ...)
{
	va_list ap;

	if (r->res->status != ENGINE_OK)
		return;		/* the first error is the one worth reporting */
	r->res->status = status;
	va_start(ap, fmt);
	vsnprintf(r->res->error.message, sizeof r->res->error.message, fmt, ap);
	va_end(ap);
	text_utf8_fix(r->res->error.message);	/* cut to fit: on a character boundary */
}

/* fail with PostgreSQL's fields: "<what>: <message>". */
static void
fail_db(struct run *r, enum engine_status status, const char *what, const struct db_error *e)
{
	struct engine_error *x = &r->res->error;

	if (r->res->status != ENGINE_OK)
		return;
	fail(r, status, "%s: %s", what, e->message);
	snprintf(x->sqlstate, sizeof x->sqlstate, "%s", e->sqlstate);
	snprintf(x->pg_message, sizeof x->pg_message, "%s", e->sqlstate[0] ? e->message : "");
	snprintf(x->detail, sizeof x->detail, "%s", e->detail);
	snprintf(x->hint, sizeof x->hint, "%s", e->hint);
}

static void warn(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(struct run *r, const char *fmt, ...)
{
	char buf[1024];
	char **w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	text_utf8_fix(buf);
	log_warn("%s", buf);
	w = realloc(r->res->warnings, (r->res->nwarnings + 1) * sizeof *w);
	if (!w)
		return;
	r->res->warnings = w;
	if ((w[r->res->nwarnings] = strdup(buf)) != NULL)
		r->res->nwarnings++;
}

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

static struct engine_item *
item_add(struct run *r, int64_t version, const char *name)
{
	struct engine_result *res = r->res;
	struct engine_item *it;

	it = realloc(res->items, (res->nitems + 1) * sizeof *it);
	if (!it)
		return NULL;
	res->items = it;
	it = &res->items[res->nitems++];
	memset(it, 0, sizeof *it);
	it->version = version;
	it->name = name;
	it->duration_ms = -1;
	return it;
}

static void
progress(struct run *r, const struct engine_item *it, const char *action)
{
	struct engine_progress ev = {
		.command = r->req->command,
		.version = it->version,
		.name = it->name,
		.action = action,
		.duration_ms = it->duration_ms,
		.retries = it->retries,
		.index = ++r->progress_index,
		.total = r->progress_total,
	};

	if (r->req->progress)
		r->req->progress(&ev, r->req->progress_arg);
}

/* --- the lock and the connections ------------------------------------------ */

/* A uniform random number in [0, n), n > 0: backoff jitter, not secrets. */
static int64_t
jitter(int64_t n)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint64_t)clock_now_ms() * 2654435761u;
	return (int64_t)(v % (uint64_t)n);
}

/*
 * Connect; while the server is not ready (db_error.not_ready: refused, reset, no answer,
 * 57P03), try again after 250 ms doubling to at most 5 s, the half of it random, for up
 * to GOSLING_CONNECT_RETRY seconds, inside the lock wait and the deadline.  A cluster
 * resuming from zero capacity or failing over takes up to ~15 s to take connections.
 */
static bool
connect_retry(struct run *r, const char *purpose, PGconn **conn)
{
	struct db_error e;
	int64_t start = clock_now_ms(), until = start + config_int(r->cfg, SET_CONNECT_RETRY) * 1000, delay = 250;
	unsigned tries = 1;

	if (r->deadline && r->deadline < until)
		until = r->deadline;
	if (r->lock_until && r->lock_until < until)
		until = r->lock_until;
	while (!db_connect(r->cfg, purpose, conn, &e)) {
		int64_t wait = delay / 2 + jitter(delay / 2 + 1);

		if (!e.not_ready || db_interrupted() || clock_now_ms() + wait >= until) {
			if (tries > 1) {
				size_t len = strlen(e.message);

				snprintf(e.message + len, sizeof e.message - len, " (%u tries in %lld ms)", tries,
					 (long long)(clock_now_ms() - start));
			}
			fail_db(r, ENGINE_CONFIG_ERROR, "unable to connect to the database", &e);
			return false;
		}
		log_warn("database not ready, retrying in %lld ms: %s", (long long)wait, e.message);
		clock_sleep_ms(wait);
		tries++;
		if (delay < 5000)
			delay *= 2;
	}
	if (tries > 1)
		log_info("connected (%s) after %u tries in %lld ms", purpose, tries, (long long)(clock_now_ms() - start));
	return true;
}

static bool
connect_work(struct run *r)
{
	struct db_error e;
	int64_t st = config_int(r->cfg, SET_STATEMENT_TIMEOUT), lk = config_int(r->cfg, SET_LOCK_TIMEOUT);

	if (!connect_retry(r, "migrations", &r->conn))
		return false;
	if (r->deadline) {
		int64_t left = r->deadline - clock_now_ms();

		if (left < 1)
			left = 1;
		if (left > INT32_MAX)	/* PostgreSQL's timeouts are int milliseconds */
			left = INT32_MAX;
		if (st == 0 || st > left)
			st = left;
		if (lk == 0 || lk > left)
			lk = left;
	}
	if (log_enabled(LOG_DEBUG)) {
		char who[256];

		db_describe(r->conn, who, sizeof who);
		log_debug("connected to %s", who);
	}
	r->session = (struct db_session){ st, lk, target_search_path(r->cfg) };
	if (!db_set_session(r->conn, &r->session, &e)) {
		fail_db(r, ENGINE_CONFIG_ERROR, "unable to set the session's timeouts", &e);
		return false;
	}
	return true;
}

/*
 * Poll one of the two advisory locks on conn until r->lock_until: the migration lock
 * (the bigint key, on the lock connection) or the work lock (the key's two-int form,
 * on the migration connection; see db_work_lock_try).
 */
static bool
lock_poll(struct run *r, PGconn *conn, bool work)
{
	struct db_error e;
	unsigned tries = 0;

	for (;;) {
		bool got = false;
		int64_t now, nap;

		if (db_interrupted()) {
			fail(r, ENGINE_MIGRATION_FAILED, "stopped waiting for the migration lock");
			return false;
		}
		if (!(work ? db_work_lock_try : db_lock_try)(conn, r->lock_key, &got, &e)) {
			fail_db(r, ENGINE_CONFIG_ERROR, "unable to take the migration lock", &e);
			return false;
		}
		if (got) {
			log_debug("took the %s lock after %lld ms", work ? "work" : "migration",
				  (long long)(clock_now_ms() - r->lock_start));
			return true;
		}
		if (tries++ == 0)
			log_info(work ? "waiting for the session of a gosling that ended to finish on the server"
				      : "waiting for the migration lock (another gosling is running)");
		now = clock_now_ms();
		if (now >= r->lock_until) {
			fail(r, ENGINE_LOCK_TIMEOUT,
			     "unable to take the migration lock (key %lld) within %lld ms: "
			     "another migration is running on this database",
			     (long long)r->lock_key, (long long)(now - r->lock_start));
			return false;
		}
		/* 50..150 ms, so a crowd of waiters does not poll in step */
		nap = 50 + (int64_t)((unsigned)(now * 7919 + tries * 104729) % 101);
		if (nap > r->lock_until - now)
			nap = r->lock_until - now;
		clock_sleep_ms(nap);
	}
}

/* Poll pg_try_advisory_lock on a connection of its own, up to the bounded wait. */
static bool
lock_acquire(struct run *r)
{
	int64_t wait = config_int(r->cfg, SET_LOCK_WAIT) * 1000;

	r->lock_key = config_int(r->cfg, SET_LOCK_KEY);
	r->lock_start = clock_now_ms();
	r->lock_until = r->lock_start + wait;
	if (r->deadline && r->deadline < r->lock_until)
		r->lock_until = r->deadline;
	/* both connections and both locks, host name lookups included, fit in the one bounded wait */
	db_limit(r->lock_until, 0, r->hard);
	if (!connect_retry(r, "lock", &r->lock))
		return false;
	if (!lock_poll(r, r->lock, false))
		return false;
	r->locked = true;
	return true;
}

/*
 * The migration session's own lock, once the migration lock is held.  The lock session
 * of a gosling killed mid-migration ends as soon as its socket closes, but its migration
 * session's backend goes on with the statement it runs (and, before PostgreSQL 14, with
 * the rest of the batch, COMMIT included) until it next talks to the client.  Holding
 * the work lock for the whole session makes the next run wait for that backend to end,
 * so it reads the history only once the orphan has committed or rolled back.
 * client_connection_check_interval (db_set_timeouts) makes such a backend stop within
 * a second.
 */
static bool
work_lock_acquire(struct run *r)
{
	if (!lock_poll(r, r->conn, true))
		return false;
	db_limit(r->hard, r->lock_wait, r->hard);
	return true;
}

static void
lock_release(struct run *r)
{
	struct db_error e;

	if (r->lock && r->locked && PQstatus(r->lock) == CONNECTION_OK && !db_unlock(r->lock, r->lock_key, &e))
		log_warn("unable to release the migration lock: %s", e.message);
	r->locked = false;
	db_close(r->lock);	/* closing the session releases it in any case */
	r->lock = NULL;
}

/* --- reading and checking the history -------------------------------------- */

static void
state_free(struct run *r)
{
	db_rows_free(r->rows, r->nrows);
	free(r->goose);
	free(r->row_of);
	free(r->goose_of);
	free(r->chained);
	r->chained = NULL;
	r->rows = NULL;
	r->goose = NULL;
	r->row_of = NULL;
	r->goose_of = NULL;
	r->nrows = r->ngoose = 0;
}

static bool
state_load(struct run *r)
{
	struct db_error e;
	size_t i;

	state_free(r);
	if (!db_utf8(r->conn, &e)) {
		fail_db(r, ENGINE_CONFIG_ERROR, "unable to set client_encoding back to UTF8", &e);
		return false;
	}
	if (!db_tables_probe(r->conn, &r->names, &r->tables, &e)) {
		fail_db(r, ENGINE_CONFIG_ERROR, "unable to look up the history tables", &e);
		return false;
	}
	if (r->tables.history && !db_history_read(r->conn, &r->names, r->b, &r->rows, &r->nrows, &e)) {
		fail_db(r, ENGINE_CONFIG_ERROR, "unable to read the history table", &e);
		return false;
	}
	if (r->tables.goose && !db_goose_read(r->conn, &r->names, &r->goose, &r->ngoose, &e)) {
		fail_db(r, ENGINE_CONFIG_ERROR, "unable to read goose's version table", &e);
		return false;
	}
	r->row_of = malloc((r->b->count + 1) * sizeof *r->row_of);
	r->goose_of = calloc(r->b->count + 1, sizeof *r->goose_of);
	r->chained = calloc(r->b->count + 1, sizeof *r->chained);
	if (!r->row_of || !r->goose_of || !r->chained) {
		fail(r, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (i = 0; i < r->b->count; i++)
		r->row_of[i] = -1;
	for (i = 0; i < r->nrows; i++) {
		size_t k;

		if (bundle_find(r->b, r->rows[i].version, &k))
			r->row_of[k] = (int)i;
	}
	for (i = 0; i < r->ngoose; i++) {
		size_t k;

		if (bundle_find(r->b, r->goose[i], &k))
			r->goose_of[k] = true;
	}
	for (i = 0; i < r->b->count; i++)
		r->chained[i] = r->row_of[i] >= 0 || r->goose_of[i];
	return true;
}

/*
 * The chain of migration k over the history as r->chained says it is: H(chain of
 * the previous applied migration, version, exec).  With no gaps below k this is
 * the bundle's compiled-in chain, so the newest row alone vouches for all of them.
 */
static bool
chain_at(const struct run *r, size_t k, char out[CHECKSUM_LEN])
{
	const char *prev = "";
	char buf[2][CHECKSUM_LEN];
	bool gap = false;
	int flip = 0;

	for (size_t j = 0; j < k; j++)
		gap |= !r->chained[j];
	if (!gap) {
		snprintf(out, CHECKSUM_LEN, "%s", r->b->migrations[k].chain);
		return true;
	}
	for (size_t j = 0; j < k; j++) {
		if (!r->chained[j])
			continue;
		if (!checksum_chain(prev, r->b->migrations[j].version, r->b->migrations[j].exec_checksum, buf[flip]))
			return false;
		prev = buf[flip];
		flip ^= 1;
	}
	return checksum_chain(prev, r->b->migrations[k].version, r->b->migrations[k].exec_checksum, out);
}

/*
 * After migration k joins (or leaves) the chain: the history rows above it whose
 * chain changes.  Only out-of-order applies have any.
 */
static bool
rechain_above(const struct run *r, size_t k, struct db_rechain **out, size_t *nout)
{
	struct db_rechain *list = NULL;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	for (size_t j = k + 1; j < r->b->count; j++) {
		const struct db_row *row = r->row_of[j] >= 0 ? &r->rows[r->row_of[j]] : NULL;
		struct db_rechain *t;

		if (!row || !r->chained[j])
			continue;
		if (!(t = realloc(list, (n + 1) * sizeof *t))) {
			free(list);
			return false;
		}
		list = t;
		list[n].version = row->version;
		if (!chain_at(r, j, list[n].chain)) {
			free(list);
			return false;
		}
		n++;
	}
	*out = list;
	*nout = n;
	return true;
}

static const struct db_row *
row_of(const struct run *r, size_t k)
{
	return r->row_of[k] >= 0 ? &r->rows[r->row_of[k]] : NULL;
}

/* Applied completely: a complete history row, or goose's record of it. */
static bool
is_applied(const struct run *r, size_t k)
{
	const struct db_row *row = row_of(r, k);

	return row ? row->failed_statement == 0 : r->goose_of[k];
}

static bool
is_partial(const struct run *r, size_t k)
{
	const struct db_row *row = row_of(r, k);

	return row && row->failed_statement > 0;
}

static bool
history_has(const struct run *r, int64_t version)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].version == version)
			return true;
	return false;
}

/* The newest applied version: history rows and goose's, whether or not in the bundle. */
static int64_t
newest_applied(const struct run *r)
{
	int64_t v = 0;

	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].failed_statement == 0 && r->rows[i].version > v)
			v = r->rows[i].version;
	for (size_t i = 0; i < r->ngoose; i++)
		if (r->goose[i] > v)
			v = r->goose[i];
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
		return true;	/* nothing ran: whatever the file is now, it runs whole */
	if (!m->no_transaction || ran > m->nup || !row->done_checksum)
		return false;
	if (!checksum_done(m, ran, done)) {
		*oom = true;	/* OpenSSL could not allocate */
		return false;
	}
	return strcmp(done, row->done_checksum) == 0;
}

/* A partial row whose file changed before the statement that stopped it: what to do. */
static void
fail_partial(struct run *r, const struct db_row *row, const struct migration *m)
{
	uint32_t n = row->failed_statement;

	fail(r, ENGINE_DRIFT,
	     "migration %s is partial: it stopped at statement %u after statements 1 to %u ran, and its file "
	     "changed %s. To recover, either restore statements 1 to %u as they ran (change statement %u onwards "
	     "only, and keep -- +goose NO TRANSACTION), or undo by hand what statements 1 to %u did and delete its "
	     "history row (DELETE FROM %s WHERE version = %lld) so that up runs it whole",
	     m->name, n, n - 1,
	     !m->no_transaction ? "to a transactional migration"
	     : !row->done_checksum ? "(and its history row, written by an older gosling, does not record what ran)"
				   : "before that statement",
	     n - 1, n, n - 1, r->names.history, (long long)m->version);
}

/*
 * The drift check.  Each row is compared with the bundle, and its chain with
 * H(previous row's chain, version, its own exec checksum): a self-consistent row
 * whose checksum differs from the bundle's is a migration edited after it ran; a
 * row that does not match its own chain was edited by hand.  One query (the
 * history) and no per-row round trips.  Returns false, with res->error naming the
 * first migration, on drift.
 */
static bool
check_drift(struct run *r)
{
	const char *prev = "";

	for (size_t i = 0; i < r->nrows; i++) {
		const struct db_row *row = &r->rows[i];
		const struct migration *m = bundle_find(r->b, row->version, NULL);
		char self[CHECKSUM_LEN];
		bool oom = false;

		if (!m) {
			fail(r, ENGINE_DRIFT, "applied migration %s (version %lld) is missing from the bundle",
			     row->name, (long long)row->version);
			r->res->error.version = row->version;
			snprintf(r->res->error.file, sizeof r->res->error.file, "%s", row->name);
			return false;
		}
		if (!checksum_chain(prev, row->version, row->exec_checksum, self)) {
			fail(r, ENGINE_CONFIG_ERROR, "out of memory");
			return false;
		}
		prev = row->chain;
		if (strcmp(row->exec_checksum, m->exec_checksum) != 0) {
			if (strcmp(row->chain, self) == 0 && row->failed_statement > 0 && partial_resumable(row, m, &oom)) {
				warn(r, "migration %s, stopped at statement %u, was changed from that statement on: "
					"up resumes it there with the new text and records the change",
				     m->name, row->failed_statement);
				continue;
			}
			if (oom)
				fail(r, ENGINE_CONFIG_ERROR, "out of memory");
			else if (strcmp(row->chain, self) == 0 && row->failed_statement > 0)
				fail_partial(r, row, m);
			else if (strcmp(row->chain, self) == 0)
				fail(r, ENGINE_DRIFT,
				     "migration %s was changed after it was applied: its executable checksum is %s, "
				     "the database recorded %s",
				     m->name, m->exec_checksum, row->exec_checksum);
			else
				fail(r, ENGINE_DRIFT,
				     "history row of migration %s was edited by hand: its checksum does not match its chain",
				     m->name);
		} else if (strcmp(row->chain, self) != 0) {
			fail(r, ENGINE_DRIFT, "history row of migration %s was edited by hand: its chain does not match",
			     m->name);
		} else {
			if (strcmp(row->file_checksum, m->file_checksum) != 0)
				warn(r, "migration %s was edited after it was applied, in comments or blank lines only",
				     m->name);
			if (strcmp(row->name, m->name) != 0)
				warn(r, "applied migration %lld was renamed from %s to %s", (long long)m->version,
				     row->name, m->name);
			continue;
		}
		r->res->error.version = m->version;
		snprintf(r->res->error.file, sizeof r->res->error.file, "%s", m->name);
		return false;
	}
	for (size_t i = 0; i < r->ngoose; i++) {
		if (!bundle_find(r->b, r->goose[i], NULL) && !history_has(r, r->goose[i])) {
			fail(r, ENGINE_DRIFT,
			     "migration version %lld, applied according to goose's table, is missing from the bundle",
			     (long long)r->goose[i]);
			r->res->error.version = r->goose[i];
			return false;
		}
	}
	return true;
}

/* Pending migrations below the newest applied one: goose's "missing" migrations. */
static bool
check_order(struct run *r, int64_t target, bool report_only)
{
	int64_t newest = newest_applied(r);

	if (r->req->allow_out_of_order || config_bool(r->cfg, SET_ALLOW_OUT_OF_ORDER))
		return true;
	for (size_t k = 0; k < r->b->count; k++) {
		const struct migration *m = &r->b->migrations[k];

		if (m->version >= newest || m->version > target)
			break;
		if (is_applied(r, k) || is_partial(r, k))
			continue;
		if (report_only) {
			warn(r, "migration %s is pending but numbered below the newest applied version %lld",
			     m->name, (long long)newest);
			continue;
		}
		fail(r, ENGINE_DRIFT,
		     "migration %s is pending but numbered below the newest applied version %lld: "
		     "renumber it, or allow it with --allow-out-of-order",
		     m->name, (long long)newest);
		r->res->error.version = m->version;
		snprintf(r->res->error.file, sizeof r->res->error.file, "%s", m->name);
		return false;
	}
	return true;
}

/* --- statements as they run ------------------------------------------------ */

static uint32_t
lines_before(const char *s, size_t upto)
{
	uint32_t n = 0;

	for (size_t i = 0; i < upto && s[i]; i++)
		n += s[i] == '\n';
	return n;
}

/* Copy (and ENVSUB-expand) the statements a step runs; an unset variable names itself. */
static bool
step_expand(struct run *r, struct step *s)
{
	const struct stmt *st = s->down ? s->m->down : s->m->up;
	uint32_t n = s->down ? s->m->ndown : s->m->nup;

	s->sql = calloc(n + 1, sizeof *s->sql);
	s->nsql = n;
	if (!s->sql) {
		fail(r, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		char err[512];
		uint32_t off = 0;

		if (st[i].nenvsub == 0)
			s->sql[i] = (char *)st[i].sql;	/* the bundle's text, not a copy (steps_free knows) */
		else
			s->sql[i] = envsub_expand(st[i].sql, st[i].envsub, st[i].nenvsub, env_get, NULL, err,
						  sizeof err, &off);
		if (!s->sql[i] && st[i].nenvsub) {
			fail(r, ENGINE_CONFIG_ERROR, "unable to expand %s statement %u (line %u): %s", s->m->name,
			     i + 1, st[i].line + lines_before(st[i].sql, off), err);
			r->res->error.version = s->m->version;
			r->res->error.statement = i + 1;
			r->res->error.line = st[i].line + lines_before(st[i].sql, off);
			snprintf(r->res->error.file, sizeof r->res->error.file, "%s", s->m->name);
			return false;
		}
		if (!s->sql[i]) {
			fail(r, ENGINE_CONFIG_ERROR, "out of memory");
			return false;
		}
	}
	return true;
}

static void
steps_free(struct step *steps, size_t n)
{
	for (size_t i = 0; steps && i < n; i++) {
		const struct stmt *st = steps[i].down ? steps[i].m->down : steps[i].m->up;

		for (uint32_t j = 0; steps[i].sql && j < steps[i].nsql; j++)
			if (steps[i].sql[j] != st[j].sql)
				free(steps[i].sql[j]);
		free(steps[i].sql);
		free(steps[i].rechain);
	}
	free(steps);
}

static void
record_of(const struct run *r, const struct migration *m, const char *chain, const char *origin,
	  struct db_record *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->version = m->version;
	rec->name = m->name;
	rec->file_checksum = m->file_checksum;
	rec->exec_checksum = m->exec_checksum;
	rec->chain = chain;
	rec->build_id = r->b->build_id;
	rec->origin = origin;
	rec->execution_ms = -1;
}

static void
fail_statement(struct run *r, const struct step *s, uint32_t statement, uint32_t line_offset,
	       const struct db_error *e)
{
	const struct stmt *st = s->down ? s->m->down : s->m->up;
	const char *verb = s->down ? "roll back" : "apply";
	struct engine_error *x = &r->res->error;

	if (statement == 0) {
		char what[512];

		snprintf(what, sizeof what, "unable to record %s in the history", s->m->name);
		fail_db(r, ENGINE_MIGRATION_FAILED, what, e);
		x->line = 0;
	} else {
		uint32_t line = st[statement - 1].line + line_offset;
		char what[512];

		snprintf(what, sizeof what, "unable to %s %s statement %u (line %u)", verb, s->m->name, statement,
			 line);
		fail_db(r, ENGINE_MIGRATION_FAILED, what, e);
		x->line = line;
	}
	x->statement = statement;
	x->version = s->m->version;
	snprintf(x->file, sizeof x->file, "%s", s->m->name);
}

/*
 * The connection failed before any result said which statement was running: one of
 * steps s to last (the server sends results in bursts), each committed or not.
 */
static void
fail_migration(struct run *r, const struct step *s, const struct step *last, const struct db_error *e)
{
	char what[768];

	if (last > s)
		snprintf(what, sizeof what, "unable to %s %s to %s (gosling status tells which committed)",
			 s->down ? "roll back" : "apply", s->m->name, last->m->name);
	else
		snprintf(what, sizeof what, "unable to %s %s", s->down ? "roll back" : "apply", s->m->name);
	fail_db(r, ENGINE_MIGRATION_FAILED, what, e);
	r->res->error.version = s->m->version;
	snprintf(r->res->error.file, sizeof r->res->error.file, "%s", s->m->name);
}

/* --- running steps ---------------------------------------------------------- */

struct batch_ctx {
	struct run *r;
	struct step *steps;
};

/* A step has committed: its item's state and action say so, then the progress line. */
static void
step_done(struct run *r, struct step *s, int64_t ms)
{
	s->item->state = s->down ? "pending" : "applied";
	s->item->action = s->down ? "rolled back" : "applied";
	s->item->applied_at[0] = '\0';
	if (!s->down)	/* the commit just returned: the client's clock is close enough for the report */
		clock_utc_text(s->item->applied_at, sizeof s->item->applied_at);
	s->item->duration_ms = ms;
	progress(r, s->item, s->item->action);
}

static void
batch_done(size_t unit, int64_t ms, void *arg)
{
	struct batch_ctx *c = arg;

	if (c->r->req->atomic)
		c->steps[unit].item->duration_ms = ms;	/* reported once the one COMMIT is through */
	else
		step_done(c->r, &c->steps[unit], ms);
}

/*
 * A migration's own COMMIT, ROLLBACK or PREPARE TRANSACTION ended gosling's transaction:
 * say what that left behind (the SAVEPOINT before its history row refused to record it).
 */
static void
fail_txn_control(struct run *r, const struct step *s, const struct db_batch_failure *f)
{
	const struct stmt *st = s->down ? s->m->down : s->m->up;
	uint32_t k = f->txn_statement, line = st[k - 1].line;
	const char *left = strcmp(f->txn_control, "ROLLBACK") == 0
				   ? "nothing of it stays"
			   : strcmp(f->txn_control, "COMMIT") == 0
				   ? "statements 1 to %u stay committed, the rest was rolled back"
				   : "statements 1 to %u wait as a prepared transaction (pg_prepared_xacts): commit or roll "
				     "it back by hand";
	char what[512];

	snprintf(what, sizeof what, left, k);
	fail(r, ENGINE_MIGRATION_FAILED,
	     "unable to %s %s statement %u (line %u): %s ends the migration's transaction, so it is not recorded: "
	     "%s; transaction control does not belong in a transactional migration (goslingc refuses it)",
	     s->down ? "roll back" : "apply", s->m->name, k, line, f->txn_control, what);
	r->res->error.statement = k;
	r->res->error.line = line;
	r->res->error.version = s->m->version;
	snprintf(r->res->error.file, sizeof r->res->error.file, "%s", s->m->name);
	snprintf(r->res->error.sqlstate, sizeof r->res->error.sqlstate, "%s", f->err.sqlstate);
	snprintf(r->res->error.pg_message, sizeof r->res->error.pg_message, "%s", f->err.message);
}

/* Whether a failed statement's SQLSTATE says another session held what it needed. */
static bool
lock_conflict(const char *sqlstate)
{
	return strcmp(sqlstate, "55P03") == 0 || strcmp(sqlstate, "40P01") == 0;
}

/*
 * A transactional migration failed on a lock timeout or a deadlock, so PostgreSQL
 * rolled it back whole: when the retry budget and the deadline allow, log why, wait
 * a jittered exponential backoff (250 ms doubling to at most 10 s, the half of it
 * random, so runs that collided do not collide again) and say to run it again.
 * A failure that may have committed anything (a lost connection, the migration's
 * own COMMIT) is never retried.
 */
static bool
retry_wait(struct run *r, struct step *s, const struct db_batch_failure *f)
{
	int64_t budget = config_int(r->cfg, SET_LOCK_RETRIES), delay = 250;
	uint32_t n = s->item->retries;

	if (f->lost || f->txn_control[0] || !lock_conflict(f->err.sqlstate) || db_interrupted() ||
	    PQstatus(r->conn) != CONNECTION_OK || n >= budget)
		return false;
	for (uint32_t i = 0; i < n && delay < 10000; i++)
		delay *= 2;
	if (delay > 10000)
		delay = 10000;
	delay = delay / 2 + jitter(delay / 2 + 1);
	/* a retry that could not even wait for its lock before the deadline is not worth starting */
	if (r->deadline && clock_now_ms() + delay + 100 >= r->deadline)
		return false;
	log_warn("%s %s: %s (%s), retrying in %lld ms (retry %u of %lld)", s->down ? "rolled back" : "not applied",
		 s->m->name, f->err.message, f->err.sqlstate, (long long)delay, n + 1, (long long)budget);
	clock_sleep_ms(delay);
	if (db_interrupted())
		return false;
	s->item->retries = n + 1;
	return true;
}

/* Append to the error message how many retries came before the failure. */
static void
retries_note(struct run *r, uint32_t retries)
{
	char *m = r->res->error.message;
	size_t len = strlen(m);

	snprintf(m + len, sizeof r->res->error.message - len, " (after %u %s)", retries,
		 retries == 1 ? "retry" : "retries");
}

/*
 * An atomic set failed at step s, so PostgreSQL rolled back all of it: the steps before s
 * ran and were undone.  The error says so.  A migration's own COMMIT (a bundle goslingc
 * did not check) is the exception: it committed the steps before it too.  After a lost
 * connection whether the one COMMIT went through is not known.
 */
static void
atomic_failed(struct run *r, struct step *steps, size_t n, const struct step *s, const struct db_batch_failure *f)
{
	size_t before = (size_t)(s - steps), len = strlen(r->res->error.message);
	char *m = r->res->error.message + len;
	bool committed = strcmp(f->txn_control, "COMMIT") == 0;

	for (size_t k = 0; k < before && !f->lost; k++) {
		if (committed)
			step_done(r, &steps[k], steps[k].item->duration_ms);
		else
			steps[k].item->action = "rolled back";
	}
	if (f->lost)
		snprintf(m, sizeof r->res->error.message - len,
			 " (atomic: all or none of the %zu migrations committed, gosling status tells which)", n);
	else if (committed)
		snprintf(m, sizeof r->res->error.message - len,
			 " (atomic: that COMMIT committed the %zu migrations before it too)", before);
	else if (f->txn_control[0] == 'P')
		snprintf(m, sizeof r->res->error.message - len,
			 " (atomic: the %zu migrations before it are in that prepared transaction too)", before);
	else
		snprintf(m, sizeof r->res->error.message - len, " (atomic: none of the %zu migrations was applied)", n);
	text_utf8_fix(r->res->error.message);
}

/*
 * Transactional steps [0, n) as batches of simple queries: one round trip per
 * batch, and as many batches as their text needs at about 256 KiB each (db.c's BATCH_CAP).
 * With --atomic they are one transaction across the batches; a lock timeout or a
 * deadlock anywhere rolls all of them back, and all of them go again.
 */
static bool
run_batch(struct run *r, struct step *steps, size_t n)
{
	struct db_unit *units = calloc(n, sizeof *units);
	struct db_batch_failure f;
	struct db_error e;
	struct batch_ctx ctx = { r, steps };
	struct db_cursor cur = { 0, 0, -1 };
	bool atomic = r->req->atomic;

	memset(&f, 0, sizeof f);
	if (!units) {
		fail(r, ENGINE_MIGRATION_FAILED, "out of memory");
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		record_of(r, steps[k].m, steps[k].chain, "gosling", &units[k].rec);
		units[k].rechain = steps[k].rechain;
		units[k].nrechain = steps[k].nrechain;
		units[k].down = steps[k].down;
		units[k].stmts = steps[k].down ? steps[k].m->down : steps[k].m->up;
		units[k].sql = steps[k].sql;
		units[k].nstmts = steps[k].nsql;
		units[k].goose = r->tables.goose;
	}
	while (cur.unit < n) {
		struct db_batch *batch = db_batch_new(r->conn, &r->names, &r->session, units, n, atomic, &cur, &e);
		bool ok;

		if (!batch) {
			fail_db(r, ENGINE_MIGRATION_FAILED, "unable to build the batch", &e);
			break;
		}
		ok = !db_interrupted() && db_batch_run(r->conn, batch, r->deadline, batch_done, &ctx, &cur, &f);
		db_batch_free(batch);
		if (!ok) {
			struct step *s = &steps[f.unit < n ? f.unit : cur.unit < n ? cur.unit : 0];

			db_rollback(r->conn);	/* a migration a batch left open */
			if (retry_wait(r, s, &f)) {
				if (atomic) {
					/* the whole set was rolled back: all of it goes again */
					for (size_t k = 0; k < n; k++)
						steps[k].item->retries = s->item->retries;
					cur = (struct db_cursor){ 0, 0, -1 };
				} else {
					/* it was rolled back whole: it and the units after it go again */
					cur = (struct db_cursor){ f.unit, 0, -1 };
				}
				continue;
			}
			s->item->action = "failed";
			progress(r, s->item, "failed");
			if (db_interrupted() && !f.err.message[0])
				fail(r, ENGINE_MIGRATION_FAILED, "stopped before %s", s->m->name);
			else if (f.txn_control[0] && f.txn_unit == f.unit && f.txn_statement)
				fail_txn_control(r, s, &f);
			else if (f.lost)
				fail_migration(r, s, &steps[f.last_unit < n && f.last_unit > f.unit ? f.last_unit : f.unit], &f.err);
			else
				fail_statement(r, s, f.statement, f.line_offset, &f.err);
			if (s->item->retries)
				retries_note(r, s->item->retries);
			if (atomic)
				atomic_failed(r, steps, n, s, &f);
			break;
		}
	}
	free(units);
	if (atomic && cur.unit >= n && r->res->status == ENGINE_OK)
		for (size_t k = 0; k < n; k++)
			step_done(r, &steps[k], steps[k].item->duration_ms);
	return cur.unit >= n && r->res->status == ENGINE_OK;
}

/*
 * Statement i of s runs again where its NO TRANSACTION migration stopped.  When it is a
 * CREATE INDEX CONCURRENTLY, its failure may have left the index INVALID (pg_index.indisvalid):
 * still there, so the statement would fail with "already exists" (or, with IF NOT EXISTS,
 * succeed and leave it INVALID), and still maintained on every write.  Drop it concurrently
 * first.  The statement is read from its text as it runs (ENVSUB expanded), not from the
 * bundle, so a name or schema in a variable counts.  Only an INVALID index of the
 * statement's own name and table is dropped, and not while a backend is building it.
 * False, with *e, when the drop fails: the statement stops there again.
 */
static bool
index_cleanup(struct run *r, struct step *s, uint32_t i, struct db_error *e)
{
	struct db_index_target t;
	struct db_error e2;
	char schema[128], name[128];
	bool found, building;

	if (s->m->up[i].ncommands != 1 || !db_index_target(s->sql[i], &t))
		return true;
	if (!t.name[0]) {
		warn(r, "%s statement %u is a CREATE INDEX CONCURRENTLY without an index name: if its failed run left "
			"an INVALID index on %s, gosling cannot tell which, and the new run builds another beside it "
			"(drop the INVALID one by hand: DROP INDEX CONCURRENTLY)",
		     s->m->name, i + 1, t.table);
		return true;
	}
	if (!db_utf8(r->conn, &e2) ||
	    !db_index_invalid(r->conn, &t, schema, sizeof schema, name, sizeof name, &found, &building, &e2)) {
		log_warn("unable to look for an INVALID index %s that %s statement %u left: %s", t.name, s->m->name,
			 i + 1, e2.message);
		return true;	/* the statement says what is wrong, if anything is */
	}
	if (!found)
		return true;
	if (building) {
		warn(r, "the INVALID index %s.%s of %s statement %u is being built by another session: not dropped",
		     schema, name, s->m->name, i + 1);
		return true;
	}
	log_info("dropping the INVALID index %s.%s that %s statement %u left when it failed, before running it again",
		 schema, name, s->m->name, i + 1);
	if (!db_index_drop(r->conn, schema, name, r->deadline, e)) {
		char msg[sizeof e->message + 320];

		snprintf(msg, sizeof msg, "unable to drop the INVALID index %s.%s its failed run left: %s", schema,
			 name, e->message);
		msg[sizeof e->message - 1] = '\0';
		memcpy(e->message, text_utf8_fix(msg), sizeof e->message);
		return false;
	}
	free(s->item->dropped_index);
	if ((s->item->dropped_index = malloc(strlen(schema) + strlen(name) + 2)) != NULL)
		sprintf(s->item->dropped_index, "%s.%s", schema, name);
	log_info("dropped the INVALID index %s.%s", schema, name);
	return true;
}

/*
 * A NO TRANSACTION step: statement by statement.  A failure going up leaves a
 * partial row naming the statement that stopped it; the next up resumes there.
 */
static bool
run_single(struct run *r, struct step *s)
{
	struct db_record rec;
	struct db_error e;
	int64_t t0 = clock_now_ms();

	for (uint32_t i = s->first; i < s->nsql; i++) {
		if (db_interrupted()) {
			memset(&e, 0, sizeof e);
			snprintf(e.message, sizeof e.message, "not run: gosling was stopped before it");
		} else if ((i != s->first || !s->resume || s->down || index_cleanup(r, s, i, &e)) &&
			   db_migration_statement(r->conn, s->sql[i], r->deadline, &e)) {
			continue;
		}
		fail_statement(r, s, i + 1, e.position > 0 ? lines_before(s->sql[i], (size_t)e.position - 1) : 0,
			       &e);
		s->item->action = "failed";
		progress(r, s->item, "failed");
		if (!s->down && PQstatus(r->conn) == CONNECTION_OK) {
			struct db_error e2;

			char done[CHECKSUM_LEN];

			record_of(r, s->m, s->chain, "gosling", &rec);
			rec.failed_statement = i + 1;
			rec.error = r->res->error.message;
			rec.done_checksum = done;
			if (!checksum_done(s->m, i, done))
				log_error("unable to record where %s stopped: out of memory", s->m->name);
			else if (!db_utf8(r->conn, &e2) || !db_history_upsert(r->conn, &r->names, &rec, false, &e2))
				log_error("unable to record where %s stopped: %s", s->m->name, e2.message);
			else
				s->item->failed_statement = i + 1;
		}
		return false;
	}
	record_of(r, s->m, s->chain, "gosling", &rec);
	rec.execution_ms = clock_now_ms() - t0;
	/* the same transaction puts gosling's settings back, whatever the migration SET */
	if (!db_utf8(r->conn, &e) || !db_begin(r->conn, &e) || !db_set_session(r->conn, &r->session, &e) ||
	    !(s->down ? db_history_delete(r->conn, &r->names, s->m->version, r->tables.goose, &e)
		      : db_history_upsert(r->conn, &r->names, &rec, r->tables.goose, &e)))
		goto fail;
	for (size_t c = 0; c < s->nrechain; c++)
		if (!db_history_rechain(r->conn, &r->names, s->rechain[c].version, s->rechain[c].chain, &e))
			goto fail;
	if (!db_commit(r->conn, &e))
		goto fail;
	step_done(r, s, clock_now_ms() - t0);
	return true;
fail:
	db_rollback(r->conn);
	fail_statement(r, s, 0, 0, &e);
	return false;
}

/*
 * Warn about each statement of step s that goslingc let through its
 * transaction-safety check (gosling:no-check): PostgreSQL will refuse it.
 */
static void
warn_no_tx_block(struct run *r, const struct step *s)
{
	const struct stmt *st = s->down ? s->m->down : s->m->up;
	uint32_t n = s->down ? s->m->ndown : s->m->nup;

	for (uint32_t i = s->first; i < n; i++)
		if (st[i].flags & STMT_NO_TX_BLOCK)
			warn(r, "%s %s statement %u (line %u) will fail: it holds a command PostgreSQL refuses "
				"inside a transaction block, and %s (goslingc let it through under no-check)",
			     s->m->name, s->down ? "Down" : "Up", i + 1, st[i].line,
			     s->m->no_transaction ? "it holds several commands, which run as one implicit transaction"
						  : "this migration runs in a transaction");
}

/* Run steps in order: runs of transactional steps go as one batch each. */
static bool
run_steps(struct run *r, struct step *steps, size_t n)
{
	size_t i = 0;

	for (size_t k = 0; k < n; k++) {
		size_t idx = (size_t)(steps[k].m - r->b->migrations);

		warn_no_tx_block(r, &steps[k]);
		steps[k].item->action = "not attempted";
		/* each step's chain as the history will be once the steps before it committed */
		r->chained[idx] = !steps[k].down;
		if (!chain_at(r, idx, steps[k].chain) || !rechain_above(r, idx, &steps[k].rechain, &steps[k].nrechain)) {
			fail(r, ENGINE_MIGRATION_FAILED, "out of memory");
			return false;
		}
	}
	r->progress_total = (uint32_t)n;
	while (i < n) {
		size_t j = i;

		if (db_interrupted()) {
			fail(r, ENGINE_MIGRATION_FAILED, "stopped before %s", steps[i].m->name);
			return false;
		}
		if (steps[i].m->no_transaction) {
			if (!run_single(r, &steps[i]))
				return false;
			i++;
			continue;
		}
		while (j < n && !steps[j].m->no_transaction)
			j++;
		if (!run_batch(r, steps + i, j - i))
			return false;
		i = j;
	}
	return true;
}

/*
 * Record migration k as applied without running it (origin "goose" when adopted
 * from goose's table, "baseline"), in the open transaction, and re-chain the
 * history rows above it.  *item gets its result item (NULL when out of memory).
 */
static bool
record_unrun(struct run *r, size_t k, const char *origin, bool goose_row, const char *action,
	     struct engine_item **item, struct db_error *e)
{
	const struct migration *m = &r->b->migrations[k];
	char chain[CHECKSUM_LEN];
	struct db_record rec;
	struct db_rechain *rc = NULL;
	size_t nrc = 0;
	bool ok = true;

	*item = NULL;
	if (!chain_at(r, k, chain)) {
		memset(e, 0, sizeof *e);
		snprintf(e->message, sizeof e->message, "out of memory");
		return false;
	}
	record_of(r, m, chain, origin, &rec);
	if (!db_history_upsert(r->conn, &r->names, &rec, goose_row, e) || !rechain_above(r, k, &rc, &nrc))
		return false;
	for (size_t c = 0; ok && c < nrc; c++)
		ok = db_history_rechain(r->conn, &r->names, rc[c].version, rc[c].chain, e);
	free(rc);
	if (ok && (*item = item_add(r, m->version, m->name)) != NULL) {
		(*item)->state = "applied";
		(*item)->action = action;
	}
	return ok;
}

/*
 * Create the history table on first use and adopt what goose applied that the
 * history lacks, in one transaction; then read the history again.
 */
static bool
ensure_history(struct run *r)
{
	struct db_error e;
	bool adopt = false;

	for (size_t k = 0; k < r->b->count; k++)
		adopt |= r->goose_of[k] && !row_of(r, k);
	if (r->tables.history && !adopt)
		return true;
	if (!db_begin(r->conn, &e) || !db_history_create(r->conn, &r->names, &e))
		goto fail;
	for (size_t k = 0; k < r->b->count; k++) {
		struct engine_item *it;

		if (!r->goose_of[k] || row_of(r, k))
			continue;
		if (!record_unrun(r, k, "goose", false, "adopted", &it, &e))
			goto fail;
		if (it)
			progress(r, it, "adopted");
	}
	if (!db_commit(r->conn, &e))
		goto fail;
	if (adopt)
		log_info("adopted the versions goose applied into %s", r->names.history);
	return state_load(r);
fail:
	db_rollback(r->conn);
	fail_db(r, ENGINE_CONFIG_ERROR, "unable to create the history table", &e);
	return false;
}

/* --- the commands ----------------------------------------------------------- */

static void
item_fill_state(struct run *r, struct engine_item *it, size_t k)
{
	const struct db_row *row = row_of(r, k);

	it->no_transaction = r->b->migrations[k].no_transaction;
	if (row) {
		it->state = row->failed_statement ? "partial" : "applied";
		snprintf(it->applied_at, sizeof it->applied_at, "%s", row->applied_at);
		it->duration_ms = row->execution_ms;
		it->failed_statement = row->failed_statement;
	} else {
		it->state = r->goose_of[k] ? "applied" : "pending";
	}
}

/* status, verify: every migration of the bundle and every applied one it lacks. */
static void
list_states(struct run *r)
{
	size_t k = 0, i = 0;

	/* a merge of two sorted lists: no sentinel, since a real version may be INT64_MAX */
	while (k < r->b->count || i < r->nrows) {
		const struct migration *m = k < r->b->count ? &r->b->migrations[k] : NULL;
		struct engine_item *it;

		if (i < r->nrows && (!m || r->rows[i].version < m->version)) {
			if ((it = item_add(r, r->rows[i].version, NULL)) != NULL) {
				it->owned_name = strdup(r->rows[i].name);
				it->name = it->owned_name;
				it->state = "missing";
				snprintf(it->applied_at, sizeof it->applied_at, "%s", r->rows[i].applied_at);
			}
			i++;
			continue;
		}
		if ((it = item_add(r, m->version, m->name)) != NULL)
			item_fill_state(r, it, k);
		if (i < r->nrows && r->rows[i].version == m->version)
			i++;
		k++;
	}
	for (size_t g = 0; g < r->ngoose; g++) {
		struct engine_item *it;

		if (bundle_find(r->b, r->goose[g], NULL) || history_has(r, r->goose[g]))
			continue;
		if ((it = item_add(r, r->goose[g], "(goose)")) != NULL)
			it->state = "missing";
	}
}

/* The steps of up / up-to / plan: pending migrations up to target, partial ones resumed. */
static bool
plan_up(struct run *r, int64_t target, struct step **out, size_t *nout)
{
	struct step *steps;
	size_t n = 0, pending = 0;

	/* as many steps as there are pending migrations: at 10,000 applied, none */
	for (size_t k = 0; k < r->b->count && r->b->migrations[k].version <= target; k++)
		pending += !is_applied(r, k);
	steps = calloc(pending + 1, sizeof *steps);

	*out = steps;
	*nout = 0;
	if (!steps) {
		fail(r, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (size_t k = 0; k < r->b->count; k++) {
		const struct migration *m = &r->b->migrations[k];
		struct step *s = &steps[n];

		if (m->version > target)
			break;
		if (is_applied(r, k))
			continue;
		s->m = m;
		s->resume = is_partial(r, k);
		s->first = s->resume ? row_of(r, k)->failed_statement - 1 : 0;
		if (s->first > m->nup)
			s->first = m->nup;	/* statements after the stopping one were removed: nothing left */
		n++;
		*nout = n;
		if (!step_expand(r, s))
			return false;
		if (s->first)
			log_info("resuming %s at statement %u, where it stopped", m->name, s->first + 1);
	}
	return true;
}

/* The steps of down / down-to: applied migrations above target, newest first. */
static bool
plan_down(struct run *r, int64_t target, size_t limit, struct step **out, size_t *nout)
{
	struct step *steps = calloc(r->b->count + 1, sizeof *steps);
	size_t n = 0;

	*out = steps;
	*nout = 0;
	if (!steps) {
		fail(r, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (size_t k = r->b->count; k-- > 0 && n < limit;) {
		const struct migration *m = &r->b->migrations[k];

		if (m->version <= target)
			break;
		if (is_partial(r, k)) {
			fail(r, ENGINE_MIGRATION_FAILED,
			     "migration %s stopped at statement %u: finish it with up, or repair it by hand, "
			     "before rolling back",
			     m->name, row_of(r, k)->failed_statement);
			return false;
		}
		if (!is_applied(r, k))
			continue;
		steps[n].m = m;
		steps[n].down = true;
		n++;
		*nout = n;
		if (!step_expand(r, &steps[n - 1]))
			return false;
	}
	return true;
}

static bool
items_for_steps(struct run *r, struct step *steps, size_t n)
{
	size_t first = r->res->nitems;

	for (size_t i = 0; i < n; i++) {
		struct engine_item *it = item_add(r, steps[i].m->version, steps[i].m->name);

		if (!it) {
			fail(r, ENGINE_MIGRATION_FAILED, "out of memory");
			return false;
		}
		item_fill_state(r, it, (size_t)(steps[i].m - r->b->migrations));
	}
	/* item_add may move the array: take the pointers once it is complete */
	for (size_t i = 0; i < n; i++)
		steps[i].item = &r->res->items[first + i];
	return true;
}

/*
 * --atomic runs every pending migration in one transaction.  A NO TRANSACTION one cannot
 * join it (its statements refuse a transaction block, or must commit one by one): refused
 * before anything changes, naming the first, with the way round it.
 */
static bool
atomic_check(struct run *r, const struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct migration *m = steps[i].m;
		char way[160];

		if (!m->no_transaction)
			continue;
		if (i > 0)
			snprintf(way, sizeof way, "apply the %zu before it atomically (up-to %lld), then it without atomic",
				 i, (long long)steps[i - 1].m->version);
		else
			snprintf(way, sizeof way, "apply it without atomic first");
		fail(r, ENGINE_BAD_REQUEST,
		     "atomic refused: pending migration %s is NO TRANSACTION%s, so it cannot run inside the one "
		     "transaction: %s",
		     m->name, steps[i].resume ? " (and stopped part way)" : "", way);
		r->res->error.version = m->version;
		snprintf(r->res->error.file, sizeof r->res->error.file, "%s", m->name);
		return false;
	}
	return true;
}

static bool
cmd_up(struct run *r, int64_t target)
{
	struct step *steps = NULL;
	size_t n = 0;
	bool ok = false;

	if (!check_drift(r) || !check_order(r, target, false) || !plan_up(r, target, &steps, &n))
		goto out;
	if (r->req->atomic && !atomic_check(r, steps, n))
		goto out;
	if (!ensure_history(r))
		goto out;
	if (!items_for_steps(r, steps, n))
		goto out;
	if (n == 0) {
		log_info("no migrations to apply: the database is at version %lld", (long long)newest_applied(r));
		ok = true;
		goto out;
	}
	ok = run_steps(r, steps, n);
out:
	steps_free(steps, n);
	return ok;
}

static bool
cmd_down(struct run *r, int64_t target, size_t limit, bool redo)
{
	struct step *steps = NULL;
	size_t n = 0;
	bool ok = false;

	if (!check_drift(r) || !ensure_history(r) || !plan_down(r, target, limit, &steps, &n))
		goto out;
	if (redo && n == 1 && steps[0].m->ndown == 0) {
		fail(r, ENGINE_BAD_REQUEST,
		     "redo of %s refused: it has no Down statements, so redo would undo nothing and run its Up "
		     "statements again over what they already did",
		     steps[0].m->name);
		r->res->error.version = steps[0].m->version;
		snprintf(r->res->error.file, sizeof r->res->error.file, "%s", steps[0].m->name);
		goto out;
	}
	if (redo && n == 1) {
		struct step *t = realloc(steps, 2 * sizeof *t);

		if (!t) {
			fail(r, ENGINE_MIGRATION_FAILED, "out of memory");
			goto out;
		}
		steps = t;
		memset(&steps[1], 0, sizeof steps[1]);
		steps[1].m = steps[0].m;
		n = 2;
		if (!step_expand(r, &steps[1]))
			goto out;
	}
	if (!items_for_steps(r, steps, n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!steps[i].down || steps[i].m->ndown > 0)
			continue;
		steps[i].item->no_down = true;
		warn(r, "migration %s has no Down statements: down removes its history row and undoes nothing "
			"in the database", steps[i].m->name);
	}
	if (n == 0) {
		log_info("no migrations to roll back");
		ok = true;
		goto out;
	}
	ok = run_steps(r, steps, n);
out:
	steps_free(steps, n);
	return ok;
}

static bool
cmd_plan(struct run *r, int64_t target)
{
	struct step *steps = NULL;
	size_t n = 0;
	bool ok = false;

	if (!check_drift(r) || !check_order(r, target, false) || !plan_up(r, target, &steps, &n))
		goto out;
	if (r->req->atomic && !atomic_check(r, steps, n))
		goto out;
	if (!items_for_steps(r, steps, n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		char *sql, *p;

		for (uint32_t j = steps[i].first; j < steps[i].nsql; j++)
			len += strlen(steps[i].sql[j]) + 2;
		if (!(sql = malloc(len + 1))) {
			fail(r, ENGINE_CONFIG_ERROR, "out of memory");
			goto out;
		}
		p = sql;
		*p = '\0';
		for (uint32_t j = steps[i].first; j < steps[i].nsql; j++)
			p += sprintf(p, "%s%s", steps[i].sql[j], j + 1 < steps[i].nsql ? "\n\n" : "");
		steps[i].item->sql = sql;
		steps[i].item->action = "would apply";
	}
	ok = true;
out:
	steps_free(steps, n);
	return ok;
}

static bool
cmd_baseline(struct run *r, int64_t target)
{
	struct db_error e;
	size_t n = 0;

	if (!check_drift(r) || !ensure_history(r))
		return false;
	if (!db_begin(r->conn, &e))
		goto fail;
	for (size_t k = 0; k < r->b->count && r->b->migrations[k].version <= target; k++) {
		struct engine_item *it;

		if (is_applied(r, k) || is_partial(r, k))
			continue;
		r->chained[k] = true;
		if (!record_unrun(r, k, "baseline", r->tables.goose, "baselined", &it, &e))
			goto fail;
		n++;
	}
	if (!db_commit(r->conn, &e))
		goto fail;
	r->progress_total = (uint32_t)n;
	for (size_t i = 0; i < r->res->nitems; i++)
		progress(r, &r->res->items[i], "baselined");
	return true;
fail:
	db_rollback(r->conn);
	fail_db(r, ENGINE_MIGRATION_FAILED, "unable to record the baseline", &e);
	return false;
}

static void
cmd_list(struct run *r)
{
	for (uint32_t k = 0; k < r->b->count; k++) {
		struct engine_item *it = item_add(r, r->b->migrations[k].version, r->b->migrations[k].name);

		if (it) {
			it->state = "embedded";
			it->no_transaction = r->b->migrations[k].no_transaction;
		}
	}
}

/*
 * verify's head-only check (see engine_run in engine.h): true when the history's newest
 * row settled the answer, false to run the full verify.
 */
static bool
verify_head(struct run *r)
{
	struct db_head h;
	struct db_error e;
	struct engine_item *it;
	size_t k;

	if (!db_history_head(r->conn, &r->names, &h, &e)) {
		fail_db(r, ENGINE_CONFIG_ERROR, "unable to read the history's newest row", &e);
		return true;
	}
	if (!h.found || h.failed_statement || !bundle_find(r->b, h.version, &k) ||
	    strcmp(h.chain, r->b->migrations[k].chain) != 0 || strcmp(h.name, r->b->migrations[k].name) != 0)
		return false;
	r->res->version_before = r->res->version_after = h.version;
	if ((it = item_add(r, h.version, r->b->migrations[k].name)) != NULL) {
		it->state = "applied";
		it->no_transaction = r->b->migrations[k].no_transaction;
		snprintf(it->applied_at, sizeof it->applied_at, "%s", h.applied_at);
	}
	log_debug("verify: the history's newest row, version %lld, has this build's chain", (long long)h.version);
	return true;
}

static bool
read_only(enum engine_command c)
{
	return c == ENGINE_STATUS || c == ENGINE_VERIFY || c == ENGINE_PLAN || c == ENGINE_VERSION;
}

bool
engine_run(const struct config *cfg, const struct bundle *b, const struct engine_request *req,
	   struct engine_result *res)
{
	struct run r = { .cfg = cfg, .b = b, .req = req, .res = res };
	char err[512];
	enum engine_command c = req->command;
	int64_t target = req->has_version ? req->version : INT64_MAX;

	memset(res, 0, sizeof *res);
	res->command = c;
	res->build_id = b->build_id;
	if (c >= ENGINE_COMMAND_COUNT) {
		fail(&r, ENGINE_BAD_REQUEST, "unknown command");
		return false;
	}
	if (c == ENGINE_LIST) {
		cmd_list(&r);
		return true;
	}
	if (engine_command_needs_version(c) && !req->has_version) {
		fail(&r, ENGINE_BAD_REQUEST, "%s needs a version", command_names[c]);
		return false;
	}
	if (req->has_version && req->version < 0) {
		fail(&r, ENGINE_BAD_REQUEST, "invalid version %lld", (long long)req->version);
		return false;
	}
	if (req->head_only && c != ENGINE_VERIFY) {
		fail(&r, ENGINE_BAD_REQUEST, "head_only applies to verify, not to %s", command_names[c]);
		return false;
	}
	if (req->atomic && c != ENGINE_UP && c != ENGINE_UP_TO && c != ENGINE_PLAN) {
		fail(&r, ENGINE_BAD_REQUEST, "atomic applies to up, up-to and plan, not to %s", command_names[c]);
		return false;
	}
	if ((c == ENGINE_DOWN || c == ENGINE_DOWN_TO || c == ENGINE_REDO) && !req->allow_down) {
		fail(&r, ENGINE_BAD_REQUEST, "%s rolls migrations back: confirm with --allow-down (\"allow_down\": true)",
		     command_names[c]);
		return false;
	}
	if (!config_check(cfg, err, sizeof err)) {
		fail(&r, ENGINE_CONFIG_ERROR, "%s", err);
		return false;
	}
	db_names_init(&r.names, cfg);
	r.lock_wait = config_int(cfg, SET_LOCK_WAIT) * 1000;
	if (req->deadline_ms) {
		int64_t margin = config_int(cfg, SET_DEADLINE_MARGIN);

		r.deadline = req->deadline_ms - margin;
		if (r.deadline - clock_now_ms() < 100) {
			fail(&r, ENGINE_MIGRATION_FAILED,
			     "not enough time before the deadline: %lld ms left, %lld ms kept as margin",
			     (long long)(req->deadline_ms - clock_now_ms()), (long long)margin);
			return false;
		}
	}
	/* cleanup after a cancel at the deadline (rollback, unlock) has part of the margin; the rest is for the answer */
	if (req->deadline_ms)
		r.hard = req->deadline_ms - config_int(cfg, SET_DEADLINE_MARGIN) / 4;
	db_limit(r.hard, r.lock_wait, r.hard);
	db_text_sent(b->text, b->text_len);
	if (!read_only(c) && !lock_acquire(&r))
		goto out;
	if (!connect_work(&r) || (!read_only(c) && !work_lock_acquire(&r)) || (req->head_only && verify_head(&r)) ||
	    !state_load(&r))
		goto out;
	res->version_before = res->version_after = newest_applied(&r);

	switch (c) {
	case ENGINE_UP:
	case ENGINE_UP_TO:
		cmd_up(&r, target);
		break;
	case ENGINE_DOWN:
		cmd_down(&r, -1, 1, false);
		break;
	case ENGINE_DOWN_TO:
		cmd_down(&r, target, SIZE_MAX, false);
		break;
	case ENGINE_REDO:
		cmd_down(&r, -1, 1, true);
		break;
	case ENGINE_STATUS:
		if (!check_drift(&r)) {
			/* status reports drift but is not itself a failure: verify is */
			warn(&r, "%s", res->error.message);
			memset(&res->error, 0, sizeof res->error);
			res->status = ENGINE_OK;
		}
		(void)check_order(&r, INT64_MAX, true);
		list_states(&r);
		break;
	case ENGINE_VERIFY:
		if (check_drift(&r))
			(void)check_order(&r, INT64_MAX, true);
		list_states(&r);
		break;
	case ENGINE_PLAN:
		cmd_plan(&r, target);
		break;
	case ENGINE_BASELINE:
		cmd_baseline(&r, target);
		break;
	case ENGINE_VERSION:
	case ENGINE_LIST:
	case ENGINE_COMMAND_COUNT:
		break;
	}
	if (!read_only(c) && r.conn && PQstatus(r.conn) == CONNECTION_OK) {
		/* what the database says now, whatever happened (fail() keeps the first error) */
		if (state_load(&r))
			res->version_after = newest_applied(&r);
	}
out:
	state_free(&r);
	db_close(r.conn);
	lock_release(&r);
	db_limit(0, 0, 0);
	if (db_interrupted() && res->status != ENGINE_OK) {
		char msg[sizeof res->error.message + 32];

		snprintf(msg, sizeof msg, "interrupted by %s: %s", db_interrupted() == SIGINT ? "SIGINT" : "SIGTERM",
			 res->error.message);
		msg[sizeof res->error.message - 1] = '\0';
		memcpy(res->error.message, msg, sizeof res->error.message);
	}
	return res->status == ENGINE_OK;
}

void
engine_result_fail(struct engine_result *res, const struct bundle *b, enum engine_command c, enum engine_status s,
		   const char *message)
{
	memset(res, 0, sizeof *res);
	res->command = c;
	res->build_id = b->build_id;
	res->status = s;
	snprintf(res->error.message, sizeof res->error.message, "%s", message);
}

void
engine_result_free(struct engine_result *res)
{
	for (size_t i = 0; i < res->nitems; i++) {
		free(res->items[i].owned_name);
		free(res->items[i].sql);
		free(res->items[i].dropped_index);
	}
	free(res->items);
	for (size_t i = 0; i < res->nwarnings; i++)
		free(res->warnings[i]);
	free(res->warnings);
	memset(res, 0, sizeof *res);
}

/* --- the one JSON rendering --------------------------------------------------- */

/* A JSON string of s, valid UTF-8 whatever s holds (a history row read back, say). */
static json_t *
text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j || !s || !(copy = strdup(s)))
		return j;
	j = json_string(text_utf8_fix(copy));
	free(copy);
	return j;
}

static json_t *
str_or_null(const char *s)
{
	return s && *s ? text(s) : json_null();
}

char *
engine_result_json(const struct engine_result *res)
{
	json_t *o = json_object(), *items = json_array(), *warns = json_array();
	char *out = NULL;

	if (!o || !items || !warns)
		goto out;
	json_object_set_new(o, "command", json_string(engine_command_name(res->command)));
	if (res->target)
		json_object_set_new(o, "target", text(res->target));
	json_object_set_new(o, "ok", json_boolean(res->status == ENGINE_OK));
	json_object_set_new(o, "status", json_string(engine_status_name(res->status)));
	json_object_set_new(o, "version_before", json_integer(res->version_before));
	json_object_set_new(o, "version_after", json_integer(res->version_after));
	json_object_set_new(o, "build_id", str_or_null(res->build_id));
	for (size_t i = 0; i < res->nitems; i++) {
		const struct engine_item *it = &res->items[i];
		json_t *j = json_object();

		if (!j)
			goto out;
		json_object_set_new(j, "version", json_integer(it->version));
		json_object_set_new(j, "name", str_or_null(it->name));
		json_object_set_new(j, "state", str_or_null(it->state));
		if (it->action)
			json_object_set_new(j, "action", json_string(it->action));
		json_object_set_new(j, "no_transaction", json_boolean(it->no_transaction));
		json_object_set_new(j, "applied_at", str_or_null(it->applied_at));
		json_object_set_new(j, "duration_ms",
				    it->duration_ms >= 0 ? json_integer(it->duration_ms) : json_null());
		if (it->failed_statement)
			json_object_set_new(j, "failed_statement", json_integer(it->failed_statement));
		if (it->action && (strcmp(it->action, "applied") == 0 || strcmp(it->action, "rolled back") == 0 ||
				   strcmp(it->action, "failed") == 0))
			json_object_set_new(j, "retries", json_integer(it->retries));
		if (it->no_down)
			json_object_set_new(j, "no_down_statements", json_true());
		if (it->dropped_index)
			json_object_set_new(j, "dropped_invalid_index", text(it->dropped_index));
		if (it->sql)
			json_object_set_new(j, "sql", text(it->sql));
		json_array_append_new(items, j);
	}
	json_object_set(o, "migrations", items);
	for (size_t i = 0; i < res->nwarnings; i++)
		json_array_append_new(warns, text(res->warnings[i]));
	json_object_set(o, "warnings", warns);
	if (res->status != ENGINE_OK) {
		const struct engine_error *e = &res->error;
		json_t *j = json_object();

		if (!j)
			goto out;
		json_object_set_new(j, "type", json_string(engine_status_reason(res->status)));
		if (json_object_set_new(j, "message", text(e->message)) != 0) {
			json_decref(j);
			goto out;	/* never an error without its message */
		}
		json_object_set_new(j, "file", str_or_null(e->file));
		json_object_set_new(j, "version", e->version ? json_integer(e->version) : json_null());
		json_object_set_new(j, "statement", e->statement ? json_integer(e->statement) : json_null());
		json_object_set_new(j, "line", e->line ? json_integer(e->line) : json_null());
		json_object_set_new(j, "sqlstate", str_or_null(e->sqlstate));
		json_object_set_new(j, "pg_message", str_or_null(e->pg_message));
		json_object_set_new(j, "detail", str_or_null(e->detail));
		json_object_set_new(j, "hint", str_or_null(e->hint));
		json_object_set_new(o, "error", j);
	}
	out = json_dumps(o, JSON_COMPACT);
out:
	json_decref(items);
	json_decref(warns);
	json_decref(o);
	return out;
}
