/* dataapi_blocks.c - the Data API transport's blocks: consecutive migrations as one lean DO block. */
#include "dataapi_impl.h"

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
	for (size_t k = 0; k < u->nrechain; k++)
		c += 64 + strlen(d->names.history) + da_literal_chars(u->rechain[k].chain);
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
size_t
da_pack_count(struct da_state *d, const struct db_unit *units, size_t n)
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

/* the block's history rows of up units: one INSERT from its arrays (and goose's rows) */
static void
pack_insert(struct da_state *d, struct buf *b, const struct db_unit *units, size_t n, const bool *skip)
{
	const struct db_unit *u0 = &units[0];

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
	buf_str(b, ") WITH ORDINALITY AS r (v, n, c, x, h, k)" DA_HISTORY_UPSERT ";\n");
	if (u0->goose) {
		buf_str(b, "INSERT INTO ");
		buf_str(b, d->names.goose);
		buf_str(b, " (version_id, is_applied) SELECT v, true FROM unnest(gosling_v) v;\n");
	}
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
	} else {
		pack_insert(d, b, units, n, skip);
	}
	/* rows above a version put in or taken out of the middle (out of order), in the units' order */
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
	da_do_tail(&b, NULL);
	if (b.failed) {
		buf_free(&b);
		da_status_oom(st);
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
bool
da_pack_units(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms,
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
		if (!da_answer_lost(&st) || da_past(deadline_ms))
			break;
		/* the block re-reads its history rows under the key's lock: sent again, nothing runs twice */
		if (!da_unit_landed(d, &block[pack_last(skip, n)], &landed, &e2) || landed)
			break;
		log_warn("running the migrations: %s, and the history shows they did not commit: sending them again",
			 st.message);
	}
	if (!ok && st.code != RDSDATA_DATABASE) {
		/* one transaction: its last unit's row says whether it committed */
		da_error_of(&st, "running the migrations", &e);
		if (!da_unit_landed(d, &block[pack_last(skip, n)], &landed, &e2) || !landed) {
			f->unit = first;
			f->err = e;
			da_unnamed(f);
			return false;
		}
		log_warn("%s, but the history shows the %zu migrations committed", e.message, n);
	} else if (!ok) {
		da_error_of(&st, "running the migrations", &e);
		statement = da_error_statement(&e, &unit);
		if ((j = pack_index(skip, n, unit)) == n)
			j = pack_index(skip, n, 1);
		if (pack_index(skip, j, 1) < j && !pack_run(d, block, j, skip, deadline_ms, &st)) {
			da_error_of(&st, "running the migrations again", &f->err);
			f->statement = da_error_statement(&f->err, &unit);
			f->unit = first + (pack_index(skip, j, unit) < j ? pack_index(skip, j, unit) : 0);
			return false;
		}
		for (size_t k = 0; k < j; k++)
			done(first + k, skip[k] ? -1 : (clock_now_ms() - t0) / (int64_t)(j + 1), arg);
		f->unit = first + j;
		f->statement = statement;
		f->err = e;
		da_unnamed(f);
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

/*
 * Units [0, n) as one DO block in the atomic run's transaction; on failure *at is the unit
 * that failed (its statement in *statement, 0 = gosling's own) or was found done.
 */
enum da_unit_outcome
da_pack_atomic(struct da_state *d, const struct db_unit *units, size_t n, int64_t deadline_ms, size_t *at,
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
	*statement = da_error_statement(err, &unit);
	*at = unit >= 1 && unit <= n ? unit - 1 : 0;
	return UNIT_FAILED;
}
