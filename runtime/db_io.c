/*
 * db_io.c - the I/O core of the libpq code: every query goes through db_query_run() (or
 * db_rows_run(), row by row), which sends it, waits within a bound, checks the result's
 * shape, drains the connection and leaves exactly one PGresult for the caller to clear
 * on its `out:` path.
 *
 * No call here blocks without a bound: connections run non-blocking (PQsetnonblocking,
 * poll() on PQsocket), blocking libpq calls (the host name lookup, PQcancel) run on a
 * thread of their own that is abandoned when it overstays (struct job), and a server
 * that does not answer a cancel within GRACE_MS loses its connection.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "db_impl.h"
#include "log.h"
#include "signals.h"
#include "text.h"

/* After a cancel, how long the server may take to answer before the connection is dropped. */
#define GRACE_MS 2000

static int64_t limit_until, limit_each, limit_hard; /* db_limit */
static int64_t interrupt_seen;			    /* when a wait first noticed a signal */

void
db_limit(int64_t until_ms, int64_t each_ms, int64_t hard_ms)
{
	limit_until = until_ms;
	limit_each = each_ms;
	limit_hard = hard_ms;
}

/* When one of gosling's own waits that starts now must end (0 = never). */
int64_t
db_own_bound(void)
{
	return clock_earliest(clock_earliest(limit_until, limit_hard), limit_each ? clock_now_ms() + limit_each : 0);
}

/*
 * The server's text, trimmed and made valid UTF-8: cut to fit on a character boundary,
 * and bytes that are not UTF-8 (a server or client_encoding that is not) made '?', so
 * that every message can go into JSON.
 */
void
db_copy_trim(char *dst, size_t len, const char *src)
{
	size_t n;

	if (!src)
		src = "";
	snprintf(dst, len, "%s", src);
	text_utf8_fix(dst);
	n = strlen(dst);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
		dst[--n] = '\0';
}

void
db_error_from_conn(struct db_error *err, PGconn *conn)
{
	memset(err, 0, sizeof *err);
	db_copy_trim(err->message, sizeof err->message, PQerrorMessage(conn));
	if (!err->message[0])
		snprintf(err->message, sizeof err->message, "unknown libpq error");
	err->connection = PQstatus(conn) != CONNECTION_OK;
}

void
db_error_from_result(struct db_error *err, const PGresult *res)
{
	const char *pos;

	memset(err, 0, sizeof *err);
	db_copy_trim(err->sqlstate, sizeof err->sqlstate, PQresultErrorField(res, PG_DIAG_SQLSTATE));
	db_copy_trim(err->message, sizeof err->message, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	if (!err->message[0])
		db_copy_trim(err->message, sizeof err->message, PQresultErrorMessage(res));
	db_copy_trim(err->detail, sizeof err->detail, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	db_copy_trim(err->hint, sizeof err->hint, PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	err->position = pos ? atoi(pos) : 0;
}

void
db_error_set(struct db_error *err, const char *fmt, const char *arg)
{
	memset(err, 0, sizeof *err);
	snprintf(err->message, sizeof err->message, fmt, arg);
}

const char *
db_signal_name(int signo)
{
	return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "a signal";
}

/* --- work on a thread of its own, abandoned when it overstays ---------------- */

static void *
job_main(void *arg)
{
	struct job *j = arg;
	bool abandoned;

	j->fn(j);
	pthread_mutex_lock(&j->mu);
	j->finished = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned)
		j->release(j);
	return NULL;
}

/*
 * db_job_run - run j->fn until until_ms.  true: it finished (the caller releases j);
 * false: it is still running and will release j itself.
 */
bool
db_job_run(struct job *j, int64_t until_ms)
{
	struct timespec ts = { .tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000 };
	sigset_t all, old;
	pthread_t t;
	bool finished;
	int rc;

	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->finished = j->abandoned = false;
	/* signals are for the main thread: it is the one that cancels and reports */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, NULL, job_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		j->fn(j); /* no thread: do it here, unbounded, rather than not at all */
		return true;
	}
	pthread_detach(t);
	pthread_mutex_lock(&j->mu);
	while (!j->finished && pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0)
		;
	finished = j->finished;
	if (!finished)
		j->abandoned = true;
	pthread_mutex_unlock(&j->mu);
	return finished;
}

void
db_job_destroy(struct job *j)
{
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
}

struct cancel_job {
	struct job j;
	PGcancel *cancel;
	char err[256];
	int ok;
};

static void
cancel_fn(struct job *j)
{
	struct cancel_job *c = (struct cancel_job *)j;

	c->ok = PQcancel(c->cancel, c->err, sizeof c->err);
}

static void
cancel_release(struct job *j)
{
	struct cancel_job *c = (struct cancel_job *)j;

	PQfreeCancel(c->cancel);
	db_job_destroy(j);
	free(c);
}

/* Ask the server to cancel conn's statement; the postmaster gets until until_ms to take the request. */
static void
cancel_send(PGconn *conn, int64_t until_ms)
{
	struct cancel_job *c = calloc(1, sizeof *c);

	if (!c || !(c->cancel = PQgetCancel(conn))) {
		free(c);
		log_warn("unable to send a cancel request: out of memory");
		return;
	}
	c->j.fn = cancel_fn;
	c->j.release = cancel_release;
	if (!db_job_run(&c->j, until_ms)) {
		log_warn("the server did not take the cancel request in time");
		return;
	}
	if (!c->ok)
		log_warn("unable to send a cancel request: %s", c->err);
	cancel_release(&c->j);
}

/* --- waiting on the server -------------------------------------------------- */

struct waiter
db_waiter_until(int64_t cancel_at)
{
	/* once interrupted, whatever runs (recording where a migration stopped, unlocking) gets a grace */
	if (interrupt_seen)
		cancel_at = clock_earliest(cancel_at, interrupt_seen + GRACE_MS);
	return (struct waiter){ .cancel_at = clock_earliest(cancel_at, limit_hard) };
}

/* The server went silent past the grace: drop the connection so nothing waits on it again. */
static void
drop(PGconn *conn, int64_t waited, struct db_error *err)
{
	memset(err, 0, sizeof *err);
	snprintf(err->message, sizeof err->message,
		 "the server did not answer within %lld ms of a cancel request: dropped the connection",
		 (long long)waited);
	err->connection = true;
	shutdown(PQsocket(conn), SHUT_RDWR);
	(void)PQconsumeInput(conn); /* libpq sees the end: the connection is bad from now on */
}

/*
 * db_wait_io - flush what libpq holds, then wait once for the socket (or a bound).
 * Past w->cancel_at, or on SIGINT/SIGTERM, the statement is cancelled; GRACE_MS
 * later the connection is dropped.  false with *err when it cannot go on.
 */
bool
db_wait_io(PGconn *conn, struct waiter *w, struct db_error *err)
{
	int flush = PQflush(conn);
	int64_t now = clock_now_ms(), next;
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };

	if (flush < 0) {
		db_error_from_conn(err, conn);
		return false;
	}
	if (signals_interrupted() && !interrupt_seen) {
		interrupt_seen = now;
		log_warn("%s: cancelling the running statement", db_signal_name(signals_interrupted()));
		w->cancel_at = now;
	}
	if (!w->cancelled && w->cancel_at && now >= w->cancel_at) {
		w->cancelled = true;
		w->cancelled_at = now;
		/* the grace for the answer, but nothing waits past the hard end */
		w->give_up_at = clock_earliest(now + GRACE_MS, limit_hard && limit_hard < now ? now : limit_hard);
		cancel_send(conn, w->give_up_at);
		now = clock_now_ms();
	}
	if (w->cancelled && now >= w->give_up_at) {
		drop(conn, now - w->cancelled_at, err);
		return false;
	}
	next = w->cancelled ? w->give_up_at : w->cancel_at;
	if (flush == 1)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, next ? (int)(next - now < 1000 ? next - now : 1000) : 1000) < 0 && errno != EINTR) {
		db_error_set(err, "unable to wait for the server: %s", strerror(errno));
		return false;
	}
	if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn)) {
		/*
		 * The server closed the connection.  What it sent first (the results of
		 * the statements that finished, then its FATAL error with a SQLSTATE, e.g.
		 * 57P01 from pg_terminate_backend or a shutdown) is in libpq's buffer:
		 * PQgetResult returns it in order, then libpq's own error, then NULL.
		 */
		if (PQstatus(conn) == CONNECTION_BAD)
			return true;
		db_error_from_conn(err, conn);
		return false;
	}
	return true;
}

/* Wait until the query is sent and a result is ready, within w. */
bool
db_wait_ready(PGconn *conn, struct waiter *w, struct db_error *err)
{
	for (;;) {
		int flush;

		/* gone: PQgetResult returns what the server sent before, then libpq's error, without blocking */
		if (PQstatus(conn) == CONNECTION_BAD)
			return true;
		flush = PQflush(conn);
		if (flush < 0) {
			db_error_from_conn(err, conn);
			return PQstatus(conn) == CONNECTION_BAD;
		}
		if (flush == 0 && !PQisBusy(conn))
			return true;
		if (!db_wait_io(conn, w, err))
			return false;
	}
}

/*
 * A migration's COPY ... FROM STDIN / TO STDOUT has no client to talk to: end
 * COPY FROM STDIN with an error the server reports as the statement's, discard
 * COPY TO STDOUT's rows.  The statement's own result follows.
 */
bool
db_copy_finish(PGconn *conn, ExecStatusType st, struct waiter *w, struct db_error *err)
{
	char *buf;
	int n;

	if (st == PGRES_COPY_IN) {
		while ((n = PQputCopyEnd(conn, "COPY FROM STDIN has no data to read in a gosling migration")) == 0)
			if (!db_wait_io(conn, w, err))
				return false;
		if (n < 0)
			db_error_from_conn(err, conn);
		return n > 0;
	}
	for (;;) {
		n = PQgetCopyData(conn, &buf, 1);
		if (n > 0) {
			PQfreemem(buf);
		} else if (n == -1) {
			return true;
		} else if (n == -2) {
			db_error_from_conn(err, conn);
			return false;
		} else if (!db_wait_io(conn, w, err)) {
			return false;
		}
	}
}

/* Read and clear every remaining result within w, so the connection is ready again. */
void
db_drain(PGconn *conn, struct waiter *w)
{
	struct db_error e;
	PGresult *r;

	while (db_wait_ready(conn, w, &e) && (r = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		PQclear(r);
		if ((st == PGRES_COPY_IN || st == PGRES_COPY_OUT) && !db_copy_finish(conn, st, w, &e))
			return;
	}
}

/*
 * db_query_run - send one single-command query (parameters as text), wait within
 * gosling's own bound (db_limit), check its shape, drain.  On success *out
 * holds the result (caller clears).
 */
bool
db_query_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
	     struct shape shape, PGresult **out, struct db_error *err)
{
	struct waiter w = db_waiter_until(db_own_bound());
	PGresult *res = NULL;

	*out = NULL;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		db_error_from_conn(err, conn);
		goto fail;
	}
	if (!db_wait_ready(conn, &w, err))
		goto fail;
	res = PQgetResult(conn);
	if (!res) {
		db_error_from_conn(err, conn);
		goto fail;
	}
	if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
		db_error_from_result(err, res);
		goto fail;
	}
	if (PQresultStatus(res) != shape.status || (shape.nrows >= 0 && PQntuples(res) != shape.nrows) ||
	    (shape.status == PGRES_TUPLES_OK && shape.ncols >= 0 && PQnfields(res) != shape.ncols)) {
		db_error_set(err, "unexpected result shape from %s", what);
		goto fail;
	}
	db_drain(conn, &w);
	*out = res;
	return true;
fail:
	PQclear(res);
	db_drain(conn, &w);
	return false;
}

/* A command with no result rows. */
bool
db_command_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
	       struct db_error *err)
{
	PGresult *res;

	if (!db_query_run(conn, what, sql, nparams, params, SHAPE_COMMAND, &res, err))
		return false;
	PQclear(res);
	return true;
}

/*
 * db_rows_run - send a query whose rows come one at a time (single-row mode), each
 * checked to have ncols columns and handed to row(); none is held with the others.
 * row() returns false when out of memory.
 */
bool
db_rows_run(PGconn *conn, const char *what, const char *sql, int ncols, bool (*row)(const PGresult *, void *),
	    void *arg, struct db_error *err)
{
	struct waiter w = db_waiter_until(db_own_bound());
	PGresult *res;
	bool ok = false, done = false;

	if (!PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
		db_error_from_conn(err, conn);
		return false;
	}
	(void)PQsetSingleRowMode(conn);
	while (!done) {
		ExecStatusType st;

		if (!db_wait_ready(conn, &w, err))
			break;
		if (!(res = PQgetResult(conn))) {
			db_error_from_conn(err, conn);
			break;
		}
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR) {
			db_error_from_result(err, res);
			done = true;
		} else if ((st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) || PQnfields(res) != ncols) {
			db_error_set(err, "unexpected result shape from %s", what);
			done = true;
		} else if (st == PGRES_SINGLE_TUPLE && !row(res, arg)) {
			db_error_set(err, "out of memory: %s", what);
			done = true;
		} else if (st == PGRES_TUPLES_OK) {
			ok = done = true;
		}
		PQclear(res);
	}
	db_drain(conn, &w);
	return ok;
}

/* Grow *arr (of *cap elements of size) to hold one more; false when out of memory. */
bool
db_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *t;

	if (n < *cap)
		return true;
	if (!(t = realloc(*arr, (*cap ? *cap * 2 : 256) * size)))
		return false;
	*arr = t;
	*cap = *cap ? *cap * 2 : 256;
	return true;
}

/* Byte offset of the 1-based character position pos in s (UTF-8): PostgreSQL counts characters. */
size_t
db_char_to_byte(const char *s, size_t len, int pos)
{
	size_t i = 0;
	int chars = 0;

	while (i < len && chars < pos - 1) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	return i;
}

bool
db_migration_statement(PGconn *conn, const char *sql, int64_t deadline_ms, struct db_error *err)
{
	struct waiter w = db_waiter_until(deadline_ms);
	PGresult *res;
	bool failed = false;

	if (!PQsendQuery(conn, sql)) {
		db_error_from_conn(err, conn);
		return false;
	}
	(void)PQsetSingleRowMode(conn); /* rows come one by one and are dropped: no result is held whole */
	for (;;) {
		ExecStatusType st;

		if (!db_wait_ready(conn, &w, err)) {
			db_drain(conn, &w);
			return false;
		}
		if (!(res = PQgetResult(conn)))
			break;
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR && !failed) {
			db_error_from_result(err, res);
			/* PostgreSQL's position counts characters; the caller counts lines in bytes */
			if (err->position > 0)
				err->position = (int)db_char_to_byte(sql, strlen(sql), err->position) + 1;
			failed = true;
		}
		PQclear(res);
		if ((st == PGRES_COPY_IN || st == PGRES_COPY_OUT) && !db_copy_finish(conn, st, &w, err)) {
			db_drain(conn, &w);
			return false;
		}
	}
	if (!failed && PQstatus(conn) != CONNECTION_OK) {
		db_error_from_conn(err, conn);
		return false;
	}
	return !failed;
}

/* --- transaction control ------------------------------------------------ */

bool
db_begin(PGconn *conn, struct db_error *err)
{
	return db_command_run(conn, "BEGIN", "BEGIN", 0, NULL, err);
}

bool
db_commit(PGconn *conn, struct db_error *err)
{
	return db_command_run(conn, "COMMIT", "COMMIT", 0, NULL, err);
}

void
db_rollback(PGconn *conn)
{
	struct db_error e;

	if (PQtransactionStatus(conn) == PQTRANS_IDLE || PQtransactionStatus(conn) == PQTRANS_UNKNOWN)
		return;
	if (!db_command_run(conn, "ROLLBACK", "ROLLBACK", 0, NULL, &e))
		log_warn("unable to roll back: %s", e.message);
}
