/*
 * db_connect.c - opening a libpq connection as the configuration says, within a bound:
 * the parameters in their precedence (config_conn), DATABASE_URL parsed by libpq with
 * its secrets kept out of every message, the host name resolved on a thread of its own
 * (libpq's getaddrinfo has no timeout), PQconnectPoll driven by poll(); then the
 * session gosling wants (encoding, timeouts).
 */
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <poll.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cacert.h"
#include "clock.h"
#include "config.h"
#include "db_impl.h"
#include "log.h"
#include "signals.h"

void
db_describe(PGconn *conn, char *out, size_t outlen)
{
	const char *host = PQhost(conn);

	snprintf(out, outlen, "%s@%s:%s/%s", PQuser(conn), host && *host ? host : "localhost", PQport(conn),
		 PQdb(conn));
}

#define MAXPARAMS 40

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

/*
 * Add the setting's value when config_conn ranks its source below DATABASE_URL (over_url
 * false: the URL's fields, added next, replace it) or above it (over_url true: added last).
 */
static void
params_add_setting(struct params *p, const struct config *cfg, enum setting_id id, const char *key, bool over_url)
{
	enum config_source src;
	const char *v = config_conn(cfg, id, NULL, NULL, &src);

	if (v && (src > CONFIG_URL) == over_url)
		params_add(p, key, v);
}

/* The server's NOTICEs and WARNINGs go to the log, not straight to stderr (JSON logs stay JSON). */
static void
notice_to_log(void *arg, const char *message)
{
	char buf[1024];

	(void)arg;
	db_copy_trim(buf, sizeof buf, message);
	log_info("server: %s", buf);
}

/* Whether libpq marks keyword as a secret (dispchar "*": password, sslpassword, ...). */
static bool
secret_keyword(const PQconninfoOption *defaults, const char *keyword)
{
	if (!defaults)
		return true; /* out of memory: mask everything */
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
		size_t stars = n < 3 ? n : 3; /* the text never grows */

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

/*
 * db_url_parse - DATABASE_URL's fields as libpq parses them (free with PQconninfoFree),
 * once config_url_check passes; else NULL with err as db_target_read says.
 */
static PQconninfoOption *
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

/* --- connecting within a bound ---------------------------------------------- */

struct resolve_job {
	struct job j;
	char host[256];
	struct addrinfo *res;
	int rc;
};

static void
resolve_fn(struct job *j)
{
	struct resolve_job *r = (struct resolve_job *)j;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

	r->rc = getaddrinfo(r->host, NULL, &hints, &r->res);
}

static void
resolve_release(struct job *j)
{
	struct resolve_job *r = (struct resolve_job *)j;

	if (r->rc == 0 && r->res)
		freeaddrinfo(r->res);
	db_job_destroy(j);
	free(r);
}

/* an IPv4 or IPv6 address: libpq resolves nothing for it, no lookup can stall */
static bool
host_is_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * Resolve the one host name libpq would, within until_ms, and hand libpq the
 * addresses (hostaddr, host repeated to match), so it resolves nothing itself:
 * its getaddrinfo blocks with no timeout.  Socket directories, IP addresses,
 * lists of hosts and a given hostaddr are left to libpq.
 */
static bool
resolve_host(struct params *p, char *hosts, size_t hostslen, char *addrs, size_t addrslen, int64_t until_ms,
	     const char *purpose, struct db_error *err)
{
	const char *host = params_get(p, "host");
	struct resolve_job *r;
	size_t hl = 0, al = 0;
	int n = 0;

	if (!host)
		host = getenv("PGHOST");
	if (!host || !*host || host[0] == '/' || host[0] == '@' || strchr(host, ',') || params_get(p, "hostaddr") ||
	    strlen(host) >= sizeof r->host || host_is_address(host))
		return true;
	if (!(r = calloc(1, sizeof *r))) {
		db_error_set(err, "unable to open the %s connection: out of memory", purpose);
		return false;
	}
	snprintf(r->host, sizeof r->host, "%s", host);
	r->j.fn = resolve_fn;
	r->j.release = resolve_release;
	if (!db_job_run(&r->j, until_ms)) {
		memset(err, 0, sizeof *err);
		snprintf(err->message, sizeof err->message,
			 "unable to open the %s connection: could not resolve host name \"%s\" in time", purpose, host);
		err->connection = true;
		return false;
	}
	if (r->rc != 0) {
		memset(err, 0, sizeof *err);
		snprintf(err->message, sizeof err->message,
			 "unable to open the %s connection: could not translate host name \"%s\" to address: %s",
			 purpose, host, gai_strerror(r->rc));
		err->connection = true;
		resolve_release(&r->j);
		return false;
	}
	for (struct addrinfo *a = r->res; a && n < 8; a = a->ai_next) {
		char ip[64];

		if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof ip, NULL, 0, NI_NUMERICHOST) != 0 ||
		    hl + strlen(host) + 2 > hostslen || al + strlen(ip) + 2 > addrslen)
			continue;
		hl += (size_t)snprintf(hosts + hl, hostslen - hl, "%s%s", n ? "," : "", host);
		al += (size_t)snprintf(addrs + al, addrslen - al, "%s%s", n ? "," : "", ip);
		n++;
	}
	resolve_release(&r->j);
	if (n > 0) {
		params_add(p, "host", hosts);
		params_add(p, "hostaddr", addrs);
	}
	return true;
}

/* Drive PQconnectPoll until the connection is up, failed, or until_ms passed. */
static bool
connect_poll(PGconn *conn, int64_t until_ms, const char *purpose, struct db_error *err)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(conn), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT };
		int64_t now = clock_now_ms();
		int timeout = 1000;

		if (st == PGRES_POLLING_OK)
			return true;
		if (st == PGRES_POLLING_FAILED || PQstatus(conn) == CONNECTION_BAD) {
			db_error_from_conn(err, conn);
			err->connection = true;
			return false;
		}
		if (signals_interrupted() || (until_ms && now >= until_ms)) {
			memset(err, 0, sizeof *err);
			if (signals_interrupted())
				snprintf(err->message, sizeof err->message,
					 "unable to open the %s connection: interrupted by %s", purpose,
					 db_signal_name(signals_interrupted()));
			else
				snprintf(err->message, sizeof err->message,
					 "unable to open the %s connection: no answer from the server in time",
					 purpose);
			err->connection = true;
			return false;
		}
		if (until_ms && until_ms - now < timeout)
			timeout = (int)(until_ms - now);
		if (pfd.fd < 0) {
			st = PQconnectPoll(conn);
			continue;
		}
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
			db_error_set(err, "unable to wait for the server: %s", strerror(errno));
			err->connection = true;
			return false;
		}
		if (pfd.revents)
			st = PQconnectPoll(conn);
	}
}

/*
 * Whether a failed connect met a server that is not there yet or not taking connections
 * (a cluster resuming from zero capacity, failing over, restarting) rather than one that
 * refused us: libpq 15 gives no SQLSTATE for a connect, so its text (and the server's,
 * for 57P03) says which.  Name resolution, authentication and a missing database are not
 * retried: they do not pass by waiting.
 */
static bool
connect_not_ready(const char *msg)
{
	static const char *const transient[] = {
		"Connection refused",
		"Connection reset",
		"Connection timed out",
		"timeout expired",
		"No route to host",
		"Network is unreachable",
		"no answer from the server in time",
		"server closed the connection unexpectedly",
		"the database system is starting up",
		"the database system is shutting down",
		"the database system is in recovery mode",
		"the database system is not yet accepting connections",
		"the database system is not accepting connections",
	};

	for (size_t i = 0; i < sizeof transient / sizeof *transient; i++)
		if (strstr(msg, transient[i]))
			return true;
	return false;
}

bool
db_connect(const struct config *cfg, const char *purpose, PGconn **out, struct db_error *err)
{
	static const struct {
		enum setting_id id;
		const char *key;
	} map[] = {
		{ SET_HOST, "host" },
		{ SET_PORT, "port" },
		{ SET_DBNAME, "dbname" },
		{ SET_USER, "user" },
		{ SET_PASSWORD, "password" },
		{ SET_SSLMODE, "sslmode" },
		{ SET_SSLROOTCERT, "sslrootcert" },
	};
	struct params p = { 0 };
	PQconninfoOption *url = NULL;
	PGconn *conn = NULL;
	const char *dburl = config_str(cfg, SET_DATABASE_URL);
	const char *ct = config_str(cfg, SET_CONNECT_TIMEOUT);
	int64_t until = db_own_bound();
	char hosts[2048], addrs[512];
	bool ok = false;

	*out = NULL;
	/* connect-timeout (libpq's own applies only to blocking connects), within gosling's bound */
	if (ct && atoll(ct) > 0)
		until = clock_earliest(until, clock_now_ms() + atoll(ct) * 1000);
	/*
	 * A network or a server that stops answering must not hold the run: TCP keepalives
	 * notice a dead peer while a statement runs, tcp_user_timeout unacknowledged sends.
	 * Lowest precedence: DATABASE_URL may say otherwise.
	 */
	params_add(&p, "keepalives", "1");
	params_add(&p, "keepalives_idle", "10");
	params_add(&p, "keepalives_interval", "5");
	params_add(&p, "keepalives_count", "3");
	params_add(&p, "tcp_user_timeout", "30000");
	/* What ranks below DATABASE_URL (DB_*, the secret), then its fields, then flags. */
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

	if (!resolve_host(&p, hosts, sizeof hosts, addrs, sizeof addrs, until, purpose, err))
		goto out;
	p.key[p.n] = NULL;
	p.val[p.n] = NULL;
	conn = PQconnectStartParams(p.key, p.val, 0);
	if (!conn) {
		db_error_set(err, "unable to open the %s connection: out of memory", purpose);
		goto out;
	}
	if (!connect_poll(conn, until, purpose, err)) {
		/* libpq quotes host, port and options back: never a password, whatever was put where */
		secret_redact(err->message, params_get(&p, "password"));
		secret_redact(err->message, params_get(&p, "sslpassword"));
		err->not_ready = !signals_interrupted() && connect_not_ready(err->message);
		goto out;
	}
	if (PQsetnonblocking(conn, 1) != 0) {
		db_error_from_conn(err, conn);
		goto out;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	if (PQclientEncoding(conn) != pg_char_to_encoding("UTF8")) {
		db_error_set(err, "unable to set client_encoding UTF8 on the %s connection", purpose);
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
	db_error_from_conn(err, conn);
	return false;
}

void
db_close(PGconn *conn)
{
	if (conn)
		PQfinish(conn);
}

/*
 * The SELECT list that sets gosling's session settings: session-wide (is_local false),
 * so run inside a transaction they outlive its COMMIT and are undone by its ROLLBACK.
 * client_encoding too: gosling reads its own results (and PostgreSQL's messages) as UTF-8.
 */
void
db_settings_sql(char *buf, size_t len, PGconn *conn, const struct db_session *s)
{
	char path[320] = "";

	if (s->search_path) {
		/* an identifier ("" doubled), in a literal ('' doubled): the schema is plain, but never trusted */
		size_t n = (size_t)snprintf(path, sizeof path, ", pg_catalog.set_config('search_path', '\"");

		for (const char *p = s->search_path; *p && n + 40 < sizeof path; p++) {
			if (*p == '"' || *p == '\'')
				path[n++] = *p;
			path[n++] = *p;
		}
		snprintf(path + n, sizeof path - n, "\"', false)");
	}
	snprintf(buf, len,
		 "pg_catalog.set_config('statement_timeout', '%lld', false), "
		 "pg_catalog.set_config('lock_timeout', '%lld', false), "
		 "pg_catalog.set_config('client_encoding', 'UTF8', false)%s%s",
		 (long long)s->statement_ms, (long long)s->lock_ms,
		 PQserverVersion(conn) >= 140000
			 ? ", pg_catalog.set_config('client_connection_check_interval', '1000', false)"
			 : "",
		 path);
}

bool
db_set_session(PGconn *conn, const struct db_session *s, struct db_error *err)
{
	char sql[SETTINGS_SQL_MAX] = "SELECT ";
	PGresult *res;

	db_settings_sql(sql + strlen(sql), sizeof sql - strlen(sql), conn, s);
	if (!db_query_run(conn, "setting the session's timeouts", sql, 0, NULL,
			  SHAPE_ROW((PQserverVersion(conn) >= 140000 ? 4 : 3) + (s->search_path ? 1 : 0)), &res, err))
		return false;
	PQclear(res);
	return true;
}

/* What libpq will use for key, by config_conn's precedence over DATABASE_URL's fields and pgenv. */
static const char *
target_value(const struct config *cfg, const PQconninfoOption *url, enum setting_id id, const char *key,
	     const char *pgenv)
{
	const char *url_value = NULL, *env = getenv(pgenv);
	enum config_source src;

	for (const PQconninfoOption *o = url; o && o->keyword && !url_value; o++)
		if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
			url_value = o->val;
	return config_conn(cfg, id, url_value, env && *env ? env : NULL, &src);
}

/* A copy of s (NULL stays NULL) into *out; false when out of memory. */
static bool
target_copy(char **out, const char *s)
{
	*out = s ? strdup(s) : NULL;
	return !s || *out;
}

bool
db_target_read(const struct config *cfg, struct db_target *t, char *err, size_t errlen)
{
	const char *dburl = config_str(cfg, SET_DATABASE_URL);
	PQconninfoOption *url = NULL;
	bool ok;

	memset(t, 0, sizeof *t);
	if (dburl && !(url = db_url_parse(dburl, err, errlen)))
		return false;
	ok = target_copy(&t->host, target_value(cfg, url, SET_HOST, "host", "PGHOST")) &&
		target_copy(&t->port, target_value(cfg, url, SET_PORT, "port", "PGPORT")) &&
		target_copy(&t->user, target_value(cfg, url, SET_USER, "user", "PGUSER")) &&
		target_copy(&t->sslmode, target_value(cfg, url, SET_SSLMODE, "sslmode", "PGSSLMODE"));
	if (url)
		PQconninfoFree(url);
	if (!ok) {
		db_target_free(t);
		snprintf(err, errlen, "out of memory");
	}
	return ok;
}

void
db_target_free(struct db_target *t)
{
	free(t->host);
	free(t->port);
	free(t->user);
	free(t->sslmode);
	memset(t, 0, sizeof *t);
}
