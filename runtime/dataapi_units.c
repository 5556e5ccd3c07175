/* dataapi_units.c - the Data API transport running units: one migration's calls, restarts, lost answers, --atomic. */
#include "dataapi_impl.h"

/* --- units ------------------------------------------------------------------ */

/* A piece of a unit's work: one call. */
struct piece {
	struct buf sql;
	uint32_t first, last; /* 1-based statements it runs (DO: through EXECUTE), 0 = none */
	bool raw;	      /* one statement sent as it is */
};

/* The DO block's head: variables, the settings and lock, the re-read of the unit's history row. */
static void
do_head(struct da_state *d, struct buf *b, const struct db_unit *u, bool first, int64_t deadline_ms)
{
	buf_str(b,
		"DO $gosling$ DECLARE gosling_u int := 0; gosling_i int := 0; "
		"gosling_t0 timestamptz := pg_catalog.clock_timestamp(); "
		"gosling_st text; gosling_m text; gosling_d text; gosling_h text; BEGIN\n");
	if (first) {
		buf_str(b, "PERFORM ");
		da_settings_sql(d, b, deadline_ms);
		buf_str(b, ";\ngosling_t0 := pg_catalog.clock_timestamp();\n");
		buf_str(b, u->down ? "IF NOT EXISTS (SELECT 1 FROM " : "IF EXISTS (SELECT 1 FROM ");
		buf_str(b, d->names.history);
		da_sb_fmt(b, " WHERE version = %lld AND failed_statement IS NULL) THEN ", (long long)u->rec.version);
		buf_str(b,
			"RAISE EXCEPTION USING ERRCODE = '" SKIP_STATE
			"', MESSAGE = 'applied by another run'; END IF;\n");
	}
	buf_str(b, "BEGIN\n");
}

/* The end of a DO block; after: PL/pgSQL run after the statements' handler (NULL: none). */
void
da_do_tail(struct buf *b, const char *after)
{
	buf_str(b,
		"EXCEPTION WHEN OTHERS THEN\n"
		"GET STACKED DIAGNOSTICS gosling_st = RETURNED_SQLSTATE, gosling_m = MESSAGE_TEXT, "
		"gosling_d = PG_EXCEPTION_DETAIL, gosling_h = PG_EXCEPTION_HINT;\n"
		"IF gosling_i = 0 AND gosling_u = 0 THEN RAISE; END IF;\n"
		"RAISE EXCEPTION USING ERRCODE = gosling_st, MESSAGE = 'gosling ' || CASE WHEN gosling_u > 0 THEN "
		"'unit ' || gosling_u || ' ' ELSE '' END || 'statement ' || gosling_i || ': ' || gosling_m, "
		"DETAIL = coalesce(gosling_d, ''), HINT = coalesce(gosling_h, '');\n"
		"END;\n");
	if (after)
		buf_str(b, after);
	buf_str(b, "END $gosling$");
}

/* the unit's history bookkeeping, inside the last DO block */
static void
do_record(struct da_state *d, struct buf *b, const struct db_unit *u)
{
	buf_str(b, "gosling_i := 0;\n");
	if (u->down)
		da_delete_sql(d, b, u->rec.version, u->goose);
	else
		da_record_sql(
			d, b, &u->rec, u->goose,
			"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - gosling_t0) * 1000)::bigint");
	for (size_t c = 0; c < u->nrechain; c++)
		da_rechain_sql(d, b, u->rechain[c].version, u->rechain[c].chain);
}

/* the bookkeeping's characters at most (do_record's SQL; a literal at most doubles) */
static size_t
record_chars(const struct db_unit *u)
{
	const struct db_record *r = &u->rec;
	size_t c = 1100 +
		2 *
			(strlen(r->name) + strlen(r->file_checksum) + strlen(r->exec_checksum) + strlen(r->chain) +
			 strlen(r->build_id) + strlen(r->origin));

	if (r->error)
		c += 2 * strlen(r->error);
	for (size_t k = 0; k < u->nrechain; k++)
		c += 256 + 2 * strlen(u->rechain[k].chain);
	return c;
}

static void
pieces_free(struct piece *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].sql.p);
	free(p);
}

/* room for want pieces in *p */
static bool
pieces_grow(struct piece **p, size_t *cap, size_t want)
{
	struct piece *g;
	size_t c = *cap ? *cap : 8;

	while (c < want)
		c *= 2;
	if (c == *cap)
		return true;
	if (!(g = realloc(*p, c * sizeof *g)))
		return false;
	*p = g;
	*cap = c;
	return true;
}

/* Cut unit u's work into calls of at most DO_CAP characters (a longer statement alone, raw). */
static bool
pieces_build(struct da_state *d, const struct db_unit *u, int64_t deadline_ms, struct piece **out, size_t *nout)
{
	struct piece *p = NULL;
	size_t n = 0, cap = 0;
	size_t rec = record_chars(u);
	bool oom = false;

	for (uint32_t i = 0; i <= u->nstmts && !oom; i++) {
		bool last = i == u->nstmts;
		size_t need = last ? rec : da_literal_chars(u->sql[i]) + 64;
		struct piece *cur = n ? &p[n - 1] : NULL;

		if (!last && need > DO_CAP - 4096) {
			/* alone, as written: the service refuses it past RDSDATA_SQL_MAX, which is the error */
			if (!pieces_grow(&p, &cap, n + 2)) {
				oom = true;
				break;
			}
			if (!n) {
				/* the settings, the lock and the re-read come first all the same */
				memset(&p[n], 0, sizeof p[n]);
				do_head(d, &p[n].sql, u, true, deadline_ms);
				cur = &p[n++];
			}
			if (!cur->raw)
				da_do_tail(&cur->sql, NULL);
			memset(&p[n], 0, sizeof p[n]);
			p[n].raw = true;
			p[n].first = p[n].last = i + 1;
			buf_str(&p[n].sql, u->sql[i]);
			oom = p[n].sql.failed;
			n++;
			continue;
		}
		if (!cur || cur->raw || da_chars(cur->sql.p, cur->sql.len) + need + 512 > DO_CAP) {
			if (cur && !cur->raw)
				da_do_tail(&cur->sql, NULL);
			if (!pieces_grow(&p, &cap, n + 1)) {
				oom = true;
				break;
			}
			memset(&p[n], 0, sizeof p[n]);
			do_head(d, &p[n].sql, u, n == 0, deadline_ms);
			cur = &p[n++];
		}
		if (last) {
			do_record(d, &cur->sql, u);
			da_do_tail(&cur->sql, NULL);
		} else {
			da_sb_fmt(&cur->sql, "gosling_i := %lld; EXECUTE ", (long long)i + 1);
			da_sb_literal(&cur->sql, u->sql[i]);
			buf_str(&cur->sql, ";\n");
			if (!cur->first)
				cur->first = i + 1;
			cur->last = i + 1;
		}
		oom = cur->sql.failed;
	}
	if (oom) {
		pieces_free(p, n);
		return false;
	}
	*out = p;
	*nout = n;
	return true;
}

/*
 * From the error of a DO block: strip "gosling [unit U ]statement N: " off its message;
 * *unit is U (0 when the block ran one unit), the result N (0: gosling's own bookkeeping).
 */
uint32_t
da_error_statement(struct db_error *err, uint32_t *unit)
{
	char *m = err->message, *p = m, *end;
	unsigned long u = 0, k;

	*unit = 0;
	if (strncmp(p, "gosling ", 8) != 0)
		return 0;
	p += 8;
	if (strncmp(p, "unit ", 5) == 0) {
		u = strtoul(p + 5, &end, 10);
		if (*end != ' ')
			return 0;
		p = end + 1;
	}
	if (strncmp(p, "statement ", 10) != 0)
		return 0;
	k = strtoul(p + 10, &end, 10);
	if (strncmp(end, ": ", 2) != 0)
		return 0;
	memmove(m, end + 2, strlen(end + 2) + 1);
	*unit = (uint32_t)u;
	return (uint32_t)k;
}

/* From the error of a call that ran piece pc: the goose statement (1-based, 0 = gosling's own). */
static uint32_t
failed_statement(const struct piece *pc, struct db_error *err)
{
	uint32_t unit;

	return pc->raw ? pc->first : da_error_statement(err, &unit);
}

/* Is unit u's history row as the unit leaves it (after a call whose outcome is not known)? */
bool
da_unit_landed(struct da_state *d, const struct db_unit *u, bool *landed, struct db_error *err)
{
	char sql[512];
	struct rdsdata_result r;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE version = %lld AND failed_statement IS NULL",
		 d->names.history, (long long)u->rec.version);
	if (!da_query(d, "reading the history back", sql, NULL, 0, &r, err))
		return false;
	*landed = r.nrows == 1 && r.rows[0][0] && (strcmp(r.rows[0][0], "0") != 0) != u->down;
	rdsdata_result_free(&r);
	return true;
}

/* Was st's answer lost on the way (the request may have arrived and run)? */
bool
da_answer_lost(const struct rdsdata_status *st)
{
	return st->code == RDSDATA_OTHER && !st->aws_code[0];
}

/*
 * A failure that names no statement because nothing could: the block ended where its handler
 * does not run (FATAL: the backend terminated, the server stopping), the connection or the
 * answer was lost, the call timed out.  It is the migration's failure ("unable to apply X"),
 * not one of gosling's bookkeeping ("unable to record X in the history").
 */
void
da_unnamed(struct db_batch_failure *f)
{
	const char *s = f->err.sqlstate;

	if (f->statement == 0 && (!s[0] || strncmp(s, "08", 2) == 0 || strncmp(s, "57", 2) == 0)) {
		f->lost = true;
		f->last_unit = f->unit;
	}
}

/* Is the deadline past? A call lost then is not sent again: there is no time to run it. */
bool
da_past(int64_t deadline_ms)
{
	return deadline_ms && clock_now_ms() >= deadline_ms;
}

/* The service lost unit u's transaction (TransactionNotFoundException): it is run again. */
static enum da_unit_outcome
tx_lost(const struct db_unit *u)
{
	log_warn("version %lld: the Data API lost its transaction (TransactionNotFoundException): running it again",
		 (long long)u->rec.version);
	return UNIT_RESTART;
}

/* One try of unit u; on UNIT_FAILED *statement and *err say why. */
static enum da_unit_outcome
unit_try(struct da_state *d, const struct db_unit *u, int64_t deadline_ms, uint32_t *statement, struct db_error *err)
{
	struct piece *p;
	size_t np;
	struct rdsdata_status st;
	struct rdsdata_result r;
	char tx[RDSDATA_TXID_MAX] = "";
	enum da_unit_outcome out = UNIT_DONE;
	bool timed_out = false, lost = false, own = !d->run_tx[0]; /* own: not in an atomic run's transaction */
	const char *txid = own ? tx : d->run_tx;

	*statement = 0;
	if (!pieces_build(d, u, deadline_ms, &p, &np)) {
		da_error_set(err, "%s", "out of memory building the unit's calls");
		return UNIT_FAILED;
	}
	if (own && (np > 1 || p[0].raw)) {
		if (!da_begin_tx(d, deadline_ms, tx, &st)) {
			da_error_of(&st, "BEGIN", err);
			pieces_free(p, np);
			return UNIT_FAILED;
		}
	}
	for (size_t i = 0; i < np; i++) {
		struct rdsdata_statement s = { .sql = p[i].sql.p,
					       .transaction_id = txid[0] ? txid : NULL,
					       .once = true };

		if (da_exec(d, &s, deadline_ms, &r, &st)) {
			rdsdata_result_free(&r);
			continue;
		}
		if (st.code == RDSDATA_DATABASE && strcmp(st.sqlstate, SKIP_STATE) == 0) {
			out = UNIT_SKIPPED;
		} else if (st.code == RDSDATA_TXN_NOT_FOUND) {
			out = own ? tx_lost(u) : UNIT_RESTART; /* an atomic run says so for the whole run */
		} else {
			da_error_of(&st, "running the migration", err);
			*statement = failed_statement(&p[i], err);
			timed_out = st.code == RDSDATA_TIMEOUT || st.code == RDSDATA_UNAVAILABLE ||
				st.code == RDSDATA_OTHER;
			lost = da_answer_lost(&st);
			out = UNIT_FAILED;
		}
		break;
	}
	pieces_free(p, np);
	if (!own)
		return out; /* the atomic run's commit or rollback decides (atomic_run) */
	if (tx[0]) {
		d->db.deadline_ms = da_call_deadline(d, deadline_ms);
		if (out == UNIT_DONE && !rdsdata_commit(&d->db, tx, &st)) {
			if (st.code == RDSDATA_TXN_NOT_FOUND)
				return tx_lost(u);
			da_error_of(&st, "COMMIT", err);
			timed_out = true;
			lost = da_answer_lost(&st);
			out = UNIT_FAILED;
		} else if (out != UNIT_DONE && !rdsdata_rollback(&d->db, tx, &st)) {
			log_debug("ROLLBACK over the RDS Data API: %s", st.message);
		}
	}
	if (out == UNIT_FAILED && timed_out) {
		/* the call may have committed: the history row says, nothing is sent again blindly */
		struct db_error e2;
		bool landed = false;

		if (!da_unit_landed(d, u, &landed, &e2))
			return out;
		if (landed) {
			log_warn("version %lld: %s, but the history shows it committed", (long long)u->rec.version,
				 err->message);
			return UNIT_DONE;
		}
		if (lost && !da_past(deadline_ms)) {
			/* sent again, it re-reads its history row under the key's lock: never twice */
			log_warn("version %lld: %s, and the history shows it did not commit: running it again",
				 (long long)u->rec.version, err->message);
			return UNIT_RESTART;
		}
	}
	return out;
}

static bool atomic_run(struct da_state *d, const struct db_unit *units, size_t nunits, int64_t deadline_ms,
		       void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
		       struct db_batch_failure *f);

bool
da_run_units(struct transport *t, const struct db_unit *units, size_t nunits, bool atomic, const struct db_session *s,
	     int64_t deadline_ms, void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	     struct db_batch_failure *f)
{
	struct da_state *d = state(t);
	const struct db_unit *u = &units[cur->unit];
	int64_t t0 = clock_now_ms();
	struct db_error e;
	uint32_t statement = 0;
	enum da_unit_outcome out = UNIT_RESTART;

	memset(f, 0, sizeof *f);
	if (!da_lease_renew(d, &f->err)) {
		/* "unable to apply <the migration it stopped before>: ..." */
		f->unit = f->last_unit = cur->unit;
		f->lost = true;
		return false;
	}
	if (!da_session(t, s, &f->err)) {
		f->unit = cur->unit;
		f->unsent = true;
		return false;
	}
	if (atomic)
		return atomic_run(d, units, nunits, deadline_ms, done, arg, cur, f);
	if (da_pack_count(d, u, nunits - cur->unit) >= 2)
		return da_pack_units(d, units, da_pack_count(d, u, nunits - cur->unit), deadline_ms, done, arg, cur, f);
	/* each restart says why where it is decided: a lost transaction (tx_lost), a lost answer (unit_try) */
	for (int restarts = 0; out == UNIT_RESTART && restarts <= UNIT_RESTARTS; restarts++)
		out = unit_try(d, u, deadline_ms, &statement, &e);
	if (out == UNIT_RESTART) {
		da_error_set(&e, "%s",
			     "the Data API lost the transaction again and again (TransactionNotFoundException)");
		out = UNIT_FAILED;
	}
	if (out == UNIT_FAILED) {
		f->unit = cur->unit;
		f->statement = statement;
		f->err = e;
		da_unnamed(f);
		return false;
	}
	if (out == UNIT_SKIPPED)
		log_warn("version %lld: %s by another run meanwhile; not run again", (long long)u->rec.version,
			 u->down ? "rolled back" : "applied");
	done(cur->unit, out == UNIT_SKIPPED ? -1 : clock_now_ms() - t0, arg);
	cur->unit++;
	cur->statement = 0;
	cur->last_end_ms = clock_now_ms();
	return true;
}

/* --- atomic: every unit in one transaction ------------------------------------- */

/* End the atomic run's transaction without committing it (it may be gone already). */
static void
atomic_rollback(struct da_state *d, int64_t deadline_ms)
{
	struct rdsdata_status st;

	d->db.deadline_ms = da_call_deadline(d, deadline_ms);
	if (d->run_tx[0] && !rdsdata_rollback(&d->db, d->run_tx, &st))
		log_debug("ROLLBACK over the RDS Data API: %s", st.message);
	d->run_tx[0] = '\0';
}

/*
 * The atomic run's CommitTransaction failed.  PostgreSQL's refusal (a deferred constraint):
 * it rolled back.  Else its answer may be lost after it committed: the transaction is rolled
 * back if it is still there (so it can no longer commit late), then the last unit's history
 * row decides, never a blind resend: there, all committed; not there, none did, and the run
 * goes again (UNIT_RESTART); unreadable, f->lost.
 */
static enum da_unit_outcome
atomic_commit_failed(struct da_state *d, const struct db_unit *units, size_t nunits, const struct rdsdata_status *st,
		     int64_t deadline_ms, struct db_cursor *cur, struct db_batch_failure *f)
{
	struct db_error e2;
	bool landed = false;

	da_error_of(st, "COMMIT", &f->err);
	f->unit = nunits - 1;
	if (st->code == RDSDATA_DATABASE)
		return UNIT_FAILED;
	atomic_rollback(d, deadline_ms);
	if (!da_unit_landed(d, &units[nunits - 1], &landed, &e2)) {
		f->lost = true;
		f->unit = cur->unit;
		f->last_unit = nunits - 1;
		return UNIT_FAILED;
	}
	if (landed) {
		log_warn("%s, but the history shows the %zu migrations committed", f->err.message, nunits - cur->unit);
		return UNIT_DONE;
	}
	log_warn("%s, and the history shows the %zu migrations did not commit: running them again", f->err.message,
		 nunits - cur->unit);
	return UNIT_RESTART;
}

/* One try of an atomic run: BeginTransaction, units [cur->unit, nunits) in it, CommitTransaction. */
static enum da_unit_outcome
atomic_try(struct da_state *d, const struct db_unit *units, size_t nunits, int64_t deadline_ms,
	   void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	   struct db_batch_failure *f)
{
	struct rdsdata_status st;
	enum da_unit_outcome out = UNIT_DONE;

	if (!da_begin_tx(d, deadline_ms, d->run_tx, &st)) {
		d->run_tx[0] = '\0';
		da_error_of(&st, "BEGIN", &f->err);
		f->unit = cur->unit;
		return UNIT_FAILED;
	}
	for (size_t k = cur->unit, n; k < nunits; k += n) {
		int64_t t0 = clock_now_ms();
		size_t at = 0;

		n = da_pack_count(d, &units[k], nunits - k);
		/* the lease is renewed outside the transaction: no call overlaps another in it */
		if (!da_lease_renew(d, &f->err))
			out = UNIT_FAILED;
		else if (n >= 2)
			out = da_pack_atomic(d, &units[k], n, deadline_ms, &at, &f->statement, &f->err);
		else
			out = unit_try(d, &units[k], deadline_ms, &f->statement, &f->err);
		n = n >= 2 ? n : 1;
		k += at;
		if (out == UNIT_SKIPPED) {
			/* the key's lock excludes other runs from here to the commit: one ran before it */
			da_error_set(&f->err,
				     "%s by another run meanwhile: the atomic run is rolled back, run it again",
				     units[k].down ? "rolled back" : "applied");
			f->statement = 0;
			out = UNIT_FAILED;
		}
		if (out != UNIT_DONE) {
			f->unit = k;
			atomic_rollback(d, deadline_ms);
			return out;
		}
		for (size_t j = 0; j < n; j++)
			done(k + j, (clock_now_ms() - t0) / (int64_t)n, arg);
	}
	d->db.deadline_ms = da_call_deadline(d, deadline_ms);
	if (rdsdata_commit(&d->db, d->run_tx, &st)) {
		d->run_tx[0] = '\0';
		return UNIT_DONE;
	}
	if (st.code == RDSDATA_TXN_NOT_FOUND) {
		d->run_tx[0] = '\0';
		return UNIT_RESTART;
	}
	return atomic_commit_failed(d, units, nunits, &st, deadline_ms, cur, f);
}

/*
 * Units [cur->unit, nunits) in one transaction (transport.h, run_units' atomic): every
 * unit's calls name it, each unit's DO block still takes the key's lock and re-reads its
 * history row, and one CommitTransaction ends it.  The transaction lost
 * (TransactionNotFoundException: the service rolled it back) runs the set again from its
 * first unit, at most UNIT_RESTARTS times.
 */
static bool
atomic_run(struct da_state *d, const struct db_unit *units, size_t nunits, int64_t deadline_ms,
	   void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	   struct db_batch_failure *f)
{
	enum da_unit_outcome out = UNIT_RESTART;

	for (int restarts = 0; out == UNIT_RESTART && restarts <= UNIT_RESTARTS; restarts++) {
		if (restarts && !f->err.message[0])
			log_warn("the Data API lost the atomic run's transaction (TransactionNotFoundException): "
				 "running its %zu migrations again",
				 nunits - cur->unit);
		memset(f, 0, sizeof *f);
		out = atomic_try(d, units, nunits, deadline_ms, done, arg, cur, f);
	}
	if (out == UNIT_RESTART) {
		memset(f, 0, sizeof *f);
		f->unit = cur->unit;
		da_error_set(&f->err, "%s",
			     "the Data API lost the atomic run's transaction again and again "
			     "(TransactionNotFoundException)");
		return false;
	}
	if (out == UNIT_FAILED)
		return false;
	cur->unit = nunits;
	cur->statement = 0;
	cur->last_end_ms = clock_now_ms();
	return true;
}
