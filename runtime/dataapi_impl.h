/*
 * dataapi_impl.h - what the RDS Data API transport's files share; nothing else includes it.
 *
 *   dataapi_transport.c  the table of calls: open, session, the run lock's lease, init
 *   dataapi_call.c       building SQL text, calls with their retries, errors, settings
 *   dataapi_history.c    the history and goose tables: reads, writes, transactions
 *   dataapi_units.c      running units: one migration's calls, restarts, lost answers, --atomic
 *   dataapi_blocks.c     consecutive migrations as one lean DO block (packing, skips, failures)
 *   dataapi_statement.c  statements outside a unit: the INVALID index of a failed CREATE INDEX CONCURRENTLY
 *
 * How the transport works: dataapi_transport.c's head comment.
 */
#ifndef GOSLING_DATAAPI_IMPL_H
#define GOSLING_DATAAPI_IMPL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "dataapi.h"
#include "http.h"
#include "log.h"
#include "rdsdata.h"

#define DO_CAP (60 * 1024)  /* characters of one DO block: under RDSDATA_SQL_MAX with room */
#define HISTORY_PAGE 1000   /* history rows per read: well under the 1 MiB answer */
#define GOOSE_PAGE 10000    /* goose's versions per read: about 250 KB of answer */
#define CALL_MAX_MS 44000   /* statement_timeout inside a unit: below the service's 45 s per call */
#define UNIT_RESTARTS 3	    /* TransactionNotFoundException: restarts of a unit (atomic: of the run) */
#define SKIP_STATE "GS001"  /* raised by a unit whose history row says another run did it */
#define SKIPS_STATE "GS002" /* raised by a block of units some of which another run did */
#define PACK_MAX 2048	    /* units in one block at most (dataapi_units.c) */

/*
 * The history row's upsert: a row of the version already there (a partial NO TRANSACTION row,
 * a re-applied version) takes the new one's values; columns the INSERT leaves out go to NULL.
 */
#define DA_HISTORY_UPSERT                                                                                     \
	" ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, file_checksum = EXCLUDED.file_checksum, " \
	"exec_checksum = EXCLUDED.exec_checksum, chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "  \
	"execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, origin = EXCLUDED.origin, "      \
	"failed_statement = EXCLUDED.failed_statement, error = EXCLUDED.error"

struct da_state {
	const struct config *cfg;
	struct db_names names;
	struct http_client *http;
	struct rdsdata db;
	char txid[RDSDATA_TXID_MAX];   /* the open transaction's, once it took one; "" = none */
	char run_tx[RDSDATA_TXID_MAX]; /* an atomic run's transaction, every unit's calls in it; "" = none */
	bool open;		       /* begin() .. commit(): a transaction of gosling's own rows */
	struct buf tx_sql;	       /* its statements not sent yet (dataapi_history.c) */
	int64_t until_ms, each_ms, hard_ms;
	int64_t key; /* the run lock's key, once lock_try named it */
	bool have_key;
	bool lease;	   /* the lease row is ours */
	int64_t lease_ms;  /* its length in a run without a deadline (GOSLING_LEASE) */
	int64_t leased_at; /* when it was last taken or extended, ms since the epoch */
	char owner[96];
	int64_t statement_ms, lock_ms;
	char *search_path;
};

static inline struct da_state *
state(struct transport *t)
{
	return t->state;
}

/* --- dataapi_call.c --- */

void da_sb_fmt(struct buf *b, const char *fmt, long long v);
/* s as an E'' literal: quotes and backslashes doubled, so it means s under any standard_conforming_strings */
void da_sb_literal(struct buf *b, const char *s);
/* characters of UTF-8 text s[0, n): the service's limit counts characters */
size_t da_chars(const char *s, size_t n);
size_t da_literal_chars(const char *s);
/*
 * st as a db_error: PostgreSQL's message without the Data API's "ERROR: " and
 * "; SQLState: X" wrapping, its detail and hint, and its SQLSTATE.
 */
void da_error_of(const struct rdsdata_status *st, const char *what, struct db_error *err);
void da_error_set(struct db_error *err, const char *fmt, const char *arg);
/* the deadline of gosling's own calls (migration: a unit's, whose deadline_ms is given) */
int64_t da_call_deadline(const struct da_state *d, int64_t deadline_ms);
/* *st as a call that never left: out of memory building it */
void da_status_oom(struct rdsdata_status *st);
/* ExecuteStatement, retried while the cluster resumes */
bool da_exec(struct da_state *d, const struct rdsdata_statement *s, int64_t deadline_ms, struct rdsdata_result *r,
	     struct rdsdata_status *st);
/* BeginTransaction, retried while the cluster resumes */
bool da_begin_tx(struct da_state *d, int64_t deadline_ms, char *txid, struct rdsdata_status *st);
/* One statement of gosling's own with string parameters (NULL: SQL NULL); rows into *r when r. */
bool da_query(struct da_state *d, const char *what, const char *sql, const struct rdsdata_param *p, size_t np,
	      struct rdsdata_result *r, struct db_error *err);
/* gosling's settings and the run lock's transaction lock, as set_config calls of one SELECT list */
void da_settings_sql(struct da_state *d, struct buf *b, int64_t deadline_ms);

/* --- dataapi_transport.c --- */

bool da_session(struct transport *t, const struct db_session *s, struct db_error *err);
/*
 * Extend the lease of a run without a deadline by d->lease_ms once a third of it has
 * passed, while the row still names this run; false (err set) when it does not: another
 * run took a lease that lapsed, and this one must not go on.
 */
bool da_lease_renew(struct da_state *d, struct db_error *err);

/* --- dataapi_history.c --- */

bool da_tables(struct transport *t, struct db_tables *out, struct db_error *err);
bool da_history_read(struct transport *t, const struct bundle *known, struct db_row **rows, size_t *nrows,
		     struct db_error *err);
bool da_history_head(struct transport *t, struct db_head *h, struct db_error *err);
bool da_goose_read(struct transport *t, int64_t **versions, size_t *nversions, struct db_error *err);
bool da_begin(struct transport *t, struct db_error *err);
bool da_commit(struct transport *t, struct db_error *err);
void da_rollback(struct transport *t);
bool da_history_create(struct transport *t, struct db_error *err);
/* Send the row writes held back in begin()'s transaction now, in a BeginTransaction taken for them (none: true). */
bool da_rows_flush(struct da_state *d, struct db_error *err);
/* The history row of r (and goose's), as SQL of one statement each into b, ';'-terminated. */
void da_record_sql(struct da_state *d, struct buf *b, const struct db_record *r, bool goose, const char *elapsed);
void da_delete_sql(struct da_state *d, struct buf *b, int64_t version, bool goose);
void da_rechain_sql(struct da_state *d, struct buf *b, int64_t version, const char *chain);
bool da_history_upsert(struct transport *t, const struct db_record *r, bool goose, struct db_error *err);
bool da_history_delete(struct transport *t, int64_t version, bool goose, struct db_error *err);
bool da_history_rechain(struct transport *t, int64_t version, const char *chain, struct db_error *err);

/* --- dataapi_units.c --- */

/* How one try of a unit (or a block, or an atomic run) ended. */
enum da_unit_outcome {
	UNIT_DONE,
	UNIT_SKIPPED,
	UNIT_FAILED,
	UNIT_RESTART
};

/* The end of a DO block: the handler that raises the first error again, named; after: PL/pgSQL run after it. */
void da_do_tail(struct buf *b, const char *after);
/*
 * From the error of a DO block: strip "gosling [unit U ]statement N: " off its message;
 * *unit is U (0 when the block ran one unit), the result N (0: gosling's own bookkeeping).
 */
uint32_t da_error_statement(struct db_error *err, uint32_t *unit);
/* Is unit u's history row as the unit leaves it (after a call whose outcome is not known)? */
bool da_unit_landed(struct da_state *d, const struct db_unit *u, bool *landed, struct db_error *err);
/* Was st's answer lost on the way (the request may have arrived and run)? */
bool da_answer_lost(const struct rdsdata_status *st);
/* A failure at no statement of the migration's own, after a lost answer or a timeout: the migration's. */
void da_unnamed(struct db_batch_failure *f);
/* Is the deadline past? A call lost then is not sent again: there is no time to run it. */
bool da_past(int64_t deadline_ms);

bool da_run_units(struct transport *t, const struct db_unit *units, size_t nunits, bool atomic,
		  const struct db_session *s, int64_t deadline_ms, void (*done)(size_t unit, int64_t ms, void *arg),
		  void *arg, struct db_cursor *cur, struct db_batch_failure *f);

/* --- dataapi_statement.c --- */

bool da_run_statement(struct transport *t, const char *sql, int64_t version, uint32_t statement, int64_t deadline_ms,
		      struct db_error *err);
bool da_index_invalid(struct transport *t, const struct db_index_target *ix, char *schema, size_t schemalen, char *name,
		      size_t namelen, bool *found, bool *building, struct db_error *err);
bool
da_index_drop(struct transport *t, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err);

/* --- dataapi_blocks.c --- */

/* How many units from units[0] go in one DO block of at most DO_CAP characters (0: not even the first). */
size_t da_pack_count(struct da_state *d, const struct db_unit *units, size_t n);
/*
 * Units [cur->unit, cur->unit + n) as one DO block, one autocommit call.  A unit that fails rolls
 * back the units before it in the block: they are sent again (without it) before its failure is reported.
 */
bool da_pack_units(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms,
		   void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
		   struct db_batch_failure *f);
/* Units [0, n) as one DO block in an atomic run's transaction; on failure *at is the unit that failed. */
enum da_unit_outcome da_pack_atomic(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms,
				    size_t *at, uint32_t *statement, struct db_error *err);

#endif
