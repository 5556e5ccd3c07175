/*
 * lint_rules.c - the safety lint's rules, per command of libpg_query's parse tree
 * (lint.h says what the lint is; lint.c's table names each rule).
 */
#include "lint_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ---- the rules, per command --------------------------------------------- */

static bool
created(struct ctx *c, const struct rel *r)
{
	return rel_in(c->st->tables.v, c->st->tables.n, r);
}

static void
identity_check(struct ctx *c, const PgQuery__ColumnDef *cd)
{
	const char *type = coltype_of(cd->type_name).name;

	if (is_serial(type))
		finding(c, R_IDENTITY, cd->type_name ? loc_or(cd->type_name->location, c->start) : c->start,
			"column \"%s\" is %s", cd->colname, type);
}

static void
lint_create(struct ctx *c, const PgQuery__CreateStmt *n)
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
static void
lint_add_column(struct ctx *c, const PgQuery__ColumnDef *cd, const char *tname)
{
	const char *name = cd->colname, *type = coltype_of(cd->type_name).name;
	const PgQuery__Constraint *def = NULL, *notnull = NULL;
	bool fills = false;

	for (size_t i = 0; i < cd->n_constraints; i++) {
		const PgQuery__Constraint *k =
			IS(cd->constraints[i], CONSTRAINT) ? cd->constraints[i]->constraint : NULL;
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
			finding(c, R_VOLATILE, at,
				"ADD COLUMN \"%s\" GENERATED ALWAYS AS (...) STORED on existing table %s", name, tname);
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
		case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
			finding(c, R_UNIQUE, at, "ADD COLUMN \"%s\" ... %s on existing table %s", name,
				k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY" : "UNIQUE", tname);
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
		case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
			finding(c, R_NOT_VALID, at,
				"ADD COLUMN \"%s\" with a %s on existing table %s (a column constraint "
				"cannot be NOT VALID)",
				name, k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN ? "REFERENCES" : "CHECK",
				tname);
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
			finding(c, R_VOLATILE, loc_or(vs.call->location, loc_or(def->location, c->start)),
				"ADD COLUMN \"%s\" "
				"on existing table %s with DEFAULT %s(), which is not known as IMMUTABLE or STABLE",
				name, tname, fn ? fn : "?");
		}
	}
	if (notnull && !def && !fills)
		finding(c, R_NOT_NULL, loc_or(notnull->location, c->start),
			"ADD COLUMN \"%s\" NOT NULL without a "
			"DEFAULT on existing table %s",
			name, tname);
}

static void
lint_add_constraint(struct ctx *c, const struct rel *t, const PgQuery__Constraint *con, bool isnew, const char *tname)
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
				con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE		? "UNIQUE"
					: con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY"
												: "EXCLUDE",
				tname);
		break;
	default:
		break;
	}
}

/* Whether changing column type from a to b keeps the stored bytes (no rewrite). */
static bool
type_binary_compatible(const struct coltype *a, const struct coltype *b)
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
		return unbounded ||
			(a->nmods >= 1 && b->mods[0] >= a->mods[0] &&
			 (a->nmods == 2 ? a->mods[1] : 0) == (b->nmods == 2 ? b->mods[1] : 0));
	if (strcmp(a->name, "varbit") == 0 && strcmp(b->name, "varbit") == 0)
		return unbounded || (a->nmods == 1 && b->mods[0] >= a->mods[0]);
	return strcmp(a->name, "cidr") == 0 && strcmp(b->name, "inet") == 0;
}

/* A type as a message shows it: varchar(20), numeric(10,2), int4[]. */
static void
coltype_show(const struct coltype *t, char *out, size_t n)
{
	int k = snprintf(out, n, "%s", t->name ? t->name : "?");

	if (k > 0 && (size_t)k < n && t->nmods > 0)
		k += snprintf(out + k, n - (size_t)k, t->nmods == 2 ? "(%ld,%ld)" : "(%ld)", t->mods[0], t->mods[1]);
	if (k > 0 && (size_t)k < n && t->array)
		snprintf(out + k, n - (size_t)k, "[]");
}

static void
lint_alter_type(struct ctx *c, const struct rel *t, const PgQuery__AlterTableCmd *cmd, bool isnew, const char *tname)
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
			finding(c, R_TYPE, at, "ALTER COLUMN \"%s\" TYPE %s on existing table %s (it was %s%s)", name,
				now, tname, was, using ? ", and USING converts each row" : "");
		} else {
			finding(c, R_TYPE, at,
				"ALTER COLUMN \"%s\" TYPE %s on existing table %s (its old type is not known "
				"from earlier migrations: unless the two are binary compatible)",
				name, now, tname);
		}
	}
	if (col) {
		free(col->type.name);
		col->type = to;
		col->type.name = xstrdup(to.name);
	}
}

static void
lint_set_not_null(struct ctx *c, const struct rel *t, const char *name, bool isnew, const char *tname)
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
			"NULL)",
			name, tname, name);
	if (col)
		col->notnull = true;
}

static void
lint_validate(struct ctx *c, const struct rel *t, const char *name)
{
	for (size_t i = 0; i < c->st->checks.n; i++)
		if (str_eq(c->st->checks.v[i].conname, name) && rel_eq(&c->st->checks.v[i].table, t))
			c->st->checks.v[i].validated = true;
	if (!c->st->tx)
		return;
	for (size_t i = 0; i < c->st->not_valid.n; i++) {
		const struct nncheck *k = &c->st->not_valid.v[i];

		if (str_eq(k->conname, name) && rel_eq(&k->table, t)) {
			finding(c, R_VALIDATE_TX, keyword(c, c->start, "VALIDATE"),
				"VALIDATE CONSTRAINT \"%s\" in the "
				"transaction that added it NOT VALID",
				name);
			return;
		}
	}
}

static void
lint_alter_table(struct ctx *c, const PgQuery__AlterTableStmt *n)
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
				finding(c, R_DROP_COLUMN, keyword(c, c->after_rel, a->name),
					"DROP COLUMN \"%s\" of table %s", a->name, tname);
			break;
		default:
			break;
		}
	}
}

static void
lint_index(struct ctx *c, const PgQuery__IndexStmt *n)
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

static void
lint_drop(struct ctx *c, const PgQuery__DropStmt *n)
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

static void
lint_rename(struct ctx *c, const PgQuery__RenameStmt *n)
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
			finding(c, R_RENAME_COLUMN, keyword(c, c->start, "RENAME"),
				"RENAME COLUMN \"%s\" of table %s to "
				"\"%s\"",
				n->subname, tname, n->newname);
		if (col) {
			free(col->name);
			col->name = xstrdup(n->newname);
		}
	}
}

/* Whether a lock_timeout value means "no timeout": 0 in any unit. */
static bool
timeout_zero(const Node *arg)
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

static void
lint_set(struct ctx *c, const PgQuery__VariableSetStmt *n)
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
		finding(c, R_LOCK_TIMEOUT, c->start,
			"%s lock_timeout to the server's default (no timeout unless "
			"configured)",
			n->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ? "RESET" : "SET");
}

/* set_config('lock_timeout', '0', ...) anywhere in a SELECT. */
static bool
find_set_config(const ProtobufCMessage *m, void *arg)
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
		finding(c, R_LOCK_TIMEOUT, loc_or(fc->location, c->start),
			"set_config('lock_timeout', 0) switches it off");
	return true;
}

static void
lint_enum(struct ctx *c, const PgQuery__AlterEnumStmt *n)
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
static bool
find_enum_use(const ProtobufCMessage *m, void *arg)
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
			finding(c, R_ENUM, loc_or(k->location, c->start),
				"uses enum value '%s', added by ALTER TYPE ... "
				"ADD VALUE at line %u in this transaction",
				s, e->line);
		}
	}
	return true;
}

static void
lint_function(struct ctx *c, const PgQuery__CreateFunctionStmt *n)
{
	const PgQuery__DefElem *v = defelem(n->options, n->n_options, "volatility");
	struct func *fn = PUSH(c->st->funcs);
	const char *vol = v && IS(v->arg, STRING) ? v->arg->string->sval : NULL;

	fn->name = xstrdup(qualified(n->funcname, n->n_funcname).name);
	fn->nonvolatile = vol && strcasecmp(vol, "volatile") != 0;
}

void
lint_command(struct lint *l, const struct pfile *f, const struct pstmt *s, const char *text, const PgQuery__Node *n,
	     size_t start, size_t end, struct diag *d)
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
		*PUSH(l->st->types) =
			rel_dup(qualified(n->create_enum_stmt->type_name, n->create_enum_stmt->n_type_name));
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
