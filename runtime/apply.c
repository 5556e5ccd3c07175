/*
 * apply.c - running the steps of a change: runs of transactional steps as batches of
 * simple queries (one transaction each, or one for all with --atomic), NO TRANSACTION
 * steps statement by statement with their resume point recorded, lock conflicts
 * retried with backoff, and every failure named by file, statement and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "checksum.h"
#include "clock.h"
#include "config.h"
#include "engine_impl.h"
#include "log.h"
#include "signals.h"
#include "text.h"

/* --- what a failure names ------------------------------------------------------------ */

void
record_of(const struct run *r, const struct migration *m, const char *chain, const char *origin, struct db_record *rec)
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
fail_statement(struct run *r, const struct step *s, uint32_t statement, uint32_t line_offset, const struct db_error *e)
{
	const struct stmt *st = s->down ? s->m->down : s->m->up;
	const char *verb = s->down ? "roll back" : "apply";
	struct engine_error *x = &r->res->error;

	if (statement == 0) {
		char what[512];

		snprintf(what, sizeof what, "unable to record %s in the history", s->m->name);
		result_fail_db(r->res, ENGINE_MIGRATION_FAILED, what, e);
		x->line = 0;
	} else {
		uint32_t line = st[statement - 1].line + line_offset;
		char what[512];

		snprintf(what, sizeof what, "unable to %s %s statement %u (line %u)", verb, s->m->name, statement,
			 line);
		result_fail_db(r->res, ENGINE_MIGRATION_FAILED, what, e);
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
	result_fail_db(r->res, ENGINE_MIGRATION_FAILED, what, e);
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
	if (!s->down) /* the commit just returned: the client's clock is close enough for the report */
		clock_utc_text(s->item->applied_at, sizeof s->item->applied_at);
	s->item->duration_ms = ms;
	progress(r, s->item, s->item->action);
}

/* A step another run did while this one held the lock (transport.h, run_units' done): said so. */
static void
step_by_another(struct run *r, struct step *s)
{
	s->item->state = s->down ? "pending" : "applied";
	s->item->action = s->down ? "rolled back by another run" : "applied by another run";
	s->item->applied_at[0] = '\0';
	s->item->duration_ms = -1;
	progress(r, s->item, s->item->action);
}

static void
batch_done(size_t unit, int64_t ms, void *arg)
{
	struct batch_ctx *c = arg;

	if (ms < 0)
		step_by_another(c->r, &c->steps[unit]);
	else if (c->r->req->atomic)
		c->steps[unit].item->duration_ms = ms; /* reported once the one COMMIT is through */
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
	const char *left = strcmp(f->txn_control, "ROLLBACK") == 0 ? "nothing of it stays"
		: strcmp(f->txn_control, "COMMIT") == 0
		? "statements 1 to %u stay committed, the rest was rolled back"
		: "statements 1 to %u wait as a prepared transaction (pg_prepared_xacts): commit or roll "
		  "it back by hand";
	char what[512];

	snprintf(what, sizeof what, left, k);
	result_fail(r->res, ENGINE_MIGRATION_FAILED,
		    "unable to %s %s statement %u (line %u): %s ends the migration's transaction, so it is not "
		    "recorded: %s; transaction control does not belong in a transactional migration (goslingc "
		    "refuses it)",
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

	if (f->lost || f->txn_control[0] || !lock_conflict(f->err.sqlstate) || signals_interrupted() ||
	    !r->tp->alive(r->tp, TRANSPORT_WORK) || n >= budget)
		return false;
	for (uint32_t i = 0; i < n && delay < 10000; i++)
		delay *= 2;
	if (delay > 10000)
		delay = 10000;
	delay = delay / 2 + backoff_jitter(delay / 2 + 1);
	/* a retry that could not even wait for its lock before the deadline is not worth starting */
	if (r->deadline && clock_now_ms() + delay + 100 >= r->deadline)
		return false;
	log_warn("%s %s: %s (%s), retrying in %lld ms (retry %u of %lld)", s->down ? "rolled back" : "not applied",
		 s->m->name, f->err.message, f->err.sqlstate, (long long)delay, n + 1, (long long)budget);
	clock_sleep_ms(delay);
	if (signals_interrupted())
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
 * batch, and as many batches as their text needs at about 256 KiB each (db_batch.c's BATCH_CAP).
 * With --atomic they are one transaction across the batches; a lock timeout or a
 * deadlock anywhere rolls all of them back, and all of them go again.
 */
static bool
run_batch(struct run *r, struct step *steps, size_t n)
{
	struct db_unit *units = calloc(n, sizeof *units);
	struct db_batch_failure f;
	struct batch_ctx ctx = { r, steps };
	struct db_cursor cur = { 0, 0, -1 };
	bool atomic = r->req->atomic;

	memset(&f, 0, sizeof f);
	if (!units) {
		result_fail(r->res, ENGINE_MIGRATION_FAILED, "out of memory");
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
		bool ok = !signals_interrupted() &&
			r->tp->run_units(r->tp, units, n, atomic, &r->session, r->deadline, batch_done, &ctx, &cur, &f);

		if (!ok && f.unsent) {
			result_fail_db(r->res, ENGINE_MIGRATION_FAILED, "unable to build the batch", &f.err);
			break;
		}
		if (!ok) {
			struct step *s = &steps[f.unit < n ? f.unit : cur.unit < n ? cur.unit : 0];

			r->tp->rollback(r->tp); /* a migration a batch left open */
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
			if (signals_interrupted() && !f.err.message[0])
				result_fail(r->res, ENGINE_MIGRATION_FAILED, "stopped before %s", s->m->name);
			else if (f.txn_control[0] && f.txn_unit == f.unit && f.txn_statement)
				fail_txn_control(r, s, &f);
			else if (f.lost)
				fail_migration(r, s,
					       &steps[f.last_unit < n && f.last_unit > f.unit ? f.last_unit : f.unit],
					       &f.err);
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
		result_warn(r->res,
			    "%s statement %u is a CREATE INDEX CONCURRENTLY without an index name: if its failed run "
			    "left an INVALID index on %s, gosling cannot tell which, and the new run builds another "
			    "beside it (drop the INVALID one by hand: DROP INDEX CONCURRENTLY)",
			    s->m->name, i + 1, t.table);
		return true;
	}
	if (!r->tp->restore(r->tp, &e2) ||
	    !r->tp->index_invalid(r->tp, &t, schema, sizeof schema, name, sizeof name, &found, &building, &e2)) {
		log_warn("unable to look for an INVALID index %s that %s statement %u left: %s", t.name, s->m->name,
			 i + 1, e2.message);
		return true; /* the statement says what is wrong, if anything is */
	}
	if (!found)
		return true;
	if (building) {
		result_warn(r->res,
			    "the INVALID index %s.%s of %s statement %u is being built by another session: not dropped",
			    schema, name, s->m->name, i + 1);
		return true;
	}
	log_info("dropping the INVALID index %s.%s that %s statement %u left when it failed, before running it again",
		 schema, name, s->m->name, i + 1);
	if (!r->tp->index_drop(r->tp, schema, name, r->deadline, e)) {
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
		if (signals_interrupted()) {
			memset(&e, 0, sizeof e);
			snprintf(e.message, sizeof e.message, "not run: gosling was stopped before it");
		} else if ((i != s->first || !s->resume || s->down || index_cleanup(r, s, i, &e)) &&
			   r->tp->run_statement(r->tp, s->sql[i], s->m->version, i + 1, r->deadline, &e)) {
			continue;
		}
		fail_statement(r, s, i + 1, e.position > 0 ? stmt_lines_before(s->sql[i], (size_t)e.position - 1) : 0,
			       &e);
		s->item->action = "failed";
		progress(r, s->item, "failed");
		if (!s->down && r->tp->alive(r->tp, TRANSPORT_WORK)) {
			struct db_error e2;

			char done[CHECKSUM_LEN];

			record_of(r, s->m, s->chain, "gosling", &rec);
			rec.failed_statement = i + 1;
			rec.error = r->res->error.message;
			rec.done_checksum = done;
			if (!checksum_done(s->m, i, done))
				log_error("unable to record where %s stopped: out of memory", s->m->name);
			else if (!r->tp->restore(r->tp, &e2) || !r->tp->history_upsert(r->tp, &rec, false, &e2))
				log_error("unable to record where %s stopped: %s", s->m->name, e2.message);
			else
				s->item->failed_statement = i + 1;
		}
		return false;
	}
	record_of(r, s->m, s->chain, "gosling", &rec);
	rec.execution_ms = clock_now_ms() - t0;
	/* the same transaction puts gosling's settings back, whatever the migration SET */
	if (!r->tp->restore(r->tp, &e) || !r->tp->begin(r->tp, &e) || !r->tp->session(r->tp, &r->session, &e) ||
	    !(s->down ? r->tp->history_delete(r->tp, s->m->version, r->tables.goose, &e)
		      : r->tp->history_upsert(r->tp, &rec, r->tables.goose, &e)))
		goto fail;
	for (size_t c = 0; c < s->nrechain; c++)
		if (!r->tp->history_rechain(r->tp, s->rechain[c].version, s->rechain[c].chain, &e))
			goto fail;
	if (!r->tp->commit(r->tp, &e))
		goto fail;
	step_done(r, s, clock_now_ms() - t0);
	return true;
fail:
	r->tp->rollback(r->tp);
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
			result_warn(r->res,
				    "%s %s statement %u (line %u) will fail: it holds a command PostgreSQL refuses "
				    "inside a transaction block, and %s (goslingc let it through under no-check)",
				    s->m->name, s->down ? "Down" : "Up", i + 1, st[i].line,
				    s->m->no_transaction
					    ? "it holds several commands, which run as one implicit transaction"
					    : "this migration runs in a transaction");
}

/* Run steps in order: runs of transactional steps go as one batch each. */
bool
run_steps(struct run *r, struct step *steps, size_t n)
{
	size_t i = 0;

	for (size_t k = 0; k < n; k++) {
		size_t idx = (size_t)(steps[k].m - r->b->migrations);

		warn_no_tx_block(r, &steps[k]);
		steps[k].item->action = "not attempted";
		/* each step's chain as the history will be once the steps before it committed */
		r->h.chained[idx] = !steps[k].down;
		if (!history_chain_at(&r->h, idx, steps[k].chain) ||
		    !history_rechain_above(&r->h, idx, &steps[k].rechain, &steps[k].nrechain)) {
			result_fail(r->res, ENGINE_MIGRATION_FAILED, "out of memory");
			return false;
		}
	}
	r->progress_total = (uint32_t)n;
	while (i < n) {
		size_t j = i;

		if (signals_interrupted()) {
			result_fail(r->res, ENGINE_MIGRATION_FAILED, "stopped before %s", steps[i].m->name);
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
