/* dataapi_call.c - the Data API transport's SQL text, its calls with their retries, errors and settings. */
#include "dataapi_impl.h"
#include "text.h"

/* --- building SQL (common/buf.h) ------------------------------------------- */

void
da_sb_fmt(struct buf *b, const char *fmt, long long v)
{
	char num[96];

	snprintf(num, sizeof num, fmt, v);
	buf_str(b, num);
}

/* s as an E'' literal: quotes and backslashes doubled, so it means s under any standard_conforming_strings */
void
da_sb_literal(struct buf *b, const char *s)
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
size_t
da_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

size_t
da_literal_chars(const char *s)
{
	size_t c = 0;

	for (const char *p = s; *p; p++)
		c += (((unsigned char)*p & 0xC0) != 0x80) + (*p == '\'' || *p == '\\');
	return c + 3;
}

/* --- errors and calls ------------------------------------------------------- */

/* One line of an error's text, from src up to its newline or end (NULL: none), into dst cut to fit. */
static void
error_part(char *dst, size_t len, const char *src, const char *end)
{
	size_t n = strcspn(src, "\n");

	if (end && (size_t)(end - src) < n)
		n = (size_t)(end - src);
	snprintf(dst, len, "%.*s", (int)(n < len ? n : len - 1), src);
	text_utf8_fix(dst);
}

/*
 * st as a db_error: PostgreSQL's message without the Data API's "ERROR: " and
 * "; SQLState: X" wrapping, its detail and hint, and its SQLSTATE.
 */
void
da_error_of(const struct rdsdata_status *st, const char *what, struct db_error *err)
{
	const char *m = st->message, *p, *cut, *end = NULL;

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
	if (strncmp(m, "ERROR: ", 7) == 0 || strncmp(m, "FATAL: ", 7) == 0)
		m += 7;
	/* each part from the whole text, then cut to its field on a character boundary (as
	 * libpq's are): a long message must not take the detail, hint or SQLSTATE with it */
	if ((cut = strstr(m, "; SQLState: ")))
		end = cut;
	error_part(err->message, sizeof err->message, m, end);
	if ((p = strstr(m, "\n  Detail: ")) && (!end || p < end))
		error_part(err->detail, sizeof err->detail, p + 11, end);
	if ((p = strstr(m, "\n  Hint: ")) && (!end || p < end))
		error_part(err->hint, sizeof err->hint, p + 9, end);
}

void
da_error_set(struct db_error *err, const char *fmt, const char *arg)
{
	memset(err, 0, sizeof *err);
	snprintf(err->message, sizeof err->message, fmt, arg);
}

/* the deadline of gosling's own calls (migration: a unit's, whose deadline_ms is given) */
int64_t
da_call_deadline(const struct da_state *d, int64_t deadline_ms)
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
enum da_call {
	CALL_EXECUTE,
	CALL_BEGIN
};

void
da_status_oom(struct rdsdata_status *st)
{
	memset(st, 0, sizeof *st);
	st->code = RDSDATA_OTHER;
	snprintf(st->message, sizeof st->message, "out of memory building the call");
}

/* call, retried while the cluster resumes, within the deadline */
static bool
resuming_retried(struct da_state *d, enum da_call call, const struct rdsdata_statement *s, int64_t deadline_ms,
		 struct rdsdata_result *r, char *txid, struct rdsdata_status *st)
{
	int tries = 0;

	d->db.deadline_ms = da_call_deadline(d, deadline_ms);
	while (!(call == CALL_EXECUTE ? rdsdata_execute(&d->db, s, r, st)
				      : rdsdata_begin(&d->db, txid, RDSDATA_TXID_MAX, st)))
		if (st->code != RDSDATA_RESUMING || !resume_wait(d->db.deadline_ms, &tries))
			return false;
	return true;
}

/*
 * Cancel the backend still running the call marked mark, and wait (a second at most) until
 * it has stopped: a DO block's set_config('statement_timeout') does not bound the block
 * itself (PostgreSQL arms the timer as a statement starts), and the service runs a call
 * on after its client has gone, so a migration given up at the deadline would otherwise
 * commit after gosling reported it failed.
 */
static void
cancel_marked(struct da_state *d, const char *mark)
{
	char sql[512];
	struct db_error err;
	struct rdsdata_result r;

	snprintf(sql, sizeof sql,
		 "SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity WHERE pid <> "
		 "pg_catalog.pg_backend_pid() AND state = 'active' AND query LIKE 'DO %s%%'",
		 mark);
	for (int i = 0; i < 20; i++) {
		if (!da_query(d, "cancelling the migration's call", sql, NULL, 0, &r, &err)) {
			log_warn("%s", err.message);
			return;
		}
		size_t running = r.nrows;

		rdsdata_result_free(&r);
		if (!running)
			return;
		clock_sleep_ms(50);
	}
}

/*
 * ExecuteStatement, retried while the cluster resumes.  A migration's autocommit DO block
 * (once, no transaction) is marked with a comment of its own; its answer lost (the deadline
 * reached, the connection gone), the call is cancelled before the caller reads back.
 */
bool
da_exec(struct da_state *d, const struct rdsdata_statement *s, int64_t deadline_ms, struct rdsdata_result *r,
	struct rdsdata_status *st)
{
	struct rdsdata_statement m = *s;
	struct buf b = { 0 };
	char mark[48];
	uint64_t id = 0;
	bool ok;

	if (!s->once || s->transaction_id || strncmp(s->sql, "DO ", 3) != 0 ||
	    getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		return resuming_retried(d, CALL_EXECUTE, s, deadline_ms, r, NULL, st);
	snprintf(mark, sizeof mark, "/*gosling:%016llx*/", (unsigned long long)id);
	buf_str(&b, "DO ");
	buf_str(&b, mark);
	buf_str(&b, s->sql + 2);
	m.sql = b.failed ? s->sql : b.p;
	ok = resuming_retried(d, CALL_EXECUTE, &m, deadline_ms, r, NULL, st);
	if (!ok && !b.failed && st->code == RDSDATA_OTHER && !st->aws_code[0])
		cancel_marked(d, mark);
	buf_free(&b);
	return ok;
}

/* BeginTransaction, retried while the cluster resumes */
bool
da_begin_tx(struct da_state *d, int64_t deadline_ms, char *txid, struct rdsdata_status *st)
{
	return resuming_retried(d, CALL_BEGIN, NULL, deadline_ms, NULL, txid, st);
}

/* One statement of gosling's own with string parameters (NULL: SQL NULL); rows into *r when r. */
bool
da_query(struct da_state *d, const char *what, const char *sql, const struct rdsdata_param *p, size_t np,
	 struct rdsdata_result *r, struct db_error *err)
{
	struct rdsdata_statement s = {
		.sql = sql, .params = p, .nparams = np, .transaction_id = d->txid[0] ? d->txid : NULL
	};
	struct rdsdata_result tmp;
	struct rdsdata_status st;

	/* row writes held back go first, in a transaction taken for them: calls keep their order */
	if (d->open && d->tx_sql.len && !da_rows_flush(d, err))
		return false;
	if (!da_exec(d, &s, 0, r ? r : &tmp, &st)) {
		da_error_of(&st, what, err);
		return false;
	}
	if (!r)
		rdsdata_result_free(&tmp);
	return true;
}

/* gosling's settings and the run lock's transaction lock, as set_config calls of one SELECT list */
void
da_settings_sql(struct da_state *d, struct buf *b, int64_t deadline_ms)
{
	int64_t sm = d->statement_ms && d->statement_ms < CALL_MAX_MS ? d->statement_ms : CALL_MAX_MS;

	if (deadline_ms) {
		int64_t left = deadline_ms - clock_now_ms();

		if (left < sm)
			sm = left > 1 ? left : 1;
	}
	da_sb_fmt(b, "pg_catalog.set_config('statement_timeout', '%lld', true)", (long long)sm);
	da_sb_fmt(b, ", pg_catalog.set_config('lock_timeout', '%lld', true)", (long long)d->lock_ms);
	if (d->search_path) {
		buf_str(b, ", pg_catalog.set_config('search_path', ");
		da_sb_literal(b, d->search_path);
		buf_str(b, ", true)");
	}
	if (d->have_key)
		da_sb_fmt(b, ", pg_catalog.pg_advisory_xact_lock(%lld)", (long long)d->key);
}
