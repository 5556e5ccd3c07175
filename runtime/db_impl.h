/*
 * db_impl.h - what the files of the libpq code (db_io.c, db_connect.c, db_history.c,
 * db_batch.c) share and nothing else includes: the I/O core's waits and queries, the
 * error constructors.  Every function here fills *err on failure (a struct db_error as
 * db.h describes it) and leaves the connection ready for the next query, unless it broke.
 */
#ifndef GOSLING_DB_IMPL_H
#define GOSLING_DB_IMPL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* --- errors (db_io.c) ---------------------------------------------------------- */

/*
 * copy_trim - src (NULL: "") into dst, cut on a character boundary, bytes that are not
 * UTF-8 made '?' (every message goes into JSON), trailing new lines and spaces dropped.
 */
void copy_trim(char *dst, size_t len, const char *src);
/* error_from_conn - libpq's message of conn; err->connection when conn is no longer usable. */
void error_from_conn(struct db_error *err, PGconn *conn);
/* error_from_result - the server's fields of a failed result. */
void error_from_result(struct db_error *err, const PGresult *res);
/* error_set - a message of gosling's own: fmt with one %s. */
void error_set(struct db_error *err, const char *fmt, const char *arg);
/* signal_name - "SIGINT", "SIGTERM" or "a signal". */
const char *signal_name(int signo);

/* --- bounded work on a thread (db_io.c) ------------------------------------------ */

/*
 * libpq 15 resolves host names (getaddrinfo) and sends cancel requests (PQcancel)
 * with blocking calls and no timeout.  Such a call runs as a job: the caller waits
 * for it until a bound; past it the job is abandoned and frees itself when the
 * call finally returns.
 */
struct job {
	void (*fn)(struct job *);
	void (*release)(struct job *);	/* frees the job */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool finished, abandoned;
};

/*
 * job_run - run j->fn until until_ms.  true: it finished (the caller releases j);
 * false: it is still running and will release j itself (j->release).
 */
bool job_run(struct job *j, int64_t until_ms);
/* job_destroy - the mutex and condition variable job_run set up (release calls it). */
void job_destroy(struct job *j);

/* --- waiting on the server (db_io.c) ---------------------------------------------- */

/* own_bound - when one of gosling's own waits that starts now must end (db_limit; 0 = never). */
int64_t own_bound(void);

/* One bounded wait: the cancel at cancel_at (0 = only on a signal), then GRACE_MS for the answer. */
struct waiter {
	int64_t cancel_at;
	int64_t give_up_at;	/* set when the cancel goes out */
	int64_t cancelled_at;
	bool cancelled;
};

/* waiter_until - a wait that cancels at cancel_at (0 = never), sooner once a signal came. */
struct waiter waiter_until(int64_t cancel_at);
/*
 * wait_io - flush what libpq holds, then wait once for the socket (or a bound).  Past
 * w->cancel_at, or on SIGINT/SIGTERM, the statement is cancelled; GRACE_MS later the
 * connection is dropped.  false with *err when it cannot go on.
 */
bool wait_io(PGconn *conn, struct waiter *w, struct db_error *err);
/* wait_ready - until the query is sent and a result is ready (or the connection is gone), within w. */
bool wait_ready(PGconn *conn, struct waiter *w, struct db_error *err);
/* copy_finish - end a migration's COPY FROM STDIN with an error, discard COPY TO STDOUT's rows. */
bool copy_finish(PGconn *conn, ExecStatusType st, struct waiter *w, struct db_error *err);
/* drain - read and clear every remaining result within w, so the connection is ready again. */
void drain(PGconn *conn, struct waiter *w);

/* --- gosling's own queries (db_io.c) ------------------------------------------------ */

/* Shapes a query may promise. ncols < 0 accepts any; nrows < 0 any number of rows. */
struct shape {
	ExecStatusType status;
	int nrows;
	int ncols;
};

#define SHAPE_COMMAND ((struct shape){ PGRES_COMMAND_OK, 0, 0 })
#define SHAPE_ROW(n) ((struct shape){ PGRES_TUPLES_OK, 1, (n) })
#define SHAPE_ROWS(n) ((struct shape){ PGRES_TUPLES_OK, -1, (n) })

/*
 * query_run - send one single-command query (parameters as text), wait within
 * gosling's own bound (db_limit), check its shape, drain.  On success *out holds the
 * result (the caller clears it); on failure *out is NULL.  what names it in messages.
 */
bool query_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
	       struct shape shape, PGresult **out, struct db_error *err);
/* command_run - query_run of a command with no result rows. */
bool command_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
		 struct db_error *err);
/*
 * rows_run - a query whose rows come one at a time (single-row mode), each checked to
 * have ncols columns and handed to row(); none is held with the others.  row() returns
 * false when out of memory.
 */
bool rows_run(PGconn *conn, const char *what, const char *sql, int ncols, bool (*row)(const PGresult *, void *),
	      void *arg, struct db_error *err);

/* --- helpers ------------------------------------------------------------------------- */

/* grow - *arr (of *cap elements of size) to hold n + 1; false when out of memory (*arr kept). */
bool grow(void **arr, size_t *cap, size_t n, size_t size);
/* char_to_byte - byte offset of the 1-based character position pos in s (UTF-8): PostgreSQL counts characters. */
size_t char_to_byte(const char *s, size_t len, int pos);
/*
 * settings_sql - the SELECT list that sets gosling's session settings s (db_connect.c):
 * session-wide, so run inside a transaction they outlive its COMMIT.  One column per
 * setting (search_path only when s names one); at most SETTINGS_SQL_MAX bytes.
 */
#define SETTINGS_SQL_MAX 768
void settings_sql(char *buf, size_t len, PGconn *conn, const struct db_session *s);

#endif
