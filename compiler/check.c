/*
 * check.c - PostgreSQL 15's parser (libpg_query) over each goose statement.
 *
 * pg_query_parse_protobuf() gives the raw parse tree (protobuf, unpacked with
 * the protobuf-c inside libpg_query): one entry per SQL command, with its byte
 * location and length in the statement, so
 * the tree is both the command count (the same list pg_query_split_with_parser
 * walks) and the basis of the transaction-safety check: node types and flags,
 * never text matching.
 *
 * Positions: PostgreSQL reports a syntax error's cursor as a 1-based count of
 * characters (the text is UTF-8); pstmt_where() turns a byte offset in the
 * statement into a file line and column.  For PL/pgSQL, libpg_query keeps only
 * the outer cursor, while the position inside the body is PostgreSQL's
 * "internal" error position; plpgsql_parse() reads it the way PostgreSQL's own
 * error context callbacks do (see there).
 */
#include "check.h"

#include "diag.h"
#include "envsub.h"
#include "fatal.h"
#include "lexer.h"
#include "text.h"

#include <pg_query.h>
#include <pg_query.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HINT_HATCH                                                                      \
	"if the statement is valid on your server (newer syntax, an extension's), put " \
	"'-- " CHECK_MARKER "' on the line before it"

/* ---- text helpers ------------------------------------------------------- */

/* Byte length of the UTF-8 sequence starting with c (the file is valid UTF-8). */
static size_t
utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* Byte offset of the chars-th character (0-based) of s, clamped to len. */
static size_t
char_to_byte(const char *s, size_t len, size_t chars)
{
	size_t i = 0;

	while (chars-- > 0 && i < len)
		i += utf8_len((unsigned char)s[i]);
	return i < len ? i : len;
}

/* Skip blanks and comments (line and nested block) from off. */
static size_t
skip_blank(const char *s, size_t len, size_t off)
{
	while (off < len) {
		unsigned char c = (unsigned char)s[off];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			off++;
		} else if (c == '-' && off + 1 < len && s[off + 1] == '-') {
			while (off < len && s[off] != '\n')
				off++;
		} else if (c == '/' && off + 1 < len && s[off + 1] == '*') {
			int depth = 1;
			off += 2;
			while (off < len && depth > 0) {
				if (s[off] == '/' && off + 1 < len && s[off + 1] == '*') {
					depth++;
					off += 2;
				} else if (s[off] == '*' && off + 1 < len && s[off + 1] == '/') {
					depth--;
					off += 2;
				} else {
					off++;
				}
			}
		} else {
			break;
		}
	}
	return off;
}

/* Whether line (trimmed) is a marker comment: "--", blanks, CHECK_MARKER. */
static bool
marker_line(const char *line, size_t n)
{
	const char *t = line;
	size_t tn = n, k = strlen(CHECK_MARKER);

	text_trim(&t, &tn);
	if (tn < 2 || t[0] != '-' || t[1] != '-')
		return false;
	t += 2;
	tn -= 2;
	while (tn > 0 && (*t == ' ' || *t == '\t' || *t == '-')) {
		t++;
		tn--;
	}
	if (tn < k || strncasecmp(t, CHECK_MARKER, k) != 0)
		return false;
	return tn == k || !lex_ident_char((unsigned char)t[k]) || t[k] == '$';
}

void
check_marks_scan(const struct pfile *f, struct check_marks *m)
{
	size_t pos = 0, cap = 0;
	uint32_t lineno = 0;
	bool before_up = true;
	const char *line, *t;
	size_t n, tn;

	memset(m, 0, sizeof(*m));
	while (pfile_line(f, &pos, &line, &n, &t, &tn)) {
		lineno++;
		if (tn < 2 || t[0] != '-' || t[1] != '-')
			continue;
		if (memmem(t, tn, "+goose", 6)) {
			before_up = false;
			continue;
		}
		if (!marker_line(line, n))
			continue;
		if (before_up)
			m->file = true;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 8;
			m->lines = xrealloc(m->lines, cap * sizeof(*m->lines));
		}
		m->lines[m->n++] = lineno;
	}
}

bool
check_marks_cover(const struct check_marks *m, uint32_t from, const struct pstmt *s)
{
	size_t lo = 0, hi = m->n;

	if (m->file)
		return true;
	/* the first marker at or after from (lines ascend): one search per statement */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->lines[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->lines[lo] <= s->last_line;
}

void
check_marks_free(struct check_marks *m)
{
	free(m->lines);
	memset(m, 0, sizeof(*m));
}

/* ---- the parse tree (protobuf) ------------------------------------------ */

/*
 * The tree comes as libpg_query's protobuf, unpacked by the protobuf-c it carries:
 * no depth limit (a JSON reader's nesting cap refused valid SQL such as 1,200
 * concatenated terms), and every node typed.
 */

/* The DefElem named name in a list of nodes, or NULL. */
static const PgQuery__DefElem *
defelem(PgQuery__Node **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const PgQuery__DefElem *d =
			list[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM ? list[i]->def_elem : NULL;

		if (d && d->defname && strcasecmp(d->defname, name) == 0)
			return d;
	}
	return NULL;
}

/* A DefElem's boolean value as PostgreSQL's defGetBoolean reads it; dflt when absent. */
static bool
defelem_bool(const PgQuery__DefElem *d, bool dflt)
{
	const char *sv;

	if (!d)
		return dflt;
	if (!d->arg)
		return true; /* "WITH (create_slot)" means true */
	switch (d->arg->node_case) {
	case PG_QUERY__NODE__NODE_BOOLEAN:
		return d->arg->boolean->boolval;
	case PG_QUERY__NODE__NODE_INTEGER:
		return d->arg->integer->ival != 0;
	case PG_QUERY__NODE__NODE_STRING:
		sv = d->arg->string->sval;
		return !(strcasecmp(sv, "false") == 0 || strcasecmp(sv, "off") == 0 || strcasecmp(sv, "f") == 0 ||
			 strcasecmp(sv, "no") == 0 || strcasecmp(sv, "n") == 0 || strcmp(sv, "0") == 0);
	default:
		return dflt;
	}
}

/* Why a command may not stand where it is. */
enum refusal_kind {
	R_NONE,
	R_NO_TX_BLOCK, /* PostgreSQL refuses it inside a transaction block */
	R_TX_CONTROL,  /* it would end (or reset) the migration's own transaction */
	R_CLIENT_COPY, /* COPY to or from the client, which gosling is not */
};

/* A command that cannot run where it stands. */
struct refusal {
	enum refusal_kind kind;
	const char *what;    /* as PostgreSQL names it in its error */
	const char *keyword; /* the word to point at, or NULL for the command's start */
	const char *fix;     /* how to make it run */
};

#define FIX_CONCURRENTLY                                                      \
	"put it in a migration of its own marked '-- +goose NO TRANSACTION' " \
	"(one command per statement), or drop CONCURRENTLY if a lock on the table is acceptable"
#define FIX_ALONE                                                              \
	"put it in a migration of its own marked '-- +goose NO TRANSACTION', " \
	"one command per statement"
#define FIX_TX_CONTROL                                                                   \
	"remove it: gosling runs each migration and its history row in one transaction " \
	"of its own; a migration that needs transactions of its own is marked '-- +goose NO TRANSACTION'"
#define FIX_RESET_ALL                                                            \
	"reset only what the migration set (RESET name), or mark the migration " \
	"'-- +goose NO TRANSACTION'"
#define FIX_COPY_IN "load the rows with INSERT ... VALUES, or COPY FROM a file on the database server"
#define FIX_COPY_OUT "drop it, or COPY TO a file on the database server: a migration's results are discarded"

/*
 * refuses_tx_block - whether PostgreSQL 15 calls PreventInTransactionBlock() for
 * this command, decided from its parse tree.  Commands that refuse only depending
 * on the catalog (REINDEX or CLUSTER of a partitioned table, DROP SUBSCRIPTION
 * with a slot) are not detected.
 */
static bool
refuses_tx_block(const PgQuery__Node *n, struct refusal *r)
{
	*r = (struct refusal){ R_NO_TX_BLOCK, NULL, NULL, FIX_ALONE };

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		if (n->index_stmt->concurrent)
			*r = (struct refusal){ R_NO_TX_BLOCK, "CREATE INDEX CONCURRENTLY", "CONCURRENTLY",
					       FIX_CONCURRENTLY };
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		if (n->drop_stmt->concurrent)
			*r = (struct refusal){ R_NO_TX_BLOCK, "DROP INDEX CONCURRENTLY", "CONCURRENTLY",
					       FIX_CONCURRENTLY };
		break;
	case PG_QUERY__NODE__NODE_REINDEX_STMT: {
		const PgQuery__ReindexStmt *x = n->reindex_stmt;

		if (defelem_bool(defelem(x->params, x->n_params, "concurrently"), false))
			*r = (struct refusal){ R_NO_TX_BLOCK, "REINDEX CONCURRENTLY", "CONCURRENTLY",
					       FIX_CONCURRENTLY };
		else if (x->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA)
			r->what = "REINDEX SCHEMA";
		else if (x->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM)
			r->what = "REINDEX SYSTEM";
		else if (x->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE)
			r->what = "REINDEX DATABASE";
		break;
	}
	case PG_QUERY__NODE__NODE_VACUUM_STMT:
		if (n->vacuum_stmt->is_vacuumcmd)
			r->what = "VACUUM";
		break;
	case PG_QUERY__NODE__NODE_CLUSTER_STMT:
		if (!n->cluster_stmt->relation)
			r->what = "CLUSTER"; /* of every clustered table */
		break;
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
		r->what = "CREATE DATABASE";
		break;
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		r->what = "DROP DATABASE";
		break;
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT:
		if (defelem(n->alter_database_stmt->options, n->alter_database_stmt->n_options, "tablespace"))
			r->what = "ALTER DATABASE SET TABLESPACE";
		break;
	case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
		r->what = "ALTER SYSTEM";
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
		r->what = "CREATE TABLESPACE";
		break;
	case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
		r->what = "DROP TABLESPACE";
		break;
	case PG_QUERY__NODE__NODE_DISCARD_STMT:
		if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL)
			r->what = "DISCARD ALL";
		break;
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		if (n->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED)
			r->what = "COMMIT PREPARED";
		else if (n->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED)
			r->what = "ROLLBACK PREPARED";
		break;
	case PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT: {
		const PgQuery__CreateSubscriptionStmt *x = n->create_subscription_stmt;
		bool connect = defelem_bool(defelem(x->options, x->n_options, "connect"), true);

		if (defelem_bool(defelem(x->options, x->n_options, "create_slot"), connect))
			r->what = "CREATE SUBSCRIPTION ... WITH (create_slot = true)";
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_SUBSCRIPTION_STMT: {
		const PgQuery__AlterSubscriptionStmt *x = n->alter_subscription_stmt;

		if (x->kind == PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_REFRESH)
			r->what = "ALTER SUBSCRIPTION ... REFRESH";
		else if ((x->kind == PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_SET_PUBLICATION ||
			  x->kind == PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_ADD_PUBLICATION ||
			  x->kind == PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_DROP_PUBLICATION) &&
			 defelem_bool(defelem(x->options, x->n_options, "refresh"), true))
			r->what = "ALTER SUBSCRIPTION with refresh";
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		for (size_t i = 0; i < n->alter_table_stmt->n_cmds; i++) {
			const PgQuery__Node *c = n->alter_table_stmt->cmds[i];
			const PgQuery__AlterTableCmd *cmd =
				c->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ? c->alter_table_cmd : NULL;

			if (cmd && cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition && cmd->def &&
			    cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
			    cmd->def->partition_cmd->concurrent)
				*r = (struct refusal){ R_NO_TX_BLOCK, "ALTER TABLE ... DETACH CONCURRENTLY",
						       "CONCURRENTLY", FIX_CONCURRENTLY };
		}
		break;
	default:
		break;
	}
	return r->what != NULL;
}

/*
 * refuses_tx_control - a command that would end the migration's transaction
 * (COMMIT, ROLLBACK, PREPARE TRANSACTION), open one it is already in (BEGIN), or
 * reset gosling's own settings in it (RESET ALL).  Savepoints stay inside the
 * transaction, as PostgreSQL allows them there.
 */
static bool
refuses_tx_control(const PgQuery__Node *n, struct refusal *r)
{
	*r = (struct refusal){ R_TX_CONTROL, NULL, NULL, FIX_TX_CONTROL };

	if (n->node_case == PG_QUERY__NODE__NODE_VARIABLE_SET_STMT &&
	    n->variable_set_stmt->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL)
		*r = (struct refusal){ R_TX_CONTROL, "RESET ALL", NULL, FIX_RESET_ALL };
	if (n->node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT)
		return r->what != NULL;
	switch (n->transaction_stmt->kind) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
		r->what = "BEGIN";
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
		r->what = "START TRANSACTION";
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
		r->what = "COMMIT"; /* END too */
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
		r->what = "ROLLBACK"; /* ABORT too */
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
		r->what = "PREPARE TRANSACTION";
		break;
	default:
		break;
	}
	return r->what != NULL;
}

/* refuses_copy - COPY ... FROM STDIN or TO STDOUT: gosling neither sends nor reads COPY data. */
static bool
refuses_copy(const PgQuery__Node *n, struct refusal *r)
{
	const PgQuery__CopyStmt *c = n->node_case == PG_QUERY__NODE__NODE_COPY_STMT ? n->copy_stmt : NULL;

	if (!c || c->is_program || (c->filename && c->filename[0]))
		return false;
	*r = (struct refusal){ R_CLIENT_COPY, c->is_from ? "COPY FROM STDIN" : "COPY TO STDOUT",
			       c->is_from ? "STDIN" : "STDOUT", c->is_from ? FIX_COPY_IN : FIX_COPY_OUT };
	return true;
}

/* ---- PL/pgSQL ----------------------------------------------------------- */

/*
 * PostgreSQL reports an error inside a PL/pgSQL body as an "internal" position
 * (characters into the body), which libpg_query does not copy into its
 * PgQueryError.  PostgreSQL's error context callbacks can read it with
 * getinternalerrposition(); libpg_query links them in and runs the stack as
 * PostgreSQL does, so one more callback at the bottom of the stack sees the
 * final position.  These are PostgreSQL 15's declarations (elog.h), fixed for
 * the statically linked libpg_query this is built with.
 */
typedef struct ErrorContextCallback {
	struct ErrorContextCallback *previous;
	void (*callback)(void *arg);
	void *arg;
} ErrorContextCallback;
extern __thread ErrorContextCallback *error_context_stack;
int getinternalerrposition(void);

static void
catch_internal_pos(void *arg)
{
	*(int *)arg = getinternalerrposition();
}

static PgQueryPlpgsqlParseResult
plpgsql_parse(const char *cmd, int *internal_pos)
{
	ErrorContextCallback me = { error_context_stack, catch_internal_pos, internal_pos };
	PgQueryPlpgsqlParseResult r;

	*internal_pos = 0;
	error_context_stack = &me;
	r = pg_query_parse_plpgsql(cmd);
	error_context_stack = me.previous;
	return r;
}

/* How a function body is quoted in the statement. */
enum quoting {
	Q_DOLLAR,
	Q_STRING,
	Q_ESTRING,
};

struct body {
	size_t start; /* statement offset of the body's first byte */
	size_t end;   /* and one past its last */
	enum quoting q;
};

/* Find the body literal at or after off (DefElem "as": the AS keyword, or the literal). */
static bool
body_find(const char *s, size_t len, size_t off, struct body *b)
{
	if (off < len && (s[off] == 'a' || s[off] == 'A') && off + 1 < len &&
	    (s[off + 1] == 's' || s[off + 1] == 'S') && !(off + 2 < len && lex_ident_char((unsigned char)s[off + 2])))
		off = skip_blank(s, len, off + 2);
	if (off >= len)
		return false;
	if (s[off] == '$') {
		const char *close = memchr(s + off + 1, '$', len - off - 1);
		size_t taglen;
		if (!close)
			return false;
		taglen = (size_t)(close - (s + off)) + 1;
		b->start = off + taglen;
		b->end = b->start;
		while (b->end + taglen <= len && memcmp(s + b->end, s + off, taglen) != 0)
			b->end++;
		b->q = Q_DOLLAR;
		return true;
	}
	if (s[off] == '\'' || ((s[off] == 'e' || s[off] == 'E') && off + 1 < len && s[off + 1] == '\'')) {
		b->q = s[off] == '\'' ? Q_STRING : Q_ESTRING;
		b->start = off + (b->q == Q_STRING ? 1 : 2);
		b->end = b->start;
		while (b->end < len) {
			if (b->q == Q_ESTRING && s[b->end] == '\\' && b->end + 1 < len)
				b->end += 2;
			else if (s[b->end] == '\'' && b->end + 1 < len && s[b->end + 1] == '\'')
				b->end += 2;
			else if (s[b->end] == '\'')
				break;
			else
				b->end++;
		}
		return true;
	}
	return false;
}

/* One character of the body's value: the bytes it takes in the statement. */
static size_t
body_step(const char *s, const struct body *b, size_t i)
{
	if (b->q != Q_DOLLAR && s[i] == '\'' && i + 1 < b->end)
		return 2; /* '' */
	if (b->q == Q_ESTRING && s[i] == '\\' && i + 1 < b->end)
		return 1 + utf8_len((unsigned char)s[i + 1]); /* escapes like \x41 count as one: close enough */
	return utf8_len((unsigned char)s[i]);
}

/* Statement offset of the body's character chars (0-based), or of line line (1-based). */
static size_t
body_offset(const char *s, const struct body *b, size_t chars, uint32_t line)
{
	size_t i = b->start;
	uint32_t l = 1;

	while (i < b->end && (line ? l < line : chars > 0)) {
		if (s[i] == '\n')
			l++;
		i += body_step(s, b, i);
		if (chars)
			chars--;
	}
	if (line)
		while (i < b->end && (s[i] == ' ' || s[i] == '\t'))
			i++;
	return i < b->end ? i : b->end;
}

/* What a PL/pgSQL error context names: "function \"f\"" or "DO block". */
static void
plpgsql_what(const char *context, char *out, size_t n)
{
	const char *q = context ? strstr(context, "function \"") : NULL;
	const char *e = q ? strchr(q + 10, '"') : NULL;

	if (!e || strncmp(q + 10, "inline_code_block\"", 18) == 0)
		snprintf(out, n, "DO block");
	else
		snprintf(out, n, "function %.*s", (int)(e - q - 10), q + 10);
}

/* ---- one statement ------------------------------------------------------ */

struct stmt_ctx {
	const struct pfile *f;
	struct pstmt *s;
	const char *text; /* what was parsed: s->sql, or it after ENVSUB with defaults */
	size_t len;
	bool hatch, hatch_global;
	struct diag *d;
	bool ok;
};

/* Report a problem PostgreSQL's parser has with the statement at byte off. */
static void
report(struct stmt_ctx *c, size_t off, const char *msg, const char *hint)
{
	uint32_t line, col;

	if (off > c->s->len)
		off = c->s->len; /* only after ENVSUB: close enough */
	pstmt_where(c->s, off, &line, &col);
	if (c->hatch) {
		diag_at(c->d, DIAG_WARNING, c->f->path, c->f->data, c->f->len, line, col, NULL,
			"PostgreSQL 15 cannot parse this statement (%s): %s",
			c->hatch_global ? "--no-check" : CHECK_MARKER, msg);
		return;
	}
	diag_at(c->d, DIAG_ERROR, c->f->path, c->f->data, c->f->len, line, col, hint ? hint : HINT_HATCH, "%s", msg);
	c->ok = false;
}

/* Parse the PL/pgSQL body of a CREATE FUNCTION / PROCEDURE or DO command. */
static void
check_plpgsql(struct stmt_ctx *c, const PgQuery__Node *n, size_t loc, size_t len)
{
	bool is_do = n->node_case == PG_QUERY__NODE__NODE_DO_STMT;
	PgQuery__Node **opts = is_do ? n->do_stmt->args : n->create_function_stmt->options;
	size_t nopts = is_do ? n->do_stmt->n_args : n->create_function_stmt->n_options;
	const PgQuery__DefElem *lang = defelem(opts, nopts, "language"), *as = defelem(opts, nopts, "as");
	const char *lv = lang && lang->arg && lang->arg->node_case == PG_QUERY__NODE__NODE_STRING
		? lang->arg->string->sval
		: NULL;
	PgQueryPlpgsqlParseResult r;
	struct body b;
	char *cmd, what[256], msg[1024];
	int ipos;
	size_t off;

	if (!as || (lv ? strcasecmp(lv, "plpgsql") != 0 : !is_do))
		return;
	cmd = xmalloc(len + 1);
	memcpy(cmd, c->text + loc, len);
	cmd[len] = '\0';
	r = plpgsql_parse(cmd, &ipos);
	free(cmd);
	if (r.error) {
		const char *ctx = r.error->context;
		const char *near = ctx ? strstr(ctx, "near line ") : NULL;
		long body_line = near ? strtol(near + 10, NULL, 10) : 0;

		plpgsql_what(ctx, what, sizeof(what));
		if (as->location < 0 || !body_find(c->text, c->len, (size_t)as->location, &b))
			off = loc;
		else if (ipos > 0)
			off = body_offset(c->text, &b, (size_t)ipos - 1, 0);
		else if (body_line > 0)
			off = body_offset(c->text, &b, 0, (uint32_t)body_line);
		else
			off = b.start;
		snprintf(msg, sizeof(msg), "%s (PL/pgSQL, in %s)", r.error->message, what);
		report(c, off, msg, NULL);
	}
	pg_query_free_plpgsql_parse_result(r);
}

/* ENVSUB's getenv for checking at build time: every variable unset, so defaults apply. */
static const char *
envsub_unset(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

/* The error for a refusal r at statement offset off; a warning under the hatch. */
static void
refusal_report(struct stmt_ctx *c, const struct refusal *r, size_t off)
{
	const struct pfile *f = c->f;
	struct pstmt *s = c->s;
	uint32_t line, col;
	char hint[512], msg[512];

	if (r->kind == R_NO_TX_BLOCK && f->no_transaction && s->ncommands <= 1)
		return;
	snprintf(hint, sizeof(hint), "%s", r->fix);
	if (r->kind == R_NO_TX_BLOCK && !f->no_transaction) {
		snprintf(msg, sizeof(msg),
			 "%s cannot run inside a transaction block, and this migration runs in "
			 "one (it is not marked '-- +goose NO TRANSACTION')",
			 r->what);
	} else if (r->kind == R_NO_TX_BLOCK) {
		snprintf(hint, sizeof(hint),
			 "split the statement: end each command with ';' at the end of a line%s, "
			 "so goose sends it on its own",
			 s->block ? ", outside StatementBegin / StatementEnd" : "");
		snprintf(msg, sizeof(msg),
			 "%s cannot run inside a transaction block, and this statement holds %u "
			 "SQL commands, which PostgreSQL runs as one implicit transaction",
			 r->what, s->ncommands);
	} else if (r->kind == R_TX_CONTROL) {
		/* END and ABORT are COMMIT and ROLLBACK by other names: say both */
		size_t w = off;
		char as[64] = "";

		while (w < c->len && w - off < 20 && lex_ident_char((unsigned char)c->text[w]))
			w++;
		if (w > off && strncasecmp(c->text + off, r->what, w - off) != 0)
			snprintf(as, sizeof(as), "%.*s (%s)", (int)(w - off), c->text + off, r->what);
		snprintf(msg, sizeof(msg),
			 "%s in a migration that runs in a transaction: gosling runs the migration "
			 "and its history row in one transaction, which %s",
			 as[0] ? as : r->what,
			 strcmp(r->what, "RESET ALL") == 0 ? "would lose gosling's own settings (its timeouts)"
				 : strncmp(r->what, "BEGIN", 5) == 0 || strncmp(r->what, "START", 5) == 0
				 ? "is already open"
				 : "this would end half-way");
	} else {
		snprintf(msg, sizeof(msg), "%s in a migration: gosling %s", r->what,
			 strcmp(r->what, "COPY FROM STDIN") == 0
				 ? "sends no COPY data, so the statement would wait for rows that never come"
				 : "reads no COPY data, so the rows would go nowhere");
	}
	pstmt_where(s, off, &line, &col);
	if (c->hatch) {
		if (r->kind == R_NO_TX_BLOCK) /* the runtime says so before it runs it */
			s->flags |= STMT_NO_TX_BLOCK;
		diag_at(c->d, DIAG_WARNING, f->path, f->data, f->len, line, col, NULL, "%s (allowed by %s)", msg,
			c->hatch_global ? "--no-check" : CHECK_MARKER);
		return;
	}
	diag_at(c->d, DIAG_ERROR, f->path, f->data, f->len, line, col, hint, "%s", msg);
	c->ok = false;
}

/* Every refusal of one command n at [loc, loc + len) of the text. */
static size_t
refusals_of(struct stmt_ctx *c, const PgQuery__Node *n, size_t loc, size_t len, struct refusal *out, size_t *at)
{
	size_t k = 0, start = skip_blank(c->text, loc + len, loc);
	struct refusal r;

	if (refuses_tx_block(n, &r))
		out[k++] = r;
	if (!c->f->no_transaction && refuses_tx_control(n, &r))
		out[k++] = r;
	if (refuses_copy(n, &r))
		out[k++] = r;
	for (size_t i = 0; i < k; i++)
		at[i] = out[i].keyword ? lex_find_word(c->text, start, loc + len, out[i].keyword) : start;
	return k;
}

bool
check_stmt(const struct pfile *f, struct pstmt *s, bool hatch, bool hatch_global, bool tx_check, check_command_fn *each,
	   void *arg, struct diag *d)
{
	struct stmt_ctx c = { f, s, s->sql, s->len, hatch || hatch_global, hatch_global, d, true };
	PgQueryProtobufParseResult r = pg_query_parse_protobuf(s->sql);
	PgQuery__ParseResult *tree;
	size_t nrefuse = 0;
	struct refusal *refusals;
	size_t *refuse_at;
	char *expanded = NULL;
	bool envsub_dollar = false;

	for (uint32_t k = 0; r.error && k < s->nenvsub; k++)
		if (memchr(s->sql + s->envsub[k].start, '$', s->envsub[k].end - s->envsub[k].start))
			envsub_dollar = true;
	if (envsub_dollar) {
		/*
		 * The runtime substitutes ENVSUB from the function's environment, so the
		 * text as written need not be SQL.  Try it with every variable unset
		 * (defaults apply); if that is not SQL either, only the server can tell.
		 */
		char err[256];
		uint32_t at;

		pg_query_free_protobuf_parse_result(r);
		expanded = envsub_expand(s->sql, s->envsub, s->nenvsub, envsub_unset, NULL, err, sizeof(err), &at);
		if (!expanded) {
			s->flags |= STMT_UNCHECKED;
			return true;
		}
		c.text = expanded;
		c.len = strlen(expanded);
		r = pg_query_parse_protobuf(expanded);
		if (r.error) {
			pg_query_free_protobuf_parse_result(r);
			free(expanded);
			s->flags |= STMT_UNCHECKED;
			return true;
		}
	}
	if (r.error) {
		size_t off = r.error->cursorpos > 0 ? char_to_byte(s->sql, s->len, (size_t)r.error->cursorpos - 1) : 0;

		if (!s->block && strstr(r.error->message, "at end of input")) {
			char hint[512];

			/* goose's line rule may have cut what the lexer cannot see: BEGIN ATOMIC … END */
			snprintf(hint, sizeof(hint),
				 "goose ends a statement at a line whose last word ends in ';' "
				 "(here line %u); if the statement goes on, wrap it in '-- +goose StatementBegin' and "
				 "'-- +goose StatementEnd'",
				 s->last_line);
			report(&c, off, r.error->message, hint);
		} else {
			report(&c, off, r.error->message, NULL);
		}
		pg_query_free_protobuf_parse_result(r);
		if (c.ok) /* the hatch let it through unparsed: the runtime sends it alone */
			s->flags |= STMT_UNCHECKED;
		return c.ok;
	}
	tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
	pg_query_free_protobuf_parse_result(r);
	if (!tree)
		fatal("cannot read libpg_query's parse tree (protobuf)");
	s->ncommands = (unsigned)tree->n_stmts;
	/* at most 3 refusals per command (refusals_of) */
	refusals = xcalloc(3 * tree->n_stmts + 1, sizeof(*refusals));
	refuse_at = xcalloc(3 * tree->n_stmts + 1, sizeof(*refuse_at));
	for (size_t i = 0; i < tree->n_stmts; i++) {
		const PgQuery__RawStmt *e = tree->stmts[i];
		const PgQuery__Node *n = e->stmt;
		size_t loc = e->stmt_location > 0 ? (size_t)e->stmt_location : 0;
		size_t len = e->stmt_len > 0 ? (size_t)e->stmt_len : 0;

		if (loc > c.len)
			loc = c.len;
		if (len == 0 || loc + len > c.len)
			len = c.len - loc;
		if (!n)
			continue;
		if (n->node_case == PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT ||
		    n->node_case == PG_QUERY__NODE__NODE_DO_STMT)
			check_plpgsql(&c, n, loc, len);
		if (each)
			each(arg, c.text, n, skip_blank(c.text, loc + len, loc), loc + len);
		if (tx_check)
			nrefuse += refusals_of(&c, n, loc, len, refusals + nrefuse, refuse_at + nrefuse);
	}
	for (size_t i = 0; i < nrefuse; i++)
		refusal_report(&c, &refusals[i], refuse_at[i]);
	free(refusals);
	free(refuse_at);
	pg_query__parse_result__free_unpacked(tree, NULL);
	free(expanded);
	return c.ok;
}
