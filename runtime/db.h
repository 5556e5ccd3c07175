/*
 * db.h - every SQL statement gosling sends lives in the libpq code: db_io.c (the I/O
 * core), db_connect.c, db_history.c, db_batch.c; db_index.c reads a statement's text.
 *
 * There is no general-purpose query function: each function here does one
 * thing and checks the shape of what comes back (no rows, one row of N columns,
 * N columns), so a surprise is an error, not a misread.  Results are always
 * drained and cleared.  Functions that wait on the server honour a deadline
 * (ms since the epoch, 0 = none): past it they cancel the query and fail with
 * SQLSTATE 57014.  No wait is unbounded: gosling's own queries and connects
 * follow db_limit, migration statements their deadline; a server that does not
 * answer a cancel within a short grace loses its connection.
 */
#ifndef GOSLING_DB_H
#define GOSLING_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle.h"	/* MUSTCHECK, struct stmt */
#include "signals.h"

struct config;
struct pg_conn;

/* What went wrong: PostgreSQL's fields when the server said it, else message only. */
struct db_error {
	char sqlstate[6];
	char message[1024];	/* primary message, or libpq's text (never a password) */
	char detail[1024];
	char hint[512];
	int position;		/* PG_DIAG_STATEMENT_POSITION: 1-based character in the query, 0 = none;
				 * db_migration_statement and db_batch_run make it a 1-based byte in the statement */
	bool connection;	/* could not connect, or the connection broke */
	bool not_ready;		/* db_connect: the server refused, reset or did not answer, or said it is
				 * starting, shutting down or in recovery (57P03): worth trying again */
};

/* Quoted, schema-qualified table names, built once from the configuration. */
struct db_names {
	char history[160];	/* "public"."gosling_migrations" */
	char goose[160];	/* "goose_db_version" or "s"."goose_db_version" */
	char schema[80];	/* "public" */
	bool create_schema;	/* schema is not public: CREATE SCHEMA IF NOT EXISTS */
};

void db_names_init(struct db_names *n, const struct config *cfg);

/*
 * db_url_parse - DATABASE_URL's fields as libpq parses them (free with PQconninfoFree),
 * once config_url_check passes.  On failure err says what is wrong, with libpq's reason
 * but none of the URL it quotes (a libpq keyword stays), and how to write it:
 *   invalid DATABASE_URL: invalid URI query parameter: "...": percent-encode special
 *   characters in the password (@ as %40, / as %2F, % as %25)
 */
struct _PQconninfoOption *db_url_parse(const char *url, char *err, size_t errlen) MUSTCHECK;

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
bool db_connect(const struct config *cfg, const char *purpose, struct pg_conn **out,
		struct db_error *err) MUSTCHECK;
void db_close(struct pg_conn *conn);

/*
 * db_utf8 - client_encoding back to UTF8 when a migration changed it (SET client_encoding),
 * before gosling reads or writes its own rows: gosling's text is UTF-8.  One query, only
 * when it changed.
 */
bool db_utf8(struct pg_conn *conn, struct db_error *err) MUSTCHECK;

/* db_describe - "user@host:port/dbname" of a live connection, never the password. */
void db_describe(struct pg_conn *conn, char *out, size_t outlen);

/* gosling's session settings: set after connecting, and again after every migration. */
struct db_session {
	int64_t statement_ms;	/* statement_timeout, 0 = off */
	int64_t lock_ms;	/* lock_timeout, 0 = off */
	const char *search_path;	/* a fleet target's schema (letters, digits, _), set as the only
					 * schema searched, quoted; NULL = the server's search_path stands */
};

/*
 * db_set_session - statement_timeout and lock_timeout, search_path when s names one,
 * client_encoding UTF8, and on
 * PostgreSQL 14 and later client_connection_check_interval = 1 s: a backend whose client
 * died stops its statement within a second instead of running the rest of the migration
 * for nobody.  Session-wide, also inside a transaction (it outlives the COMMIT).  One query.
 */
bool db_set_session(struct pg_conn *conn, const struct db_session *s, struct db_error *err) MUSTCHECK;

/* db_lock_try - pg_try_advisory_lock(key); *got says whether it was taken. */
bool db_lock_try(struct pg_conn *conn, int64_t key, bool *got, struct db_error *err) MUSTCHECK;
/*
 * db_work_lock_try - pg_try_advisory_lock(key's high 32 bits, its low 32 bits): the
 * two-int lock, another lock than the bigint one of the same key.  The migration session
 * holds it while it works, so a run whose client died (the lock session ends with the
 * socket, at once) is still excluded until its busy backend has ended too.
 */
bool db_work_lock_try(struct pg_conn *conn, int64_t key, bool *got, struct db_error *err) MUSTCHECK;
/* db_unlock - pg_advisory_unlock(key). */
bool db_unlock(struct pg_conn *conn, int64_t key, struct db_error *err) MUSTCHECK;

/* Which tables exist (read-only: catalog lookups only). */
struct db_tables {
	bool history;
	bool goose;
	bool goose_identity;	/* goose's newer schema: id GENERATED BY DEFAULT AS IDENTITY */
};
bool db_tables_probe(struct pg_conn *conn, const struct db_names *n, struct db_tables *t,
		     struct db_error *err) MUSTCHECK;

/* One row of gosling's history table. */
struct db_row {
	int64_t version;
	const char *name;
	const char *file_checksum;
	const char *exec_checksum;
	const char *chain;
	char applied_at[40];
	int64_t execution_ms;		/* -1 when NULL */
	const char *build_id;
	char origin[16];		/* "gosling", "goose", "baseline" */
	uint32_t failed_statement;	/* 0 = complete */
	const char *done_checksum;	/* partial: checksum_done of the statements that ran, or NULL
					 * (a row from before gosling recorded it) */
	unsigned shared;		/* which strings are the bundle's, not allocated (db_history.c) */
};

/*
 * db_history_read - every history row, by version; free with db_rows_free.  A string
 * equal to the one known (may be NULL) has for the row's version is not copied: the
 * row points at the bundle's (10,000 rows: about 3 MB less).
 */
bool db_history_read(struct pg_conn *conn, const struct db_names *n, const struct bundle *known, struct db_row **rows,
		     size_t *nrows, struct db_error *err) MUSTCHECK;
void db_rows_free(struct db_row *rows, size_t nrows);

/* The history's newest row, as verify's head-only check reads it. */
struct db_head {
	bool found;			/* false: no row, or no history table (or schema) to read */
	int64_t version;
	char name[256];
	char chain[CHECKSUM_LEN];
	char applied_at[40];		/* ISO 8601, UTC */
	uint32_t failed_statement;	/* a partial NO TRANSACTION migration; 0 = none */
};

/*
 * db_history_head - the history's newest row into *h, one query of one row at most
 * (the primary key's index, read backwards).  A missing table or schema is no row
 * (h->found false), not an error.
 */
bool db_history_head(struct pg_conn *conn, const struct db_names *n, struct db_head *h, struct db_error *err)
	MUSTCHECK;

/* db_goose_read - versions goose counts as applied (newest row per version says so), > 0, ascending. */
bool db_goose_read(struct pg_conn *conn, const struct db_names *n, int64_t **versions,
		   size_t *nversions, struct db_error *err) MUSTCHECK;

/* Transaction control on the migrations connection. */
bool db_begin(struct pg_conn *conn, struct db_error *err) MUSTCHECK;
bool db_commit(struct pg_conn *conn, struct db_error *err) MUSTCHECK;
/* db_rollback - roll back if a transaction is open; never fails loudly. */
void db_rollback(struct pg_conn *conn);

/* db_history_create - CREATE TABLE IF NOT EXISTS the history table (and its schema). */
bool db_history_create(struct pg_conn *conn, const struct db_names *n, struct db_error *err) MUSTCHECK;

/* A migration as the history table records it. */
struct db_record {
	int64_t version;
	const char *name;
	const char *file_checksum;
	const char *exec_checksum;
	const char *chain;
	const char *build_id;
	const char *origin;		/* "gosling", "goose", "baseline" */
	int64_t execution_ms;		/* -1 = NULL */
	uint32_t failed_statement;	/* 0 = complete */
	const char *error;		/* partial: what stopped it, else NULL */
	const char *done_checksum;	/* partial: checksum_done of the statements before it */
};

/*
 * db_history_upsert - insert or replace the row of r->version; with goose,
 * also record the version in goose's table (complete rows only, once).  A partial
 * row also records r->done_checksum (in a column added to older history tables).
 */
bool db_history_upsert(struct pg_conn *conn, const struct db_names *n, const struct db_record *r,
		       bool goose, struct db_error *err) MUSTCHECK;

/* db_goose_insert - one goose row (version_id, is_applied = true), as goose writes it. */
bool db_goose_insert(struct pg_conn *conn, const struct db_names *n, int64_t version,
		     struct db_error *err) MUSTCHECK;

/* db_history_rechain - set the chain of the row of version. */
bool db_history_rechain(struct pg_conn *conn, const struct db_names *n, int64_t version, const char *chain,
			struct db_error *err) MUSTCHECK;

/* db_history_delete - remove the row of version, and goose's rows of it with goose. */
bool db_history_delete(struct pg_conn *conn, const struct db_names *n, int64_t version, bool goose,
		       struct db_error *err) MUSTCHECK;

/*
 * db_migration_statement - run one goose statement of a NO TRANSACTION
 * migration on its own (autocommit), draining every result.
 */
bool db_migration_statement(struct pg_conn *conn, const char *sql, int64_t deadline_ms,
			    struct db_error *err) MUSTCHECK;

/*
 * What a CREATE INDEX CONCURRENTLY statement builds, read from its text: the index name
 * and its table as written (each identifier raw, quotes kept, so the server folds them as
 * its parser does).  name is empty when the statement names no index.
 */
struct db_index_target {
	char name[256];
	char table[768];
};

/*
 * db_index_target - whether sql (one command) is CREATE [UNIQUE] INDEX CONCURRENTLY
 * [IF NOT EXISTS] [name] ON [ONLY] table ..., and then its index and table.  Comments and
 * white space may stand anywhere between the words; a Unicode-escaped identifier (U&"...")
 * is not read (false).
 *   "CREATE UNIQUE INDEX CONCURRENTLY Users_Email ON app.\"Users\" (email)"
 *       -> true, name "Users_Email", table "app.\"Users\""
 */
bool db_index_target(const char *sql, struct db_index_target *t);

/*
 * db_index_invalid - the INVALID index (pg_index.indisvalid false) t names, on t's table,
 * resolved as the statement would be (search_path): *found, then its schema and name
 * unquoted, and *building when a backend is building it right now (PostgreSQL 12 and later).
 */
bool db_index_invalid(struct pg_conn *conn, const struct db_index_target *t, char *schema, size_t schemalen,
		      char *name, size_t namelen, bool *found, bool *building, struct db_error *err) MUSTCHECK;

/* db_index_drop - DROP INDEX CONCURRENTLY IF EXISTS schema.name, within deadline_ms as a migration statement. */
bool db_index_drop(struct pg_conn *conn, const char *schema, const char *name, int64_t deadline_ms,
		   struct db_error *err) MUSTCHECK;

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
/* A history row whose chain changes because a version below it was inserted (out of order). */
struct db_rechain {
	int64_t version;
	char chain[CHECKSUM_LEN];
};

struct db_unit {
	bool down;			/* run Down statements, delete the rows */
	struct db_record rec;		/* the history row (up) or the version (down) */
	const struct db_rechain *rechain;	/* rows above to re-chain in the same transaction */
	size_t nrechain;
	const struct stmt *stmts;	/* the goose statements: line, ncommands */
	char *const *sql;		/* their text as it runs (ENVSUB expanded) */
	uint32_t nstmts;
	bool goose;			/* keep goose's table in step */
};

struct db_batch;

/* Where a batch starts: a unit, a statement in it (0: at its BEGIN), and the server's clock there. */
struct db_cursor {
	size_t unit;
	uint32_t statement;
	int64_t last_end_ms;	/* the previous unit's end, ms since the epoch; -1 = none yet */
};

/*
 * db_batch_new - build the batch text from *from on, as many statements as fit in
 * about 1 MiB of SQL (at least one).  A batch may end inside a unit: its transaction
 * stays open and the next batch goes on with its next statement.  A statement
 * flagged STMT_UNCHECKED shares its query with no other migration's statement: the
 * batch ends before it (before its unit's BEGIN, when it comes first) and after it
 * (after its unit's COMMIT, when it comes last).  units are not
 * copied (keep them alive until db_batch_free); s is re-asserted after each unit.
 * With atomic, every unit runs in one transaction: BEGIN before unit 0, COMMIT after the
 * last unit only (its transaction open across batches), so a failure anywhere rolls back
 * every unit, those of earlier batches included.
 */
struct db_batch *db_batch_new(struct pg_conn *conn, const struct db_names *n, const struct db_session *s,
			      const struct db_unit *units, size_t nunits, bool atomic, const struct db_cursor *from,
			      struct db_error *err) MUSTCHECK;
void db_batch_free(struct db_batch *b);

/* Where a batch stopped. */
struct db_batch_failure {
	size_t unit;		/* index of the failed unit */
	uint32_t statement;	/* 1-based goose statement, 0 = gosling's own bookkeeping */
	uint32_t line_offset;	/* newlines before the error inside that statement */
	struct db_error err;
	bool lost;		/* the connection failed before results told which statement ran: */
	size_t last_unit;	/* ... one of units unit to last_unit */
	char txn_control[24];	/* "COMMIT", "ROLLBACK", "PREPARE TRANSACTION" run by a migration statement, else "" */
	size_t txn_unit;	/* ... in this unit */
	uint32_t txn_statement;	/* ... as its statement */
};

/*
 * db_batch_run - send the batch and read every result.  done(unit, ms, arg) is
 * called as each unit commits (atomic: as its work ends, before anything commits),
 * with its time by the server's clock; units are
 * indices into the units given to db_batch_new.  On success *cur moves to where
 * the next batch starts.  On failure fills *f, rolls back the failed unit (earlier
 * units stay committed; atomic: every unit is rolled back) and returns false.
 */
bool db_batch_run(struct pg_conn *conn, struct db_batch *b, int64_t deadline_ms,
		  void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
		  struct db_batch_failure *f) MUSTCHECK;

#endif
