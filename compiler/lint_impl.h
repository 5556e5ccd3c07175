/*
 * lint_impl.h - the safety lint's insides, shared by its files (nothing else
 * includes it): lint.c (the rule table, findings, gosling:allow markers, the
 * lifecycle and output), lint_tree.c (reading libpg_query's parse tree, and
 * what the bundle's earlier files taught), lint_rules.c (the rules, per
 * command).
 */
#ifndef GOSLING_LINT_IMPL_H
#define GOSLING_LINT_IMPL_H

#include "lint.h"

#include "fatal.h"
#include "pfile.h"

#include <pg_query.pb-c.h>
#include <string.h>

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

/* ---- what the lint learned ---------------------------------------------- */

struct rel {
	char *schema; /* NULL when not qualified */
	char *name;
};

/* A column type: its last name (varchar, numeric, text ...) and up to two typmods. */
struct coltype {
	char *name; /* NULL: not known */
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
	char *conname; /* may be NULL (unnamed) */
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
	bool file; /* before '-- +goose Up' */
	bool used;
};

struct enumval {
	char *value;
	uint32_t line; /* where ALTER TYPE ... ADD VALUE is */
	bool reported;
};

#define VEC(T)                 \
	struct {               \
		T *v;          \
		size_t n, cap; \
	}

struct lint_state {
	/* the bundle: earlier files */
	VEC(struct column) columns;
	VEC(struct nncheck) checks;
	VEC(struct func) funcs;
	/* this migration */
	bool tx;
	VEC(struct rel) tables;	       /* created here */
	VEC(struct rel) indexes;       /* created here */
	VEC(struct rel) types;	       /* created here */
	VEC(struct nncheck) not_valid; /* constraints added NOT VALID here (no column) */
	VEC(struct enumval) enums;     /* values added here, in a transaction */
	VEC(struct allow) allows;
};

/* Append: a slot at the end of vector V (doubling), zeroed. */
#define PUSH(V)                                                                                                       \
	(((V).n == (V).cap ? ((V).cap = (V).cap ? 2 * (V).cap : 8, (V).v = xrealloc((V).v, (V).cap * sizeof(*(V).v))) \
			   : 0),                                                                                      \
	 memset(&(V).v[(V).n], 0, sizeof(*(V).v)), &(V).v[(V).n++])

static inline bool
str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Same relation: same name, and the same schema where both name one. */
static inline bool
rel_eq(const struct rel *a, const struct rel *b)
{
	return str_eq(a->name, b->name) && (!a->schema || !b->schema || strcmp(a->schema, b->schema) == 0);
}

static inline bool
rel_in(const struct rel *v, size_t n, const struct rel *r)
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
static inline char *
str(char *s)
{
	return s && s[0] ? s : NULL;
}

static inline size_t
loc_or(int32_t location, size_t dflt)
{
	return location >= 0 ? (size_t)location : dflt;
}

/* ---- findings ----------------------------------------------------------- */

/* One command being linted. */
struct ctx {
	struct lint *l;
	struct lint_state *st;
	const struct pfile *f;
	const struct pstmt *s;
	const char *text;
	size_t start;	  /* the command's first byte in text */
	size_t end;	  /* one past its last (for keyword searches) */
	size_t after_rel; /* ALTER TABLE: just after the table's name, where the commands begin */
	struct diag *d;
};

struct volatile_search {
	struct lint_state *st;
	const PgQuery__FuncCall *call; /* the first call that is not known IMMUTABLE or STABLE */
};

/* ---- lint_tree.c ---------------------------------------------------------- */

struct rel rangevar(const PgQuery__RangeVar *rv);
struct rel qualified(Node **list, size_t n);
struct rel rel_dup(struct rel r);
void rel_show(const struct rel *r, char *out, size_t n);
bool defelem_true(const PgQuery__DefElem *d);
const PgQuery__DefElem *defelem(Node **list, size_t n, const char *name);
bool walk(const ProtobufCMessage *m, bool (*fn)(const ProtobufCMessage *m, void *arg), void *arg);
struct coltype coltype_of(const PgQuery__TypeName *tn);
bool is_serial(const char *type);
struct column *column_find(struct lint_state *st, const struct rel *t, const char *name);
void column_add(struct lint_state *st, const struct rel *t, const PgQuery__ColumnDef *cd);
const char *check_not_null_column(const PgQuery__Constraint *con);
bool find_volatile(const ProtobufCMessage *m, void *arg);

/* ---- lint.c --------------------------------------------------------------- */

/* A finding of rule at statement offset off: kept, and reported unless a marker accepts it. */
void finding(struct ctx *c, unsigned rule, size_t off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Offset of keyword word in the command from offset from on, or the command's start. */
size_t keyword(struct ctx *c, size_t from, const char *word);

#endif
