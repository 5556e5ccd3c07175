/*
 * lint.c - the safety lint over libpg_query's JSON parse tree (see lint.h).
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

#include "check.h"
#include "diag.h"
#include "emit.h"
#include "parse.h"

#include <jansson.h>
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
	R_TX_CONTROL,
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
	[R_TX_CONTROL] = { "transaction-control",
		"gosling runs this migration in one transaction with its history row; this ends that transaction "
		"early, so the migration is no longer all or nothing",
		"remove it, or mark the file '-- +goose NO TRANSACTION' and manage transactions yourself" },
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

static char *xstrdup(const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s);
	p = xrealloc(NULL, n + 1);
	memcpy(p, s, n + 1);
	return p;
}

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

/* ---- the JSON parse tree ------------------------------------------------ */

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool jtrue(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static bool jis(json_t *o, const char *key, const char *value)
{
	return str_eq(jstr(o, key), value);
}

static size_t jloc(json_t *o, size_t dflt)
{
	json_t *v = json_object_get(o, "location");
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (size_t)json_integer_value(v) : dflt;
}

/* The fields of node n if it is of type type ({"Type": {fields}}), else NULL. */
static json_t *as(json_t *n, const char *type)
{
	json_t *f = json_is_object(n) ? json_object_get(n, type) : NULL;
	return json_is_object(f) ? f : NULL;
}

/* A RangeVar's relation (borrowed strings). */
static struct rel rangevar(json_t *rv)
{
	return (struct rel){ (char *)jstr(rv, "schemaname"), (char *)jstr(rv, "relname") };
}

/* A qualified name given as a list of String nodes (DROP's objects, type names). */
static struct rel qualified(json_t *list)
{
	size_t n = json_array_size(list);
	json_t *last = n ? as(json_array_get(list, n - 1), "String") : NULL;
	json_t *first = n > 1 ? as(json_array_get(list, n - 2), "String") : NULL;

	return (struct rel){ first ? (char *)jstr(first, "sval") : NULL, last ? (char *)jstr(last, "sval") : NULL };
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
static bool defelem_true(json_t *d)
{
	json_t *a = json_object_get(d, "arg"), *v;
	const char *sv;

	if (!a)
		return true;
	if ((v = as(a, "Boolean")))
		return jtrue(v, "boolval");
	if ((v = as(a, "Integer")))
		return json_integer_value(json_object_get(v, "ival")) != 0;
	if ((v = as(a, "String")) && (sv = jstr(v, "sval")))
		return !(strcasecmp(sv, "false") == 0 || strcasecmp(sv, "off") == 0 || strcmp(sv, "0") == 0);
	return true;
}

/* The DefElem named name in a list of nodes, or NULL. */
static json_t *defelem(json_t *list, const char *name)
{
	size_t i;
	json_t *n, *d;

	json_array_foreach(list, i, n)
		if ((d = as(n, "DefElem")) && jis(d, "defname", name))
			return d;
	return NULL;
}

/* Call fn on every node under v (depth first); fn returns false to stop. */
static bool walk(json_t *v, bool (*fn)(const char *type, json_t *fields, void *arg), void *arg)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (!walk(x, fn, arg))
				return false;
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			if (json_is_object(x) && k[0] >= 'A' && k[0] <= 'Z' && !fn(k, x, arg))
				return false;
			if (!walk(x, fn, arg))
				return false;
		}
	}
	return true;
}

/* A TypeName's last name and typmods. */
static struct coltype coltype_of(json_t *tn)
{
	struct coltype t = { NULL, 0, { 0, 0 }, json_array_size(json_object_get(tn, "arrayBounds")) > 0 };
	struct rel q = qualified(json_object_get(tn, "names"));
	size_t i;
	json_t *m, *c;

	t.name = q.name;
	json_array_foreach(json_object_get(tn, "typmods"), i, m) {
		json_t *iv;

		if (t.nmods == 2 || !(c = as(m, "A_Const")) || !(iv = json_object_get(c, "ival"))) {
			t.nmods = -1;	/* not plain integers: not comparable */
			break;
		}
		t.mods[t.nmods++] = (long)json_integer_value(json_object_get(iv, "ival"));
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
	size_t at = check_find_word(c->text, from > c->start ? from : c->start, c->end, word);

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
static void column_add(struct lint_state *st, const struct rel *t, json_t *coldef)
{
	struct column *col = PUSH(st->columns);
	struct coltype ty = coltype_of(json_object_get(coldef, "typeName"));
	size_t i;
	json_t *cn, *k;

	col->table = rel_dup(*t);
	col->name = xstrdup(jstr(coldef, "colname"));
	col->type = ty;
	col->type.name = xstrdup(ty.name);
	json_array_foreach(json_object_get(coldef, "constraints"), i, cn)
		if ((k = as(cn, "Constraint")) && (jis(k, "contype", "CONSTR_NOTNULL") ||
						   jis(k, "contype", "CONSTR_PRIMARY") ||
						   jis(k, "contype", "CONSTR_IDENTITY")))
			col->notnull = true;
	if (is_serial(ty.name))
		col->notnull = true;
}

/* The column a CHECK constraint's expression proves NOT NULL ("col IS NOT NULL"), or NULL. */
static const char *check_not_null_column(json_t *con)
{
	json_t *nt = as(json_object_get(con, "raw_expr"), "NullTest"), *cr, *fields;

	if (!nt || !jis(nt, "nulltesttype", "IS_NOT_NULL") || !(cr = as(json_object_get(nt, "arg"), "ColumnRef")))
		return NULL;
	fields = json_object_get(cr, "fields");
	return json_array_size(fields) == 1 ? qualified(fields).name : NULL;
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
	json_t *call;		/* the first call that is not known IMMUTABLE or STABLE */
};

static bool find_volatile(const char *type, json_t *n, void *arg)
{
	struct volatile_search *vs = arg;
	struct rel q;

	if (strcmp(type, "FuncCall") != 0)
		return true;
	q = qualified(json_object_get(n, "funcname"));
	if (q.name && func_nonvolatile(vs->st, q.schema, q.name))
		return true;
	vs->call = n;
	return false;
}

/* ---- the rules, per command --------------------------------------------- */

static bool created(struct ctx *c, const struct rel *r)
{
	return rel_in(c->st->tables.v, c->st->tables.n, r);
}

static void identity_check(struct ctx *c, json_t *coldef)
{
	json_t *tn = json_object_get(coldef, "typeName");
	const char *type = coltype_of(tn).name;

	if (is_serial(type))
		finding(c, R_IDENTITY, jloc(tn, c->start), "column \"%s\" is %s", jstr(coldef, "colname"), type);
}

static void lint_create(struct ctx *c, json_t *n)
{
	struct rel t = rangevar(json_object_get(n, "relation"));
	size_t i;
	json_t *e, *x;

	*PUSH(c->st->tables) = rel_dup(t);
	json_array_foreach(json_object_get(n, "tableElts"), i, e) {
		if ((x = as(e, "ColumnDef"))) {
			column_add(c->st, &t, x);
			identity_check(c, x);
		} else if ((x = as(e, "Constraint")) && jis(x, "contype", "CONSTR_PRIMARY")) {
			size_t j;
			json_t *k;
			struct column *col;

			json_array_foreach(json_object_get(x, "keys"), j, k)
				if (as(k, "String") && (col = column_find(c->st, &t, jstr(as(k, "String"), "sval"))))
					col->notnull = true;
		}
	}
}

/* ADD COLUMN on a table that exists: what rewrites, fails, scans or builds an index. */
static void lint_add_column(struct ctx *c, json_t *coldef, const char *tname)
{
	const char *name = jstr(coldef, "colname"), *type = coltype_of(json_object_get(coldef, "typeName")).name;
	json_t *def = NULL, *notnull = NULL, *cn, *k;
	bool fills = false;
	size_t i;

	json_array_foreach(json_object_get(coldef, "constraints"), i, cn) {
		const char *ct;
		size_t at;

		if (!(k = as(cn, "Constraint")) || !(ct = jstr(k, "contype")))
			continue;
		at = jloc(k, c->start);
		if (strcmp(ct, "CONSTR_DEFAULT") == 0) {
			def = k;
		} else if (strcmp(ct, "CONSTR_NOTNULL") == 0) {
			notnull = k;
		} else if (strcmp(ct, "CONSTR_IDENTITY") == 0) {
			fills = true;
			finding(c, R_VOLATILE, at, "ADD COLUMN \"%s\" GENERATED AS IDENTITY on existing table %s", name,
				tname);
		} else if (strcmp(ct, "CONSTR_GENERATED") == 0) {
			fills = true;
			finding(c, R_VOLATILE, at, "ADD COLUMN \"%s\" GENERATED ALWAYS AS (...) STORED on existing table %s",
				name, tname);
		} else if (strcmp(ct, "CONSTR_PRIMARY") == 0 || strcmp(ct, "CONSTR_UNIQUE") == 0) {
			finding(c, R_UNIQUE, at, "ADD COLUMN \"%s\" ... %s on existing table %s", name,
				ct[7] == 'P' ? "PRIMARY KEY" : "UNIQUE", tname);
		} else if (strcmp(ct, "CONSTR_FOREIGN") == 0 || strcmp(ct, "CONSTR_CHECK") == 0) {
			finding(c, R_NOT_VALID, at, "ADD COLUMN \"%s\" with a %s on existing table %s (a column constraint "
				"cannot be NOT VALID)", name, ct[7] == 'F' ? "REFERENCES" : "CHECK", tname);
		}
	}
	if (is_serial(type)) {
		fills = true;
		finding(c, R_VOLATILE, jloc(json_object_get(coldef, "typeName"), c->start),
			"ADD COLUMN \"%s\" %s on existing table %s (its DEFAULT is nextval())", name, type, tname);
	}
	if (def) {
		struct volatile_search vs = { c->st, NULL };
		struct rel fn;

		walk(json_object_get(def, "raw_expr"), find_volatile, &vs);
		if (vs.call) {
			fills = true;
			fn = qualified(json_object_get(vs.call, "funcname"));
			finding(c, R_VOLATILE, jloc(vs.call, jloc(def, c->start)), "ADD COLUMN \"%s\" on existing table %s "
				"with DEFAULT %s(), which is not known as IMMUTABLE or STABLE", name, tname,
				fn.name ? fn.name : "?");
		}
	}
	if (notnull && !def && !fills)
		finding(c, R_NOT_NULL, jloc(notnull, c->start), "ADD COLUMN \"%s\" NOT NULL without a DEFAULT on "
			"existing table %s", name, tname);
}

static void lint_add_constraint(struct ctx *c, const struct rel *t, json_t *con, bool isnew, const char *tname)
{
	const char *ct = jstr(con, "contype"), *col = check_not_null_column(con);
	bool not_valid = jtrue(con, "skip_validation");
	size_t at = jloc(con, c->start);

	if (!ct)
		return;
	if (strcmp(ct, "CONSTR_CHECK") == 0 && col) {
		struct nncheck *k = PUSH(c->st->checks);

		k->table = rel_dup(*t);
		k->conname = xstrdup(jstr(con, "conname"));
		k->column = xstrdup(col);
		k->validated = !not_valid;
	}
	if (isnew)
		return;
	if (strcmp(ct, "CONSTR_FOREIGN") == 0 || strcmp(ct, "CONSTR_CHECK") == 0) {
		if (!not_valid) {
			finding(c, R_NOT_VALID, at, "ADD %s on existing table %s without NOT VALID",
				ct[7] == 'F' ? "FOREIGN KEY" : "CHECK", tname);
		} else if (jstr(con, "conname")) {
			struct nncheck *k = PUSH(c->st->not_valid);

			k->table = rel_dup(*t);
			k->conname = xstrdup(jstr(con, "conname"));
		}
	} else if ((strcmp(ct, "CONSTR_UNIQUE") == 0 || strcmp(ct, "CONSTR_PRIMARY") == 0 ||
		    strcmp(ct, "CONSTR_EXCLUSION") == 0) && !jstr(con, "indexname")) {
		finding(c, R_UNIQUE, at, "ADD %s on existing table %s without USING INDEX", ct[7] == 'U' ? "UNIQUE" :
			ct[7] == 'P' ? "PRIMARY KEY" : "EXCLUDE", tname);
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

static void lint_alter_type(struct ctx *c, const struct rel *t, json_t *cmd, bool isnew, const char *tname)
{
	const char *name = jstr(cmd, "name");
	json_t *def = as(json_object_get(cmd, "def"), "ColumnDef");
	json_t *tn = json_object_get(def, "typeName");
	struct coltype to = coltype_of(tn);
	struct column *col = column_find(c->st, t, name);
	bool using = json_object_get(def, "raw_default") != NULL;
	char was[128], now[128];

	coltype_show(&to, now, sizeof(now));
	if (!isnew && !(col && !using && type_binary_compatible(&col->type, &to))) {
		if (col && col->type.name) {
			coltype_show(&col->type, was, sizeof(was));
			finding(c, R_TYPE, jloc(tn, c->start), "ALTER COLUMN \"%s\" TYPE %s on existing table %s "
				"(it was %s%s)", name, now, tname, was, using ? ", and USING converts each row" : "");
		} else {
			finding(c, R_TYPE, jloc(tn, c->start), "ALTER COLUMN \"%s\" TYPE %s on existing table %s (its "
				"old type is not known from earlier migrations: unless the two are binary compatible)",
				name, now, tname);
		}
	}
	if (col) {
		free(col->type.name);
		col->type = to;
		col->type.name = xstrdup(to.name);
	}
}

static void lint_set_not_null(struct ctx *c, const struct rel *t, json_t *cmd, bool isnew, const char *tname)
{
	const char *name = jstr(cmd, "name");
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

static void lint_validate(struct ctx *c, const struct rel *t, json_t *cmd)
{
	const char *name = jstr(cmd, "name");

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

static void lint_alter_table(struct ctx *c, json_t *n)
{
	json_t *rv = json_object_get(n, "relation");
	struct rel t = rangevar(rv);
	bool isnew = created(c, &t);
	char tname[300];
	size_t i;
	json_t *cmd;

	if (!jis(n, "objtype", "OBJECT_TABLE") || !t.name)
		return;
	rel_show(&t, tname, sizeof(tname));
	c->after_rel = jloc(rv, c->start) + strlen(t.name);
	json_array_foreach(json_object_get(n, "cmds"), i, cmd) {
		json_t *a = as(cmd, "AlterTableCmd"), *def;
		const char *st = a ? jstr(a, "subtype") : NULL;

		if (!st)
			continue;
		def = json_object_get(a, "def");
		if (strcmp(st, "AT_AddColumn") == 0 && as(def, "ColumnDef")) {
			column_add(c->st, &t, as(def, "ColumnDef"));
			identity_check(c, as(def, "ColumnDef"));
			if (!isnew)
				lint_add_column(c, as(def, "ColumnDef"), tname);
		} else if (strcmp(st, "AT_AddConstraint") == 0 && as(def, "Constraint")) {
			lint_add_constraint(c, &t, as(def, "Constraint"), isnew, tname);
		} else if (strcmp(st, "AT_ValidateConstraint") == 0) {
			lint_validate(c, &t, a);
		} else if (strcmp(st, "AT_SetNotNull") == 0) {
			lint_set_not_null(c, &t, a, isnew, tname);
		} else if (strcmp(st, "AT_AlterColumnType") == 0 && as(def, "ColumnDef")) {
			lint_alter_type(c, &t, a, isnew, tname);
		} else if (strcmp(st, "AT_DropColumn") == 0 && !isnew) {
			finding(c, R_DROP_COLUMN, keyword(c, c->after_rel, jstr(a, "name")), "DROP COLUMN \"%s\" of table %s",
				jstr(a, "name"), tname);
		}
	}
}

static void lint_index(struct ctx *c, json_t *n)
{
	struct rel t = rangevar(json_object_get(n, "relation"));
	char tname[300];

	if (jstr(n, "idxname"))
		*PUSH(c->st->indexes) = rel_dup((struct rel){ (char *)t.schema, (char *)jstr(n, "idxname") });
	if (jtrue(n, "concurrent") || created(c, &t))
		return;
	rel_show(&t, tname, sizeof(tname));
	finding(c, R_INDEX, c->start, "CREATE %sINDEX without CONCURRENTLY on existing table %s",
		jtrue(n, "unique") ? "UNIQUE " : "", tname);
}

static void lint_drop(struct ctx *c, json_t *n)
{
	bool table = jis(n, "removeType", "OBJECT_TABLE"), index = jis(n, "removeType", "OBJECT_INDEX");
	size_t i;
	json_t *o, *list;

	if (!table && !(index && !jtrue(n, "concurrent")))
		return;
	json_array_foreach(json_object_get(n, "objects"), i, o) {
		struct rel r;
		char name[300];

		if (!(list = as(o, "List")))
			continue;
		r = qualified(json_object_get(list, "items"));
		rel_show(&r, name, sizeof(name));
		if (table && !created(c, &r))
			finding(c, R_DROP_TABLE, c->start, "DROP TABLE %s", name);
		else if (index && !rel_in(c->st->indexes.v, c->st->indexes.n, &r))
			finding(c, R_DROP_INDEX, c->start, "DROP INDEX %s without CONCURRENTLY", name);
	}
}

static void lint_rename(struct ctx *c, json_t *n)
{
	struct rel t = rangevar(json_object_get(n, "relation"));
	char tname[300];

	if (!t.name)
		return;
	rel_show(&t, tname, sizeof(tname));
	if (jis(n, "renameType", "OBJECT_TABLE")) {
		struct rel *r = NULL;

		for (size_t i = 0; i < c->st->tables.n && !r; i++)
			if (rel_eq(&c->st->tables.v[i], &t))
				r = &c->st->tables.v[i];
		if (r) {
			free(r->name);
			r->name = xstrdup(jstr(n, "newname"));
		} else {
			finding(c, R_RENAME_TABLE, keyword(c, c->start, "RENAME"), "RENAME table %s to \"%s\"", tname,
				jstr(n, "newname"));
		}
		for (size_t i = 0; i < c->st->columns.n; i++)
			if (rel_eq(&c->st->columns.v[i].table, &t)) {
				free(c->st->columns.v[i].table.name);
				c->st->columns.v[i].table.name = xstrdup(jstr(n, "newname"));
			}
	} else if (jis(n, "renameType", "OBJECT_COLUMN") && jis(n, "relationType", "OBJECT_TABLE")) {
		struct column *col = column_find(c->st, &t, jstr(n, "subname"));

		if (!created(c, &t))
			finding(c, R_RENAME_COLUMN, keyword(c, c->start, "RENAME"), "RENAME COLUMN \"%s\" of table %s to "
				"\"%s\"", jstr(n, "subname"), tname, jstr(n, "newname"));
		if (col) {
			free(col->name);
			col->name = xstrdup(jstr(n, "newname"));
		}
	}
}

/* Whether a lock_timeout value means "no timeout": 0 in any unit. */
static bool timeout_zero(json_t *arg)
{
	json_t *k = as(arg, "A_Const"), *v;
	const char *s;
	char *end;

	if (!k)
		return false;
	if ((v = json_object_get(k, "ival")))
		return json_integer_value(json_object_get(v, "ival")) == 0;
	if ((v = json_object_get(k, "fval")) && (s = jstr(v, "fval")))
		return strtod(s, NULL) == 0;
	if ((v = json_object_get(k, "sval")) && (s = jstr(v, "sval"))) {
		double d = strtod(s, &end);
		return end != s && d == 0;
	}
	return false;
}

static void lint_set(struct ctx *c, json_t *n)
{
	const char *kind = jstr(n, "kind"), *name = jstr(n, "name");
	json_t *args = json_object_get(n, "args");

	if (str_eq(kind, "VAR_RESET_ALL")) {
		finding(c, R_LOCK_TIMEOUT, c->start, "RESET ALL resets lock_timeout to the server's default");
		return;
	}
	if (!name || strcasecmp(name, "lock_timeout") != 0)
		return;
	if (str_eq(kind, "VAR_SET_VALUE") && json_array_size(args) == 1 && timeout_zero(json_array_get(args, 0)))
		finding(c, R_LOCK_TIMEOUT, jloc(as(json_array_get(args, 0), "A_Const"), c->start),
			"SET lock_timeout to 0 (no timeout)");
	else if (str_eq(kind, "VAR_SET_DEFAULT") || str_eq(kind, "VAR_RESET"))
		finding(c, R_LOCK_TIMEOUT, c->start, "%s lock_timeout to the server's default (no timeout unless "
			"configured)", str_eq(kind, "VAR_RESET") ? "RESET" : "SET");
}

/* set_config('lock_timeout', '0', ...) anywhere in a SELECT. */
static bool find_set_config(const char *type, json_t *n, void *arg)
{
	struct ctx *c = arg;
	json_t *args, *k, *v;
	const char *s;

	if (strcmp(type, "FuncCall") != 0 || !str_eq(qualified(json_object_get(n, "funcname")).name, "set_config"))
		return true;
	args = json_object_get(n, "args");
	if (json_array_size(args) < 2 || !(k = as(json_array_get(args, 0), "A_Const")) ||
	    !(v = json_object_get(k, "sval")) || !(s = jstr(v, "sval")) || strcasecmp(s, "lock_timeout") != 0)
		return true;
	if (timeout_zero(json_array_get(args, 1)))
		finding(c, R_LOCK_TIMEOUT, jloc(n, c->start), "set_config('lock_timeout', 0) switches it off");
	return true;
}

static void lint_transaction(struct ctx *c, json_t *n)
{
	static const char *const kinds[][2] = {
		{ "TRANS_STMT_BEGIN", "BEGIN" }, { "TRANS_STMT_START", "START TRANSACTION" },
		{ "TRANS_STMT_COMMIT", "COMMIT" }, { "TRANS_STMT_ROLLBACK", "ROLLBACK" },
		{ "TRANS_STMT_PREPARE", "PREPARE TRANSACTION" },
	};

	if (!c->st->tx)
		return;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (jis(n, "kind", kinds[i][0]))
			finding(c, R_TX_CONTROL, c->start, "%s in a transactional migration", kinds[i][1]);
}

static void lint_enum(struct ctx *c, json_t *n)
{
	struct rel t = qualified(json_object_get(n, "typeName"));
	struct enumval *e;
	uint32_t col;

	if (!c->st->tx || jstr(n, "oldVal") || !jstr(n, "newVal") || rel_in(c->st->types.v, c->st->types.n, &t))
		return;
	e = PUSH(c->st->enums);
	e->value = xstrdup(jstr(n, "newVal"));
	pstmt_where(c->s, c->start, &e->line, &col);
}

/* A string constant that is an enum value added earlier in this transaction. */
static bool find_enum_use(const char *type, json_t *n, void *arg)
{
	struct ctx *c = arg;
	json_t *v = json_object_get(n, "sval");
	const char *s;

	if (strcmp(type, "A_Const") != 0 || !(s = jstr(v, "sval")))
		return true;
	for (size_t i = 0; i < c->st->enums.n; i++) {
		struct enumval *e = &c->st->enums.v[i];

		if (!e->reported && strcmp(e->value, s) == 0) {
			e->reported = true;
			finding(c, R_ENUM, jloc(n, c->start), "uses enum value '%s', added by ALTER TYPE ... ADD VALUE "
				"at line %u in this transaction", s, e->line);
		}
	}
	return true;
}

static void lint_function(struct ctx *c, json_t *n)
{
	json_t *v = defelem(json_object_get(n, "options"), "volatility"), *s;
	struct func *fn = PUSH(c->st->funcs);
	const char *vol = v && (s = as(json_object_get(v, "arg"), "String")) ? jstr(s, "sval") : NULL;

	fn->name = xstrdup(qualified(json_object_get(n, "funcname")).name);
	fn->nonvolatile = vol && strcasecmp(vol, "volatile") != 0;
}

void lint_command(struct lint *l, const struct pfile *f, const struct pstmt *s, const char *text, const char *type,
		  json_t *n, size_t start, size_t end, struct diag *d)
{
	struct ctx c = { l, l->st, f, s, text, start, end, start, d };
	json_t *x;

	if (l->mode == LINT_OFF)
		return;
	if (l->st->enums.n)
		walk(n, find_enum_use, &c);
	if (strcmp(type, "CreateStmt") == 0) {
		lint_create(&c, n);
	} else if (strcmp(type, "CreateTableAsStmt") == 0 && (x = json_object_get(n, "into"))) {
		*PUSH(l->st->tables) = rel_dup(rangevar(json_object_get(x, "rel")));
	} else if (strcmp(type, "CreateEnumStmt") == 0) {
		*PUSH(l->st->types) = rel_dup(qualified(json_object_get(n, "typeName")));
	} else if (strcmp(type, "AlterTableStmt") == 0) {
		lint_alter_table(&c, n);
	} else if (strcmp(type, "IndexStmt") == 0) {
		lint_index(&c, n);
	} else if (strcmp(type, "DropStmt") == 0) {
		lint_drop(&c, n);
	} else if (strcmp(type, "RenameStmt") == 0) {
		lint_rename(&c, n);
	} else if (strcmp(type, "AlterEnumStmt") == 0) {
		lint_enum(&c, n);
	} else if (strcmp(type, "VacuumStmt") == 0 && jtrue(n, "is_vacuumcmd")) {
		json_t *full = defelem(json_object_get(n, "options"), "full");

		if (full && defelem_true(full))
			finding(&c, R_VACUUM_FULL, jloc(full, start), "VACUUM FULL");
	} else if (strcmp(type, "ClusterStmt") == 0) {
		struct rel t = rangevar(json_object_get(n, "relation"));

		if (!t.name || !created(&c, &t))
			finding(&c, R_CLUSTER, start, "CLUSTER");
	} else if (strcmp(type, "VariableSetStmt") == 0) {
		lint_set(&c, n);
	} else if (strcmp(type, "SelectStmt") == 0) {
		if ((x = json_object_get(n, "intoClause")))	/* SELECT ... INTO creates a table */
			*PUSH(l->st->tables) = rel_dup(rangevar(json_object_get(x, "rel")));
		walk(n, find_set_config, &c);
	} else if (strcmp(type, "TransactionStmt") == 0) {
		lint_transaction(&c, n);
	} else if (strcmp(type, "CreateFunctionStmt") == 0) {
		lint_function(&c, n);
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
