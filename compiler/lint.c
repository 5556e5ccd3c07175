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
#include "lint_impl.h"

#include "diag.h"
#include "emit.h"
#include "lexer.h"
#include "text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	[R_CLUSTER] = { "cluster", "it rewrites the table under ACCESS EXCLUSIVE: no reads or writes until it ends",
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

static void
rel_free(struct rel *r)
{
	free(r->schema);
	free(r->name);
}

static void
rels_clear(struct rel **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		rel_free(&(*v)[i]);
	*n = 0;
}

/* The first line of the range a statement-level marker must lie in. */
static uint32_t
stmt_from(const struct pfile *f, const struct pstmt *s)
{
	size_t i = (size_t)(s - f->stmts[DIR_UP]);

	return i > 0 && i < f->nstmts[DIR_UP] ? f->stmts[DIR_UP][i - 1].last_line + 1 : 1;
}

/* The index of the first marker at or after line (markers are in line order), from lo on. */
static size_t
allow_search(const struct lint_state *st, size_t lo, uint32_t line)
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
static struct allow *
allowed(struct ctx *c, unsigned rule)
{
	struct lint_state *st = c->st;
	size_t i;

	for (i = 0; i < st->allows.n && st->allows.v[i].file; i++)
		if (st->allows.v[i].rule == rule)
			return &st->allows.v[i];
	for (i = allow_search(st, i, stmt_from(c->f, c->s));
	     i < st->allows.n && st->allows.v[i].line <= c->s->last_line; i++)
		if (st->allows.v[i].rule == rule)
			return &st->allows.v[i];
	return NULL;
}

/* The column of statement offset off in characters (UTF-8 continuation bytes take none). */
static uint32_t
col_chars(const struct pfile *f, const struct pstmt *s, size_t off)
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

void
finding(struct ctx *c, unsigned rule, size_t off, const char *fmt, ...)
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
		off = c->s->len;		      /* only after ENVSUB: close enough */
	if ((l->nfindings & (l->nfindings - 1)) == 0) /* doubles: capacity is the next power of two */
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
size_t
keyword(struct ctx *c, size_t from, const char *word)
{
	size_t at = lex_find_word(c->text, from > c->start ? from : c->start, c->end, word);

	return at < c->end ? at : c->start;
}

/* ---- gosling:allow markers ---------------------------------------------- */

static bool
name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		ch == '_';
}

/* One marker line: "-- gosling:allow RULE[,RULE] reason"; t/tn is the trimmed line. */
static void
allow_parse(struct lint *l, const struct pfile *f, const char *line, const char *t, size_t tn, uint32_t lineno,
	    bool file, struct diag *d)
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
		for (r = 0; r < lint_nrules &&
		     !(strlen(lint_rules[r].name) == i - s && strncasecmp(lint_rules[r].name, t + s, i - s) == 0);
		     r++)
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
		l->st->allows.n = first; /* not honoured */
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
static const char *
marker_comment(const char *t, size_t tn)
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

static void
checks_clear(struct nncheck *v, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		rel_free(&v[i].table);
		free(v[i].conname);
		free(v[i].column);
	}
	*n = 0;
}

static void
allows_clear(struct lint_state *st)
{
	for (size_t i = 0; i < st->allows.n; i++)
		free(st->allows.v[i].reason);
	st->allows.n = 0;
}

void
lint_file_begin(struct lint *l, const struct pfile *f, struct diag *d)
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

void
lint_file_end(struct lint *l, const struct pfile *f, struct diag *d)
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

void
lint_init(struct lint *l, enum lint_mode m)
{
	memset(l, 0, sizeof(*l));
	l->mode = m;
	l->st = xrealloc(NULL, sizeof(*l->st));
	memset(l->st, 0, sizeof(*l->st));
}

void
lint_bundle_reset(struct lint *l)
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

void
lint_free(struct lint *l)
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

bool
lint_mode_parse(const char *s, enum lint_mode *m)
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

static void
jstring(FILE *out, const char *s)
{
	emit_json_string(out, s, strlen(s));
}

void
lint_print_rules(FILE *out)
{
	for (size_t i = 0; i < lint_nrules; i++)
		fprintf(out, "%s\t%s\t%s\n", lint_rules[i].name, lint_rules[i].why, lint_rules[i].fix);
}

void
lint_print_json(const struct lint *l, FILE *out, size_t nfiles)
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
static void
uri_print(FILE *out, const char *path)
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

void
lint_print_sarif(const struct lint *l, FILE *out, const char *version)
{
	fputs("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n"
	      "  \"runs\": [{\n    \"tool\": {\"driver\": {\"name\": \"goslingc\", \"version\": ",
	      out);
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
