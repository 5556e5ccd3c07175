/*
 * engine_impl.h - what the engine's files share; nothing outside them includes it.
 *
 *   engine.c   the orchestration: engine_run, the commands, reading the history
 *   history.c  pure functions over the history rows and the bundle: chains, states, drift
 *   plan.c     the steps a command runs, their statements expanded (no database)
 *   apply.c    running steps: batches, NO TRANSACTION statements, retries
 *   lock.c     the transport's two links and the two locks
 *   result.c   the result: its first error, warnings, items, names and JSON
 *
 * history.c and plan.c take explicit arguments (a struct history, a result) and touch
 * no connection: tests/unit/test_history.c and test_plan.c run them without PostgreSQL.
 * Every failure goes into a struct engine_result (result_fail: the first error wins).
 */
#ifndef GOSLING_ENGINE_IMPL_H
#define GOSLING_ENGINE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "checksum.h"
#include "engine.h"
#include "transport.h"

struct config;

/*
 * The history as read, against the bundle.  rows (by version) and goose (ascending)
 * are the caller's; history_index fills the three per-migration arrays, which
 * history_index_free frees.
 */
struct history {
	const struct bundle *b;
	struct db_row *rows;
	size_t nrows;
	int64_t *goose;
	size_t ngoose;
	int *row_of;	/* per bundle migration: index in rows, or -1 */
	bool *goose_of; /* per bundle migration: goose says applied */
	bool *chained;	/* per bundle migration: in the history's chain (as it will be) */
};

/* One invocation. */
struct run {
	const struct config *cfg;
	const struct bundle *b;
	const struct engine_request *req;
	struct engine_result *res;
	struct db_names names;
	struct transport *tp; /* the database (transport.h): its work link and lock link */
	bool locked;
	int64_t lock_key;
	int64_t lock_start, lock_until; /* the bounded wait for the locks */
	int64_t deadline;		/* request deadline minus the margin; 0 = none */
	int64_t hard;			/* no wait past this: the answer must go out; 0 = none */
	int64_t lock_wait;		/* GOSLING_LOCK_WAIT in ms: also the bound of each of gosling's own waits */
	struct db_session session;	/* set at connect, re-asserted after every migration */
	struct db_tables tables;
	struct history h;
	uint32_t progress_index;
	uint32_t progress_total;
};

/* What one step of a change runs: a migration up or down, and its items. */
struct step {
	const struct migration *m;
	bool down;
	uint32_t first; /* 0-based first statement (a partial NO TRANSACTION resumes) */
	bool resume;	/* partial: first is the statement that stopped it */
	char **sql;	/* the statements as they run, owned */
	uint32_t nsql;
	struct engine_item *item;
	char chain[CHECKSUM_LEN];   /* the history row's chain */
	struct db_rechain *rechain; /* rows above whose chain changes with this step, owned */
	size_t nrechain;
};

/* --- result.c ---------------------------------------------------------------------- */

/* result_fail - set res's status and message, unless an error is already set (the first is kept). */
void result_fail(struct engine_result *res, enum engine_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* result_fail_db - result_fail with PostgreSQL's fields: "<what>: <message>". */
void result_fail_db(struct engine_result *res, enum engine_status status, const char *what, const struct db_error *e);
/* result_warn - log a warning and add it to res (dropped when out of memory). */
void result_warn(struct engine_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* result_item_add - a zeroed item (duration -1) at the end of res->items; NULL when out of memory. */
struct engine_item *result_item_add(struct engine_result *res, int64_t version, const char *name);

/* --- history.c --------------------------------------------------------------------- */

/* history_index - fill h's per-migration arrays from its rows and goose; false when out of memory. */
bool history_index(struct history *h) MUSTCHECK;
/* history_index_free - free what history_index allocated (not rows, not goose). */
void history_index_free(struct history *h);
/* history_chain_at - the chain of migration k over the history as h->chained says it is. */
bool history_chain_at(const struct history *h, size_t k, char out[CHECKSUM_LEN]) MUSTCHECK;
/* history_rechain_above - rows above k whose chain changes once k joins or leaves it; *out owned. */
bool history_rechain_above(const struct history *h, size_t k, struct db_rechain **out, size_t *nout) MUSTCHECK;
/* history_row - migration k's history row, or NULL. */
const struct db_row *history_row(const struct history *h, size_t k);
/* history_applied, history_partial - migration k ran completely / stopped part way. */
bool history_applied(const struct history *h, size_t k);
bool history_partial(const struct history *h, size_t k);
bool history_has(const struct history *h, int64_t version);
/* history_newest - the newest applied version, in the bundle or not; 0 for none. */
int64_t history_newest(const struct history *h);
/* history_check_drift - rows against the bundle; false, with res's error, on drift (table names the history). */
bool history_check_drift(const struct history *h, const char *table, struct engine_result *res);
/* history_check_order - pending migrations up to target below the newest applied: fail, or warn (report_only). */
bool history_check_order(const struct history *h, int64_t target, bool report_only, struct engine_result *res);
/* history_item_state - it's state, applied_at, duration and failed statement from migration k's history. */
void history_item_state(const struct history *h, struct engine_item *it, size_t k);
/*
 * history_head_matches - whether the history's newest row (head) is this build's:
 * a migration of the bundle (its index in *k), not partial, with the bundle's name
 * and compiled-in chain at that version.
 */
bool history_head_matches(const struct bundle *b, const struct db_head *head, size_t *k);
/* history_list - status, verify: an item for every migration of the bundle and every applied one it lacks. */
void history_list(const struct history *h, struct engine_result *res);

/* --- plan.c ------------------------------------------------------------------------ */

/* stmt_lines_before - the newlines in s before offset upto. */
uint32_t stmt_lines_before(const char *s, size_t upto);
/* step_expand - s->sql: the statements s runs, ENVSUB expanded; false with res's error. */
bool step_expand(struct engine_result *res, struct step *s);
void steps_free(struct step *steps, size_t n);
/*
 * plan_up, plan_down - the steps of up (pending migrations up to target, partial ones
 * resumed) and of down (applied migrations above target, newest first, at most limit).
 * *out is set (and owned by the caller: steps_free) even when they fail.
 */
bool plan_up(const struct history *h, int64_t target, struct engine_result *res, struct step **out, size_t *nout);
bool plan_down(const struct history *h, int64_t target, size_t limit, struct engine_result *res, struct step **out,
	       size_t *nout);
/* plan_items - an item per step, in res, with its state; each step's item points at it. */
bool plan_items(const struct history *h, struct engine_result *res, struct step *steps, size_t n);
/* plan_atomic_check - refuse --atomic over a NO TRANSACTION step. */
bool plan_atomic_check(struct engine_result *res, const struct step *steps, size_t n);
/* plan_sql - plan: each step's item gets the statements it would run (item->sql, owned by res). */
bool plan_sql(struct engine_result *res, struct step *steps, size_t n);

/* --- lock.c ------------------------------------------------------------------------ */

/* backoff_jitter - a uniform random number in [0, n), n > 0. */
int64_t backoff_jitter(int64_t n);
/* connect_work - the work link, its session's timeouts set. */
bool connect_work(struct run *r);
/* lock_acquire - the migration lock, on the lock link, within the bounded wait. */
bool lock_acquire(struct run *r);
/* work_lock_acquire - the migration session's own lock, once the migration lock is held. */
bool work_lock_acquire(struct run *r);
/* lock_release - release the migration lock and close the lock link. */
void lock_release(struct run *r);

/* --- apply.c ----------------------------------------------------------------------- */

/* record_of - the history record of migration m with chain and origin. */
void
record_of(const struct run *r, const struct migration *m, const char *chain, const char *origin, struct db_record *rec);
/* run_steps - run steps in order; false with r->res's error. */
bool run_steps(struct run *r, struct step *steps, size_t n);

/* --- engine.c ---------------------------------------------------------------------- */

/* progress - the caller's progress callback, for item it. */
void progress(struct run *r, const struct engine_item *it, const char *action);

#endif
