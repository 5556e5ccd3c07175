/*
 * lint.c - the safety lint over libpg_query's parse tree, as protobuf-c structs (see lint.h).
 *
 * Locks, in short (PostgreSQL 15, "Explicit Locking" and ALTER TABLE's notes):
 * most ALTER TABLE forms take ACCESS EXCLUSIVE, which waits behind every open
 * transaction on the table and makes every later query on it wait in turn; so a
 * statement that scans or rewrites the table under it blocks traffic for the
 * whole scan.  CREATE INDEX takes SHARE (reads go on, writes wait); the
 * CONCURRENTLY forms and VALIDATE CONSTRAINT take SHARE UPDATE EXCLUSIVE, which
 * lets reads and writes through.  In a transactional migration every lock is
 * held until COMMIT, so what comes after a strong lock in the same file runs
 * under it too.
 */
#include "lint.h"

#include "diag.h"
#include "emit.h"
#include "fatal.h"
#include "lexer.h"
#include "pfile.h"

#include <pg_query.pb-c.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum rule_id {
	R_INDEX,
	R_DROP_INDEX,
	R_NOT_VALID,
	R_VALIDATE_TX,
	R_SET_NOT_NULL,
	R_TYPE,
	R_VOLATILE,
	R_NOT_NULL,
	R_RENAME_TABLE,
	R_RENAME_COLUMN,
	R_DROP_TABLE,
	R_DROP_COLUMN,
	R_UNIQUE,
	R_ENUM,
	R_VACUUM_FULL,
	R_CLUSTER,
	R_IDENTITY,
	R_LOCK_TIMEOUT,
	R_COUNT
};

/* The "why" reads after "<what the statement does>: "; the fix is the hint. */
const struct lint_rule lint_rules[] = {
	[R_INDEX] = { "index-not-concurrent",
		"the build holds a SHARE lock on the table, so every INSERT, UPDATE and DELETE waits until the "
		"index is built",
		"CREATE INDEX CONCURRENTLY, alone in a migration marked '-- +goose NO TRANSACTION'" },
	[R_DROP_INDEX] = { "drop-index-not-concurrent",
		"it takes ACCESS EXCLUSIVE on the index's table: it queues behind every open transaction and every "
		"query on the table queues behind it",
		"DROP INDEX CONCURRENTLY, alone in a migration marked '-- +goose NO TRANSACTION'" },
	[R_NOT_VALID] = { "constraint-not-valid",
		"validating it scans the whole table while holding a lock that blocks writes (ACCESS EXCLUSIVE for "
		"a CHECK)",
		"ADD CONSTRAINT ... NOT VALID now (no scan), then ALTER TABLE ... VALIDATE CONSTRAINT in a later "
		"migration (a scan that lets reads and writes through)" },
	[R_VALIDATE_TX] = { "validate-in-transaction",
		"the ACCESS EXCLUSIVE lock of the ADD is held until COMMIT, so the validation scan runs under it and "
		"NOT VALID gained nothing",
		"VALIDATE CONSTRAINT in a later migration, or mark this one '-- +goose NO TRANSACTION' so the ADD "
		"commits first" },
	[R_SET_NOT_NULL] = { "set-not-null",
		"it scans the whole table under ACCESS EXCLUSIVE to prove there is no NULL, unless a validated "
		"CHECK (col IS NOT NULL) already proves it",
		"ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c in a later migration; then "
		"SET NOT NULL (no scan) and DROP CONSTRAINT c" },
	[R_TYPE] = { "column-type-change",
		"the table and its indexes are rewritten under ACCESS EXCLUSIVE: no reads or writes until it ends",
		"add a column of the new type, backfill it in batches, move readers and writers, drop the old one "
		"(varchar(n) to varchar(m >= n) or text, and numeric(p,s) to numeric(q >= p,s), do not rewrite)" },
	[R_VOLATILE] = { "volatile-default",
		"every existing row needs its own value, so the table is rewritten under ACCESS EXCLUSIVE (a "
		"non-volatile DEFAULT costs no rewrite since PostgreSQL 11)",
		"add the column with no or a constant DEFAULT, SET DEFAULT for new rows, backfill old rows in "
		"batches" },
	[R_NOT_NULL] = { "add-column-not-null",
		"with no DEFAULT every existing row would be NULL, so it fails on any table that has rows",
		"give it a constant DEFAULT, or add it nullable, backfill, and SET NOT NULL through a validated CHECK" },
	[R_RENAME_TABLE] = { "rename-table",
		"clients still running the old code use the old name and fail until they are redeployed",
		"keep the old name working: create the new table or a view under the new name, move clients, then "
		"drop the old name in a later migration" },
	[R_RENAME_COLUMN] = { "rename-column",
		"clients still running the old code use the old name and fail until they are redeployed",
		"add the new column, write both, backfill, move readers, then drop the old column in a later "
		"migration" },
	[R_DROP_TABLE] = { "drop-table",
		"its data is gone and clients still running the old code fail; the ACCESS EXCLUSIVE lock queues "
		"behind every open transaction on it",
		"deploy code that no longer uses the table first; then drop it, with '-- gosling:allow drop-table "
		"<reason>'" },
	[R_DROP_COLUMN] = { "drop-column",
		"its data is gone and clients still running the old code (SELECT * and INSERT included) fail",
		"deploy code that no longer uses the column first; then drop it, with '-- gosling:allow drop-column "
		"<reason>'" },
	[R_UNIQUE] = { "unique-constraint",
		"its index is built under ACCESS EXCLUSIVE: no reads or writes until the build ends",
		"CREATE UNIQUE INDEX CONCURRENTLY in a NO TRANSACTION migration, then ADD CONSTRAINT ... UNIQUE "
		"(or PRIMARY KEY) USING INDEX" },
	[R_ENUM] = { "enum-value-in-transaction",
		"a value added by ALTER TYPE ... ADD VALUE cannot be used before its transaction commits: "
		"PostgreSQL fails the migration (unsafe use of new value)",
		"add the value in a migration of its own (or one marked '-- +goose NO TRANSACTION') and use it in "
		"a later one" },
	[R_VACUUM_FULL] = { "vacuum-full",
		"it rewrites the table under ACCESS EXCLUSIVE: no reads or writes until it ends",
		"plain VACUUM (reads and writes go on), or pg_repack outside migrations" },
	[R_CLUSTER] = { "cluster",
		"it rewrites the table under ACCESS EXCLUSIVE: no reads or writes until it ends",
		"pg_repack --order-by outside migrations, or CLUSTER in a maintenance window" },
	[R_IDENTITY] = { "prefer-identity",
		"serial is a private sequence plus a DEFAULT: grants, ownership and copies of the table (LIKE, "
		"dumps) handle it separately; identity columns are the SQL standard",
		"bigint GENERATED BY DEFAULT AS IDENTITY (or GENERATED ALWAYS AS IDENTITY)" },
	[R_LOCK_TIMEOUT] = { "lock-timeout-off",
		"gosling's lock_timeout is switched off, so a DDL statement queues without bound behind a long "
		"transaction while every query on the table queues behind it",
		"keep gosling's lock_timeout; if a statement must wait longer, SET LOCAL lock_timeout to a finite "
		"value such as '10s'" },
};

const size_t lint_nrules = R_COUNT;

/* ---- what the lint learned ---------------------------------------------- */

struct rel {
	char *schema;		/* NULL when not qualified */
	char *name;
};

/* A column type: its last name (varchar, numeric, text ...) and up to two typmods. */
struct coltype {
	char *name;		/* NULL: not known */
	int nmods;
	long mods[2];
	bool array;
};

struct column {
	struct rel table;
	char *name;
	struct coltype type;
	bool notnull;
};

/* A CHECK (col IS NOT NULL): with it validated, SET NOT NULL needs no scan. */
struct nncheck {
	struct rel table;
	char *conname;		/* may be NULL (unnamed) */
	char *column;
	bool validated;
};

struct func {
	char *name;
	bool nonvolatile;
};

struct allow {
	uint32_t line, col;
	unsigned rule;
	char *reason;
	bool file;		/* before '-- +goose Up' */
	bool used;
};

struct enumval {
	char *value;
	uint32_t line;		/* where ALTER TYPE ... ADD VALUE is */
	bool reported;
};

#define VEC(T) struct { T *v; size_t n, cap; }

struct lint_state {
	/* the bundle: earlier files */
	VEC(struct column) columns;
	VEC(struct nncheck) checks;
	VEC(struct func) funcs;
	/* this migration */
	bool tx;
	VEC(struct rel) tables;		/* created here */
	VEC(struct rel) indexes;	/* created here */
	VEC(struct rel) types;		/* created here */
	VEC(struct nncheck) not_valid;	/* constraints added NOT VALID here (no column) */
	VEC(struct enumval) enums;	/* values added here, in a transaction */
	VEC(struct allow) allows;
};

/* Append: a slot at the end of vector V (doubling), zeroed. */
#define PUSH(V) (((V).n == (V).cap ? ((V).cap = (V).cap ? 2 * (V).cap : 8, \
	(V).v = xrealloc((V).v, (V).cap * sizeof(*(V).v))) : 0), \
	memset(&(V).v[(V).n], 0, sizeof(*(V).v)), &(V).v[(V).n++])

static void rel_free(struct rel *r)
{
	free(r->schema);
	free(r->name);
}

static void rels_clear(struct rel **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		rel_free(&(*v)[i]);
	*n = 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Same relation: same name, and the same schema where both name one. */
static bool rel_eq(const struct rel *a, const struct rel *b)
{
	return str_eq(a->name, b->name) && (!a->schema || !b->schema || strcmp(a->schema, b->schema) == 0);
}

static bool rel_in(const struct rel *v, size_t n, const struct rel *r)
{
	for (size_t i = 0; i < n; i++)
		if (rel_eq(&v[i], r))
			return true;
	return false;
}

/* ---- the parse tree (libpg_query's protobuf, unpacked) ------------------ */

typedef PgQuery__Node Node;

#define IS(n, KIND) ((n) && (n)->node_case == PG_QUERY__NODE__NODE_##KIND)

/* protobuf has no NULL string: an absent one is "" */
static char *str(char *s)
{
	return s && s[0] ? s : NULL;
}

static size_t loc_or(int32_t location, size_t dflt)
{
	return location >= 0 ? (size_t)location : dflt;
}

/* A RangeVar's relation (borrowed strings). */
static struct rel rangevar(const PgQuery__RangeVar *rv)
{
	return rv ? (struct rel){ str(rv->schemaname), str(rv->relname) } : (struct rel){ NULL, NULL };
}

/* A qualified name given as a list of String nodes (DROP's objects, type and function names). */
static struct rel qualified(Node **list, size_t n)
{
	Node *last = n ? list[n - 1] : NULL, *first = n > 1 ? list[n - 2] : NULL;

	return (struct rel){ IS(first, STRING) ? str(first->string->sval) : NULL,
			     IS(last, STRING) ? str(last->string->sval) : NULL };
}

static struct rel rel_dup(struct rel r)
{
	return (struct rel){ xstrdup(r.schema), xstrdup(r.name) };
}

/* Quoted for a message: "name" or "schema"."name". */
static void rel_show(const struct rel *r, char *out, size_t n)
{
	if (r->schema)
		snprintf(out, n, "\"%s\".\"%s\"", r->schema, r->name ? r->name : "?");
	else
		snprintf(out, n, "\"%s\"", r->name ? r->name : "?");
}

/* A DefElem's boolean value as defGetBoolean reads it (no argument: true). */
static bool defelem_true(const PgQuery__DefElem *d)
{
	const Node *a = d->arg;
	const char *sv;

	if (!a)
		return true;
	if (IS(a, BOOLEAN))
		return a->boolean->boolval;
	if (IS(a, INTEGER))
		return a->integer->ival != 0;
	if (IS(a, STRING) && (sv = a->string->sval))
		return !(strcasecmp(sv, "false") == 0 || strcasecmp(sv, "off") == 0 || strcmp(sv, "0") == 0);
	return true;
}

/* The DefElem named name in a list of nodes, or NULL. */
static const PgQuery__DefElem *defelem(Node **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (IS(list[i], DEF_ELEM) && str_eq(list[i]->def_elem->defname, name))
			return list[i]->def_elem;
	return NULL;
}

/*
 * Call fn on every message under m, depth first, m included; fn returns false
 * to stop.  Generic over protobuf-c's descriptors, so every node type is walked,
 * and only the member a oneof (Node, A_Const) holds.
 */
static bool walk(const ProtobufCMessage *m, bool (*fn)(const ProtobufCMessage *m, void *arg), void *arg)
{
	const ProtobufCMessageDescriptor *d;
	const char *base = (const char *)m;

	if (!m)
		return true;
	if (!fn(m, arg))
		return false;
	d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];

		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(base + fd->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(const void *)(base + fd->offset);

			for (size_t k = 0; k < n; k++)
				if (!walk(v[k], fn, arg))
					return false;
		} else if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
			   *(const uint32_t *)(const void *)(base + fd->quantifier_offset) == fd->id) {
			if (!walk(*(ProtobufCMessage *const *)(const void *)(base + fd->offset), fn, arg))
				return false;
		}
	}
	return true;
}

/* A TypeName's last name and typmods. */
static struct coltype coltype_of(const PgQuery__TypeName *tn)
{
	struct coltype t = { NULL, 0, { 0, 0 }, false };

	if (!tn)
		return t;
	t.name = qualified(tn->names, tn->n_names).name;
	t.array = tn->n_array_bounds > 0;
	for (size_t i = 0; i < tn->n_typmods; i++) {
		const Node *m = tn->typmods[i];

		if (t.nmods == 2 || !IS(m, A_CONST) || m->a_const->val_case != PG_QUERY__A__CONST__VAL_IVAL) {
			t.nmods = -1;	/* not plain integers: not comparable */
			break;
		}
		t.mods[t.nmods++] = m->a_const->ival ? m->a_const->ival->ival : 0;
	}
	return t;
}

static bool is_serial(const char *type)
{
	static const char *const serials[] = { "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2" };

	for (size_t i = 0; type && i < sizeof(serials) / sizeof(serials[0]); i++)
		if (strcmp(type, serials[i]) == 0)
			return true;
	return false;
}

/* ---- findings ----------------------------------------------------------- */

/* One command being linted. */
struct ctx {
	struct lint *l;
	struct lint_state *st;
	const struct pfile *f;
	const struct pstmt *s;
	const char *text;
	size_t start;		/* the command's first byte in text */
	size_t end;		/* one past its last (for keyword searches) */
	size_t after_rel;	/* ALTER TABLE: just after the table's name, where the commands begin */
	struct diag *d;
};

/* The first line of the range a statement-level marker must lie in. */
static uint32_t stmt_from(const struct pfile *f, const struct pstmt *s)
{
	size_t i = (size_t)(s - f->stmts[DIR_UP]);

	return i > 0 && i < f->nstmts[DIR_UP] ? f->stmts[DIR_UP][i - 1].last_line + 1 : 1;
}

/* The index of the first marker at or after line (markers are in line order), from lo on. */
static size_t allow_search(const struct lint_state *st, size_t lo, uint32_t line)
{
	size_t hi = st->allows.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->allows.v[mid].line < line)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The gosling:allow marker that accepts rule for statement s, or NULL: a file
 * marker (they come first, being before '-- +goose Up'), or one in the lines from
 * the end of the previous statement to the end of s.  One search per finding.
 */
static struct allow *allowed(struct ctx *c, unsigned rule)
{
	struct lint_state *st = c->st;
	size_t i;

	for (i = 0; i < st->allows.n && st->allows.v[i].file; i++)
		if (st->allows.v[i].rule == rule)
			return &st->allows.v[i];
	for (i = allow_search(st, i, stmt_from(c->f, c->s)); i < st->allows.n && st->allows.v[i].line <= c->s->last_line;
	     i++)
		if (st->allows.v[i].rule == rule)
			return &st->allows.v[i];
	return NULL;
}

/* The column of statement offset off in characters (UTF-8 continuation bytes take none). */
static uint32_t col_chars(const struct pfile *f, const struct pstmt *s, size_t off)
{
	size_t k = 0, at, line_start;
	uint32_t n = 1;

	while (k + 1 < s->nlines && s->line_sql_off[k + 1] <= (long)off)
		k++;
	if (s->nlines == 0)
		return 1;
	line_start = s->line_file_off[k];
	at = line_start + (size_t)((long)off - s->line_sql_off[k]);
	for (size_t i = line_start; i < at && i < f->len; i++)
		if (((unsigned char)f->data[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static void finding(struct ctx *c, unsigned rule, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void finding(struct ctx *c, unsigned rule, size_t off, const char *fmt, ...)
{
	struct lint *l = c->l;
	struct lint_finding *fd;
	struct allow *a = allowed(c, rule);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (off > c->s->len)
		off = c->s->len;	/* only after ENVSUB: close enough */
	if ((l->nfindings & (l->nfindings - 1)) == 0)	/* doubles: capacity is the next power of two */
		l->findings = xrealloc(l->findings, (l->nfindings ? 2 * l->nfindings : 1) * sizeof(*l->findings));
	fd = &l->findings[l->nfindings++];
	fd->rule = rule;
	fd->path = c->f->path;
	pstmt_where(c->s, off, &fd->line, &fd->col);
	fd->col_chars = col_chars(c->f, c->s, off);
	fd->message = xstrdup(msg);
	fd->allowed = NULL;
	if (a) {
		a->used = true;
		fd->allowed = xstrdup(a->reason);
		return;
	}
	if (l->quiet)
		return;
	diag_at(c->d, l->mode == LINT_ERROR ? DIAG_ERROR : DIAG_WARNING, c->f->path, c->f->data, c->f->len, fd->line,
		fd->col, lint_rules[rule].fix, "%s: %s [%s]", msg, lint_rules[rule].why, lint_rules[rule].name);
}

/* Offset of keyword word in the command from offset from on, or the command's start. */
static size_t keyword(struct ctx *c, size_t from, const char *word)
{
	size_t at = lex_find_word(c->text, from > c->start ? from : c->start, c->end, word);

	return at < c->end ? at : c->start;
}

/* ---- the bundle's facts ------------------------------------------------- */

static struct column *column_find(struct lint_state *st, const struct rel *t, const char *name)
{
	for (size_t i = st->columns.n; i-- > 0;)
		if (str_eq(st->columns.v[i].name, name) && rel_eq(&st->columns.v[i].table, t))
			return &st->columns.v[i];
	return NULL;
}

/* Record a column of table t (CREATE TABLE, ADD COLUMN): its type and whether it is NOT NULL. */
static void column_add(struct lint_state *st, const struct rel *t, const PgQuery__ColumnDef *cd)
{
	struct column *col = PUSH(st->columns);
	struct coltype ty = coltype_of(cd->type_name);

	col->table = rel_dup(*t);
	col->name = xstrdup(str(cd->colname));
	col->type = ty;
	col->type.name = xstrdup(ty.name);
	col->notnull = cd->is_not_null || is_serial(ty.name);
	for (size_t i = 0; i < cd->n_constraints; i++) {
		const Node *k = cd->constraints[i];

		if (IS(k, CONSTRAINT) && (k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL ||
					  k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ||
					  k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY))
			col->notnull = true;
	}
}

/* The column a CHECK constraint's expression proves NOT NULL ("col IS NOT NULL"), or NULL. */
static const char *check_not_null_column(const PgQuery__Constraint *con)
{
	const Node *e = con->raw_expr;
	const PgQuery__NullTest *nt = IS(e, NULL_TEST) ? e->null_test : NULL;
	const Node *a = nt ? nt->arg : NULL;

	if (!nt || nt->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL || !IS(a, COLUMN_REF) ||
	    a->column_ref->n_fields != 1)
		return NULL;
	return qualified(a->column_ref->fields, 1).name;
}

static bool func_nonvolatile(struct lint_state *st, const char *schema, const char *name)
{
	size_t lo = 0, hi = lint_nnonvolatile;

	for (size_t i = st->funcs.n; i-- > 0;)
		if (str_eq(st->funcs.v[i].name, name))
			return st->funcs.v[i].nonvolatile;
	if (schema && strcmp(schema, "pg_catalog") != 0)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(lint_nonvolatile[mid], name);

		if (cmp == 0)
			return true;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct volatile_search {
	struct lint_state *st;
	const PgQuery__FuncCall *call;	/* the first call that is not known IMMUTABLE or STABLE */
};

static bool find_volatile(const ProtobufCMessage *m, void *arg)
{
	struct volatile_search *vs = arg;
	const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
	struct rel q;

	if (m->descriptor != &pg_query__func_call__descriptor)
		return true;
	q = qualified(fc->funcname, fc->n_funcname);
	if (q.name && func_nonvolatile(vs->st, q.schema, q.name))
		return true;
	vs->call = fc;
	return false;
}

/* ---- the rules, per command --------------------------------------------- */

static bool created(struct ctx *c, const struct rel *r)
{
	return rel_in(c->st->tables.v, c->st->tables.n, r);
}

static void identity_check(struct ctx *c, const PgQuery__ColumnDef *cd)
{
	const char *type = coltype_of(cd->type_name).name;

	if (is_serial(type))
		finding(c, R_IDENTITY, cd->type_name ? loc_or(cd->type_name->location, c->start) : c->start,
			"column \"%s\" is %s", cd->colname, type);
}

static void lint_create(struct ctx *c, const PgQuery__CreateStmt *n)
{
	struct rel t = rangevar(n->relation);

	*PUSH(c->st->tables) = rel_dup(t);
	for (size_t i = 0; i < n->n_table_elts; i++) {
		const Node *e = n->table_elts[i];

		if (IS(e, COLUMN_DEF)) {
			column_add(c->st, &t, e->column_def);
			identity_check(c, e->column_def);
		} else if (IS(e, CONSTRAINT) && e->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
			for (size_t j = 0; j < e->constraint->n_keys; j++) {
				struct column *col = column_find(c->st, &t, qualified(e->constraint->keys + j, 1).name);

				if (col)
					col->notnull = true;
			}
		}
	}
}

/* ADD COLUMN on a table that exists: what rewrites, fails, scans or builds an index. */
static void lint_add_column(struct ctx *c, const PgQuery__ColumnDef *cd, const char *tname)
{
	const char *name = cd->colname, *type = coltype_of(cd->type_name).name;
	const PgQuery__Constraint *def = NULL, *notnull = NULL;
	bool fills = false;

	for (size_t i = 0; i < cd->n_constraints; i++) {
		const PgQuery__Constraint *k = IS(cd->constraints[i], CONSTRAINT) ? cd->constraints[i]->constraint : NULL;
		size_t at;

		if (!k)
			continue;
		at = loc_or(k->location, c->start);
		switch (k->contype) {
		case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
			def = k;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
			notnull = k;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
			fills = true;
			finding(c, R_VOLATILE, at, "ADD COLUMN \"%s\" GENERATED AS IDENTITY on existing table %s", name,
				tname);
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
			fills = true;
			finding(c, R_VOLATILE, at, "ADD COLUMN \"%s\" GENERATED ALWAYS AS (...) STORED on existing table %s",
				name, tname);
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
		case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
			finding(c, R_UNIQUE, at, "ADD COLUMN \"%s\" ... %s on existing table %s", name,
				k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY" : "UNIQUE", tname);
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
		case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
			finding(c, R_NOT_VALID, at, "ADD COLUMN \"%s\" with a %s on existing table %s (a column constraint "
				"cannot be NOT VALID)", name,
				k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN ? "REFERENCES" : "CHECK", tname);
			break;
		default:
			break;
		}
	}
	if (is_serial(type)) {
		fills = true;
		finding(c, R_VOLATILE, loc_or(cd->type_name->location, c->start),
			"ADD COLUMN \"%s\" %s on existing table %s (its DEFAULT is nextval())", name, type, tname);
	}
	if (def) {
		struct volatile_search vs = { c->st, NULL };

		walk((const ProtobufCMessage *)def->raw_expr, find_volatile, &vs);
		if (vs.call) {
			const char *fn = qualified(vs.call->funcname, vs.call->n_funcname).name;

			fills = true;
			finding(c, R_VOLATILE, loc_or(vs.call->location, loc_or(def->location, c->start)), "ADD COLUMN \"%s\" "
				"on existing table %s with DEFAULT %s(), which is not known as IMMUTABLE or STABLE", name, tname,
				fn ? fn : "?");
		}
	}
	if (notnull && !def && !fills)
		finding(c, R_NOT_NULL, loc_or(notnull->location, c->start), "ADD COLUMN \"%s\" NOT NULL without a "
			"DEFAULT on existing table %s", name, tname);
}

static void lint_add_constraint(struct ctx *c, const struct rel *t, const PgQuery__Constraint *con, bool isnew,
				const char *tname)
{
	const char *col = check_not_null_column(con);
	bool not_valid = con->skip_validation;
	size_t at = loc_or(con->location, c->start);

	if (con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK && col) {
		struct nncheck *k = PUSH(c->st->checks);

		k->table = rel_dup(*t);
		k->conname = xstrdup(str(con->conname));
		k->column = xstrdup(col);
		k->validated = !not_valid;
	}
	if (isnew)
		return;
	switch (con->contype) {
	case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
	case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
		if (!not_valid) {
			finding(c, R_NOT_VALID, at, "ADD %s on existing table %s without NOT VALID",
				con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN ? "FOREIGN KEY" : "CHECK", tname);
		} else if (str(con->conname)) {
			struct nncheck *k = PUSH(c->st->not_valid);

			k->table = rel_dup(*t);
			k->conname = xstrdup(con->conname);
		}
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
	case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
	case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
		if (!str(con->indexname))
			finding(c, R_UNIQUE, at, "ADD %s on existing table %s without USING INDEX",
				con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE ? "UNIQUE" :
				con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY" : "EXCLUDE", tname);
		break;
	default:
		break;
	}
}

/* Whether changing column type from a to b keeps the stored bytes (no rewrite). */
static bool type_binary_compatible(const struct coltype *a, const struct coltype *b)
{
	bool unbounded = b->nmods == 0;

	if (!a->name || !b->name || a->array != b->array || a->nmods < 0 || b->nmods < 0)
		return false;
	if (strcmp(a->name, b->name) == 0 && a->nmods == b->nmods &&
	    (a->nmods == 0 || (a->mods[0] == b->mods[0] && (a->nmods == 1 || a->mods[1] == b->mods[1]))))
		return true;
	if (strcmp(a->name, "varchar") == 0 || strcmp(a->name, "text") == 0) {
		if (strcmp(b->name, "text") == 0 || (strcmp(b->name, "varchar") == 0 && unbounded))
			return true;
		return strcmp(a->name, "varchar") == 0 && strcmp(b->name, "varchar") == 0 && a->nmods == 1 &&
		       b->mods[0] >= a->mods[0];
	}
	if (strcmp(a->name, "numeric") == 0 && strcmp(b->name, "numeric") == 0)
		return unbounded || (a->nmods >= 1 && b->mods[0] >= a->mods[0] &&
				     (a->nmods == 2 ? a->mods[1] : 0) == (b->nmods == 2 ? b->mods[1] : 0));
	if (strcmp(a->name, "varbit") == 0 && strcmp(b->name, "varbit") == 0)
		return unbounded || (a->nmods == 1 && b->mods[0] >= a->mods[0]);
	return strcmp(a->name, "cidr") == 0 && strcmp(b->name, "inet") == 0;
}

/* A type as a message shows it: varchar(20), numeric(10,2), int4[]. */
static void coltype_show(const struct coltype *t, char *out, size_t n)
{
	int k = snprintf(out, n, "%s", t->name ? t->name : "?");

	if (k > 0 && (size_t)k < n && t->nmods > 0)
		k += snprintf(out + k, n - (size_t)k, t->nmods == 2 ? "(%ld,%ld)" : "(%ld)", t->mods[0], t->mods[1]);
	if (k > 0 && (size_t)k < n && t->array)
		snprintf(out + k, n - (size_t)k, "[]");
}

static void lint_alter_type(struct ctx *c, const struct rel *t, const PgQuery__AlterTableCmd *cmd, bool isnew,
			    const char *tname)
{
	const char *name = cmd->name;
	const PgQuery__ColumnDef *def = cmd->def->column_def;
	struct coltype to = coltype_of(def->type_name);
	struct column *col = column_find(c->st, t, name);
	bool using = def->raw_default != NULL;
	size_t at = def->type_name ? loc_or(def->type_name->location, c->start) : c->start;
	char was[128], now[128];

	coltype_show(&to, now, sizeof(now));
	if (!isnew && !(col && !using && type_binary_compatible(&col->type, &to))) {
		if (col && col->type.name) {
			coltype_show(&col->type, was, sizeof(was));
			finding(c, R_TYPE, at, "ALTER COLUMN \"%s\" TYPE %s on existing table %s (it was %s%s)", name, now,
				tname, was, using ? ", and USING converts each row" : "");
		} else {
			finding(c, R_TYPE, at, "ALTER COLUMN \"%s\" TYPE %s on existing table %s (its old type is not known "
				"from earlier migrations: unless the two are binary compatible)", name, now, tname);
		}
	}
	if (col) {
		free(col->type.name);
		col->type = to;
		col->type.name = xstrdup(to.name);
	}
}

static void lint_set_not_null(struct ctx *c, const struct rel *t, const char *name, bool isnew, const char *tname)
{
	struct column *col = column_find(c->st, t, name);
	bool proven = isnew || (col && col->notnull);

	for (size_t i = 0; !proven && i < c->st->checks.n; i++) {
		struct nncheck *k = &c->st->checks.v[i];

		proven = k->validated && str_eq(k->column, name) && rel_eq(&k->table, t);
	}
	if (!proven)
		finding(c, R_SET_NOT_NULL, keyword(c, keyword(c, c->after_rel, name), "SET"),
			"ALTER COLUMN \"%s\" SET NOT NULL on existing table %s with no validated CHECK (\"%s\" IS NOT "
			"NULL)", name, tname, name);
	if (col)
		col->notnull = true;
}

static void lint_validate(struct ctx *c, const struct rel *t, const char *name)
{
	for (size_t i = 0; i < c->st->checks.n; i++)
		if (str_eq(c->st->checks.v[i].conname, name) && rel_eq(&c->st->checks.v[i].table, t))
			c->st->checks.v[i].validated = true;
	if (!c->st->tx)
		return;
	for (size_t i = 0; i < c->st->not_valid.n; i++) {
		const struct nncheck *k = &c->st->not_valid.v[i];

		if (str_eq(k->conname, name) && rel_eq(&k->table, t)) {
			finding(c, R_VALIDATE_TX, keyword(c, c->start, "VALIDATE"), "VALIDATE CONSTRAINT \"%s\" in the "
				"transaction that added it NOT VALID", name);
			return;
		}
	}
}

static void lint_alter_table(struct ctx *c, const PgQuery__AlterTableStmt *n)
{
	struct rel t = rangevar(n->relation);
	bool isnew = created(c, &t);
	char tname[300];

	if (n->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || !t.name)
		return;
	rel_show(&t, tname, sizeof(tname));
	c->after_rel = loc_or(n->relation->location, c->start) + strlen(t.name);
	for (size_t i = 0; i < n->n_cmds; i++) {
		const PgQuery__AlterTableCmd *a = IS(n->cmds[i], ALTER_TABLE_CMD) ? n->cmds[i]->alter_table_cmd : NULL;
		const Node *def = a ? a->def : NULL;

		if (!a)
			continue;
		switch (a->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
			if (!IS(def, COLUMN_DEF))
				break;
			column_add(c->st, &t, def->column_def);
			identity_check(c, def->column_def);
			if (!isnew)
				lint_add_column(c, def->column_def, tname);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
			if (IS(def, CONSTRAINT))
				lint_add_constraint(c, &t, def->constraint, isnew, tname);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
			lint_validate(c, &t, a->name);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
			lint_set_not_null(c, &t, a->name, isnew, tname);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
			if (IS(def, COLUMN_DEF))
				lint_alter_type(c, &t, a, isnew, tname);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
			if (!isnew)
				finding(c, R_DROP_COLUMN, keyword(c, c->after_rel, a->name), "DROP COLUMN \"%s\" of table %s",
					a->name, tname);
			break;
		default:
			break;
		}
	}
}

static void lint_index(struct ctx *c, const PgQuery__IndexStmt *n)
{
	struct rel t = rangevar(n->relation);
	char tname[300];

	if (str(n->idxname))
		*PUSH(c->st->indexes) = rel_dup((struct rel){ t.schema, n->idxname });
	if (n->concurrent || created(c, &t))
		return;
	rel_show(&t, tname, sizeof(tname));
	finding(c, R_INDEX, c->start, "CREATE %sINDEX without CONCURRENTLY on existing table %s",
		n->unique ? "UNIQUE " : "", tname);
}

static void lint_drop(struct ctx *c, const PgQuery__DropStmt *n)
{
	bool table = n->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE;
	bool index = n->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX && !n->concurrent;

	for (size_t i = 0; (table || index) && i < n->n_objects; i++) {
		struct rel r;
		char name[300];

		if (!IS(n->objects[i], LIST))
			continue;
		r = qualified(n->objects[i]->list->items, n->objects[i]->list->n_items);
		rel_show(&r, name, sizeof(name));
		if (table && !created(c, &r))
			finding(c, R_DROP_TABLE, c->start, "DROP TABLE %s", name);
		else if (index && !rel_in(c->st->indexes.v, c->st->indexes.n, &r))
			finding(c, R_DROP_INDEX, c->start, "DROP INDEX %s without CONCURRENTLY", name);
	}
}

static void lint_rename(struct ctx *c, const PgQuery__RenameStmt *n)
{
	struct rel t = rangevar(n->relation);
	char tname[300];

	if (!t.name)
		return;
	rel_show(&t, tname, sizeof(tname));
	if (n->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
		struct rel *r = NULL;

		for (size_t i = 0; i < c->st->tables.n && !r; i++)
			if (rel_eq(&c->st->tables.v[i], &t))
				r = &c->st->tables.v[i];
		if (r) {
			free(r->name);
			r->name = xstrdup(n->newname);
		} else {
			finding(c, R_RENAME_TABLE, keyword(c, c->start, "RENAME"), "RENAME table %s to \"%s\"", tname,
				n->newname);
		}
		for (size_t i = 0; i < c->st->columns.n; i++)
			if (rel_eq(&c->st->columns.v[i].table, &t)) {
				free(c->st->columns.v[i].table.name);
				c->st->columns.v[i].table.name = xstrdup(n->newname);
			}
	} else if (n->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
		   n->relation_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
		struct column *col = column_find(c->st, &t, n->subname);

		if (!created(c, &t))
			finding(c, R_RENAME_COLUMN, keyword(c, c->start, "RENAME"), "RENAME COLUMN \"%s\" of table %s to "
				"\"%s\"", n->subname, tname, n->newname);
		if (col) {
			free(col->name);
			col->name = xstrdup(n->newname);
		}
	}
}

/* Whether a lock_timeout value means "no timeout": 0 in any unit. */
static bool timeout_zero(const Node *arg)
{
	const PgQuery__AConst *k = IS(arg, A_CONST) ? arg->a_const : NULL;
	const char *s;
	char *end;

	if (!k)
		return false;
	switch (k->val_case) {
	case PG_QUERY__A__CONST__VAL_IVAL:
		return !k->ival || k->ival->ival == 0;
	case PG_QUERY__A__CONST__VAL_FVAL:
		return k->fval && k->fval->fval && strtod(k->fval->fval, NULL) == 0;
	case PG_QUERY__A__CONST__VAL_SVAL:
		if (!k->sval || !(s = k->sval->sval))
			return false;
		return strtod(s, &end) == 0 && end != s;
	default:
		return false;
	}
}

static void lint_set(struct ctx *c, const PgQuery__VariableSetStmt *n)
{
	if (n->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL) {
		/* in a transactional migration check.c refuses RESET ALL outright */
		if (!c->st->tx)
			finding(c, R_LOCK_TIMEOUT, c->start, "RESET ALL resets lock_timeout to the server's default");
		return;
	}
	if (!str(n->name) || strcasecmp(n->name, "lock_timeout") != 0)
		return;
	if (n->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && n->n_args == 1 && timeout_zero(n->args[0]))
		finding(c, R_LOCK_TIMEOUT, loc_or(n->args[0]->a_const->location, c->start),
			"SET lock_timeout to 0 (no timeout)");
	else if (n->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT ||
		 n->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET)
		finding(c, R_LOCK_TIMEOUT, c->start, "%s lock_timeout to the server's default (no timeout unless "
			"configured)", n->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ? "RESET" : "SET");
}

/* set_config('lock_timeout', '0', ...) anywhere in a SELECT. */
static bool find_set_config(const ProtobufCMessage *m, void *arg)
{
	struct ctx *c = arg;
	const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
	const Node *a0;

	if (m->descriptor != &pg_query__func_call__descriptor ||
	    !str_eq(qualified(fc->funcname, fc->n_funcname).name, "set_config") || fc->n_args < 2)
		return true;
	a0 = fc->args[0];
	if (IS(a0, A_CONST) && a0->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL && a0->a_const->sval &&
	    a0->a_const->sval->sval && strcasecmp(a0->a_const->sval->sval, "lock_timeout") == 0 &&
	    timeout_zero(fc->args[1]))
		finding(c, R_LOCK_TIMEOUT, loc_or(fc->location, c->start), "set_config('lock_timeout', 0) switches it off");
	return true;
}

static void lint_enum(struct ctx *c, const PgQuery__AlterEnumStmt *n)
{
	struct rel t = qualified(n->type_name, n->n_type_name);
	struct enumval *e;
	uint32_t col;

	if (!c->st->tx || str(n->old_val) || !str(n->new_val) || rel_in(c->st->types.v, c->st->types.n, &t))
		return;
	e = PUSH(c->st->enums);
	e->value = xstrdup(n->new_val);
	pstmt_where(c->s, c->start, &e->line, &col);
}

/* A string constant that is an enum value added earlier in this transaction. */
static bool find_enum_use(const ProtobufCMessage *m, void *arg)
{
	struct ctx *c = arg;
	const PgQuery__AConst *k = (const PgQuery__AConst *)m;
	const char *s;

	if (m->descriptor != &pg_query__a__const__descriptor || k->val_case != PG_QUERY__A__CONST__VAL_SVAL ||
	    !k->sval || !(s = k->sval->sval))
		return true;
	for (size_t i = 0; i < c->st->enums.n; i++) {
		struct enumval *e = &c->st->enums.v[i];

		if (!e->reported && strcmp(e->value, s) == 0) {
			e->reported = true;
			finding(c, R_ENUM, loc_or(k->location, c->start), "uses enum value '%s', added by ALTER TYPE ... "
				"ADD VALUE at line %u in this transaction", s, e->line);
		}
	}
	return true;
}

static void lint_function(struct ctx *c, const PgQuery__CreateFunctionStmt *n)
{
	const PgQuery__DefElem *v = defelem(n->options, n->n_options, "volatility");
	struct func *fn = PUSH(c->st->funcs);
	const char *vol = v && IS(v->arg, STRING) ? v->arg->string->sval : NULL;

	fn->name = xstrdup(qualified(n->funcname, n->n_funcname).name);
	fn->nonvolatile = vol && strcasecmp(vol, "volatile") != 0;
}

void lint_command(struct lint *l, const struct pfile *f, const struct pstmt *s, const char *text,
		  const PgQuery__Node *n, size_t start, size_t end, struct diag *d)
{
	struct ctx c = { l, l->st, f, s, text, start, end, start, d };

	if (l->mode == LINT_OFF || !n)
		return;
	if (l->st->enums.n)
		walk((const ProtobufCMessage *)n, find_enum_use, &c);
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		lint_create(&c, n->create_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into)
			*PUSH(l->st->tables) = rel_dup(rangevar(n->create_table_as_stmt->into->rel));
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		*PUSH(l->st->types) = rel_dup(qualified(n->create_enum_stmt->type_name, n->create_enum_stmt->n_type_name));
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		lint_alter_table(&c, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		lint_index(&c, n->index_stmt);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		lint_drop(&c, n->drop_stmt);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		lint_rename(&c, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
		lint_enum(&c, n->alter_enum_stmt);
		break;
	case PG_QUERY__NODE__NODE_VACUUM_STMT: {
		const PgQuery__VacuumStmt *v = n->vacuum_stmt;
		const PgQuery__DefElem *full = defelem(v->options, v->n_options, "full");

		if (v->is_vacuumcmd && full && defelem_true(full))
			finding(&c, R_VACUUM_FULL, loc_or(full->location, start), "VACUUM FULL");
		break;
	}
	case PG_QUERY__NODE__NODE_CLUSTER_STMT: {
		struct rel t = rangevar(n->cluster_stmt->relation);

		if (!t.name || !created(&c, &t))
			finding(&c, R_CLUSTER, start, "CLUSTER");
		break;
	}
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
		lint_set(&c, n->variable_set_stmt);
		break;
	case PG_QUERY__NODE__NODE_SELECT_STMT:
		/* SELECT ... INTO creates a table */
		if (n->select_stmt->into_clause)
			*PUSH(l->st->tables) = rel_dup(rangevar(n->select_stmt->into_clause->rel));
		walk((const ProtobufCMessage *)n, find_set_config, &c);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		lint_function(&c, n->create_function_stmt);
		break;
	default:
		break;
	}
}

/* ---- gosling:allow markers ---------------------------------------------- */

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
	       ch == '_';
}

/* One marker line: "-- gosling:allow RULE[,RULE] reason"; t/tn is the trimmed line. */
static void allow_parse(struct lint *l, const struct pfile *f, const char *line, const char *t, size_t tn,
			uint32_t lineno, bool file, struct diag *d)
{
	size_t k = strlen(LINT_MARKER), i = 2;
	const char *reason;
	size_t first;

	while (i < tn && (t[i] == ' ' || t[i] == '\t' || t[i] == '-'))
		i++;
	if (tn - i < k || strncasecmp(t + i, LINT_MARKER, k) != 0 || (i + k < tn && name_char(t[i + k])))
		return;
	i += k;
	while (i < tn && (t[i] == ' ' || t[i] == '\t'))
		i++;
	first = l->st->allows.n;
	while (i < tn && name_char(t[i])) {
		size_t s = i, r;

		while (i < tn && name_char(t[i]))
			i++;
		for (r = 0; r < lint_nrules && !(strlen(lint_rules[r].name) == i - s &&
						strncasecmp(lint_rules[r].name, t + s, i - s) == 0); r++)
			;
		if (r == lint_nrules) {
			diag_at(d, DIAG_WARNING, f->path, f->data, f->len, lineno, (uint32_t)(t + s - line) + 1,
				"goslingc lint --rules lists them", "unknown lint rule \"%.*s\" in " LINT_MARKER,
				(int)(i - s), t + s);
		} else {
			struct allow *a = PUSH(l->st->allows);

			a->line = lineno;
			a->col = (uint32_t)(t + s - line) + 1;
			a->rule = (unsigned)r;
			a->file = file;
		}
		if (i < tn && t[i] == ',')
			i++;
	}
	while (i < tn && (t[i] == ' ' || t[i] == '\t'))
		i++;
	reason = t + i;
	if (i == tn || (first == l->st->allows.n && i == tn)) {
		diag_at(d, DIAG_WARNING, f->path, f->data, f->len, lineno, (uint32_t)(t - line) + 1,
			"write '-- " LINT_MARKER " RULE why it is safe here'", LINT_MARKER " needs %s",
			first == l->st->allows.n ? "a rule name and a reason" : "a reason after the rule name");
		l->st->allows.n = first;	/* not honoured */
		return;
	}
	for (size_t a = first; a < l->st->allows.n; a++) {
		l->st->allows.v[a].reason = xrealloc(NULL, tn - i + 1);
		memcpy(l->st->allows.v[a].reason, reason, tn - i);
		l->st->allows.v[a].reason[tn - i] = '\0';
	}
}

/*
 * The "--" that opens a marker comment in line t/tn: the whole line, or a comment
 * after SQL ("DROP TABLE t; -- gosling:allow drop-table ..."), else NULL.
 */
static const char *marker_comment(const char *t, size_t tn)
{
	const char *m = memmem(t, tn, LINT_MARKER, strlen(LINT_MARKER)), *p;

	if (!m)
		return NULL;
	for (p = m; p > t && (p[-1] == ' ' || p[-1] == '\t');)
		p--;
	if (p - t < 2 || p[-1] != '-' || p[-2] != '-')
		return NULL;
	return p - 2;
}

static void checks_clear(struct nncheck *v, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		rel_free(&v[i].table);
		free(v[i].conname);
		free(v[i].column);
	}
	*n = 0;
}

static void allows_clear(struct lint_state *st)
{
	for (size_t i = 0; i < st->allows.n; i++)
		free(st->allows.v[i].reason);
	st->allows.n = 0;
}

void lint_file_begin(struct lint *l, const struct pfile *f, struct diag *d)
{
	struct lint_state *st = l->st;
	size_t pos = 0, n, tn;
	uint32_t lineno = 0;
	bool before_up = true;
	const char *line, *t;

	rels_clear(&st->tables.v, &st->tables.n);
	rels_clear(&st->indexes.v, &st->indexes.n);
	rels_clear(&st->types.v, &st->types.n);
	checks_clear(st->not_valid.v, &st->not_valid.n);
	for (size_t i = 0; i < st->enums.n; i++)
		free(st->enums.v[i].value);
	st->enums.n = 0;
	allows_clear(st);
	st->tx = !f->no_transaction;
	if (l->mode == LINT_OFF)
		return;
	while (pfile_line(f, &pos, &line, &n, &t, &tn)) {
		lineno++;
		if (tn >= 2 && t[0] == '-' && t[1] == '-' && memmem(t, tn, "+goose", 6)) {
			before_up = false;
			continue;
		}
		if (!(t = marker_comment(t, tn)))
			continue;
		tn = (size_t)(line + n - t);
		text_trim(&t, &tn);
		allow_parse(l, f, line, t, tn, lineno, before_up, d);
	}
}

void lint_file_end(struct lint *l, const struct pfile *f, struct diag *d)
{
	if (l->mode == LINT_OFF)
		return;
	for (size_t i = 0, k = 0; i < l->st->allows.n; i++) {
		struct allow *a = &l->st->allows.v[i];
		const struct pstmt *s;

		/* the statement whose range holds the marker (both in line order); Down is not the lint's */
		while (k < f->nstmts[DIR_UP] && f->stmts[DIR_UP][k].last_line < a->line)
			k++;
		s = k < f->nstmts[DIR_UP] ? &f->stmts[DIR_UP][k] : NULL;
		if (!a->used && (a->file || (s && a->line >= stmt_from(f, s))))
			diag_at(d, DIAG_WARNING, f->path, f->data, f->len, a->line, a->col, "remove the marker",
				LINT_MARKER " %s accepts nothing: no finding of that rule %s", lint_rules[a->rule].name,
				a->file ? "in this file" : "on this statement");
	}
}

/* ---- output ------------------------------------------------------------- */

void lint_init(struct lint *l, enum lint_mode m)
{
	memset(l, 0, sizeof(*l));
	l->mode = m;
	l->st = xrealloc(NULL, sizeof(*l->st));
	memset(l->st, 0, sizeof(*l->st));
}

void lint_bundle_reset(struct lint *l)
{
	struct lint_state *st = l->st;

	for (size_t i = 0; i < st->columns.n; i++) {
		rel_free(&st->columns.v[i].table);
		free(st->columns.v[i].name);
		free(st->columns.v[i].type.name);
	}
	st->columns.n = 0;
	checks_clear(st->checks.v, &st->checks.n);
	for (size_t i = 0; i < st->funcs.n; i++)
		free(st->funcs.v[i].name);
	st->funcs.n = 0;
}

void lint_free(struct lint *l)
{
	struct lint_state *st = l->st;

	if (!st)
		return;
	lint_bundle_reset(l);
	rels_clear(&st->tables.v, &st->tables.n);
	rels_clear(&st->indexes.v, &st->indexes.n);
	rels_clear(&st->types.v, &st->types.n);
	checks_clear(st->not_valid.v, &st->not_valid.n);
	for (size_t i = 0; i < st->enums.n; i++)
		free(st->enums.v[i].value);
	allows_clear(st);
	free(st->columns.v);
	free(st->checks.v);
	free(st->funcs.v);
	free(st->tables.v);
	free(st->indexes.v);
	free(st->types.v);
	free(st->not_valid.v);
	free(st->enums.v);
	free(st->allows.v);
	free(st);
	for (size_t i = 0; i < l->nfindings; i++) {
		free(l->findings[i].message);
		free(l->findings[i].allowed);
	}
	free(l->findings);
	memset(l, 0, sizeof(*l));
}

bool lint_mode_parse(const char *s, enum lint_mode *m)
{
	if (strcmp(s, "warn") == 0)
		*m = LINT_WARN;
	else if (strcmp(s, "error") == 0)
		*m = LINT_ERROR;
	else if (strcmp(s, "off") == 0)
		*m = LINT_OFF;
	else
		return false;
	return true;
}

static void jstring(FILE *out, const char *s)
{
	emit_json_string(out, s, strlen(s));
}

void lint_print_rules(FILE *out)
{
	for (size_t i = 0; i < lint_nrules; i++)
		fprintf(out, "%s\t%s\t%s\n", lint_rules[i].name, lint_rules[i].why, lint_rules[i].fix);
}

void lint_print_json(const struct lint *l, FILE *out, size_t nfiles)
{
	size_t open = 0;

	for (size_t i = 0; i < l->nfindings; i++)
		open += !l->findings[i].allowed;
	fprintf(out, "{\"files\": %zu, \"findings\": %zu, \"allowed\": %zu, \"results\": [", nfiles, open,
		l->nfindings - open);
	for (size_t i = 0; i < l->nfindings; i++) {
		const struct lint_finding *fd = &l->findings[i];
		const struct lint_rule *r = &lint_rules[fd->rule];

		fprintf(out, "%s\n  {\"rule\": ", i ? "," : "");
		jstring(out, r->name);
		fputs(", \"path\": ", out);
		jstring(out, fd->path);
		fprintf(out, ", \"line\": %u, \"column\": %u,\n   \"message\": ", fd->line, fd->col);
		jstring(out, fd->message);
		fputs(",\n   \"why\": ", out);
		jstring(out, r->why);
		fputs(",\n   \"do_instead\": ", out);
		jstring(out, r->fix);
		fputs(",\n   \"allowed\": ", out);
		if (fd->allowed)
			jstring(out, fd->allowed);
		else
			fputs("null", out);
		fputs("}", out);
	}
	fprintf(out, "%s]}\n", l->nfindings ? "\n" : "");
}

/* A path as a URI reference (RFC 3986): relative stays relative, absolute becomes file://. */
static void uri_print(FILE *out, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[4096];
	size_t n = 0;

	if (path[0] == '/')
		n = (size_t)snprintf(buf, sizeof(buf), "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < sizeof(buf); p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
			buf[n++] = (char)*p;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	emit_json_string(out, buf, n);
}

void lint_print_sarif(const struct lint *l, FILE *out, const char *version)
{
	fputs("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n"
	      "  \"runs\": [{\n    \"tool\": {\"driver\": {\"name\": \"goslingc\", \"version\": ", out);
	jstring(out, version);
	fputs(", \"rules\": [", out);
	for (size_t i = 0; i < lint_nrules; i++) {
		fprintf(out, "%s\n      {\"id\": ", i ? "," : "");
		jstring(out, lint_rules[i].name);
		fputs(", \"shortDescription\": {\"text\": ", out);
		jstring(out, lint_rules[i].why);
		fputs("},\n       \"help\": {\"text\": ", out);
		jstring(out, lint_rules[i].fix);
		fputs("}, \"defaultConfiguration\": {\"level\": \"warning\"}}", out);
	}
	fputs("]}},\n    \"columnKind\": \"unicodeCodePoints\",\n    \"results\": [", out);
	for (size_t i = 0; i < l->nfindings; i++) {
		const struct lint_finding *fd = &l->findings[i];
		char msg[2048];

		snprintf(msg, sizeof(msg), "%s: %s", fd->message, lint_rules[fd->rule].why);
		fprintf(out, "%s\n      {\"ruleId\": ", i ? "," : "");
		jstring(out, lint_rules[fd->rule].name);
		fprintf(out, ", \"ruleIndex\": %u, \"level\": \"%s\",\n       \"message\": {\"text\": ", fd->rule,
			l->mode == LINT_ERROR ? "error" : "warning");
		jstring(out, msg);
		fputs("},\n       \"locations\": [{\"physicalLocation\": {\"artifactLocation\": {\"uri\": ", out);
		uri_print(out, fd->path);
		fprintf(out, "}, \"region\": {\"startLine\": %u, \"startColumn\": %u}}}]", fd->line, fd->col_chars);
		if (fd->allowed) {
			fputs(",\n       \"suppressions\": [{\"kind\": \"inSource\", \"justification\": ", out);
			jstring(out, fd->allowed);
			fputs("}]", out);
		}
		fputs("}", out);
	}
	fprintf(out, "%s]\n  }]\n}\n", l->nfindings ? "\n    " : "");
}
