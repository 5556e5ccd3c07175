/* dataapi_units.c - the Data API transport running units: DO blocks, packing, restarts, lost answers. */
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
static void
do_tail(struct buf *b, const char *after)
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
				do_tail(&cur->sql, NULL);
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
				do_tail(&cur->sql, NULL);
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
			do_tail(&cur->sql, NULL);
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
static uint32_t
error_statement(struct db_error *err, uint32_t *unit)
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

	return pc->raw ? pc->first : error_statement(err, &unit);
}

/* Is unit u's history row as the unit leaves it (after a call whose outcome is not known)? */
static bool
unit_landed(struct da_state *d, const struct db_unit *u, bool *landed, struct db_error *err)
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

enum unit_outcome {
	UNIT_DONE,
	UNIT_SKIPPED,
	UNIT_FAILED,
	UNIT_RESTART
};

/* Was st's answer lost on the way (the request may have arrived and run)? */
static bool
answer_lost(const struct rdsdata_status *st)
{
	return st->code == RDSDATA_OTHER && !st->aws_code[0];
}

/*
 * A failure that names no statement because nothing could: the block ended where its handler
 * does not run (FATAL: the backend terminated, the server stopping), the connection or the
 * answer was lost, the call timed out.  It is the migration's failure ("unable to apply X"),
 * not one of gosling's bookkeeping ("unable to record X in the history").
 */
static void
unnamed(struct db_batch_failure *f)
{
	const char *s = f->err.sqlstate;

	if (f->statement == 0 && (!s[0] || strncmp(s, "08", 2) == 0 || strncmp(s, "57", 2) == 0)) {
		f->lost = true;
		f->last_unit = f->unit;
	}
}

/* Is the deadline past? A call lost then is not sent again: there is no time to run it. */
static bool
past(int64_t deadline_ms)
{
	return deadline_ms && clock_now_ms() >= deadline_ms;
}

/* One try of unit u; on UNIT_FAILED *statement and *err say why. */
static enum unit_outcome
unit_try(struct da_state *d, const struct db_unit *u, int64_t deadline_ms, uint32_t *statement, struct db_error *err)
{
	struct piece *p;
	size_t np;
	struct rdsdata_status st;
	struct rdsdata_result r;
	char tx[RDSDATA_TXID_MAX] = "";
	enum unit_outcome out = UNIT_DONE;
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
			out = UNIT_RESTART;
		} else {
			da_error_of(&st, "running the migration", err);
			*statement = failed_statement(&p[i], err);
			timed_out = st.code == RDSDATA_TIMEOUT || st.code == RDSDATA_UNAVAILABLE ||
				st.code == RDSDATA_OTHER;
			lost = answer_lost(&st);
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
				return UNIT_RESTART;
			da_error_of(&st, "COMMIT", err);
			timed_out = true;
			lost = answer_lost(&st);
			out = UNIT_FAILED;
		} else if (out != UNIT_DONE && !rdsdata_rollback(&d->db, tx, &st)) {
			log_debug("ROLLBACK over the RDS Data API: %s", st.message);
		}
	}
	if (out == UNIT_FAILED && timed_out) {
		/* the call may have committed: the history row says, nothing is sent again blindly */
		struct db_error e2;
		bool landed = false;

		if (!unit_landed(d, u, &landed, &e2))
			return out;
		if (landed) {
			log_warn("version %lld: %s, but the history shows it committed", (long long)u->rec.version,
				 err->message);
			return UNIT_DONE;
		}
		if (lost && !past(deadline_ms)) {
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

/* --- blocks of several units ---------------------------------------------------- */

/*
 * Consecutive units go as one DO block, one autocommit call (pack_sql), written lean so that
 * the calls of an up follow the SQL's bytes: every statement of the block in one text array
 * run in order by one loop, the history rows in one INSERT from arrays, the checksums without
 * their common prefix, the re-read of the rows once for the block.  A unit joins a block when
 * it is like the block's first (the same direction, origin, build and goose table), has no
 * statement to send alone, and fits: pack_unit_chars is what it adds, character for character.
 */
#define PACK_BASE 2560 /* a block's characters besides its units and names: head, settings, loop, handler, INSERT */

static const char *const PREFIX[3] = { CHECKSUM_FILE_PREFIX, CHECKSUM_EXEC_PREFIX, CHECKSUM_CHAIN_PREFIX };

static const char *
checksum_col(const struct db_record *r, int c)
{
	return c == 0 ? r->file_checksum : c == 1 ? r->exec_checksum : r->chain;
}

/* Is s the prefix then lowercase hex digits (so it goes in an array literal unquoted)? */
static bool
hex_checksum(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0 || !s[n])
		return false;
	for (s += n; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static size_t
digits(long long v)
{
	char num[32];

	return (size_t)snprintf(num, sizeof num, "%lld", v);
}

/* What unit u adds to a block, in characters; 0: it cannot join one. */
static size_t
pack_unit_chars(struct da_state *d, const struct db_unit *u)
{
	size_t c = digits(u->rec.version) + 1 + digits(u->nstmts) + 1;

	for (uint32_t i = 0; i < u->nstmts; i++) {
		if (da_literal_chars(u->sql[i]) + 64 > DO_CAP - 4096)
			return 0; /* alone, as its own call: unit_try */
		c += da_literal_chars(u->sql[i]) + 1;
	}
	if (u->down)
		return c;
	if (u->rec.failed_statement || u->rec.error)
		return 0;
	c += da_literal_chars(u->rec.name) + 1;
	for (int k = 0; k < 3; k++) {
		if (!hex_checksum(checksum_col(&u->rec, k), PREFIX[k]))
			return 0;
		c += strlen(checksum_col(&u->rec, k)) - strlen(PREFIX[k]) + 1;
	}
	for (size_t k = 0; k < u->nrechain; k++)
		c += 64 + strlen(d->names.history) + da_literal_chars(u->rechain[k].chain);
	return c;
}

static bool
pack_alike(const struct db_unit *a, const struct db_unit *b)
{
	return a->down == b->down && a->goose == b->goose &&
		(a->down ||
		 (strcmp(a->rec.origin, b->rec.origin) == 0 && strcmp(a->rec.build_id, b->rec.build_id) == 0));
}

/* How many units from units[0] go in one DO block of at most DO_CAP characters (0: not even the first). */
static size_t
pack_count(struct da_state *d, const struct db_unit *units, size_t n)
{
	size_t total = PACK_BASE + 3 * strlen(d->names.history) + 2 * strlen(d->names.goose) +
		2 * strlen(units[0].rec.build_id ? units[0].rec.build_id : "") +
		(d->search_path ? 2 * strlen(d->search_path) : 0),
	       k = 0, c;

	while (k < n && k < PACK_MAX && pack_alike(&units[0], &units[k]) && (c = pack_unit_chars(d, &units[k])) &&
	       total + c <= DO_CAP) {
		total += c;
		k++;
	}
	return k;
}

/* An array of the block's units but those skip marks: what col(unit) writes into b, comma-separated. */
static void
pack_array(struct buf *b, const struct db_unit *units, size_t n, const bool *skip,
	   void (*col)(struct buf *b, const struct db_unit *u, int k), int k)
{
	bool first = true;

	for (size_t j = 0; j < n; j++) {
		if (skip[j])
			continue;
		if (!first)
			buf_char(b, ',');
		first = false;
		col(b, &units[j], k);
	}
}

static void
col_version(struct buf *b, const struct db_unit *u, int k)
{
	(void)k;
	da_sb_fmt(b, "%lld", (long long)u->rec.version);
}

static void
col_count(struct buf *b, const struct db_unit *u, int k)
{
	(void)k;
	da_sb_fmt(b, "%lld", (long long)u->nstmts);
}

static void
col_statements(struct buf *b, const struct db_unit *u, int k)
{
	(void)k;
	for (uint32_t i = 0; i < u->nstmts; i++) {
		if (i)
			buf_char(b, ',');
		da_sb_literal(b, u->sql[i]);
	}
}

static void
col_name(struct buf *b, const struct db_unit *u, int k)
{
	(void)k;
	da_sb_literal(b, u->rec.name);
}

static void
col_checksum(struct buf *b, const struct db_unit *u, int k)
{
	buf_str(b, checksum_col(&u->rec, k) + strlen(PREFIX[k]));
}

/* the block's history rows (up: one INSERT from its arrays; down: one DELETE), and re-chains */
static void
pack_records(struct da_state *d, struct buf *b, const struct db_unit *units, size_t n, const bool *skip)
{
	const struct db_unit *u0 = &units[0];

	if (u0->down) {
		buf_str(b, "DELETE FROM ");
		buf_str(b, d->names.history);
		buf_str(b, " WHERE version = ANY (gosling_v);\n");
		if (u0->goose) {
			buf_str(b, "DELETE FROM ");
			buf_str(b, d->names.goose);
			buf_str(b, " WHERE version_id = ANY (gosling_v);\n");
		}
		return;
	}
	buf_str(b, "INSERT INTO ");
	buf_str(b, d->names.history);
	buf_str(b,
		" (version, name, file_checksum, exec_checksum, chain, applied_at, execution_ms, build_id, origin) "
		"SELECT r.v, r.n, '" CHECKSUM_FILE_PREFIX "' || r.c, '" CHECKSUM_EXEC_PREFIX
		"' || r.x, '" CHECKSUM_CHAIN_PREFIX "' || r.h, pg_catalog.clock_timestamp(), gosling_e[r.k], ");
	da_sb_literal(b, u0->rec.build_id);
	buf_str(b, ", ");
	da_sb_literal(b, u0->rec.origin);
	buf_str(b, " FROM unnest(gosling_v, ARRAY[");
	pack_array(b, units, n, skip, col_name, 0);
	buf_str(b, "]::text[]");
	for (int k = 0; k < 3; k++) {
		buf_str(b, ", '{");
		pack_array(b, units, n, skip, col_checksum, k);
		buf_str(b, "}'::text[]");
	}
	buf_str(b,
		") WITH ORDINALITY AS r (v, n, c, x, h, k) ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
		"file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
		"chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, execution_ms = EXCLUDED.execution_ms, "
		"build_id = EXCLUDED.build_id, origin = EXCLUDED.origin, failed_statement = NULL, error = NULL;\n");
	if (u0->goose) {
		buf_str(b, "INSERT INTO ");
		buf_str(b, d->names.goose);
		buf_str(b, " (version_id, is_applied) SELECT v, true FROM unnest(gosling_v) v;\n");
	}
	for (size_t j = 0; j < n; j++)
		for (size_t k = 0; !skip[j] && k < units[j].nrechain; k++)
			da_rechain_sql(d, b, units[j].rechain[k].version, units[j].rechain[k].chain);
}
/*
 * units[0, n) but those skip marks as one DO block, one autocommit call: gosling's settings
 * and the run lock's transaction lock; the block's history rows read again under it (rows
 * another run wrote meanwhile: SKIPS_STATE, "gosling skipped V ...", their versions, and
 * nothing ran, so the caller marks them and sends the rest); then each unit's statements in
 * order, its time into gosling_e; then the rows.  An error names the unit (1-based among
 * those sent) and the statement.
 */
static bool
pack_run(struct da_state *d, const struct db_unit *units, size_t n, const bool *skip, int64_t deadline_ms,
	 struct rdsdata_status *st)
{
	struct buf b = { 0 };
	struct rdsdata_statement s = { 0 };
	struct rdsdata_result r;
	bool ok;

	buf_str(&b,
		"DO $gosling$ DECLARE gosling_u int := 0; gosling_i int := 0; gosling_n int := 0; "
		"gosling_t0 timestamptz; gosling_e bigint[] := '{}'; "
		"gosling_st text; gosling_m text; gosling_d text; gosling_h text; gosling_skip text;\n"
		"gosling_v bigint[] := '{");
	pack_array(&b, units, n, skip, col_version, 0);
	buf_str(&b, "}';\ngosling_c int[] := '{");
	pack_array(&b, units, n, skip, col_count, 0);
	buf_str(&b, "}';\ngosling_q text[] := ARRAY[");
	pack_array(&b, units, n, skip, col_statements, 0);
	buf_str(&b, "]::text[];\nBEGIN\nPERFORM ");
	da_settings_sql(d, &b, deadline_ms);
	buf_str(&b, ";\nSELECT pg_catalog.string_agg(v::text, ' ') INTO gosling_skip FROM unnest(gosling_v) v WHERE ");
	buf_str(&b, units[0].down ? "NOT " : "");
	buf_str(&b, "EXISTS (SELECT 1 FROM ");
	buf_str(&b, d->names.history);
	buf_str(&b,
		" h WHERE h.version = v AND h.failed_statement IS NULL);\n"
		"IF gosling_skip IS NOT NULL THEN RAISE EXCEPTION USING ERRCODE = '" SKIPS_STATE "', "
		"MESSAGE = 'gosling skipped ' || gosling_skip; END IF;\n"
		"BEGIN\n"
		"WHILE gosling_u < pg_catalog.cardinality(gosling_c) LOOP\n"
		"gosling_u := gosling_u + 1; gosling_i := 0; gosling_t0 := pg_catalog.clock_timestamp();\n"
		"WHILE gosling_i < gosling_c[gosling_u] LOOP\n"
		"gosling_i := gosling_i + 1; gosling_n := gosling_n + 1; EXECUTE gosling_q[gosling_n];\n"
		"END LOOP;\n"
		"gosling_e[gosling_u] := (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - gosling_t0) "
		"* 1000)::bigint;\n"
		"END LOOP;\n"
		"gosling_i := 0;\n");
	pack_records(d, &b, units, n, skip);
	do_tail(&b, NULL);
	if (b.failed) {
		buf_free(&b);
		memset(st, 0, sizeof *st);
		st->code = RDSDATA_OTHER;
		snprintf(st->message, sizeof st->message, "out of memory building the call");
		return false;
	}
	s.sql = b.p;
	s.once = true;
	s.transaction_id = d->run_tx[0] ? d->run_tx : NULL; /* an atomic run's */
	ok = da_exec(d, &s, deadline_ms, &r, st);
	if (ok)
		rdsdata_result_free(&r);
	buf_free(&b);
	return ok;
}

/* the index in units[0, n) of the u-th (1-based) unit skip does not mark; n when there is none */
static size_t
pack_index(const bool *skip, size_t n, uint32_t u)
{
	for (size_t j = 0; j < n; j++)
		if (!skip[j] && --u == 0)
			return j;
	return n;
}

/* the index of the last unit skip does not mark in units[0, n), one at least being so */
static size_t
pack_last(const bool *skip, size_t n)
{
	while (n > 1 && skip[n - 1])
		n--;
	return n - 1;
}

/* Mark the units of "gosling skipped V ..." (SKIPS_STATE's message) in skip, saying so. */
static void
pack_skip(const struct db_unit *units, size_t n, bool *skip, const char *message)
{
	const char *p = strstr(message, "gosling skipped");
	char *end;

	for (p = p ? p + 15 : ""; *p == ' '; p = end) {
		long long v = strtoll(p + 1, &end, 10);

		for (size_t j = 0; j < n; j++) {
			if (skip[j] || units[j].rec.version != v)
				continue;
			skip[j] = true;
			log_warn("version %lld: %s by another run meanwhile; not run again", v,
				 units[j].down ? "rolled back" : "applied");
		}
	}
}

/*
 * Units [cur->unit, cur->unit + n) as one DO block.  A unit that fails rolls back the units
 * before it in the block: they are sent again (without it) before its failure is reported.
 */
static bool
pack_units(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms,
	   void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	   struct db_batch_failure *f)
{
	const struct db_unit *block = &units[cur->unit];
	size_t first = cur->unit, j;
	int64_t t0 = clock_now_ms();
	struct rdsdata_status st;
	uint32_t unit = 0, statement = 0;
	struct db_error e, e2;
	bool ok = true, landed = false, skip[PACK_MAX] = { false };
	int tries = 0;

	while (pack_index(skip, n, 1) < n && !(ok = pack_run(d, block, n, skip, deadline_ms, &st)) &&
	       tries++ < UNIT_RESTARTS) {
		if (st.code == RDSDATA_DATABASE && strcmp(st.sqlstate, SKIPS_STATE) == 0) {
			/* another run applied some meanwhile: the block again without them */
			pack_skip(block, n, skip, st.message);
			ok = true; /* all of them, perhaps: nothing left to send */
			continue;
		}
		if (!answer_lost(&st) || past(deadline_ms))
			break;
		/* the block re-reads its history rows under the key's lock: sent again, nothing runs twice */
		if (!unit_landed(d, &block[pack_last(skip, n)], &landed, &e2) || landed)
			break;
		log_warn("running the migrations: %s, and the history shows they did not commit: sending them again",
			 st.message);
	}
	if (!ok && st.code != RDSDATA_DATABASE) {
		/* one transaction: its last unit's row says whether it committed */
		da_error_of(&st, "running the migrations", &e);
		if (!unit_landed(d, &block[pack_last(skip, n)], &landed, &e2) || !landed) {
			f->unit = first;
			f->err = e;
			unnamed(f);
			return false;
		}
		log_warn("%s, but the history shows the %zu migrations committed", e.message, n);
	} else if (!ok) {
		da_error_of(&st, "running the migrations", &e);
		statement = error_statement(&e, &unit);
		if ((j = pack_index(skip, n, unit)) == n)
			j = pack_index(skip, n, 1);
		if (pack_index(skip, j, 1) < j && !pack_run(d, block, j, skip, deadline_ms, &st)) {
			da_error_of(&st, "running the migrations again", &f->err);
			f->statement = error_statement(&f->err, &unit);
			f->unit = first + (pack_index(skip, j, unit) < j ? pack_index(skip, j, unit) : 0);
			return false;
		}
		for (size_t k = 0; k < j; k++)
			done(first + k, skip[k] ? -1 : (clock_now_ms() - t0) / (int64_t)(j + 1), arg);
		f->unit = first + j;
		f->statement = statement;
		f->err = e;
		unnamed(f);
		cur->unit = f->unit;
		return false;
	}
	for (size_t k = 0; k < n; k++)
		done(first + k, skip[k] ? -1 : (clock_now_ms() - t0) / (int64_t)n, arg);
	cur->unit = first + n;
	cur->statement = 0;
	cur->last_end_ms = clock_now_ms();
	return true;
}

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
	enum unit_outcome out = UNIT_RESTART;

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
	if (pack_count(d, u, nunits - cur->unit) >= 2)
		return pack_units(d, units, pack_count(d, u, nunits - cur->unit), deadline_ms, done, arg, cur, f);
	for (int restarts = 0; out == UNIT_RESTART && restarts <= UNIT_RESTARTS; restarts++) {
		if (restarts)
			log_warn("version %lld: the Data API lost its transaction (TransactionNotFoundException): "
				 "running it again",
				 (long long)u->rec.version);
		out = unit_try(d, u, deadline_ms, &statement, &e);
	}
	if (out == UNIT_RESTART) {
		da_error_set(&e, "%s",
			     "the Data API lost the transaction again and again (TransactionNotFoundException)");
		out = UNIT_FAILED;
	}
	if (out == UNIT_FAILED) {
		f->unit = cur->unit;
		f->statement = statement;
		f->err = e;
		unnamed(f);
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
static enum unit_outcome
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
	if (!unit_landed(d, &units[nunits - 1], &landed, &e2)) {
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

/*
 * Units [0, n) as one DO block in the atomic run's transaction; on failure *at is the unit
 * that failed (its statement in *statement, 0 = gosling's own) or was found done.
 */
static enum unit_outcome
atomic_block(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms, size_t *at,
	     uint32_t *statement, struct db_error *err)
{
	bool skip[PACK_MAX] = { false };
	struct rdsdata_status st;
	uint32_t unit = 0;

	*statement = 0;
	if (pack_run(d, units, n, skip, deadline_ms, &st))
		return UNIT_DONE;
	if (st.code == RDSDATA_TXN_NOT_FOUND)
		return UNIT_RESTART;
	da_error_of(&st, "running the migrations", err);
	if (st.code != RDSDATA_DATABASE)
		return UNIT_FAILED; /* the transaction is rolled back: nothing of it can have committed */
	if (strcmp(st.sqlstate, SKIPS_STATE) == 0) {
		pack_skip(units, n, skip, st.message);
		for (*at = 0; *at + 1 < n && !skip[*at]; (*at)++)
			;
		return UNIT_SKIPPED;
	}
	*statement = error_statement(err, &unit);
	*at = unit >= 1 && unit <= n ? unit - 1 : 0;
	return UNIT_FAILED;
}

/* One try of an atomic run: BeginTransaction, units [cur->unit, nunits) in it, CommitTransaction. */
static enum unit_outcome
atomic_try(struct da_state *d, const struct db_unit *units, size_t nunits, int64_t deadline_ms,
	   void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	   struct db_batch_failure *f)
{
	struct rdsdata_status st;
	enum unit_outcome out = UNIT_DONE;

	if (!da_begin_tx(d, deadline_ms, d->run_tx, &st)) {
		d->run_tx[0] = '\0';
		da_error_of(&st, "BEGIN", &f->err);
		f->unit = cur->unit;
		return UNIT_FAILED;
	}
	for (size_t k = cur->unit, n; k < nunits; k += n) {
		int64_t t0 = clock_now_ms();
		size_t at = 0;

		n = pack_count(d, &units[k], nunits - k);
		/* the lease is renewed outside the transaction: no call overlaps another in it */
		if (!da_lease_renew(d, &f->err))
			out = UNIT_FAILED;
		else if (n >= 2)
			out = atomic_block(d, &units[k], n, deadline_ms, &at, &f->statement, &f->err);
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
	enum unit_outcome out = UNIT_RESTART;

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
