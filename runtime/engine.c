/*
 * engine.c - plan, apply, roll back and verify migrations.
 *
 * One engine_run() is one invocation: take the advisory lock (commands that
 * change things), read the history (one query), compare it with the bundle,
 * then run what is pending in as few round trips as possible.  Every failure
 * becomes res->status and res->error; nothing here exits or prints.
 *
 * This file is the orchestration: the request's checks, reading the history, the
 * commands.  engine_impl.h lists the parts it calls (history, plan, apply, lock, result).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "checksum.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "dataapi.h"
#include "engine_impl.h"
#include "log.h"
#include "signals.h"
#include "text.h"

void
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

/* --- reading and checking the history -------------------------------------- */

static void
state_free(struct run *r)
{
	history_index_free(&r->h);
	db_rows_free(r->h.rows, r->h.nrows);
	free(r->h.goose);
	r->h.rows = NULL;
	r->h.goose = NULL;
	r->h.nrows = r->h.ngoose = 0;
}

static bool
state_load(struct run *r)
{
	struct db_error e;

	state_free(r);
	if (!r->tp->restore(r->tp, &e)) {
		result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to set client_encoding back to UTF8", &e);
		return false;
	}
	if (!r->tp->tables(r->tp, &r->tables, &e)) {
		result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to look up the history tables", &e);
		return false;
	}
	if (r->tables.history && !r->tp->history_read(r->tp, r->b, &r->h.rows, &r->h.nrows, &e)) {
		result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to read the history table", &e);
		return false;
	}
	if (r->tables.goose && !r->tp->goose_read(r->tp, &r->h.goose, &r->h.ngoose, &e)) {
		result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to read goose's version table", &e);
		return false;
	}
	if (!history_index(&r->h)) {
		result_fail(r->res, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	return true;
}

static bool
check_drift(struct run *r)
{
	return history_check_drift(&r->h, r->names.history, r->res);
}

static bool
check_order(struct run *r, int64_t target, bool report_only)
{
	if (r->req->allow_out_of_order || config_bool(r->cfg, SET_ALLOW_OUT_OF_ORDER))
		return true;
	return history_check_order(&r->h, target, report_only, r->res);
}

/*
 * Record migration k as applied without running it (origin "goose" when adopted
 * from goose's table, "baseline"), in the open transaction, and re-chain the
 * history rows above it.  *item gets its result item (NULL when out of memory).
 */
static bool
record_unrun(struct run *r, size_t k, const char *origin, bool goose_row, const char *action, struct engine_item **item,
	     struct db_error *e)
{
	const struct migration *m = &r->b->migrations[k];
	char chain[CHECKSUM_LEN];
	struct db_record rec;
	struct db_rechain *rc = NULL;
	size_t nrc = 0;
	bool ok = true;

	*item = NULL;
	if (!history_chain_at(&r->h, k, chain)) {
		memset(e, 0, sizeof *e);
		snprintf(e->message, sizeof e->message, "out of memory");
		return false;
	}
	record_of(r, m, chain, origin, &rec);
	if (!r->tp->history_upsert(r->tp, &rec, goose_row, e) || !history_rechain_above(&r->h, k, &rc, &nrc))
		return false;
	for (size_t c = 0; ok && c < nrc; c++)
		ok = r->tp->history_rechain(r->tp, rc[c].version, rc[c].chain, e);
	free(rc);
	if (ok && (*item = result_item_add(r->res, m->version, m->name)) != NULL) {
		(*item)->state = "applied";
		(*item)->action = action;
	}
	return ok;
}

/*
 * Create the history table on first use and adopt what goose applied that the
 * history lacks, in one transaction; then read the history again if it adopted.
 */
static bool
ensure_history(struct run *r)
{
	struct db_error e;
	bool adopt = false;

	for (size_t k = 0; k < r->b->count; k++)
		adopt |= r->h.goose_of[k] && !history_row(&r->h, k);
	if (r->tables.history && !adopt)
		return true;
	if (!r->tp->begin(r->tp, &e) || !r->tp->history_create(r->tp, &e))
		goto fail;
	for (size_t k = 0; k < r->b->count; k++) {
		struct engine_item *it;

		if (!r->h.goose_of[k] || history_row(&r->h, k))
			continue;
		if (!record_unrun(r, k, "goose", false, "adopted", &it, &e))
			goto fail;
		if (it)
			progress(r, it, "adopted");
	}
	if (!r->tp->commit(r->tp, &e))
		goto fail;
	if (!adopt) {
		/* created empty under the run lock: nothing to read again */
		r->tables.history = true;
		return true;
	}
	log_info("adopted the versions goose applied into %s", r->names.history);
	return state_load(r);
fail:
	r->tp->rollback(r->tp);
	result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to create the history table", &e);
	return false;
}

/*
 * The version the database is at after a command, whatever happened (result_fail keeps
 * the first error): the history's newest row when it says so (one row, not the whole
 * history read again: one call over the Data API), else the history and goose's table.
 */
static void
version_after(struct run *r)
{
	struct db_head head;
	struct db_error e;

	if (!r->tables.goose && r->tp->history_head(r->tp, &head, &e) && (!head.found || !head.failed_statement)) {
		r->res->version_after = head.found ? head.version : 0;
		return;
	}
	if (state_load(r))
		r->res->version_after = history_newest(&r->h);
}

/* --- the commands ----------------------------------------------------------- */

static bool
cmd_up(struct run *r, int64_t target)
{
	struct step *steps = NULL;
	size_t n = 0;
	bool ok = false;

	if (!check_drift(r) || !check_order(r, target, false) || !plan_up(&r->h, target, r->res, &steps, &n))
		goto out;
	if (r->req->atomic && !plan_atomic_check(r->res, steps, n))
		goto out;
	if (!ensure_history(r))
		goto out;
	if (!plan_items(&r->h, r->res, steps, n))
		goto out;
	if (n == 0) {
		log_info("no migrations to apply: the database is at version %lld", (long long)history_newest(&r->h));
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

	if (!check_drift(r) || !ensure_history(r) || !plan_down(&r->h, target, limit, r->res, &steps, &n))
		goto out;
	if (redo && n == 1 && steps[0].m->ndown == 0) {
		result_fail(r->res, ENGINE_BAD_REQUEST,
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
			result_fail(r->res, ENGINE_MIGRATION_FAILED, "out of memory");
			goto out;
		}
		steps = t;
		memset(&steps[1], 0, sizeof steps[1]);
		steps[1].m = steps[0].m;
		n = 2;
		if (!step_expand(r->res, &steps[1]))
			goto out;
	}
	if (!plan_items(&r->h, r->res, steps, n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!steps[i].down || steps[i].m->ndown > 0)
			continue;
		steps[i].item->no_down = true;
		result_warn(r->res,
			    "migration %s has no Down statements: down removes its history row and undoes nothing "
			    "in the database",
			    steps[i].m->name);
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

	if (!check_drift(r) || !check_order(r, target, false) || !plan_up(&r->h, target, r->res, &steps, &n))
		goto out;
	if (r->req->atomic && !plan_atomic_check(r->res, steps, n))
		goto out;
	if (!plan_items(&r->h, r->res, steps, n))
		goto out;
	if (!plan_sql(r->res, steps, n))
		goto out;
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
	if (!r->tp->begin(r->tp, &e))
		goto fail;
	for (size_t k = 0; k < r->b->count && r->b->migrations[k].version <= target; k++) {
		struct engine_item *it;

		if (history_applied(&r->h, k) || history_partial(&r->h, k))
			continue;
		r->h.chained[k] = true;
		if (!record_unrun(r, k, "baseline", r->tables.goose, "baselined", &it, &e))
			goto fail;
		n++;
	}
	if (!r->tp->commit(r->tp, &e))
		goto fail;
	r->progress_total = (uint32_t)n;
	for (size_t i = 0; i < r->res->nitems; i++)
		progress(r, &r->res->items[i], "baselined");
	return true;
fail:
	r->tp->rollback(r->tp);
	result_fail_db(r->res, ENGINE_MIGRATION_FAILED, "unable to record the baseline", &e);
	return false;
}

static void
cmd_list(struct run *r)
{
	for (uint32_t k = 0; k < r->b->count; k++) {
		struct engine_item *it = result_item_add(r->res, r->b->migrations[k].version, r->b->migrations[k].name);

		if (it) {
			it->state = "embedded";
			it->no_transaction = r->b->migrations[k].no_transaction;
		}
	}
}

static bool
read_only(enum engine_command c)
{
	return c == ENGINE_STATUS || c == ENGINE_VERIFY || c == ENGINE_PLAN || c == ENGINE_VERSION;
}

/* What a request must hold before anything connects: its version, its flags, the settings. */
static bool
request_check(const struct config *cfg, const struct engine_request *req, struct engine_result *res)
{
	enum engine_command c = req->command;
	char err[512];

	if (engine_command_needs_version(c) && !req->has_version) {
		result_fail(res, ENGINE_BAD_REQUEST, "%s needs a version", engine_command_name(c));
		return false;
	}
	if (req->has_version && req->version < 0) {
		result_fail(res, ENGINE_BAD_REQUEST, "invalid version %lld", (long long)req->version);
		return false;
	}
	if (req->head_only && c != ENGINE_VERIFY) {
		result_fail(res, ENGINE_BAD_REQUEST, "head_only applies to verify, not to %s", engine_command_name(c));
		return false;
	}
	if (req->atomic && c != ENGINE_UP && c != ENGINE_UP_TO && c != ENGINE_PLAN) {
		result_fail(res, ENGINE_BAD_REQUEST, "atomic applies to up, up-to and plan, not to %s",
			    engine_command_name(c));
		return false;
	}
	if ((c == ENGINE_DOWN || c == ENGINE_DOWN_TO || c == ENGINE_REDO) && !req->allow_down) {
		result_fail(res, ENGINE_BAD_REQUEST,
			    "%s rolls migrations back: confirm with --allow-down (\"allow_down\": true)",
			    engine_command_name(c));
		return false;
	}
	if (!config_check(cfg, err, sizeof err)) {
		result_fail(res, ENGINE_CONFIG_ERROR, "%s", err);
		return false;
	}
	return true;
}

/* The run's waits: the lock wait, and the deadline less its margin; false when too little time is left. */
static bool
run_limits(struct run *r)
{
	const struct engine_request *req = r->req;

	r->lock_wait = config_int(r->cfg, SET_LOCK_WAIT) * 1000;
	if (req->deadline_ms) {
		int64_t margin = config_int(r->cfg, SET_DEADLINE_MARGIN);

		r->deadline = req->deadline_ms - margin;
		if (r->deadline - clock_now_ms() < 100) {
			result_fail(r->res, ENGINE_MIGRATION_FAILED,
				    "not enough time before the deadline: %lld ms left, %lld ms kept as margin",
				    (long long)(req->deadline_ms - clock_now_ms()), (long long)margin);
			return false;
		}
	}
	/* cleanup after a cancel at the deadline (rollback, unlock) has part of the margin; the rest is for the answer */
	if (req->deadline_ms)
		r->hard = req->deadline_ms - config_int(r->cfg, SET_DEADLINE_MARGIN) / 4;
	r->tp->limit(r->tp, r->hard, r->lock_wait, r->hard);
	return true;
}

/*
 * verify's head-only check (see engine_run in engine.h): true when the history's newest
 * row settled the answer, false to run the full verify.
 */
static bool
verify_head(struct run *r)
{
	struct db_head head;
	struct db_error e;
	struct engine_item *it;
	size_t k;

	if (!r->tp->history_head(r->tp, &head, &e)) {
		result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to read the history's newest row", &e);
		return true;
	}
	if (!history_head_matches(r->b, &head, &k))
		return false;
	r->res->version_before = r->res->version_after = head.version;
	if ((it = result_item_add(r->res, head.version, r->b->migrations[k].name)) != NULL) {
		it->state = "applied";
		it->no_transaction = r->b->migrations[k].no_transaction;
		snprintf(it->applied_at, sizeof it->applied_at, "%s", head.applied_at);
	}
	log_debug("verify: the history's newest row, version %lld, has this build's chain", (long long)head.version);
	return true;
}

/* status, verify: the drift and order checks, then every migration's state. */
static void
cmd_status(struct run *r, bool verify)
{
	struct engine_result *res = r->res;

	if (verify) {
		if (check_drift(r))
			(void)check_order(r, INT64_MAX, true);
	} else {
		if (!check_drift(r)) {
			/* status reports drift but is not itself a failure: verify is */
			result_warn(res, "%s", res->error.message);
			memset(&res->error, 0, sizeof res->error);
			res->status = ENGINE_OK;
		}
		(void)check_order(r, INT64_MAX, true);
	}
	history_list(&r->h, res);
}

/* A failure while SIGINT or SIGTERM stopped the run says so first. */
static void
interrupted_note(struct engine_result *res)
{
	char msg[sizeof res->error.message + 32];

	if (!signals_interrupted() || res->status == ENGINE_OK)
		return;
	snprintf(msg, sizeof msg, "interrupted by %s: %s", signals_interrupted() == SIGINT ? "SIGINT" : "SIGTERM",
		 res->error.message);
	msg[sizeof res->error.message - 1] = '\0';
	memcpy(res->error.message, msg, sizeof res->error.message);
}

bool
engine_run(const struct config *cfg, const struct bundle *b, const struct engine_request *req,
	   struct engine_result *res)
{
	struct run r = { .cfg = cfg, .b = b, .req = req, .res = res, .h = { .b = b } };
	struct transport tp;
	struct db_error e;
	enum engine_command c = req->command;
	int64_t target = req->has_version ? req->version : INT64_MAX;

	memset(res, 0, sizeof *res);
	res->command = c;
	res->build_id = b->build_id;
	if (c >= ENGINE_COMMAND_COUNT) {
		result_fail(res, ENGINE_BAD_REQUEST, "unknown command");
		return false;
	}
	if (c == ENGINE_LIST) {
		cmd_list(&r);
		return true;
	}
	if (!request_check(cfg, req, res))
		return false;
	db_names_init(&r.names, cfg);
	/* the one place that picks the transport: the RDS Data API (dataapi.h) or libpq (db.h) */
	if (!(config_str(cfg, SET_CLUSTER_ARN) ? dataapi_transport_init(&tp, cfg, &e)
					       : db_transport_init(&tp, cfg, &e))) {
		result_fail_db(res, ENGINE_CONFIG_ERROR, "unable to start", &e);
		return false;
	}
	r.tp = &tp;
	if (!run_limits(&r)) {
		tp.release(&tp);
		return false;
	}
	tp.text_sent(&tp, b->text, b->text_len);
	if (!read_only(c) && !lock_acquire(&r))
		goto out;
	if (!connect_work(&r) || (!read_only(c) && !work_lock_acquire(&r)) || (req->head_only && verify_head(&r)) ||
	    !state_load(&r))
		goto out;
	res->version_before = res->version_after = history_newest(&r.h);

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
	case ENGINE_VERIFY:
		cmd_status(&r, c == ENGINE_VERIFY);
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
	if (!read_only(c) && r.tp->alive(r.tp, TRANSPORT_WORK))
		version_after(&r);
out:
	state_free(&r);
	tp.close(&tp, TRANSPORT_WORK);
	lock_release(&r);
	tp.limit(&tp, 0, 0, 0);
	tp.release(&tp);
	interrupted_note(res);
	return res->status == ENGINE_OK;
}
