/*
 * check.c - PostgreSQL 15's parser (libpg_query) over each goose statement.
 *
 * pg_query_parse() gives the raw parse tree as JSON (read with jansson): one
 * entry per SQL command, with its byte location and length in the statement, so
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
#include "lint.h"

#include <jansson.h>
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HINT_HATCH "if the statement is valid on your server (newer syntax, an extension's), put " \
	"'-- " CHECK_MARKER "' on the line before it"

/* ---- text helpers ------------------------------------------------------- */

static bool ident_char(unsigned char c)
{
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Byte length of the UTF-8 sequence starting with c (the file is valid UTF-8). */
static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* Byte offset of the chars-th character (0-based) of s, clamped to len. */
static size_t char_to_byte(const char *s, size_t len, size_t chars)
{
	size_t i = 0;

	while (chars-- > 0 && i < len)
		i += utf8_len((unsigned char)s[i]);
	return i < len ? i : len;
}

/* Skip blanks and comments (line and nested block) from off. */
static size_t skip_blank(const char *s, size_t len, size_t off)
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

size_t check_find_word(const char *s, size_t from, size_t to, const char *word)
{
	size_t k = strlen(word);

	for (size_t i = from; i + k <= to; i++) {
		if (strncasecmp(s + i, word, k) != 0)
			continue;
		if (i > from && ident_char((unsigned char)s[i - 1]))
			continue;
		if (i + k < to && ident_char((unsigned char)s[i + k]))
			continue;
		return i;
	}
	return from;
}

/* Whether line (trimmed) is a marker comment: "--", blanks, CHECK_MARKER. */
static bool marker_line(const char *line, size_t n)
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
	return tn == k || !ident_char((unsigned char)t[k]) || t[k] == '$';
}

void check_marks_scan(const struct pfile *f, struct check_marks *m)
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
			m->lines = realloc(m->lines, cap * sizeof(*m->lines));
			if (!m->lines) {
				fprintf(stderr, "goslingc: out of memory\n");
				exit(4);
			}
		}
		m->lines[m->n++] = lineno;
	}
}

bool check_marks_cover(const struct check_marks *m, uint32_t from, const struct pstmt *s)
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

void check_marks_free(struct check_marks *m)
{
	free(m->lines);
	memset(m, 0, sizeof(*m));
}

/* ---- the parse tree (JSON) ---------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool jtrue(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* The single "Type": {fields} pair of a node; NULL when n is not a node. */
static json_t *node_fields(json_t *n, const char **type)
{
	const char *k;
	json_t *v;

	if (!json_is_object(n) || json_object_size(n) != 1)
		return NULL;
	json_object_foreach(n, k, v) {
		*type = k;
		return v;
	}
	return NULL;
}

/* The DefElem named name in a list of nodes, or NULL. */
static json_t *defelem(json_t *list, const char *name)
{
	size_t i;
	json_t *n;

	json_array_foreach(list, i, n) {
		const char *type;
		json_t *d = node_fields(n, &type);
		const char *dn;

		if (d && strcmp(type, "DefElem") == 0 && (dn = jstr(d, "defname")) && strcasecmp(dn, name) == 0)
			return d;
	}
	return NULL;
}

/* A DefElem's boolean value as PostgreSQL's defGetBoolean reads it; dflt when absent. */
static bool defelem_bool(json_t *d, bool dflt)
{
	const char *type, *sv;
	json_t *a, *v;

	if (!d)
		return dflt;
	a = json_object_get(d, "arg");
	if (!a)
		return true;	/* "WITH (create_slot)" means true */
	if (!(v = node_fields(a, &type)))
		return dflt;
	if (strcmp(type, "Boolean") == 0)
		return jtrue(v, "boolval");
	if (strcmp(type, "Integer") == 0)
		return json_integer_value(json_object_get(v, "ival")) != 0;
	if (strcmp(type, "String") == 0 && (sv = jstr(v, "sval")))
		return !(strcasecmp(sv, "false") == 0 || strcasecmp(sv, "off") == 0 || strcasecmp(sv, "f") == 0 ||
			 strcasecmp(sv, "no") == 0 || strcasecmp(sv, "n") == 0 || strcmp(sv, "0") == 0);
	return dflt;
}

/* A command PostgreSQL refuses inside a transaction block. */
struct refusal {
	const char *what;	/* as PostgreSQL names it in its error */
	const char *keyword;	/* the word to point at, or NULL for the command's start */
	const char *fix;	/* how to make it run */
};

#define FIX_CONCURRENTLY "put it in a migration of its own marked '-- +goose NO TRANSACTION' " \
	"(one command per statement), or drop CONCURRENTLY if a lock on the table is acceptable"
#define FIX_ALONE "put it in a migration of its own marked '-- +goose NO TRANSACTION', " \
	"one command per statement"

/*
 * refuses - whether PostgreSQL 15 calls PreventInTransactionBlock() for this
 * command, decided from its parse tree.  Commands that refuse only depending on
 * the catalog (REINDEX or CLUSTER of a partitioned table, DROP SUBSCRIPTION with
 * a slot) are not detected.
 */
static bool refuses(const char *type, json_t *n, struct refusal *r)
{
	*r = (struct refusal){ NULL, NULL, FIX_ALONE };

	if (strcmp(type, "IndexStmt") == 0 && jtrue(n, "concurrent")) {
		*r = (struct refusal){ "CREATE INDEX CONCURRENTLY", "CONCURRENTLY", FIX_CONCURRENTLY };
	} else if (strcmp(type, "DropStmt") == 0 && jtrue(n, "concurrent")) {
		*r = (struct refusal){ "DROP INDEX CONCURRENTLY", "CONCURRENTLY", FIX_CONCURRENTLY };
	} else if (strcmp(type, "ReindexStmt") == 0) {
		const char *kind = jstr(n, "kind");
		json_t *params = json_object_get(n, "params");

		if (defelem_bool(defelem(params, "concurrently"), false))
			*r = (struct refusal){ "REINDEX CONCURRENTLY", "CONCURRENTLY", FIX_CONCURRENTLY };
		else if (kind && strcmp(kind, "REINDEX_OBJECT_SCHEMA") == 0)
			r->what = "REINDEX SCHEMA";
		else if (kind && strcmp(kind, "REINDEX_OBJECT_SYSTEM") == 0)
			r->what = "REINDEX SYSTEM";
		else if (kind && strcmp(kind, "REINDEX_OBJECT_DATABASE") == 0)
			r->what = "REINDEX DATABASE";
	} else if (strcmp(type, "VacuumStmt") == 0 && jtrue(n, "is_vacuumcmd")) {
		r->what = "VACUUM";
	} else if (strcmp(type, "ClusterStmt") == 0 && !json_object_get(n, "relation")) {
		r->what = "CLUSTER";	/* of every clustered table */
	} else if (strcmp(type, "CreatedbStmt") == 0) {
		r->what = "CREATE DATABASE";
	} else if (strcmp(type, "DropdbStmt") == 0) {
		r->what = "DROP DATABASE";
	} else if (strcmp(type, "AlterDatabaseStmt") == 0 && defelem(json_object_get(n, "options"), "tablespace")) {
		r->what = "ALTER DATABASE SET TABLESPACE";
	} else if (strcmp(type, "AlterSystemStmt") == 0) {
		r->what = "ALTER SYSTEM";
	} else if (strcmp(type, "CreateTableSpaceStmt") == 0) {
		r->what = "CREATE TABLESPACE";
	} else if (strcmp(type, "DropTableSpaceStmt") == 0) {
		r->what = "DROP TABLESPACE";
	} else if (strcmp(type, "DiscardStmt") == 0) {
		const char *t = jstr(n, "target");
		if (t && strcmp(t, "DISCARD_ALL") == 0)
			r->what = "DISCARD ALL";
	} else if (strcmp(type, "TransactionStmt") == 0) {
		const char *k = jstr(n, "kind");
		if (k && strcmp(k, "TRANS_STMT_COMMIT_PREPARED") == 0)
			r->what = "COMMIT PREPARED";
		else if (k && strcmp(k, "TRANS_STMT_ROLLBACK_PREPARED") == 0)
			r->what = "ROLLBACK PREPARED";
	} else if (strcmp(type, "CreateSubscriptionStmt") == 0) {
		json_t *o = json_object_get(n, "options");
		bool connect = defelem_bool(defelem(o, "connect"), true);
		if (defelem_bool(defelem(o, "create_slot"), connect))
			r->what = "CREATE SUBSCRIPTION ... WITH (create_slot = true)";
	} else if (strcmp(type, "AlterSubscriptionStmt") == 0) {
		const char *k = jstr(n, "kind");
		if (k && strcmp(k, "ALTER_SUBSCRIPTION_REFRESH") == 0)
			r->what = "ALTER SUBSCRIPTION ... REFRESH";
		else if (k && strstr(k, "_PUBLICATION") &&
			 defelem_bool(defelem(json_object_get(n, "options"), "refresh"), true))
			r->what = "ALTER SUBSCRIPTION with refresh";
	} else if (strcmp(type, "AlterTableStmt") == 0) {
		size_t i;
		json_t *c;

		json_array_foreach(json_object_get(n, "cmds"), i, c) {
			const char *ct;
			json_t *cf = node_fields(c, &ct), *def, *pf;
			const char *st = cf ? jstr(cf, "subtype") : NULL;

			if (!st || strcmp(st, "AT_DetachPartition") != 0 || !(def = json_object_get(cf, "def")))
				continue;
			if ((pf = node_fields(def, &ct)) && jtrue(pf, "concurrent"))
				*r = (struct refusal){ "ALTER TABLE ... DETACH CONCURRENTLY", "CONCURRENTLY",
						       FIX_CONCURRENTLY };
		}
	}
	return r->what != NULL;
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

static void catch_internal_pos(void *arg)
{
	*(int *)arg = getinternalerrposition();
}

static PgQueryPlpgsqlParseResult plpgsql_parse(const char *cmd, int *internal_pos)
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
	size_t start;		/* statement offset of the body's first byte */
	size_t end;		/* and one past its last */
	enum quoting q;
};

/* Find the body literal at or after off (DefElem "as": the AS keyword, or the literal). */
static bool body_find(const char *s, size_t len, size_t off, struct body *b)
{
	if (off < len && (s[off] == 'a' || s[off] == 'A') && off + 1 < len && (s[off + 1] == 's' || s[off + 1] == 'S') &&
	    !(off + 2 < len && ident_char((unsigned char)s[off + 2])))
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
static size_t body_step(const char *s, const struct body *b, size_t i)
{
	if (b->q != Q_DOLLAR && s[i] == '\'' && i + 1 < b->end)
		return 2;	/* '' */
	if (b->q == Q_ESTRING && s[i] == '\\' && i + 1 < b->end)
		return 1 + utf8_len((unsigned char)s[i + 1]);	/* escapes like \x41 count as one: close enough */
	return utf8_len((unsigned char)s[i]);
}

/* Statement offset of the body's character chars (0-based), or of line line (1-based). */
static size_t body_offset(const char *s, const struct body *b, size_t chars, uint32_t line)
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
static void plpgsql_what(const char *context, char *out, size_t n)
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
	const struct pstmt *s;
	const char *text;	/* what was parsed: s->sql, or it after ENVSUB with defaults */
	size_t len;
	bool hatch, hatch_global;
	struct diag *d;
	bool ok;
};

/* Report a problem PostgreSQL's parser has with the statement at byte off. */
static void report(struct stmt_ctx *c, size_t off, const char *msg, const char *hint)
{
	uint32_t line, col;

	if (off > c->s->len)
		off = c->s->len;	/* only after ENVSUB: close enough */
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
static void check_plpgsql(struct stmt_ctx *c, const char *type, json_t *n, size_t loc, size_t len)
{
	bool is_do = strcmp(type, "DoStmt") == 0;
	json_t *opts = json_object_get(n, is_do ? "args" : "options");
	json_t *lang = defelem(opts, "language"), *as = defelem(opts, "as");
	const char *ltype, *lv = NULL;
	json_t *lf = lang ? node_fields(json_object_get(lang, "arg"), &ltype) : NULL;
	PgQueryPlpgsqlParseResult r;
	struct body b;
	char *cmd, what[256], msg[1024];
	int ipos;
	size_t off;

	if (lf)
		lv = jstr(lf, "sval");
	if (!as || (lv ? strcasecmp(lv, "plpgsql") != 0 : !is_do))
		return;
	cmd = malloc(len + 1);
	if (!cmd) {
		fprintf(stderr, "goslingc: out of memory\n");
		exit(4);
	}
	memcpy(cmd, c->text + loc, len);
	cmd[len] = '\0';
	r = plpgsql_parse(cmd, &ipos);
	free(cmd);
	if (r.error) {
		const char *ctx = r.error->context;
		const char *near = ctx ? strstr(ctx, "near line ") : NULL;
		long body_line = near ? strtol(near + 10, NULL, 10) : 0;

		plpgsql_what(ctx, what, sizeof(what));
		if (!body_find(c->text, c->len, (size_t)json_integer_value(json_object_get(as, "location")), &b))
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
static const char *envsub_unset(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

bool check_stmt(const struct pfile *f, struct pstmt *s, bool hatch, bool hatch_global, bool tx_check,
		struct lint *lint, struct diag *d)
{
	struct stmt_ctx c = { f, s, s->sql, s->len, hatch || hatch_global, hatch_global, d, true };
	PgQueryParseResult r = pg_query_parse(s->sql);
	json_t *root = NULL, *stmts, *e;
	json_error_t jerr;
	size_t i, nrefuse = 0;
	struct refusal *refusals = NULL;
	size_t *refuse_at = NULL;
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

		pg_query_free_parse_result(r);
		expanded = envsub_expand(s->sql, s->envsub, s->nenvsub, envsub_unset, NULL, err, sizeof(err), &at);
		if (!expanded)
			return true;
		c.text = expanded;
		c.len = strlen(expanded);
		r = pg_query_parse(expanded);
		if (r.error) {
			pg_query_free_parse_result(r);
			free(expanded);
			return true;
		}
	}
	if (r.error) {
		size_t off = r.error->cursorpos > 0 ? char_to_byte(s->sql, s->len, (size_t)r.error->cursorpos - 1) : 0;

		if (!s->block && strstr(r.error->message, "at end of input")) {
			char hint[512];

			/* goose's line rule may have cut what the lexer cannot see: BEGIN ATOMIC … END */
			snprintf(hint, sizeof(hint), "goose ends a statement at a line whose last word ends in ';' "
				 "(here line %u); if the statement goes on, wrap it in '-- +goose StatementBegin' and "
				 "'-- +goose StatementEnd'", s->last_line);
			report(&c, off, r.error->message, hint);
		} else {
			report(&c, off, r.error->message, NULL);
		}
		pg_query_free_parse_result(r);
		return c.ok;
	}
	root = json_loads(r.parse_tree, 0, &jerr);
	pg_query_free_parse_result(r);
	if (!root) {
		fprintf(stderr, "goslingc: libpg_query's parse tree is not JSON: %s\n", jerr.text);
		exit(4);
	}
	stmts = json_object_get(root, "stmts");
	s->ncommands = (unsigned)json_array_size(stmts);
	refusals = calloc(s->ncommands + 1, sizeof(*refusals));
	refuse_at = calloc(s->ncommands + 1, sizeof(*refuse_at));
	if (!refusals || !refuse_at) {
		fprintf(stderr, "goslingc: out of memory\n");
		exit(4);
	}
	json_array_foreach(stmts, i, e) {
		const char *type;
		json_t *n = node_fields(json_object_get(e, "stmt"), &type);
		size_t loc = (size_t)json_integer_value(json_object_get(e, "stmt_location"));
		size_t len = (size_t)json_integer_value(json_object_get(e, "stmt_len"));

		if (loc > c.len)
			loc = c.len;
		if (len == 0 || loc + len > c.len)
			len = c.len - loc;
		if (!n)
			continue;
		if (strcmp(type, "CreateFunctionStmt") == 0 || strcmp(type, "DoStmt") == 0)
			check_plpgsql(&c, type, n, loc, len);
		if (lint)
			lint_command(lint, f, s, c.text, type, n, skip_blank(c.text, loc + len, loc), loc + len, d);
		if (tx_check && refuses(type, n, &refusals[nrefuse])) {
			size_t start = skip_blank(c.text, loc + len, loc);
			const char *kw = refusals[nrefuse].keyword;

			refuse_at[nrefuse++] = kw ? check_find_word(c.text, start, loc + len, kw) : start;
		}
	}
	for (i = 0; i < nrefuse; i++) {
		uint32_t line, col;
		char hint[512];

		pstmt_where(s, refuse_at[i], &line, &col);
		if (!f->no_transaction) {
			snprintf(hint, sizeof(hint), "%s", refusals[i].fix);
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, col, hint,
				"%s cannot run inside a transaction block, and this migration runs in one "
				"(it is not marked '-- +goose NO TRANSACTION')", refusals[i].what);
			c.ok = false;
		} else if (s->ncommands > 1) {
			snprintf(hint, sizeof(hint), "split the statement: end each command with ';' at the end of "
				 "a line%s, so goose sends it on its own", s->block ? ", outside StatementBegin / "
				 "StatementEnd" : "");
			diag_at(d, DIAG_ERROR, f->path, f->data, f->len, line, col, hint,
				"%s cannot run inside a transaction block, and this statement holds %u SQL commands, "
				"which PostgreSQL runs as one implicit transaction", refusals[i].what, s->ncommands);
			c.ok = false;
		}
	}
	free(refusals);
	free(refuse_at);
	json_decref(root);
	free(expanded);
	return c.ok;
}
