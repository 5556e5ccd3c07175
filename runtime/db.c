/*
 * db.c - all of gosling's SQL, and the libpq calls around it.
 *
 * Every query goes through query_run(), which sends it, waits within the
 * deadline, checks the result's shape, drains the connection and leaves exactly
 * one PGresult for the caller to clear on its `out:` path.
 */
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cacert.h"
#include "config.h"
#include "db.h"
#include "log.h"

#define START_GUC "gosling.migration_start"
/* ms since the unit's BEGIN, measured by the server (results reach us in bursts) */
#define ELAPSED_MS                                                                              \
	"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - "                        \
	"pg_catalog.current_setting('" START_GUC "')::timestamptz) * 1000)::bigint"

int64_t
db_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The server's text, trimmed and made valid UTF-8: cut to fit on a character boundary,
 * and bytes that are not UTF-8 (a server or client_encoding that is not) made '?', so
 * that every message can go into JSON.
 */
static void
copy_trim(char *dst, size_t len, const char *src)
{
	size_t n;

	if (!src)
		src = "";
	snprintf(dst, len, "%s", src);
	text_utf8_fix(dst);
	n = strlen(dst);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
		dst[--n] = '\0';
}

static void
error_from_conn(struct db_error *err, PGconn *conn)
{
	memset(err, 0, sizeof *err);
	copy_trim(err->message, sizeof err->message, PQerrorMessage(conn));
	if (!err->message[0])
		snprintf(err->message, sizeof err->message, "unknown libpq error");
	err->connection = PQstatus(conn) != CONNECTION_OK;
}

static void
error_from_result(struct db_error *err, const PGresult *res)
{
	const char *pos;

	memset(err, 0, sizeof *err);
	copy_trim(err->sqlstate, sizeof err->sqlstate, PQresultErrorField(res, PG_DIAG_SQLSTATE));
	copy_trim(err->message, sizeof err->message, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	if (!err->message[0])
		copy_trim(err->message, sizeof err->message, PQresultErrorMessage(res));
	copy_trim(err->detail, sizeof err->detail, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	copy_trim(err->hint, sizeof err->hint, PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	err->position = pos ? atoi(pos) : 0;
}

static void
error_set(struct db_error *err, const char *fmt, const char *arg)
{
	memset(err, 0, sizeof *err);
	snprintf(err->message, sizeof err->message, fmt, arg);
}

/*
 * Wait until a result is ready without blocking past the deadline; past it,
 * ask the server to cancel (it answers with SQLSTATE 57014) and keep reading.
 */
static bool
wait_ready(PGconn *conn, int64_t deadline_ms, bool *cancelled, struct db_error *err)
{
	while (PQisBusy(conn)) {
		struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
		int timeout = -1;

		if (deadline_ms > 0 && !*cancelled) {
			int64_t left = deadline_ms - db_now_ms();

			if (left <= 0) {
				char buf[256];
				PGcancel *c = PQgetCancel(conn);

				if (c) {
					if (!PQcancel(c, buf, sizeof buf))
						error_set(err, "unable to cancel at the deadline: %s", buf);
					PQfreeCancel(c);
				}
				*cancelled = true;
				continue;
			}
			timeout = left > 1000 ? 1000 : (int)left;
		}
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
			error_set(err, "unable to wait for the server: %s", strerror(errno));
			return false;
		}
		if (!PQconsumeInput(conn)) {
			/*
			 * The server closed the connection.  What it sent first (the results
			 * of the statements that finished, then its FATAL error with a
			 * SQLSTATE, e.g. 57P01 from pg_terminate_backend or a shutdown) is
			 * in libpq's buffer: PQgetResult returns it in order, then libpq's
			 * own error, then NULL, without blocking.
			 */
			if (PQstatus(conn) == CONNECTION_BAD)
				return true;
			error_from_conn(err, conn);
			return false;
		}
	}
	return true;
}

/* Read and clear every remaining result, so the connection is ready again. */
static void
drain(PGconn *conn)
{
	PGresult *r;

	while ((r = PQgetResult(conn)) != NULL)
		PQclear(r);
}

/*
 * A migration's COPY ... FROM STDIN / TO STDOUT has no client to talk to: end
 * it so the server reports an error (copy in) or the rows are discarded (out).
 */
static void
copy_refuse(PGconn *conn, const PGresult *res)
{
	char *buf;

	if (PQresultStatus(res) == PGRES_COPY_IN) {
		if (PQputCopyEnd(conn, "COPY FROM STDIN is not supported in migrations") == 1)
			PQflush(conn);
		return;
	}
	while (PQgetCopyData(conn, &buf, 0) > 0)
		PQfreemem(buf);
}

/* Shapes a query may promise. ncols < 0 accepts any; nrows < 0 any number of rows. */
struct shape {
	ExecStatusType status;
	int nrows;
	int ncols;
};

#define SHAPE_COMMAND ((struct shape){ PGRES_COMMAND_OK, 0, 0 })
#define SHAPE_ROW(n) ((struct shape){ PGRES_TUPLES_OK, 1, (n) })
#define SHAPE_ROWS(n) ((struct shape){ PGRES_TUPLES_OK, -1, (n) })

/*
 * query_run - send one single-command query (parameters as text), wait,
 * check its shape, drain.  On success *out holds the result (caller clears).
 */
static bool
query_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
	  struct shape shape, PGresult **out, struct db_error *err)
{
	PGresult *res = NULL;
	bool cancelled = false;

	*out = NULL;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		error_from_conn(err, conn);
		goto fail;
	}
	if (!wait_ready(conn, 0, &cancelled, err))
		goto fail;
	res = PQgetResult(conn);
	if (!res) {
		error_from_conn(err, conn);
		goto fail;
	}
	if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
		error_from_result(err, res);
		goto fail;
	}
	if (PQresultStatus(res) != shape.status ||
	    (shape.nrows >= 0 && PQntuples(res) != shape.nrows) ||
	    (shape.status == PGRES_TUPLES_OK && shape.ncols >= 0 && PQnfields(res) != shape.ncols)) {
		error_set(err, "unexpected result shape from %s", what);
		goto fail;
	}
	drain(conn);
	*out = res;
	return true;
fail:
	PQclear(res);
	drain(conn);
	return false;
}

/* A command with no result rows. */
static bool
command_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
	    struct db_error *err)
{
	PGresult *res;

	if (!query_run(conn, what, sql, nparams, params, SHAPE_COMMAND, &res, err))
		return false;
	PQclear(res);
	return true;
}

/* --- names and connections ------------------------------------------------ */

void
db_names_init(struct db_names *n, const struct config *cfg)
{
	const char *schema = config_str(cfg, SET_SCHEMA);
	const char *goose = config_str(cfg, SET_GOOSE_TABLE);
	const char *dot = strchr(goose, '.');

	memset(n, 0, sizeof *n);
	/* config_check allows only [A-Za-z0-9_] (and one dot for goose), so quoting is plain. */
	snprintf(n->schema, sizeof n->schema, "\"%s\"", schema);
	snprintf(n->history, sizeof n->history, "\"%s\".\"%s\"", schema, config_str(cfg, SET_TABLE));
	if (dot)
		snprintf(n->goose, sizeof n->goose, "\"%.*s\".\"%s\"", (int)(dot - goose), goose, dot + 1);
	else
		snprintf(n->goose, sizeof n->goose, "\"%s\"", goose);
	n->create_schema = strcmp(schema, "public") != 0;
}

void
db_describe(PGconn *conn, char *out, size_t outlen)
{
	const char *host = PQhost(conn);

	snprintf(out, outlen, "%s@%s:%s/%s", PQuser(conn), host && *host ? host : "localhost",
		 PQport(conn), PQdb(conn));
}

#define MAXPARAMS 24

struct params {
	const char *key[MAXPARAMS];
	const char *val[MAXPARAMS];
	int n;
};

/* Later entries win: add lowest precedence first. */
static void
params_add(struct params *p, const char *key, const char *val)
{
	if (!val || !*val)
		return;
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->key[i], key) == 0) {
			p->val[i] = val;
			return;
		}
	}
	if (p->n < MAXPARAMS - 1) {
		p->key[p->n] = key;
		p->val[p->n] = val;
		p->n++;
	}
}

/* The value of key in p, or NULL. */
static const char *
params_get(const struct params *p, const char *key)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->key[i], key) == 0)
			return p->val[i];
	return NULL;
}

static void
params_add_setting(struct params *p, const struct config *cfg, enum setting_id id, const char *key,
		   bool flags)
{
	bool is_flag = cfg->source[id] && strcmp(cfg->source[id], "flag") == 0;

	if (cfg->value[id] && is_flag == flags && cfg->source[id] && strcmp(cfg->source[id], "default") != 0)
		params_add(p, key, cfg->value[id]);
}

/* The server's NOTICEs and WARNINGs go to the log, not straight to stderr (JSON logs stay JSON). */
static void
notice_to_log(void *arg, const char *message)
{
	char buf[1024];

	(void)arg;
	copy_trim(buf, sizeof buf, message);
	log_info("server: %s", buf);
}

/* Whether libpq marks keyword as a secret (dispchar "*": password, sslpassword, ...). */
static bool
secret_keyword(const PQconninfoOption *defaults, const char *keyword)
{
	if (!defaults)
		return true;	/* out of memory: mask everything */
	for (const PQconninfoOption *o = defaults; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return strchr(o->dispchar, '*') != NULL;
	return false;
}

/* The connection parameters as one line for the debug log; no secret value appears. */
static void
params_describe(const struct params *p, char *out, size_t outlen)
{
	PQconninfoOption *defaults = PQconndefaults();
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < p->n && len < outlen; i++)
		len += (size_t)snprintf(out + len, outlen - len, "%s%s=%s", len ? " " : "", p->key[i],
					secret_keyword(defaults, p->key[i]) ? "***" : p->val[i]);
	if (defaults)
		PQconninfoFree(defaults);
}

/* Replace every occurrence of secret in s (NUL-terminated, in place) by "***". */
static void
secret_redact(char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *at;

	if (n == 0)
		return;
	while ((at = strstr(s, secret)) != NULL) {
		size_t stars = n < 3 ? n : 3;	/* the text never grows */

		memset(at, '*', stars);
		memmove(at + stars, at + n, strlen(at + n) + 1);
		s = at + stars;
	}
}

/*
 * libpq's message about a connection string it could not parse, with every quoted piece
 * of the string dropped (it may be part of a password): a quoted libpq keyword or a single
 * punctuation character stays, anything else becomes "...".  When the quotes do not pair
 * up, the message ends before the first one.
 */
static void
parse_error_redact(const char *msg, const char *url, char *out, size_t outlen)
{
	PQconninfoOption *defaults = PQconndefaults();
	size_t o = 0, quotes = 0;

	for (const char *p = msg; *p; p++)
		quotes += *p == '"';
	for (const char *p = msg; *p && o + 1 < outlen;) {
		const char *q = *p == '"' ? strchr(p + 1, '"') : NULL;
		size_t n;
		bool keep;

		if (*p != '"') {
			out[o++] = *p++;
			continue;
		}
		if (!q || quotes % 2 || strchr(url, '"'))
			break;
		n = (size_t)(q - p - 1);
		keep = n == 1 && ispunct((unsigned char)p[1]);
		for (const PQconninfoOption *k = defaults; k && k->keyword && !keep; k++)
			keep = strlen(k->keyword) == n && strncmp(k->keyword, p + 1, n) == 0;
		o += (size_t)snprintf(out + o, outlen - o, "\"%.*s\"", keep ? (int)n : 3, keep ? p + 1 : "...");
		if (o >= outlen)
			o = outlen - 1;
		p = q + 1;
	}
	out[o] = '\0';
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == ':' || out[o - 1] == '\n'))
		out[--o] = '\0';
	if (defaults)
		PQconninfoFree(defaults);
}

PQconninfoOption *
db_url_parse(const char *url, char *err, size_t errlen)
{
	PQconninfoOption *o;
	char *msg = NULL, why[512];
	bool uri = strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;

	if (!config_url_check(url, err, errlen))
		return NULL;
	if ((o = PQconninfoParse(url, &msg)) != NULL)
		return o;
	parse_error_redact(msg ? msg : "out of memory", url, why, sizeof why);
	snprintf(err, errlen, "invalid DATABASE_URL: %s: %s", why[0] ? why : "libpq cannot parse it",
		 uri ? CONFIG_URL_HINT
		     : "quote a value holding spaces or quotes, as password='...' (with \\' and \\\\ inside)");
	PQfreemem(msg);
	return NULL;
}

bool
db_connect(const struct config *cfg, const char *purpose, PGconn **out, struct db_error *err)
{
	static const struct {
		enum setting_id id;
		const char *key;
	} map[] = {
		{ SET_HOST, "host" },	      { SET_PORT, "port" },	    { SET_DBNAME, "dbname" },
		{ SET_USER, "user" },	      { SET_PASSWORD, "password" }, { SET_SSLMODE, "sslmode" },
		{ SET_SSLROOTCERT, "sslrootcert" },
	};
	struct params p = { 0 };
	PQconninfoOption *url = NULL;
	PGconn *conn = NULL;
	const char *dburl = config_str(cfg, SET_DATABASE_URL);
	bool ok = false;

	*out = NULL;
	/* The seeds' DB_* variables, then DATABASE_URL's fields, then flags. */
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		params_add_setting(&p, cfg, map[i].id, map[i].key, false);
	if (dburl) {
		memset(err, 0, sizeof *err);
		if (!(url = db_url_parse(dburl, err->message, sizeof err->message)))
			goto out;
		for (PQconninfoOption *o = url; o->keyword; o++)
			params_add(&p, o->keyword, o->val);
	}
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		params_add_setting(&p, cfg, map[i].id, map[i].key, true);
	params_add(&p, "connect_timeout", config_str(cfg, SET_CONNECT_TIMEOUT));
	/* verify-ca / verify-full and no CA file named: the compiled-in bundle, else the system's */
	params_add(&p, "sslrootcert", cacert_libpq_root(params_get(&p, "sslmode"), params_get(&p, "sslrootcert")));
	/* Session hardening: who we are, and one encoding whatever the environment says. */
	params_add(&p, "application_name", "gosling");
	params_add(&p, "client_encoding", "UTF8");
	p.key[p.n] = NULL;
	p.val[p.n] = NULL;
	{
		char line[1024];

		params_describe(&p, line, sizeof line);
		log_debug("connecting (%s): %s", purpose, line);
	}

	conn = PQconnectdbParams(p.key, p.val, 0);
	if (!conn) {
		error_set(err, "unable to open the %s connection: out of memory", purpose);
		goto out;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		error_from_conn(err, conn);
		err->connection = true;
		/* libpq quotes host, port and options back: never a password, whatever was put where */
		secret_redact(err->message, params_get(&p, "password"));
		secret_redact(err->message, params_get(&p, "sslpassword"));
		goto out;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	if (PQclientEncoding(conn) != pg_char_to_encoding("UTF8")) {
		error_set(err, "unable to set client_encoding UTF8 on the %s connection", purpose);
		goto out;
	}
	*out = conn;
	conn = NULL;
	ok = true;
out:
	if (url)
		PQconninfoFree(url);
	if (conn)
		PQfinish(conn);
	return ok;
}

bool
db_utf8(PGconn *conn, struct db_error *err)
{
	if (PQclientEncoding(conn) == pg_char_to_encoding("UTF8"))
		return true;
	log_debug("a migration changed client_encoding to %s: back to UTF8",
		  pg_encoding_to_char(PQclientEncoding(conn)));
	if (PQsetClientEncoding(conn, "UTF8") == 0)
		return true;
	error_from_conn(err, conn);
	return false;
}

void
db_close(PGconn *conn)
{
	if (conn)
		PQfinish(conn);
}

bool
db_set_timeouts(PGconn *conn, int64_t statement_ms, int64_t lock_ms, struct db_error *err)
{
	char st[32], lk[32];
	const char *params[] = { st, lk };
	PGresult *res;
	bool watch = PQserverVersion(conn) >= 140000;

	snprintf(st, sizeof st, "%lld", (long long)statement_ms);
	snprintf(lk, sizeof lk, "%lld", (long long)lock_ms);
	if (!query_run(conn, "setting timeouts",
		       watch ? "SELECT pg_catalog.set_config('statement_timeout', $1, false), "
			       "pg_catalog.set_config('lock_timeout', $2, false), "
			       "pg_catalog.set_config('client_connection_check_interval', '1000', false)"
			     : "SELECT pg_catalog.set_config('statement_timeout', $1, false), "
			       "pg_catalog.set_config('lock_timeout', $2, false)",
		       2, params, SHAPE_ROW(watch ? 3 : 2), &res, err))
		return false;
	PQclear(res);
	return true;
}

/* --- the advisory lock ---------------------------------------------------- */

bool
db_lock_try(PGconn *conn, int64_t key, bool *got, struct db_error *err)
{
	char k[32];
	const char *params[] = { k };
	PGresult *res;

	snprintf(k, sizeof k, "%lld", (long long)key);
	if (!query_run(conn, "pg_try_advisory_lock", "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", 1,
		       params, SHAPE_ROW(1), &res, err))
		return false;
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
db_work_lock_try(PGconn *conn, int64_t key, bool *got, struct db_error *err)
{
	char hi[16], lo[16];
	const char *params[] = { hi, lo };
	PGresult *res;

	snprintf(hi, sizeof hi, "%d", (int)(int32_t)(uint32_t)((uint64_t)key >> 32));
	snprintf(lo, sizeof lo, "%d", (int)(int32_t)(uint32_t)((uint64_t)key & 0xffffffffu));
	if (!query_run(conn, "pg_try_advisory_lock", "SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4)", 2,
		       params, SHAPE_ROW(1), &res, err))
		return false;
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
db_unlock(PGconn *conn, int64_t key, struct db_error *err)
{
	char k[32];
	const char *params[] = { k };
	PGresult *res;

	snprintf(k, sizeof k, "%lld", (long long)key);
	if (!query_run(conn, "pg_advisory_unlock", "SELECT pg_catalog.pg_advisory_unlock($1::bigint)", 1,
		       params, SHAPE_ROW(1), &res, err))
		return false;
	PQclear(res);
	return true;
}

/* --- reading the history -------------------------------------------------- */

bool
db_tables_probe(PGconn *conn, const struct db_names *n, struct db_tables *t, struct db_error *err)
{
	const char *params[] = { n->history, n->goose };
	PGresult *res;

	/* to_regclass resolves an unqualified goose table through search_path, as goose does. */
	if (!query_run(conn, "the table lookup",
		       "SELECT pg_catalog.to_regclass($1) IS NOT NULL, pg_catalog.to_regclass($2) IS NOT NULL, "
		       "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute "
		       "WHERE attrelid = pg_catalog.to_regclass($2) AND attname = 'id' AND attidentity <> '')",
		       2, params, SHAPE_ROW(3), &res, err))
		return false;
	t->history = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	t->goose = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	t->goose_identity = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	return true;
}

void
db_rows_free(struct db_row *rows, size_t nrows)
{
	for (size_t i = 0; i < nrows; i++) {
		free(rows[i].name);
		free(rows[i].file_checksum);
		free(rows[i].exec_checksum);
		free(rows[i].chain);
		free(rows[i].build_id);
		free(rows[i].done_checksum);
	}
	free(rows);
}

bool
db_history_read(PGconn *conn, const struct db_names *n, struct db_row **rows, size_t *nrows,
		struct db_error *err)
{
	char sql[512];
	PGresult *res = NULL;
	struct db_row *r = NULL;
	int nt = 0;
	bool ok = false;

	*rows = NULL;
	*nrows = 0;
	snprintf(sql, sizeof sql,
		 "SELECT version, name, file_checksum, exec_checksum, chain, "
		 "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "execution_ms, build_id, origin, failed_statement, "
		 /* through to_jsonb: a history table older than the column reads as NULL, not an error */
		 "CASE WHEN failed_statement IS NOT NULL THEN pg_catalog.to_jsonb(h) OPERATOR(pg_catalog.->>) "
		 "'done_checksum' END FROM %s h ORDER BY version",
		 n->history);
	if (!query_run(conn, "reading the history", sql, 0, NULL, SHAPE_ROWS(11), &res, err))
		goto out;
	nt = PQntuples(res);
	r = calloc(nt ? (size_t)nt : 1, sizeof *r);
	if (!r) {
		error_set(err, "out of memory reading %s", n->history);
		goto out;
	}
	for (int i = 0; i < nt; i++) {
		r[i].version = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		r[i].name = strdup(PQgetvalue(res, i, 1));
		r[i].file_checksum = strdup(PQgetvalue(res, i, 2));
		r[i].exec_checksum = strdup(PQgetvalue(res, i, 3));
		r[i].chain = strdup(PQgetvalue(res, i, 4));
		snprintf(r[i].applied_at, sizeof r[i].applied_at, "%s", PQgetvalue(res, i, 5));
		r[i].execution_ms = PQgetisnull(res, i, 6) ? -1 : strtoll(PQgetvalue(res, i, 6), NULL, 10);
		r[i].build_id = strdup(PQgetvalue(res, i, 7));
		snprintf(r[i].origin, sizeof r[i].origin, "%s", PQgetvalue(res, i, 8));
		r[i].failed_statement = PQgetisnull(res, i, 9) ? 0 : (uint32_t)atoi(PQgetvalue(res, i, 9));
		r[i].done_checksum = PQgetisnull(res, i, 10) ? NULL : strdup(PQgetvalue(res, i, 10));
		if (!r[i].name || !r[i].file_checksum || !r[i].exec_checksum || !r[i].chain || !r[i].build_id ||
		    (!r[i].done_checksum && !PQgetisnull(res, i, 10))) {
			db_rows_free(r, (size_t)i + 1);
			r = NULL;
			error_set(err, "out of memory reading %s", n->history);
			goto out;
		}
	}
	*rows = r;
	*nrows = (size_t)nt;
	ok = true;
out:
	PQclear(res);
	return ok;
}

bool
db_goose_read(PGconn *conn, const struct db_names *n, int64_t **versions, size_t *nversions,
	      struct db_error *err)
{
	char sql[512];
	PGresult *res = NULL;
	int64_t *v = NULL;
	int nt;
	bool ok = false;

	*versions = NULL;
	*nversions = 0;
	/* goose's legacy rule: a version's newest row decides whether it is applied. */
	snprintf(sql, sizeof sql,
		 "SELECT version_id FROM (SELECT DISTINCT ON (version_id) version_id, is_applied "
		 "FROM %s ORDER BY version_id, id DESC) g WHERE is_applied AND version_id > 0 "
		 "ORDER BY version_id",
		 n->goose);
	if (!query_run(conn, "reading goose's table", sql, 0, NULL, SHAPE_ROWS(1), &res, err))
		goto out;
	nt = PQntuples(res);
	v = calloc(nt ? (size_t)nt : 1, sizeof *v);
	if (!v) {
		error_set(err, "out of memory reading %s", n->goose);
		goto out;
	}
	for (int i = 0; i < nt; i++)
		v[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	*versions = v;
	*nversions = (size_t)nt;
	ok = true;
out:
	PQclear(res);
	return ok;
}

/* --- changing the history ------------------------------------------------- */

bool
db_begin(PGconn *conn, struct db_error *err)
{
	return command_run(conn, "BEGIN", "BEGIN", 0, NULL, err);
}

bool
db_commit(PGconn *conn, struct db_error *err)
{
	return command_run(conn, "COMMIT", "COMMIT", 0, NULL, err);
}

void
db_rollback(PGconn *conn)
{
	PGresult *res;

	if (PQtransactionStatus(conn) == PQTRANS_IDLE || PQtransactionStatus(conn) == PQTRANS_UNKNOWN)
		return;
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
	drain(conn);
}

bool
db_history_create(PGconn *conn, const struct db_names *n, struct db_error *err)
{
	char sql[1536];

	if (n->create_schema) {
		snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", n->schema);
		if (!command_run(conn, "creating the history schema", sql, 0, NULL, err))
			return false;
	}
	snprintf(sql, sizeof sql,
		 "CREATE TABLE IF NOT EXISTS %s (\n"
		 "\tversion bigint PRIMARY KEY,\n"
		 "\tname text NOT NULL,\n"
		 "\tfile_checksum text NOT NULL,\n"
		 "\texec_checksum text NOT NULL,\n"
		 "\tchain text NOT NULL,\n"
		 "\tapplied_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),\n"
		 "\texecution_ms bigint,\n"
		 "\tbuild_id text NOT NULL,\n"
		 "\torigin text NOT NULL DEFAULT 'gosling' CHECK (origin IN ('gosling', 'goose', 'baseline')),\n"
		 "\tfailed_statement integer CHECK (failed_statement > 0),\n"
		 "\terror text,\n"
		 "\tdone_checksum text\n"
		 ")",
		 n->history);
	return command_run(conn, "creating the history table", sql, 0, NULL, err);
}

bool
db_goose_insert(PGconn *conn, const struct db_names *n, int64_t version, struct db_error *err)
{
	char sql[256], v[32];
	const char *params[] = { v };

	snprintf(v, sizeof v, "%lld", (long long)version);
	snprintf(sql, sizeof sql, "INSERT INTO %s (version_id, is_applied) VALUES ($1, true)", n->goose);
	return command_run(conn, "recording the version in goose's table", sql, 1, params, err);
}

bool
db_history_upsert(PGconn *conn, const struct db_names *n, const struct db_record *r, bool goose,
		  struct db_error *err)
{
	char sql[1024], v[32], ms[32], fs[32];
	const char *params[10];

	snprintf(v, sizeof v, "%lld", (long long)r->version);
	snprintf(ms, sizeof ms, "%lld", (long long)r->execution_ms);
	snprintf(fs, sizeof fs, "%u", r->failed_statement);
	params[0] = v;
	params[1] = r->name;
	params[2] = r->file_checksum;
	params[3] = r->exec_checksum;
	params[4] = r->chain;
	params[5] = r->execution_ms >= 0 ? ms : NULL;
	params[6] = r->build_id;
	params[7] = r->origin;
	params[8] = r->failed_statement ? fs : NULL;
	params[9] = r->error;
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s (version, name, file_checksum, exec_checksum, chain, applied_at, "
		 "execution_ms, build_id, origin, failed_statement, error) "
		 "VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp(), $6, $7, $8, $9, $10) "
		 "ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
		 "file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
		 "chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "
		 "execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, "
		 "origin = EXCLUDED.origin, failed_statement = EXCLUDED.failed_statement, "
		 "error = EXCLUDED.error",
		 n->history);
	if (!command_run(conn, "recording the migration in the history", sql, 10, params, err))
		return false;
	if (r->failed_statement > 0) {
		const char *p2[] = { v, r->done_checksum };

		snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS done_checksum text", n->history);
		if (!command_run(conn, "adding done_checksum to the history", sql, 0, NULL, err))
			return false;
		snprintf(sql, sizeof sql, "UPDATE %s SET done_checksum = $2 WHERE version = $1", n->history);
		return command_run(conn, "recording what a stopped migration ran", sql, 2, p2, err);
	}
	if (goose && r->failed_statement == 0)
		return db_goose_insert(conn, n, r->version, err);
	return true;
}

bool
db_history_delete(PGconn *conn, const struct db_names *n, int64_t version, bool goose,
		  struct db_error *err)
{
	char sql[256], v[32];
	const char *params[] = { v };

	snprintf(v, sizeof v, "%lld", (long long)version);
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE version = $1", n->history);
	if (!command_run(conn, "deleting the history row", sql, 1, params, err))
		return false;
	if (!goose)
		return true;
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE version_id = $1", n->goose);
	return command_run(conn, "deleting goose's row", sql, 1, params, err);
}

bool
db_history_rechain(PGconn *conn, const struct db_names *n, int64_t version, const char *chain,
		   struct db_error *err)
{
	char sql[256], v[32];
	const char *params[] = { chain, v };
	PGresult *res;
	bool ok;

	snprintf(v, sizeof v, "%lld", (long long)version);
	snprintf(sql, sizeof sql, "UPDATE %s SET chain = $1 WHERE version = $2", n->history);
	if (!query_run(conn, "re-chaining the history", sql, 2, params, SHAPE_COMMAND, &res, err))
		return false;
	ok = strcmp(PQcmdTuples(res), "1") == 0;
	if (!ok)
		error_set(err, "no history row of version %s to re-chain", v);
	PQclear(res);
	return ok;
}

bool
db_migration_statement(PGconn *conn, const char *sql, int64_t deadline_ms, struct db_error *err)
{
	PGresult *res;
	bool cancelled = false, failed = false;

	if (!PQsendQuery(conn, sql)) {
		error_from_conn(err, conn);
		return false;
	}
	for (;;) {
		if (!wait_ready(conn, deadline_ms, &cancelled, err)) {
			drain(conn);
			return false;
		}
		res = PQgetResult(conn);
		if (!res)
			break;
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && !failed) {
			error_from_result(err, res);
			failed = true;
		} else if (PQresultStatus(res) == PGRES_COPY_IN || PQresultStatus(res) == PGRES_COPY_OUT) {
			copy_refuse(conn, res);
		}
		PQclear(res);
	}
	if (!failed && PQstatus(conn) != CONNECTION_OK) {
		error_from_conn(err, conn);
		return false;
	}
	return !failed;
}

/* --- batches -------------------------------------------------------------- */

/* What each result of the batch string belongs to. */
struct slot {
	uint32_t unit;
	uint32_t statement;	/* 1-based goose statement, 0 = bookkeeping */
	bool commit;		/* the unit's COMMIT */
	bool timing;		/* returns the unit's server-side execution time in ms */
};

struct db_batch {
	char *text;
	size_t len, cap;
	bool failed;		/* sticky: out of memory while building */
	struct slot *slots;
	size_t nslots, slotcap;
	/* byte range of each statement in text, to map an error position back */
	struct span {
		size_t start, end;
		uint32_t unit, statement;
	} *spans;
	size_t nspans, spancap;
	const struct db_unit *units;
	size_t nunits;
};

static void
batch_append(struct db_batch *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *t;

		while (b->len + n + 1 > cap)
			cap *= 2;
		t = realloc(b->text, cap);
		if (!t) {
			b->failed = true;
			return;
		}
		b->text = t;
		b->cap = cap;
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
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
batch_slot(struct db_batch *b, uint32_t unit, uint32_t statement, bool commit, bool timing)
{
	if (b->failed)
		return;
	if (b->nslots == b->slotcap) {
		size_t cap = b->slotcap ? b->slotcap * 2 : 256;
		struct slot *s = realloc(b->slots, cap * sizeof *s);

		if (!s) {
			b->failed = true;
			return;
		}
		b->slots = s;
		b->slotcap = cap;
	}
	b->slots[b->nslots++] = (struct slot){ unit, statement, commit, timing };
}

static void
batch_span(struct db_batch *b, size_t start, size_t end, uint32_t unit, uint32_t statement)
{
	if (b->failed)
		return;
	if (b->nspans == b->spancap) {
		size_t cap = b->spancap ? b->spancap * 2 : 256;
		struct span *s = realloc(b->spans, cap * sizeof *s);

		if (!s) {
			b->failed = true;
			return;
		}
		b->spans = s;
		b->spancap = cap;
	}
	b->spans[b->nspans++] = (struct span){ start, end, unit, statement };
}

struct db_batch *
db_batch_new(PGconn *conn, const struct db_names *n, const struct db_unit *units, size_t nunits,
	     struct db_error *err)
{
	struct db_batch *b = calloc(1, sizeof *b);
	char num[64];

	if (!b) {
		error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	b->units = units;
	b->nunits = nunits;
	for (size_t u = 0; u < nunits; u++) {
		const struct db_unit *un = &units[u];
		const struct db_record *r = &un->rec;

		batch_str(b, "BEGIN;\nSELECT pg_catalog.set_config('" START_GUC
			     "', pg_catalog.clock_timestamp()::text, true);\n");
		batch_slot(b, (uint32_t)u, 0, false, false);
		batch_slot(b, (uint32_t)u, 0, false, false);
		for (uint32_t s = 0; s < un->nstmts; s++) {
			size_t start = b->len;

			batch_str(b, un->sql[s]);
			batch_span(b, start, b->len, (uint32_t)u, s + 1);
			/* a statement may end in a comment, or lack its ';': an empty command costs nothing */
			batch_str(b, "\n;\n");
			for (uint32_t c = 0; c < un->stmts[s].ncommands; c++)
				batch_slot(b, (uint32_t)u, s + 1, false, false);
		}
		snprintf(num, sizeof num, "%lld", (long long)r->version);
		if (un->down) {
			batch_str(b, "DELETE FROM ");
			batch_str(b, n->history);
			batch_str(b, " WHERE version = ");
			batch_str(b, num);
			batch_str(b, " RETURNING " ELAPSED_MS ";\n");
			batch_slot(b, (uint32_t)u, 0, false, true);
			if (un->goose) {
				batch_str(b, "DELETE FROM ");
				batch_str(b, n->goose);
				batch_str(b, " WHERE version_id = ");
				batch_str(b, num);
				batch_str(b, ";\n");
				batch_slot(b, (uint32_t)u, 0, false, false);
			}
		} else {
			batch_str(b, "INSERT INTO ");
			batch_str(b, n->history);
			batch_str(b, " (version, name, file_checksum, exec_checksum, chain, applied_at, "
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
			batch_str(b, ", pg_catalog.clock_timestamp(), " ELAPSED_MS ", ");
			batch_literal(b, conn, r->build_id);
			batch_str(b, ", ");
			batch_literal(b, conn, r->origin);
			batch_str(b, ") ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
				     "file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
				     "chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "
				     "execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, "
				     "origin = EXCLUDED.origin, failed_statement = NULL, error = NULL "
				     "RETURNING execution_ms;\n");
			batch_slot(b, (uint32_t)u, 0, false, true);
			if (un->goose) {
				batch_str(b, "INSERT INTO ");
				batch_str(b, n->goose);
				batch_str(b, " (version_id, is_applied) VALUES (");
				batch_str(b, num);
				batch_str(b, ", true);\n");
				batch_slot(b, (uint32_t)u, 0, false, false);
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
			batch_slot(b, (uint32_t)u, 0, false, false);
		}
		batch_str(b, "COMMIT;\n");
		batch_slot(b, (uint32_t)u, 0, true, false);
	}
	if (b->failed) {
		db_batch_free(b);
		error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	return b;
}

void
db_batch_free(struct db_batch *b)
{
	if (!b)
		return;
	free(b->text);
	free(b->slots);
	free(b->spans);
	free(b);
}

/* Byte offset of the 1-based character position pos in s (UTF-8). */
static size_t
char_to_byte(const char *s, size_t len, int pos)
{
	size_t i = 0;
	int chars = 0;

	while (i < len && chars < pos - 1) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	return i;
}

/* Attribute an error: by its position in the text when PostgreSQL gives one, else by result count. */
static void
batch_attribute(const struct db_batch *b, size_t slot, struct db_batch_failure *f)
{
	f->unit = slot < b->nslots ? b->slots[slot].unit : 0;
	f->statement = slot < b->nslots ? b->slots[slot].statement : 0;
	f->line_offset = 0;
	if (f->err.position > 0) {
		size_t at = char_to_byte(b->text, b->len, f->err.position);

		for (size_t i = 0; i < b->nspans; i++) {
			const struct span *sp = &b->spans[i];

			if (at >= sp->start && at < sp->end) {
				f->unit = sp->unit;
				f->statement = sp->statement;
				for (size_t j = sp->start; j < at; j++)
					f->line_offset += b->text[j] == '\n';
				/* the position belongs to the whole batch; within the statement it is now meaningless */
				f->err.position = (int)(at - sp->start) + 1;
				break;
			}
		}
	}
}

bool
db_batch_run(PGconn *conn, struct db_batch *b, int64_t deadline_ms,
	     void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_batch_failure *f)
{
	size_t slot = 0;
	bool cancelled = false, failed = false;
	int64_t t0 = db_now_ms(), server_ms = -1;
	PGresult *res;

	memset(f, 0, sizeof *f);
	if (!PQsendQuery(conn, b->text)) {
		error_from_conn(&f->err, conn);
		return false;
	}
	for (;;) {
		if (!wait_ready(conn, deadline_ms, &cancelled, &f->err)) {
			batch_attribute(b, slot, f);
			drain(conn);
			db_rollback(conn);
			return false;
		}
		res = PQgetResult(conn);
		if (!res)
			break;
		switch (PQresultStatus(res)) {
		case PGRES_FATAL_ERROR:
			if (!failed) {
				error_from_result(&f->err, res);
				batch_attribute(b, slot, f);
				failed = true;
			}
			break;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
			copy_refuse(conn, res);
			break;
		default:
			/* a COMMIT tag where the count expects none (or the reverse) means a statement's
			 * ncommands was off: resynchronise on the next unit's COMMIT */
			if (strcmp(PQcmdStatus(res), "COMMIT") == 0 && !(slot < b->nslots && b->slots[slot].commit)) {
				while (slot < b->nslots && !b->slots[slot].commit)
					slot++;
			}
			if (slot < b->nslots && b->slots[slot].timing && PQresultStatus(res) == PGRES_TUPLES_OK &&
			    PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0))
				server_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			if (!failed && slot < b->nslots && b->slots[slot].commit && done) {
				int64_t now = db_now_ms();

				done(b->slots[slot].unit, server_ms >= 0 ? server_ms : now - t0, arg);
				t0 = now;
				server_ms = -1;
			}
			break;
		}
		PQclear(res);
		slot++;
	}
	if (failed) {
		/* the failed unit's transaction is aborted: close it; earlier COMMITs stand */
		db_rollback(conn);
		return false;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		error_from_conn(&f->err, conn);
		batch_attribute(b, slot, f);
		return false;
	}
	return true;
}
