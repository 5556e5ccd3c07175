/*
 * db_impl.h - what the files of the libpq code (db_io.c, db_connect.c, db_history.c,
 * db_batch.c, db_transport.c) share and nothing else includes: the calls the transport's
 * table makes, the I/O core's waits and queries, the error constructors.  There is no
 * general-purpose query function: each call does one thing and checks the shape of
 * what comes back (no rows, one row of N columns, N columns), so a surprise is an
 * error, not a misread; results are always drained and cleared.  Every function here
 * fills *err on failure (a struct db_error, transport.h) and leaves the connection
 * ready for the next query, unless it broke.
 */
#ifndef GOSLING_DB_IMPL_H
#define GOSLING_DB_IMPL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* --- the libpq calls db_transport.c makes, one query each unless said ---------- */

/*
 * db_limit - bound every wait of gosling's own (connects including the host name
 * lookup, its queries, the lock polls' queries, a rollback): each at most each_ms
 * (0 = no limit), and none past until_ms (ms since the epoch, 0 = none).  Past the
 * bound the query is cancelled; a server that does not answer within a grace (2 s)
 * loses the connection, and the call fails.  No wait at all, migration statements'
 * included, goes past hard_ms (0 = none): the time by which the caller must answer.
 */
void db_limit(int64_t until_ms, int64_t each_ms, int64_t hard_ms);

/*
 * db_text_sent - the bundle's statement text (struct bundle's text, text_len; NULL
 * for none) whose pages a batch may release once libpq holds its copy, so the peak
 * RSS of an up does not grow with the bundle.  The text must be a read-only mapping
 * of the program file: it is read again from there if a statement is needed later.
 */
void db_text_sent(const char *text, size_t len);

/*
 * db_connect - connect as cfg says (flags > DATABASE_URL > DB_* > PG*), with
 * application_name=gosling, client_encoding=UTF8, TCP keepalives and
 * tcp_user_timeout, non-blocking, within connect-timeout and db_limit (the host
 * name lookup included).  purpose names the connection in messages ("lock",
 * "migrations").
 */
bool db_connect(const struct config *cfg, const char *purpose, PGconn **out, struct db_error *err) MUSTCHECK;
void db_close(PGconn *conn);

/*
 * db_utf8 - client_encoding back to UTF8 when a migration changed it (SET client_encoding),
 * before gosling reads or writes its own rows: gosling's text is UTF-8.  One query, only
 * when it changed.
 */
bool db_utf8(PGconn *conn, struct db_error *err) MUSTCHECK;

/* db_describe - "user@host:port/dbname" of a live connection, never the password. */
void db_describe(PGconn *conn, char *out, size_t outlen);

/*
 * db_set_session - statement_timeout and lock_timeout, search_path when s names one,
 * client_encoding UTF8, and on
 * PostgreSQL 14 and later client_connection_check_interval = 1 s: a backend whose client
 * died stops its statement within a second instead of running the rest of the migration
 * for nobody.  Session-wide, also inside a transaction (it outlives the COMMIT).  One query.
 */
bool db_set_session(PGconn *conn, const struct db_session *s, struct db_error *err) MUSTCHECK;

/* db_lock_try - pg_try_advisory_lock(key); *got says whether it was taken. */
bool db_lock_try(PGconn *conn, int64_t key, bool *got, struct db_error *err) MUSTCHECK;
/*
 * db_work_lock_try - pg_try_advisory_lock(key's high 32 bits, its low 32 bits): the
 * two-int lock, another lock than the bigint one of the same key.  The migration session
 * holds it while it works, so a run whose client died (the lock session ends with the
 * socket, at once) is still excluded until its busy backend has ended too.
 */
bool db_work_lock_try(PGconn *conn, int64_t key, bool *got, struct db_error *err) MUSTCHECK;
/* db_unlock - pg_advisory_unlock(key). */
bool db_unlock(PGconn *conn, int64_t key, struct db_error *err) MUSTCHECK;

bool db_tables_probe(PGconn *conn, const struct db_names *n, struct db_tables *t, struct db_error *err) MUSTCHECK;

/*
 * db_history_read - every history row, by version; free with db_rows_free.  A string
 * equal to the one known (may be NULL) has for the row's version is not copied: the
 * row points at the bundle's (10,000 rows: about 3 MB less).
 */
bool db_history_read(PGconn *conn, const struct db_names *n, const struct bundle *known, struct db_row **rows,
		     size_t *nrows, struct db_error *err) MUSTCHECK;
void db_rows_free(struct db_row *rows, size_t nrows);

/*
 * db_history_head - the history's newest row into *h, one query of one row at most
 * (the primary key's index, read backwards).  A missing table or schema is no row
 * (h->found false), not an error.
 */
bool db_history_head(PGconn *conn, const struct db_names *n, struct db_head *h, struct db_error *err) MUSTCHECK;

/* db_goose_read - versions goose counts as applied (newest row per version says so), > 0, ascending. */
bool db_goose_read(PGconn *conn, const struct db_names *n, int64_t **versions, size_t *nversions,
		   struct db_error *err) MUSTCHECK;

/* Transaction control on the migrations connection. */
bool db_begin(PGconn *conn, struct db_error *err) MUSTCHECK;
bool db_commit(PGconn *conn, struct db_error *err) MUSTCHECK;
/* db_rollback - roll back if a transaction is open; never fails loudly. */
void db_rollback(PGconn *conn);

/* db_history_create - CREATE TABLE IF NOT EXISTS the history table (and its schema). */
bool db_history_create(PGconn *conn, const struct db_names *n, struct db_error *err) MUSTCHECK;

/*
 * db_history_upsert - insert or replace the row of r->version; with goose,
 * also record the version in goose's table (complete rows only, once).  A partial
 * row also records r->done_checksum (in a column added to older history tables).
 */
bool db_history_upsert(PGconn *conn, const struct db_names *n, const struct db_record *r, bool goose,
		       struct db_error *err) MUSTCHECK;

/* db_goose_insert - one goose row (version_id, is_applied = true), as goose writes it. */
bool db_goose_insert(PGconn *conn, const struct db_names *n, int64_t version, struct db_error *err) MUSTCHECK;

/* db_history_rechain - set the chain of the row of version. */
bool db_history_rechain(PGconn *conn, const struct db_names *n, int64_t version, const char *chain,
			struct db_error *err) MUSTCHECK;

/* db_history_delete - remove the row of version, and goose's rows of it with goose. */
bool
db_history_delete(PGconn *conn, const struct db_names *n, int64_t version, bool goose, struct db_error *err) MUSTCHECK;

/*
 * db_migration_statement - run one goose statement of a NO TRANSACTION
 * migration on its own (autocommit), draining every result.
 */
bool db_migration_statement(PGconn *conn, const char *sql, int64_t deadline_ms, struct db_error *err) MUSTCHECK;

/*
 * db_index_invalid - the INVALID index (pg_index.indisvalid false) t names, on t's table,
 * resolved as the statement would be (search_path): *found, then its schema and name
 * unquoted, and *building when a backend is building it right now (PostgreSQL 12 and later).
 */
bool db_index_invalid(PGconn *conn, const struct db_index_target *t, char *schema, size_t schemalen, char *name,
		      size_t namelen, bool *found, bool *building, struct db_error *err) MUSTCHECK;

/* db_index_drop - DROP INDEX CONCURRENTLY IF EXISTS schema.name, within deadline_ms as a migration statement. */
bool
db_index_drop(PGconn *conn, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err) MUSTCHECK;

/*
 * A batch: many transactional migrations in one simple-query string, each
 *   BEGIN; <its statements>; SAVEPOINT; <history row>; <goose row>;
 *   SELECT <unit> AS gosling_unit, <server clock>, <gosling's settings again>; COMMIT;
 * sent at once and read back result by result (rows one at a time, dropped), so an
 * error is attributed to its migration and statement while the batch costs one round
 * trip.  Nothing precedes a migration's first statement in its transaction, and the
 * bookkeeping reads no session variable: a migration may SET, RESET ALL or SET
 * TRANSACTION as it likes.  The SAVEPOINT fails when the migration's own COMMIT or
 * ROLLBACK ended gosling's transaction, so such a migration is never recorded.
 */

struct db_batch;

/*
 * db_batch_new - build the batch text from *from on, as many statements as fit in
 * BATCH_CAP (256 KiB) of SQL (at least one).  A batch may end inside a unit: its transaction
 * stays open and the next batch goes on with its next statement.  A statement
 * flagged STMT_UNCHECKED shares its query with no other migration's statement: the
 * batch ends before it (before its unit's BEGIN, when it comes first) and after it
 * (after its unit's COMMIT, when it comes last).  units are not
 * copied (keep them alive until db_batch_free); s is re-asserted after each unit.
 * With atomic, every unit runs in one transaction: BEGIN before unit 0, COMMIT after the
 * last unit only (its transaction open across batches), so a failure anywhere rolls back
 * every unit, those of earlier batches included.
 */
struct db_batch *
db_batch_new(PGconn *conn, const struct db_names *n, const struct db_session *s, const struct db_unit *units,
	     size_t nunits, bool atomic, const struct db_cursor *from, struct db_error *err) MUSTCHECK;
void db_batch_free(struct db_batch *b);

/*
 * db_batch_run - send the batch and read every result.  done(unit, ms, arg) is
 * called as each unit commits (atomic: as its work ends, before anything commits),
 * with its time by the server's clock; units are
 * indices into the units given to db_batch_new.  On success *cur moves to where
 * the next batch starts.  On failure fills *f, rolls back the failed unit (earlier
 * units stay committed; atomic: every unit is rolled back) and returns false.
 */
bool
db_batch_run(PGconn *conn, struct db_batch *b, int64_t deadline_ms, void (*done)(size_t unit, int64_t ms, void *arg),
	     void *arg, struct db_cursor *cur, struct db_batch_failure *f) MUSTCHECK;

/* --- errors (db_io.c) ---------------------------------------------------------- */

/*
 * db_copy_trim - src (NULL: "") into dst, cut on a character boundary, bytes that are not
 * UTF-8 made '?' (every message goes into JSON), trailing new lines and spaces dropped.
 */
void db_copy_trim(char *dst, size_t len, const char *src);
/* db_error_from_conn - libpq's message of conn; err->connection when conn is no longer usable. */
void db_error_from_conn(struct db_error *err, PGconn *conn);
/* db_error_from_result - the server's fields of a failed result. */
void db_error_from_result(struct db_error *err, const PGresult *res);
/* db_error_set - a message of gosling's own: fmt with one %s. */
void db_error_set(struct db_error *err, const char *fmt, const char *arg);
/* db_signal_name - "SIGINT", "SIGTERM" or "a signal". */
const char *db_signal_name(int signo);

/* --- bounded work on a thread (db_io.c) ------------------------------------------ */

/*
 * libpq 15 resolves host names (getaddrinfo) and sends cancel requests (PQcancel)
 * with blocking calls and no timeout.  Such a call runs as a job: the caller waits
 * for it until a bound; past it the job is abandoned and frees itself when the
 * call finally returns.
 */
struct job {
	void (*fn)(struct job *);
	void (*release)(struct job *); /* frees the job */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool finished, abandoned;
};

/*
 * db_job_run - run j->fn until until_ms.  true: it finished (the caller releases j);
 * false: it is still running and will release j itself (j->release).
 */
bool db_job_run(struct job *j, int64_t until_ms);
/* db_job_destroy - the mutex and condition variable db_job_run set up (release calls it). */
void db_job_destroy(struct job *j);

/* --- waiting on the server (db_io.c) ---------------------------------------------- */

/* db_own_bound - when one of gosling's own waits that starts now must end (db_limit; 0 = never). */
int64_t db_own_bound(void);

/* One bounded wait: the cancel at cancel_at (0 = only on a signal), then GRACE_MS for the answer. */
struct waiter {
	int64_t cancel_at;
	int64_t give_up_at; /* set when the cancel goes out */
	int64_t cancelled_at;
	bool cancelled;
};

/* db_waiter_until - a wait that cancels at cancel_at (0 = never), sooner once a signal came. */
struct waiter db_waiter_until(int64_t cancel_at);
/*
 * db_wait_io - flush what libpq holds, then wait once for the socket (or a bound).  Past
 * w->cancel_at, or on SIGINT/SIGTERM, the statement is cancelled; GRACE_MS later the
 * connection is dropped.  false with *err when it cannot go on.
 */
bool db_wait_io(PGconn *conn, struct waiter *w, struct db_error *err);
/* db_wait_ready - until the query is sent and a result is ready (or the connection is gone), within w. */
bool db_wait_ready(PGconn *conn, struct waiter *w, struct db_error *err);
/* db_copy_finish - end a migration's COPY FROM STDIN with an error, discard COPY TO STDOUT's rows. */
bool db_copy_finish(PGconn *conn, ExecStatusType st, struct waiter *w, struct db_error *err);
/* db_drain - read and clear every remaining result within w, so the connection is ready again. */
void db_drain(PGconn *conn, struct waiter *w);

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
 * db_query_run - send one single-command query (parameters as text), wait within
 * gosling's own bound (db_limit), check its shape, drain.  On success *out holds the
 * result (the caller clears it); on failure *out is NULL.  what names it in messages.
 */
bool db_query_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
		  struct shape shape, PGresult **out, struct db_error *err);
/* db_command_run - db_query_run of a command with no result rows. */
bool db_command_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
		    struct db_error *err);
/*
 * db_rows_run - a query whose rows come one at a time (single-row mode), each checked to
 * have ncols columns and handed to row(); none is held with the others.  row() returns
 * false when out of memory.
 */
bool db_rows_run(PGconn *conn, const char *what, const char *sql, int ncols, bool (*row)(const PGresult *, void *),
		 void *arg, struct db_error *err);

/* --- helpers ------------------------------------------------------------------------- */

/* db_grow - *arr (of *cap elements of size) to hold n + 1; false when out of memory (*arr kept). */
bool db_grow(void **arr, size_t *cap, size_t n, size_t size);
/* db_char_to_byte - byte offset of the 1-based character position pos in s (UTF-8): PostgreSQL counts characters. */
size_t db_char_to_byte(const char *s, size_t len, int pos);
/*
 * db_settings_sql - the SELECT list that sets gosling's session settings s (db_connect.c):
 * session-wide, so run inside a transaction they outlive its COMMIT.  One column per
 * setting (search_path only when s names one); at most SETTINGS_SQL_MAX bytes.
 */
#define SETTINGS_SQL_MAX 768
void db_settings_sql(char *buf, size_t len, PGconn *conn, const struct db_session *s);

#endif
