/*
 * db_batch.c - many transactional migrations in one simple query (see db.h, struct
 * db_unit), built within BATCH_CAP bytes and read back result by result so an error
 * is attributed to its migration, statement and line; the pages of the bundle's text
 * a batch sent are released.  Also the cleanup of an index a failed CREATE INDEX
 * CONCURRENTLY left INVALID.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "db_impl.h"

/*
 * A batch holds at most this many bytes of SQL (one unit larger than this goes alone).
 * Each byte is held four times at once: the batch text, libpq's copy of the query (kept
 * for its error reports) and its output buffer, which grows by doubling.  256 KiB keeps
 * that near 1 MB of the 16 MB budget; a round trip per 256 KiB costs little more than
 * sending them (10,000 small migrations: about 45 batches).
 */
#define BATCH_CAP (256 * 1024)

static const char *sent_text; /* db_text_sent */
static size_t sent_len;

void
db_text_sent(const char *text, size_t len)
{
	sent_text = text;
	sent_len = text ? len : 0;
}

/* Is res one of the batch's markers (its first column is gosling_unit)? Then its values. */
static bool
marker_read(const PGresult *res, size_t *unit, int64_t *end_ms, int64_t *start_ms)
{
	if (PQntuples(res) != 1 || PQnfields(res) < 3 || strcmp(PQfname(res, 0), "gosling_unit") != 0)
		return false;
	*unit = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	*end_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	*start_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	return true;
}

/* --- batches -------------------------------------------------------------- */

/* What each result of the batch string is. */
enum slot_kind {
	SLOT_BEGIN,
	SLOT_STATEMENT, /* one command of a goose statement */
	SLOT_CHECK,	/* SAVEPOINT: fails unless still in the unit's own transaction */
	SLOT_RECORD,	/* history and goose rows, re-chaining */
	SLOT_MARKER,	/* SELECT <unit> AS gosling_unit, times, gosling's settings */
	SLOT_COMMIT,
};

struct slot {
	uint32_t unit;
	uint32_t statement; /* 1-based goose statement, 0 = bookkeeping */
	enum slot_kind kind;
};

/* A statement's place in the batch text, in characters (PostgreSQL's error positions count them). */
struct span {
	size_t start, end;
	uint32_t unit, statement;
};

struct db_batch {
	struct buf text; /* freed once libpq holds the query */
	size_t chars;	 /* characters in text */
	bool failed;	 /* sticky: out of memory while building */
	struct slot *slots;
	size_t nslots, slotcap;
	size_t *marker; /* per unit: index of its marker slot */
	struct span *spans;
	size_t nspans, spancap;
	const struct db_unit *units;
	size_t nunits;
	bool atomic;		   /* all units in one transaction (db_batch_new) */
	struct db_cursor from, to; /* where it starts and where the next batch starts */
};

static void
batch_append(struct db_batch *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	buf_add(&b->text, s, n);
	if ((b->failed = b->text.failed))
		return;
	for (size_t i = 0; i < n; i++)
		b->chars += ((unsigned char)s[i] & 0xC0) != 0x80;
}

static void
batch_str(struct db_batch *b, const char *s)
{
	batch_append(b, s, strlen(s));
}

/* Append a properly escaped literal (PQescapeLiteral knows the connection's encoding). */
static void
batch_literal(struct db_batch *b, PGconn *conn, const char *s)
{
	char *lit;

	if (!s) {
		batch_str(b, "NULL");
		return;
	}
	lit = PQescapeLiteral(conn, s, strlen(s));
	if (!lit) {
		b->failed = true;
		return;
	}
	batch_str(b, lit);
	PQfreemem(lit);
}

static void
batch_slot(struct db_batch *b, uint32_t unit, uint32_t statement, enum slot_kind kind)
{
	if (b->failed)
		return;
	if (!db_grow((void **)&b->slots, &b->slotcap, b->nslots, sizeof *b->slots)) {
		b->failed = true;
		return;
	}
	b->slots[b->nslots++] = (struct slot){ unit, statement, kind };
}

static void
batch_span(struct db_batch *b, size_t start, size_t end, uint32_t unit, uint32_t statement)
{
	if (b->failed)
		return;
	if (!db_grow((void **)&b->spans, &b->spancap, b->nspans, sizeof *b->spans)) {
		b->failed = true;
		return;
	}
	b->spans[b->nspans++] = (struct span){ start, end, unit, statement };
}

/* ms from anchor to now, by the server's clock */
#define ELAPSED_SINCE(anchor) \
	"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - " anchor ") * 1000)::bigint"
#define EPOCH_MS(t) "(pg_catalog.date_part('epoch', " t ") * 1000)::bigint"

/*
 * The bookkeeping of unit u after its statements: a SAVEPOINT that fails unless
 * the migration left gosling's transaction open (a COMMIT or ROLLBACK among its
 * statements), its history row, goose's row, re-chaining, then the marker.
 *
 * Nothing here reads a session variable a migration could change or clear: the
 * unit's execution time runs from the previous unit's history row (committed
 * before it) or, for the first unit, from the start of the query holding its BEGIN
 * (transaction_timestamp: every transaction of one simple query shares it).
 */
static void
batch_bookkeeping(struct db_batch *b, PGconn *conn, const struct db_names *n, const struct db_session *session,
		  uint32_t u)
{
	const struct db_unit *un = &b->units[u];
	const struct db_record *r = &un->rec;
	char num[64], session_sql[SETTINGS_SQL_MAX];

	batch_str(b, "SAVEPOINT gosling_check;\n");
	batch_slot(b, u, 0, SLOT_CHECK);
	if (b->atomic) {
		/* one transaction: savepoints left open would nest a subtransaction per unit */
		batch_str(b, "RELEASE SAVEPOINT gosling_check;\n");
		batch_slot(b, u, 0, SLOT_CHECK);
	}
	snprintf(num, sizeof num, "%lld", (long long)r->version);
	if (un->down) {
		batch_str(b, "DELETE FROM ");
		batch_str(b, n->history);
		batch_str(b, " WHERE version = ");
		batch_str(b, num);
		batch_str(b, ";\n");
		batch_slot(b, u, 0, SLOT_RECORD);
		if (un->goose) {
			batch_str(b, "DELETE FROM ");
			batch_str(b, n->goose);
			batch_str(b, " WHERE version_id = ");
			batch_str(b, num);
			batch_str(b, ";\n");
			batch_slot(b, u, 0, SLOT_RECORD);
		}
	} else {
		batch_str(b, "INSERT INTO ");
		batch_str(b, n->history);
		batch_str(b,
			  " (version, name, file_checksum, exec_checksum, chain, applied_at, "
			  "execution_ms, build_id, origin) VALUES (");
		batch_str(b, num);
		batch_str(b, ", ");
		batch_literal(b, conn, r->name);
		batch_str(b, ", ");
		batch_literal(b, conn, r->file_checksum);
		batch_str(b, ", ");
		batch_literal(b, conn, r->exec_checksum);
		batch_str(b, ", ");
		batch_literal(b, conn, r->chain);
		batch_str(b, ", pg_catalog.clock_timestamp(), ");
		if (u > 0 && !b->units[u - 1].down) {
			char prev[64];

			snprintf(prev, sizeof prev, "%lld", (long long)b->units[u - 1].rec.version);
			batch_str(b,
				  "(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - "
				  "coalesce((SELECT applied_at FROM ");
			batch_str(b, n->history);
			batch_str(b, " WHERE version = ");
			batch_str(b, prev);
			batch_str(b, "), pg_catalog.transaction_timestamp())) * 1000)::bigint");
		} else {
			batch_str(b, ELAPSED_SINCE("pg_catalog.transaction_timestamp()"));
		}
		batch_str(b, ", ");
		batch_literal(b, conn, r->build_id);
		batch_str(b, ", ");
		batch_literal(b, conn, r->origin);
		batch_str(b,
			  ") ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
			  "file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
			  "chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "
			  "execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, "
			  "origin = EXCLUDED.origin, failed_statement = NULL, error = NULL;\n");
		batch_slot(b, u, 0, SLOT_RECORD);
		if (un->goose) {
			batch_str(b, "INSERT INTO ");
			batch_str(b, n->goose);
			batch_str(b, " (version_id, is_applied) VALUES (");
			batch_str(b, num);
			batch_str(b, ", true);\n");
			batch_slot(b, u, 0, SLOT_RECORD);
		}
	}
	for (size_t c = 0; c < un->nrechain; c++) {
		snprintf(num, sizeof num, "%lld", (long long)un->rechain[c].version);
		batch_str(b, "UPDATE ");
		batch_str(b, n->history);
		batch_str(b, " SET chain = ");
		batch_literal(b, conn, un->rechain[c].chain);
		batch_str(b, " WHERE version = ");
		batch_str(b, num);
		batch_str(b, ";\n");
		batch_slot(b, u, 0, SLOT_RECORD);
	}
	/*
	 * The marker: which unit this is (results are attributed by it, whatever a
	 * statement's command count said), the server's clock, and gosling's settings
	 * again, so a SET or RESET ALL in this migration does not reach the next one.
	 */
	db_settings_sql(session_sql, sizeof session_sql, conn, session);
	snprintf(num, sizeof num, "SELECT %u AS gosling_unit, ", u);
	batch_str(b, num);
	batch_str(b, EPOCH_MS("pg_catalog.clock_timestamp()") ", " EPOCH_MS("pg_catalog.transaction_timestamp()") ", ");
	batch_str(b, session_sql);
	batch_str(b, ";\n");
	if (!b->failed)
		b->marker[u] = b->nslots;
	batch_slot(b, u, 0, SLOT_MARKER);
	if (b->atomic && u + 1 < b->nunits)
		return; /* atomic: the one COMMIT comes after the last unit */
	batch_str(b, "COMMIT;\n");
	batch_slot(b, u, 0, SLOT_COMMIT);
}

/*
 * Whether statement s of un goes in a query of its own: PostgreSQL parses a whole
 * simple query before running any of it, so a statement its parser may refuse
 * (one goslingc could not check) would leave every migration sharing its query
 * not attempted.
 */
static bool
statement_alone(const struct db_unit *un, uint32_t s)
{
	return (un->stmts[s].flags & STMT_UNCHECKED) != 0;
}

/* Bytes a statement takes in the batch. */
static size_t
statement_bytes(const struct db_unit *un, uint32_t s)
{
	return strlen(un->sql[s]) + 3;
}

struct db_batch *
db_batch_new(PGconn *conn, const struct db_names *n, const struct db_session *session, const struct db_unit *units,
	     size_t nunits, bool atomic, const struct db_cursor *from, struct db_error *err)
{
	struct db_batch *b = calloc(1, sizeof *b);
	size_t u = from->unit, want = 4096;
	uint32_t s = from->statement;
	bool empty = true; /* no statement in this batch yet */

	if (!b || !(b->marker = calloc(nunits + 1, sizeof *b->marker))) {
		free(b);
		db_error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	b->units = units;
	b->nunits = nunits;
	b->atomic = atomic;
	b->from = *from;
	/* the text in one allocation, sized for what fits (a statement longer than the cap goes alone) */
	for (size_t v = u; v < nunits && want < BATCH_CAP; v++)
		for (uint32_t t = v == u ? s : 0; t < units[v].nstmts && want < BATCH_CAP; t++)
			want += statement_bytes(&units[v], t) + (t == 0 ? 2048 : 0);
	if (!buf_reserve(&b->text, want + 2047)) {
		db_batch_free(b);
		db_error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	b->text.p[0] = '\0';
	/*
	 * Statements up to BATCH_CAP bytes of text, at least one: memory stays bounded and
	 * round trips are O(bytes / cap).  A batch may end inside a migration: its
	 * transaction stays open and the next batch goes on with its next statement.
	 */
	while (u < nunits) {
		const struct db_unit *un = &units[u];

		if (s == 0) {
			if (!empty && un->nstmts > 0 &&
			    (b->text.len + statement_bytes(un, 0) > BATCH_CAP || statement_alone(un, 0)))
				break;
			/* nothing between BEGIN and the first statement: SET TRANSACTION ... must come first */
			if (!atomic || u == 0) {
				batch_str(b, "BEGIN;\n");
				batch_slot(b, (uint32_t)u, 0, SLOT_BEGIN);
			}
		}
		for (; s < un->nstmts; s++) {
			size_t start = b->chars;

			if (!empty && (b->text.len + statement_bytes(un, s) > BATCH_CAP || statement_alone(un, s)))
				goto full;
			empty = false;
			batch_str(b, un->sql[s]);
			batch_span(b, start, b->chars, (uint32_t)u, s + 1);
			/* a statement may end in a comment, or lack its ';': an empty command costs nothing */
			batch_str(b, "\n;\n");
			for (uint32_t c = 0; c < un->stmts[s].ncommands; c++)
				batch_slot(b, (uint32_t)u, s + 1, SLOT_STATEMENT);
			/* the query ends after it (after its migration's COMMIT, when it is the last) */
			if (statement_alone(un, s) && s + 1 < un->nstmts) {
				s++;
				goto full;
			}
		}
		batch_bookkeeping(b, conn, n, session, (uint32_t)u);
		u++;
		s = 0;
		if (b->text.len >= BATCH_CAP || (un->nstmts > 0 && statement_alone(un, un->nstmts - 1)))
			break;
	}
full:
	b->to = (struct db_cursor){ u, s, -1 };
	if (b->failed) {
		db_batch_free(b);
		db_error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	return b;
}

void
db_batch_free(struct db_batch *b)
{
	if (!b)
		return;
	buf_free(&b->text);
	free(b->slots);
	free(b->marker);
	free(b->spans);
	free(b);
}

/* Attribute an error: by its position in the text when PostgreSQL gives one, else by its slot. */
static void
batch_attribute(const struct db_batch *b, size_t slot, struct db_batch_failure *f)
{
	const struct slot *sl = slot < b->nslots ? &b->slots[slot] : b->nslots ? &b->slots[b->nslots - 1] : NULL;

	f->unit = sl ? sl->unit : 0;
	f->statement = sl && sl->kind == SLOT_STATEMENT ? sl->statement : 0;
	f->line_offset = 0;
	if (f->err.position <= 0)
		return;
	for (size_t i = 0; i < b->nspans; i++) {
		const struct span *sp = &b->spans[i];
		size_t at = (size_t)f->err.position - 1;

		if (at >= sp->start && at < sp->end) {
			const char *sql = b->units[sp->unit].sql[sp->statement - 1];
			size_t off = db_char_to_byte(sql, strlen(sql), (int)(at - sp->start) + 1);

			f->unit = sp->unit;
			f->statement = sp->statement;
			for (size_t j = 0; j < off; j++)
				f->line_offset += sql[j] == '\n';
			/* the position was the whole batch's; now it is a byte within the statement */
			f->err.position = (int)off + 1;
			return;
		}
	}
}

/* A command tag that ends or prepares the transaction a migration runs in. */
static bool
ends_transaction(const char *tag)
{
	return strcmp(tag, "COMMIT") == 0 || strcmp(tag, "ROLLBACK") == 0 || strcmp(tag, "PREPARE TRANSACTION") == 0;
}

/*
 * The pages of the bundle's text that hold only statements b sent: libpq has its
 * copy, so they go from the process (MADV_DONTNEED on a private file mapping that
 * was never written: a later read maps the file's page again).  An up of 10,000
 * migrations would otherwise keep all of their text resident to the end.
 */
static void
release_sent_text(const struct db_batch *b)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, page = (uintptr_t)sysconf(_SC_PAGESIZE);

	if (!sent_text || page == 0 || page == (uintptr_t)-1)
		return;
	for (size_t u = b->from.unit; u < b->nunits && u <= b->to.unit; u++) {
		const struct db_unit *un = &b->units[u];
		uint32_t first = u == b->from.unit ? b->from.statement : 0;
		uint32_t end = u == b->to.unit ? b->to.statement : un->nstmts;

		for (uint32_t s = first; s < end && s < un->nstmts; s++) {
			uintptr_t p = (uintptr_t)un->stmts[s].sql;

			if (p < (uintptr_t)sent_text || p + un->stmts[s].len >= (uintptr_t)sent_text + sent_len)
				continue;
			lo = p < lo ? p : lo;
			hi = p + un->stmts[s].len + 1 > hi ? p + un->stmts[s].len + 1 : hi;
		}
	}
	lo = (lo + page - 1) / page * page; /* whole pages inside [lo, hi) only */
	hi = hi / page * page;
	if (lo < hi)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

bool
db_batch_run(PGconn *conn, struct db_batch *b, int64_t deadline_ms, void (*done)(size_t unit, int64_t ms, void *arg),
	     void *arg, struct db_cursor *cur, struct db_batch_failure *f)
{
	struct waiter w = db_waiter_until(deadline_ms);
	struct db_error e;
	size_t slot = 0, marked = SIZE_MAX;
	bool failed = false;
	int64_t prev_end = cur->last_end_ms, end = -1;
	PGresult *res;

	memset(f, 0, sizeof *f);
	if (!PQsendQuery(conn, b->text.p)) {
		db_error_from_conn(&f->err, conn);
		return false;
	}
	(void)PQsetSingleRowMode(conn); /* a statement's rows are read one by one and dropped */
	/* libpq holds the query now: one copy of it is enough */
	buf_free(&b->text);
	release_sent_text(b);
	for (;;) {
		ExecStatusType st;
		size_t unit;
		int64_t start;

		if (!db_wait_ready(conn, &w, &e))
			goto broken;
		if (!(res = PQgetResult(conn)))
			break;
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR) {
			if (!failed) {
				db_error_from_result(&f->err, res);
				batch_attribute(b, slot, f);
				if (f->txn_control[0] && f->txn_unit == f->unit && f->statement == 0)
					f->statement = f->txn_statement;
				failed = true;
			}
			slot++;
		} else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
			/* the COPY's own result follows: this one takes no slot */
			PQclear(res);
			if (!db_copy_finish(conn, st, &w, &e))
				goto broken;
			continue;
		} else if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) &&
			   marker_read(res, &unit, &end, &start) && unit < b->nunits) {
			/* the marker says where we are, whatever the command counts said */
			marked = unit;
			slot = b->marker[unit];
			if (prev_end < 0)
				prev_end = start;
			if (b->atomic && !failed && done) {
				/* its work is done, nothing is committed yet */
				done(unit, end - prev_end, arg);
				prev_end = end;
			}
			if (st == PGRES_TUPLES_OK)
				slot++;
		} else if (st != PGRES_SINGLE_TUPLE) {
			const struct slot *sl = slot < b->nslots ? &b->slots[slot] : NULL;

			if (sl && sl->kind == SLOT_STATEMENT && ends_transaction(PQcmdStatus(res)) &&
			    !f->txn_control[0]) {
				snprintf(f->txn_control, sizeof f->txn_control, "%s", PQcmdStatus(res));
				f->txn_unit = sl->unit;
				f->txn_statement = sl->statement;
			}
			if (sl && sl->kind == SLOT_COMMIT && sl->unit == marked && !failed && done && !b->atomic) {
				done(sl->unit, end - prev_end, arg);
				prev_end = end;
			}
			slot++;
		}
		PQclear(res);
	}
	if (failed) {
		/* the failed unit's transaction is aborted: close it; earlier COMMITs stand */
		db_rollback(conn);
		return false;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		db_error_from_conn(&f->err, conn);
		batch_attribute(b, slot, f);
		return false;
	}
	*cur = b->to;
	cur->last_end_ms = prev_end;
	return true;
broken:
	if (!failed) {
		f->err = e;
		batch_attribute(b, slot, f);
		/* no result came: which statement was running is not known, nor which migration of the batch */
		f->statement = 0;
		f->lost = true;
		f->last_unit = b->to.statement ? b->to.unit : b->to.unit - 1;
	}
	db_drain(conn, &w);
	db_rollback(conn);
	return false;
}

/* --- an index a failed CREATE INDEX CONCURRENTLY left ---------------------------- */

bool
db_index_invalid(PGconn *conn, const struct db_index_target *t, char *schema, size_t schemalen, char *name,
		 size_t namelen, bool *found, bool *building, struct db_error *err)
{
	const char *params[] = { t->table, t->name };
	char sql[1024];
	PGresult *res;

	*found = *building = false;
	/*
	 * to_regclass resolves both as the statement does (search_path; an index lives in its
	 * table's schema) and folds them as the parser would: unquoted to lower case, cut to 63
	 * bytes.  Only an INVALID index of that table counts, and a backend building it now
	 * (pg_stat_progress_create_index, PostgreSQL 12 and later) makes it not ours to drop.
	 */
	snprintf(
		sql, sizeof sql,
		"SELECT n.nspname, c.relname, %s FROM pg_catalog.pg_index i "
		"JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE i.indrelid = pg_catalog.to_regclass($1) AND NOT i.indisvalid "
		"AND c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(n.nspname) || '.' || $2)",
		PQserverVersion(conn) >= 120000
			? "EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = c.oid)"
			: "false");
	if (!db_query_run(conn, "the INVALID index lookup", sql, 2, params, SHAPE_ROWS(3), &res, err))
		return false;
	if (PQntuples(res) == 1) {
		*found = true;
		*building = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		snprintf(schema, schemalen, "%s", PQgetvalue(res, 0, 0));
		snprintf(name, namelen, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return true;
}

bool
db_index_drop(PGconn *conn, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err)
{
	char *qs = PQescapeIdentifier(conn, schema, strlen(schema)), *qn = PQescapeIdentifier(conn, name, strlen(name));
	char sql[512];
	bool ok = false;

	if (!qs || !qn) {
		db_error_from_conn(err, conn);
		goto out;
	}
	snprintf(sql, sizeof sql, "DROP INDEX CONCURRENTLY IF EXISTS %s.%s", qs, qn);
	/* a migration statement's bounds: it waits for the transactions using the table, as the CREATE did */
	ok = db_migration_statement(conn, sql, deadline_ms, err);
	err->position = 0;
out:
	PQfreemem(qs);
	PQfreemem(qn);
	return ok;
}
