/*
 * lint_tree.c - the safety lint's reading of libpg_query's parse tree (protobuf-c
 * structs), and what the bundle's earlier files taught it (lint_impl.h).
 */
#include "lint_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* A RangeVar's relation (borrowed strings). */
struct rel
rangevar(const PgQuery__RangeVar *rv)
{
	return rv ? (struct rel){ str(rv->schemaname), str(rv->relname) } : (struct rel){ NULL, NULL };
}

/* A qualified name given as a list of String nodes (DROP's objects, type and function names). */
struct rel
qualified(Node **list, size_t n)
{
	Node *last = n ? list[n - 1] : NULL, *first = n > 1 ? list[n - 2] : NULL;

	return (struct rel){ IS(first, STRING) ? str(first->string->sval) : NULL,
			     IS(last, STRING) ? str(last->string->sval) : NULL };
}

struct rel
rel_dup(struct rel r)
{
	return (struct rel){ xstrdup(r.schema), xstrdup(r.name) };
}

/* Quoted for a message: "name" or "schema"."name". */
void
rel_show(const struct rel *r, char *out, size_t n)
{
	if (r->schema)
		snprintf(out, n, "\"%s\".\"%s\"", r->schema, r->name ? r->name : "?");
	else
		snprintf(out, n, "\"%s\"", r->name ? r->name : "?");
}

/* A DefElem's boolean value as defGetBoolean reads it (no argument: true). */
bool
defelem_true(const PgQuery__DefElem *d)
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
const PgQuery__DefElem *
defelem(Node **list, size_t n, const char *name)
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
bool
walk(const ProtobufCMessage *m, bool (*fn)(const ProtobufCMessage *m, void *arg), void *arg)
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
			ProtobufCMessage *const *v =
				*(ProtobufCMessage *const *const *)(const void *)(base + fd->offset);

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
struct coltype
coltype_of(const PgQuery__TypeName *tn)
{
	struct coltype t = { NULL, 0, { 0, 0 }, false };

	if (!tn)
		return t;
	t.name = qualified(tn->names, tn->n_names).name;
	t.array = tn->n_array_bounds > 0;
	for (size_t i = 0; i < tn->n_typmods; i++) {
		const Node *m = tn->typmods[i];

		if (t.nmods == 2 || !IS(m, A_CONST) || m->a_const->val_case != PG_QUERY__A__CONST__VAL_IVAL) {
			t.nmods = -1; /* not plain integers: not comparable */
			break;
		}
		t.mods[t.nmods++] = m->a_const->ival ? m->a_const->ival->ival : 0;
	}
	return t;
}

bool
is_serial(const char *type)
{
	static const char *const serials[] = { "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2" };

	for (size_t i = 0; type && i < sizeof(serials) / sizeof(serials[0]); i++)
		if (strcmp(type, serials[i]) == 0)
			return true;
	return false;
}

/* ---- the bundle's facts ------------------------------------------------- */

struct column *
column_find(struct lint_state *st, const struct rel *t, const char *name)
{
	for (size_t i = st->columns.n; i-- > 0;)
		if (str_eq(st->columns.v[i].name, name) && rel_eq(&st->columns.v[i].table, t))
			return &st->columns.v[i];
	return NULL;
}

/* Record a column of table t (CREATE TABLE, ADD COLUMN): its type and whether it is NOT NULL. */
void
column_add(struct lint_state *st, const struct rel *t, const PgQuery__ColumnDef *cd)
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

		if (IS(k, CONSTRAINT) &&
		    (k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL ||
		     k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ||
		     k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY))
			col->notnull = true;
	}
}

/* The column a CHECK constraint's expression proves NOT NULL ("col IS NOT NULL"), or NULL. */
const char *
check_not_null_column(const PgQuery__Constraint *con)
{
	const Node *e = con->raw_expr;
	const PgQuery__NullTest *nt = IS(e, NULL_TEST) ? e->null_test : NULL;
	const Node *a = nt ? nt->arg : NULL;

	if (!nt || nt->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL || !IS(a, COLUMN_REF) ||
	    a->column_ref->n_fields != 1)
		return NULL;
	return qualified(a->column_ref->fields, 1).name;
}

static bool
func_nonvolatile(struct lint_state *st, const char *schema, const char *name)
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

bool
find_volatile(const ProtobufCMessage *m, void *arg)
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
