/*
 * db.c - all of gosling's SQL, and the libpq calls around it.
 *
 * Every query goes through query_run(), which sends it, waits within a bound,
 * checks the result's shape, drains the connection and leaves exactly one
 * PGresult for the caller to clear on its `out:` path.
 *
 * No call here blocks without a bound: connections run non-blocking
 * (PQconnectPoll, PQsetnonblocking, poll() on PQsocket), host names are resolved
 * and cancel requests sent on a thread of their own that is abandoned when it
 * overstays, and a server that does not answer a cancel within GRACE_MS loses
 * its connection.
 */
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <poll.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cacert.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"

/* After a cancel, how long the server may take to answer before the connection is dropped. */
#define GRACE_MS 2000
/*
 * A batch holds at most this many bytes of SQL (one unit larger than this goes alone).
 * Each byte is held four times at once: the batch text, libpq's copy of the query (kept
 * for its error reports) and its output buffer, which grows by doubling.  256 KiB keeps
 * that near 1 MB of the 16 MB budget; a round trip per 256 KiB costs little more than
 * sending them (10,000 small migrations: about 45 batches).
 */
#define BATCH_CAP (256 * 1024)

static int64_t limit_until, limit_each, limit_hard;	/* db_limit */
static const char *sent_text;				/* db_text_sent */
static size_t sent_len;
static volatile sig_atomic_t interrupt_signal;	/* db_interrupt */
static int64_t interrupt_seen;			/* when a wait first noticed it */

void
db_limit(int64_t until_ms, int64_t each_ms, int64_t hard_ms)
{
	limit_until = until_ms;
	limit_each = each_ms;
	limit_hard = hard_ms;
}

void
db_text_sent(const char *text, size_t len)
{
	sent_text = text;
	sent_len = text ? len : 0;
}

void
db_interrupt(int signo)
{
	interrupt_signal = signo;
}

int
db_interrupted(void)
{
	return interrupt_signal;
}

static void
on_signal(int signo)
{
	db_interrupt(signo);
}

void
db_catch_signals(bool on)
{
	/* no SA_RESTART: a wait in poll() or nanosleep() returns at once */
	struct sigaction sa = { .sa_handler = on ? on_signal : SIG_DFL };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* When one of gosling's own waits that starts now must end (0 = never). */
static int64_t
own_bound(void)
{
	return clock_earliest(clock_earliest(limit_until, limit_hard), limit_each ? clock_now_ms() + limit_each : 0);
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

static const char *
signal_name(int signo)
{
	return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "a signal";
}

/* --- work on a thread of its own, abandoned when it overstays ---------------- */

/*
 * libpq 15 resolves host names (getaddrinfo) and sends cancel requests (PQcancel)
 * with blocking calls and no timeout.  Such a call runs as a job: the caller waits
 * for it until a bound; past it the job is abandoned and frees itself when the
 * call finally returns.
 */
struct job {
	void (*fn)(struct job *);
	void (*release)(struct job *);	/* frees the job */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool finished, abandoned;
};

static void *
job_main(void *arg)
{
	struct job *j = arg;
	bool abandoned;

	j->fn(j);
	pthread_mutex_lock(&j->mu);
	j->finished = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned)
		j->release(j);
	return NULL;
}

/*
 * job_run - run j->fn until until_ms.  true: it finished (the caller releases j);
 * false: it is still running and will release j itself.
 */
static bool
job_run(struct job *j, int64_t until_ms)
{
	struct timespec ts = { .tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000 };
	sigset_t all, old;
	pthread_t t;
	bool finished;
	int rc;

	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->finished = j->abandoned = false;
	/* signals are for the main thread: it is the one that cancels and reports */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, NULL, job_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		j->fn(j);	/* no thread: do it here, unbounded, rather than not at all */
		return true;
	}
	pthread_detach(t);
	pthread_mutex_lock(&j->mu);
	while (!j->finished && pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0)
		;
	finished = j->finished;
	if (!finished)
		j->abandoned = true;
	pthread_mutex_unlock(&j->mu);
	return finished;
}

static void
job_destroy(struct job *j)
{
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
}

struct cancel_job {
	struct job j;
	PGcancel *cancel;
	char err[256];
	int ok;
};

static void
cancel_fn(struct job *j)
{
	struct cancel_job *c = (struct cancel_job *)j;

	c->ok = PQcancel(c->cancel, c->err, sizeof c->err);
}

static void
cancel_release(struct job *j)
{
	struct cancel_job *c = (struct cancel_job *)j;

	PQfreeCancel(c->cancel);
	job_destroy(j);
	free(c);
}

/* Ask the server to cancel conn's statement; the postmaster gets until until_ms to take the request. */
static void
cancel_send(PGconn *conn, int64_t until_ms)
{
	struct cancel_job *c = calloc(1, sizeof *c);

	if (!c || !(c->cancel = PQgetCancel(conn))) {
		free(c);
		log_warn("unable to send a cancel request: out of memory");
		return;
	}
	c->j.fn = cancel_fn;
	c->j.release = cancel_release;
	if (!job_run(&c->j, until_ms)) {
		log_warn("the server did not take the cancel request in time");
		return;
	}
	if (!c->ok)
		log_warn("unable to send a cancel request: %s", c->err);
	cancel_release(&c->j);
}

/* --- waiting on the server -------------------------------------------------- */

/* One bounded wait: the cancel at cancel_at (0 = only on a signal), then GRACE_MS for the answer. */
struct waiter {
	int64_t cancel_at;
	int64_t give_up_at;	/* set when the cancel goes out */
	int64_t cancelled_at;
	bool cancelled;
};

static struct waiter
waiter_until(int64_t cancel_at)
{
	/* once interrupted, whatever runs (recording where a migration stopped, unlocking) gets a grace */
	if (interrupt_seen)
		cancel_at = clock_earliest(cancel_at, interrupt_seen + GRACE_MS);
	return (struct waiter){ .cancel_at = clock_earliest(cancel_at, limit_hard) };
}

/* The server went silent past the grace: drop the connection so nothing waits on it again. */
static void
drop(PGconn *conn, int64_t waited, struct db_error *err)
{
	memset(err, 0, sizeof *err);
	snprintf(err->message, sizeof err->message,
		 "the server did not answer within %lld ms of a cancel request: dropped the connection",
		 (long long)waited);
	err->connection = true;
	shutdown(PQsocket(conn), SHUT_RDWR);
	(void)PQconsumeInput(conn);	/* libpq sees the end: the connection is bad from now on */
}

/*
 * wait_io - flush what libpq holds, then wait once for the socket (or a bound).
 * Past w->cancel_at, or on SIGINT/SIGTERM, the statement is cancelled; GRACE_MS
 * later the connection is dropped.  false with *err when it cannot go on.
 */
static bool
wait_io(PGconn *conn, struct waiter *w, struct db_error *err)
{
	int flush = PQflush(conn);
	int64_t now = clock_now_ms(), next;
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };

	if (flush < 0) {
		error_from_conn(err, conn);
		return false;
	}
	if (interrupt_signal && !interrupt_seen) {
		interrupt_seen = now;
		log_warn("%s: cancelling the running statement", signal_name(interrupt_signal));
		w->cancel_at = now;
	}
	if (!w->cancelled && w->cancel_at && now >= w->cancel_at) {
		w->cancelled = true;
		w->cancelled_at = now;
		/* the grace for the answer, but nothing waits past the hard end */
		w->give_up_at = clock_earliest(now + GRACE_MS, limit_hard && limit_hard < now ? now : limit_hard);
		cancel_send(conn, w->give_up_at);
		now = clock_now_ms();
	}
	if (w->cancelled && now >= w->give_up_at) {
		drop(conn, now - w->cancelled_at, err);
		return false;
	}
	next = w->cancelled ? w->give_up_at : w->cancel_at;
	if (flush == 1)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, next ? (int)(next - now < 1000 ? next - now : 1000) : 1000) < 0 && errno != EINTR) {
		error_set(err, "unable to wait for the server: %s", strerror(errno));
		return false;
	}
	if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn)) {
		/*
		 * The server closed the connection.  What it sent first (the results of
		 * the statements that finished, then its FATAL error with a SQLSTATE, e.g.
		 * 57P01 from pg_terminate_backend or a shutdown) is in libpq's buffer:
		 * PQgetResult returns it in order, then libpq's own error, then NULL.
		 */
		if (PQstatus(conn) == CONNECTION_BAD)
			return true;
		error_from_conn(err, conn);
		return false;
	}
	return true;
}

/* Wait until the query is sent and a result is ready, within w. */
static bool
wait_ready(PGconn *conn, struct waiter *w, struct db_error *err)
{
	for (;;) {
		int flush;

		/* gone: PQgetResult returns what the server sent before, then libpq's error, without blocking */
		if (PQstatus(conn) == CONNECTION_BAD)
			return true;
		flush = PQflush(conn);
		if (flush < 0) {
			error_from_conn(err, conn);
			return PQstatus(conn) == CONNECTION_BAD;
		}
		if (flush == 0 && !PQisBusy(conn))
			return true;
		if (!wait_io(conn, w, err))
			return false;
	}
}

/*
 * A migration's COPY ... FROM STDIN / TO STDOUT has no client to talk to: end
 * COPY FROM STDIN with an error the server reports as the statement's, discard
 * COPY TO STDOUT's rows.  The statement's own result follows.
 */
static bool
copy_finish(PGconn *conn, ExecStatusType st, struct waiter *w, struct db_error *err)
{
	char *buf;
	int n;

	if (st == PGRES_COPY_IN) {
		while ((n = PQputCopyEnd(conn, "COPY FROM STDIN has no data to read in a gosling migration")) == 0)
			if (!wait_io(conn, w, err))
				return false;
		if (n < 0)
			error_from_conn(err, conn);
		return n > 0;
	}
	for (;;) {
		n = PQgetCopyData(conn, &buf, 1);
		if (n > 0) {
			PQfreemem(buf);
		} else if (n == -1) {
			return true;
		} else if (n == -2) {
			error_from_conn(err, conn);
			return false;
		} else if (!wait_io(conn, w, err)) {
			return false;
		}
	}
}

/* Read and clear every remaining result within w, so the connection is ready again. */
static void
drain(PGconn *conn, struct waiter *w)
{
	struct db_error e;
	PGresult *r;

	while (wait_ready(conn, w, &e) && (r = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		PQclear(r);
		if ((st == PGRES_COPY_IN || st == PGRES_COPY_OUT) && !copy_finish(conn, st, w, &e))
			return;
	}
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
 * query_run - send one single-command query (parameters as text), wait within
 * gosling's own bound (db_limit), check its shape, drain.  On success *out
 * holds the result (caller clears).
 */
static bool
query_run(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
	  struct shape shape, PGresult **out, struct db_error *err)
{
	struct waiter w = waiter_until(own_bound());
	PGresult *res = NULL;

	*out = NULL;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		error_from_conn(err, conn);
		goto fail;
	}
	if (!wait_ready(conn, &w, err))
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
	drain(conn, &w);
	*out = res;
	return true;
fail:
	PQclear(res);
	drain(conn, &w);
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

static bool grow(void **arr, size_t *cap, size_t n, size_t size);

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
params_add_setting(struct params *p, const struct config *cfg, enum setting_id id, const char *key,
		   bool over_url)
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
	job_destroy(j);
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
		error_set(err, "unable to open the %s connection: out of memory", purpose);
		return false;
	}
	snprintf(r->host, sizeof r->host, "%s", host);
	r->j.fn = resolve_fn;
	r->j.release = resolve_release;
	if (!job_run(&r->j, until_ms)) {
		memset(err, 0, sizeof *err);
		snprintf(err->message, sizeof err->message,
			 "unable to open the %s connection: could not resolve host name \"%s\" in time", purpose, host);
		err->connection = true;
		return false;
	}
	if (r->rc != 0) {
		memset(err, 0, sizeof *err);
		snprintf(err->message, sizeof err->message,
			 "unable to open the %s connection: could not translate host name \"%s\" to address: %s", purpose,
			 host, gai_strerror(r->rc));
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
			error_from_conn(err, conn);
			err->connection = true;
			return false;
		}
		if (interrupt_signal || (until_ms && now >= until_ms)) {
			memset(err, 0, sizeof *err);
			if (interrupt_signal)
				snprintf(err->message, sizeof err->message, "unable to open the %s connection: interrupted by %s",
					 purpose, signal_name(interrupt_signal));
			else
				snprintf(err->message, sizeof err->message,
					 "unable to open the %s connection: no answer from the server in time", purpose);
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
			error_set(err, "unable to wait for the server: %s", strerror(errno));
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
		"Connection refused", "Connection reset", "Connection timed out", "timeout expired",
		"No route to host", "Network is unreachable", "no answer from the server in time",
		"server closed the connection unexpectedly", "the database system is starting up",
		"the database system is shutting down", "the database system is in recovery mode",
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
		{ SET_HOST, "host" },	      { SET_PORT, "port" },	    { SET_DBNAME, "dbname" },
		{ SET_USER, "user" },	      { SET_PASSWORD, "password" }, { SET_SSLMODE, "sslmode" },
		{ SET_SSLROOTCERT, "sslrootcert" },
	};
	struct params p = { 0 };
	PQconninfoOption *url = NULL;
	PGconn *conn = NULL;
	const char *dburl = config_str(cfg, SET_DATABASE_URL);
	const char *ct = config_str(cfg, SET_CONNECT_TIMEOUT);
	int64_t until = own_bound();
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
		error_set(err, "unable to open the %s connection: out of memory", purpose);
		goto out;
	}
	if (!connect_poll(conn, until, purpose, err)) {
		/* libpq quotes host, port and options back: never a password, whatever was put where */
		secret_redact(err->message, params_get(&p, "password"));
		secret_redact(err->message, params_get(&p, "sslpassword"));
		err->not_ready = !interrupt_signal && connect_not_ready(err->message);
		goto out;
	}
	if (PQsetnonblocking(conn, 1) != 0) {
		error_from_conn(err, conn);
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

/*
 * The SELECT list that sets gosling's session settings: session-wide (is_local false),
 * so run inside a transaction they outlive its COMMIT and are undone by its ROLLBACK.
 * client_encoding too: gosling reads its own results (and PostgreSQL's messages) as UTF-8.
 */
static void
settings_sql(char *buf, size_t len, PGconn *conn, const struct db_session *s)
{
	char path[320] = "";

	if (s->search_path) {
		/* an identifier ("" doubled), in a literal ('' doubled): the schema is plain, but never trusted */
		size_t n = 0;

		n += (size_t)snprintf(path, sizeof path, ", pg_catalog.set_config('search_path', '\"");
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
		 PQserverVersion(conn) >= 140000 ? ", pg_catalog.set_config('client_connection_check_interval', '1000', false)"
						 : "", path);
}

bool
db_set_session(PGconn *conn, const struct db_session *s, struct db_error *err)
{
	char sql[768] = "SELECT ";
	PGresult *res;

	settings_sql(sql + strlen(sql), sizeof sql - strlen(sql), conn, s);
	if (!query_run(conn, "setting the session's timeouts", sql, 0, NULL,
		       SHAPE_ROW((PQserverVersion(conn) >= 140000 ? 4 : 3) + (s->search_path ? 1 : 0)), &res, err))
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

/* struct db_row's strings that may be the bundle's own (db_row.shared) */
enum { ROW_NAME = 1, ROW_FILE = 2, ROW_EXEC = 4, ROW_CHAIN = 8, ROW_BUILD = 16 };

static void
row_str_free(const char *s, unsigned shared, unsigned bit)
{
	if (!(shared & bit))
		free((void *)s);
}

void
db_rows_free(struct db_row *rows, size_t nrows)
{
	for (size_t i = 0; i < nrows; i++) {
		row_str_free(rows[i].name, rows[i].shared, ROW_NAME);
		row_str_free(rows[i].file_checksum, rows[i].shared, ROW_FILE);
		row_str_free(rows[i].exec_checksum, rows[i].shared, ROW_EXEC);
		row_str_free(rows[i].chain, rows[i].shared, ROW_CHAIN);
		row_str_free(rows[i].build_id, rows[i].shared, ROW_BUILD);
		free((void *)rows[i].done_checksum);
	}
	free(rows);
}

/*
 * rows_run - send a query whose rows come one at a time (single-row mode), each
 * checked to have ncols columns and handed to row(); none is held with the others.
 * row() returns false when out of memory.
 */
static bool
rows_run(PGconn *conn, const char *what, const char *sql, int ncols, bool (*row)(const PGresult *, void *),
	 void *arg, struct db_error *err)
{
	struct waiter w = waiter_until(own_bound());
	PGresult *res;
	bool ok = false, done = false;

	if (!PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
		error_from_conn(err, conn);
		return false;
	}
	(void)PQsetSingleRowMode(conn);
	while (!done) {
		ExecStatusType st;

		if (!wait_ready(conn, &w, err))
			break;
		if (!(res = PQgetResult(conn))) {
			error_from_conn(err, conn);
			break;
		}
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR) {
			error_from_result(err, res);
			done = true;
		} else if ((st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) || PQnfields(res) != ncols) {
			error_set(err, "unexpected result shape from %s", what);
			done = true;
		} else if (st == PGRES_SINGLE_TUPLE && !row(res, arg)) {
			error_set(err, "out of memory: %s", what);
			done = true;
		} else if (st == PGRES_TUPLES_OK) {
			ok = done = true;
		}
		PQclear(res);
	}
	drain(conn, &w);
	return ok;
}

struct history_rows {
	struct db_row *rows;
	size_t n, cap;
	const struct bundle *known;
	size_t next;		/* known's first migration not below the rows read so far */
};

/* s as a row keeps it: known when equal (bit goes into *shared), else a copy */
static const char *
row_str(const char *s, const char *known, unsigned bit, unsigned *shared)
{
	if (known && strcmp(s, known) == 0) {
		*shared |= bit;
		return known;
	}
	return strdup(s);
}

static bool
history_row(const PGresult *res, void *arg)
{
	struct history_rows *h = arg;
	const struct migration *m = NULL;
	struct db_row *r;

	if (!grow((void **)&h->rows, &h->cap, h->n, sizeof *h->rows))
		return false;
	r = &h->rows[h->n];
	memset(r, 0, sizeof *r);
	r->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	/* the rows come by version, as the bundle's migrations are */
	while (h->known && h->next < h->known->count && h->known->migrations[h->next].version < r->version)
		h->next++;
	if (h->known && h->next < h->known->count && h->known->migrations[h->next].version == r->version)
		m = &h->known->migrations[h->next];
	r->name = row_str(PQgetvalue(res, 0, 1), m ? m->name : NULL, ROW_NAME, &r->shared);
	r->file_checksum = row_str(PQgetvalue(res, 0, 2), m ? m->file_checksum : NULL, ROW_FILE, &r->shared);
	r->exec_checksum = row_str(PQgetvalue(res, 0, 3), m ? m->exec_checksum : NULL, ROW_EXEC, &r->shared);
	r->chain = row_str(PQgetvalue(res, 0, 4), m ? m->chain : NULL, ROW_CHAIN, &r->shared);
	snprintf(r->applied_at, sizeof r->applied_at, "%s", PQgetvalue(res, 0, 5));
	r->execution_ms = PQgetisnull(res, 0, 6) ? -1 : strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	r->build_id = row_str(PQgetvalue(res, 0, 7), h->known ? h->known->build_id : NULL, ROW_BUILD, &r->shared);
	snprintf(r->origin, sizeof r->origin, "%s", PQgetvalue(res, 0, 8));
	r->failed_statement = PQgetisnull(res, 0, 9) ? 0 : (uint32_t)atoi(PQgetvalue(res, 0, 9));
	r->done_checksum = PQgetisnull(res, 0, 10) ? NULL : strdup(PQgetvalue(res, 0, 10));
	h->n++;
	return r->name && r->file_checksum && r->exec_checksum && r->chain && r->build_id &&
	       (r->done_checksum || PQgetisnull(res, 0, 10));
}

bool
db_history_head(PGconn *conn, const struct db_names *n, struct db_head *h, struct db_error *err)
{
	char sql[512];
	PGresult *res;

	memset(h, 0, sizeof *h);
	snprintf(sql, sizeof sql,
		 "SELECT version, name, chain, "
		 "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
		 "failed_statement FROM %s ORDER BY version DESC LIMIT 1",
		 n->history);
	if (!query_run(conn, "reading the history's newest row", sql, 0, NULL, SHAPE_ROWS(5), &res, err)) {
		/* undefined_table, invalid_schema_name: nothing applied here yet */
		return strcmp(err->sqlstate, "42P01") == 0 || strcmp(err->sqlstate, "3F000") == 0;
	}
	if (PQntuples(res) == 1) {
		h->found = true;
		h->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(h->name, sizeof h->name, "%s", PQgetvalue(res, 0, 1));
		snprintf(h->chain, sizeof h->chain, "%s", PQgetvalue(res, 0, 2));
		snprintf(h->applied_at, sizeof h->applied_at, "%s", PQgetvalue(res, 0, 3));
		h->failed_statement = PQgetisnull(res, 0, 4) ? 0 : (uint32_t)atoi(PQgetvalue(res, 0, 4));
	}
	PQclear(res);
	return true;
}

bool
db_history_read(PGconn *conn, const struct db_names *n, const struct bundle *known, struct db_row **rows,
		size_t *nrows, struct db_error *err)
{
	struct history_rows h = { .known = known };
	char sql[512];

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
	if (!rows_run(conn, "reading the history", sql, 11, history_row, &h, err)) {
		db_rows_free(h.rows, h.n);
		return false;
	}
	if (!h.rows && !(h.rows = calloc(1, sizeof *h.rows))) {
		error_set(err, "out of memory reading %s", n->history);
		return false;
	}
	*rows = h.rows;
	*nrows = h.n;
	return true;
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
	struct db_error e;

	if (PQtransactionStatus(conn) == PQTRANS_IDLE || PQtransactionStatus(conn) == PQTRANS_UNKNOWN)
		return;
	if (!command_run(conn, "ROLLBACK", "ROLLBACK", 0, NULL, &e))
		log_warn("unable to roll back: %s", e.message);
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

/* Byte offset of the 1-based character position pos in s (UTF-8): PostgreSQL counts characters. */
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

/* Is res one of the batch's markers (its first column is gosling_unit)? Then its values. */
static bool
marker_read(const PGresult *res, size_t *unit, int64_t *end_ms, int64_t *start_ms)
{
	if (PQntuples(res) != 1 || PQnfields(res) < 3 || strcmp(PQfname(res, 0), "gosling_unit") != 0)
		return false;
	*unit = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	*end_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	*start_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	return true;
}

bool
db_migration_statement(PGconn *conn, const char *sql, int64_t deadline_ms, struct db_error *err)
{
	struct waiter w = waiter_until(deadline_ms);
	PGresult *res;
	bool failed = false;

	if (!PQsendQuery(conn, sql)) {
		error_from_conn(err, conn);
		return false;
	}
	(void)PQsetSingleRowMode(conn);	/* rows come one by one and are dropped: no result is held whole */
	for (;;) {
		ExecStatusType st;

		if (!wait_ready(conn, &w, err)) {
			drain(conn, &w);
			return false;
		}
		if (!(res = PQgetResult(conn)))
			break;
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR && !failed) {
			error_from_result(err, res);
			/* PostgreSQL's position counts characters; the caller counts lines in bytes */
			if (err->position > 0)
				err->position = (int)char_to_byte(sql, strlen(sql), err->position) + 1;
			failed = true;
		}
		PQclear(res);
		if ((st == PGRES_COPY_IN || st == PGRES_COPY_OUT) && !copy_finish(conn, st, &w, err)) {
			drain(conn, &w);
			return false;
		}
	}
	if (!failed && PQstatus(conn) != CONNECTION_OK) {
		error_from_conn(err, conn);
		return false;
	}
	return !failed;
}

/* --- an index a failed CREATE INDEX CONCURRENTLY left ---------------------------- */

/* One token of a statement: an identifier or key word (raw, quotes kept), or one other byte. */
struct token {
	const char *p;
	size_t n;
	bool ident;
	bool quoted;
};

/* Past white space and comments: -- to the end of the line, and nested block comments. */
static const char *
sql_skip(const char *s)
{
	for (;;) {
		while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
			s++;
		if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			int depth = 1;

			for (s += 2; *s && depth > 0;) {
				if (s[0] == '/' && s[1] == '*')
					depth++, s += 2;
				else if (s[0] == '*' && s[1] == '/')
					depth--, s += 2;
				else
					s++;
			}
		} else {
			return s;
		}
	}
}

/* PostgreSQL's identifier characters (scan.l: ident_start, ident_cont); bytes >= 0x80 are letters. */
static bool
ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool
ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* The token at s into *t; returns where the next one starts.  At the end, t->n is 0. */
static const char *
sql_token(const char *s, struct token *t)
{
	s = sql_skip(s);
	*t = (struct token){ s, 0, false, false };
	if (ident_start((unsigned char)*s)) {
		while (ident_cont((unsigned char)*s))
			s++;
		t->ident = true;
	} else if (*s == '"') {
		for (s++;; s++) {
			if (!*s)
				return s;	/* unterminated: no token */
			if (*s == '"' && s[1] != '"')
				break;
			if (*s == '"')
				s++;	/* "" stands for " */
		}
		s++;
		t->ident = t->quoted = true;
	} else if (*s) {
		s++;
	}
	t->n = (size_t)(s - t->p);
	return s;
}

static bool
sql_keyword(const struct token *t, const char *kw)
{
	return t->ident && !t->quoted && t->n == strlen(kw) && strncasecmp(t->p, kw, t->n) == 0;
}

/* The next token into *k, past *s; whether it is the key word kw. */
static bool
sql_next(const char **s, struct token *k, const char *kw)
{
	*s = sql_token(*s, k);
	return sql_keyword(k, kw);
}

bool
db_index_target(const char *sql, struct db_index_target *t)
{
	struct token k, peek;
	const char *s = sql, *after;
	size_t len = 0;

	memset(t, 0, sizeof *t);
	if (!sql_next(&s, &k, "create"))
		return false;
	if (sql_next(&s, &k, "unique"))
		(void)sql_next(&s, &k, "index");
	if (!sql_keyword(&k, "index") || !sql_next(&s, &k, "concurrently"))
		return false;
	s = sql_token(s, &k);
	/* IF NOT EXISTS name; IF alone is a name (an unreserved key word) */
	after = sql_token(s, &peek);
	if (sql_keyword(&k, "if") && sql_keyword(&peek, "not")) {
		s = after;
		if (!sql_next(&s, &k, "exists") || sql_next(&s, &k, "on"))
			return false;	/* IF NOT EXISTS needs a name */
	}
	if (!sql_keyword(&k, "on")) {
		if (!k.ident || k.n >= sizeof t->name)
			return false;
		memcpy(t->name, k.p, k.n);
		if (!sql_next(&s, &k, "on"))
			return false;
	}
	if (sql_next(&s, &k, "only"))
		s = sql_token(s, &k);
	/* the table: name [. name ...], written back without what stood between the parts */
	for (;;) {
		if (!k.ident || len + k.n + 2 > sizeof t->table)
			return false;
		memcpy(t->table + len, k.p, k.n);
		len += k.n;
		after = sql_token(s, &peek);
		if (peek.ident || peek.n != 1 || *peek.p != '.')
			break;
		t->table[len++] = '.';
		s = sql_token(after, &k);
	}
	t->table[len] = '\0';
	return true;
}

bool
db_index_invalid(PGconn *conn, const struct db_index_target *t, char *schema, size_t schemalen, char *name,
		 size_t namelen, bool *found, bool *building, struct db_error *err)
{
	const char *params[] = { t->table, t->name };
	char sql[1024];
	PGresult *res;

	*found = *building = false;
	/*
	 * to_regclass resolves both as the statement does (search_path; an index lives in its
	 * table's schema) and folds them as the parser would: unquoted to lower case, cut to 63
	 * bytes.  Only an INVALID index of that table counts, and a backend building it now
	 * (pg_stat_progress_create_index, PostgreSQL 12 and later) makes it not ours to drop.
	 */
	snprintf(sql, sizeof sql,
		 "SELECT n.nspname, c.relname, %s FROM pg_catalog.pg_index i "
		 "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		 "WHERE i.indrelid = pg_catalog.to_regclass($1) AND NOT i.indisvalid "
		 "AND c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(n.nspname) || '.' || $2)",
		 PQserverVersion(conn) >= 120000
			 ? "EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = c.oid)"
			 : "false");
	if (!query_run(conn, "the INVALID index lookup", sql, 2, params, SHAPE_ROWS(3), &res, err))
		return false;
	if (PQntuples(res) == 1) {
		*found = true;
		*building = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		snprintf(schema, schemalen, "%s", PQgetvalue(res, 0, 0));
		snprintf(name, namelen, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return true;
}

bool
db_index_drop(PGconn *conn, const char *schema, const char *name, int64_t deadline_ms, struct db_error *err)
{
	char *qs = PQescapeIdentifier(conn, schema, strlen(schema)), *qn = PQescapeIdentifier(conn, name, strlen(name));
	char sql[512];
	bool ok = false;

	if (!qs || !qn) {
		error_from_conn(err, conn);
		goto out;
	}
	snprintf(sql, sizeof sql, "DROP INDEX CONCURRENTLY IF EXISTS %s.%s", qs, qn);
	/* a migration statement's bounds: it waits for the transactions using the table, as the CREATE did */
	ok = db_migration_statement(conn, sql, deadline_ms, err);
	err->position = 0;
out:
	PQfreemem(qs);
	PQfreemem(qn);
	return ok;
}

/* --- batches -------------------------------------------------------------- */

/* What each result of the batch string is. */
enum slot_kind {
	SLOT_BEGIN,
	SLOT_STATEMENT,		/* one command of a goose statement */
	SLOT_CHECK,		/* SAVEPOINT: fails unless still in the unit's own transaction */
	SLOT_RECORD,		/* history and goose rows, re-chaining */
	SLOT_MARKER,		/* SELECT <unit> AS gosling_unit, times, gosling's settings */
	SLOT_COMMIT,
};

struct slot {
	uint32_t unit;
	uint32_t statement;	/* 1-based goose statement, 0 = bookkeeping */
	enum slot_kind kind;
};

/* A statement's place in the batch text, in characters (PostgreSQL's error positions count them). */
struct span {
	size_t start, end;
	uint32_t unit, statement;
};

struct db_batch {
	struct buf text;	/* freed once libpq holds the query */
	size_t chars;		/* characters in text */
	bool failed;		/* sticky: out of memory while building */
	struct slot *slots;
	size_t nslots, slotcap;
	size_t *marker;		/* per unit: index of its marker slot */
	struct span *spans;
	size_t nspans, spancap;
	const struct db_unit *units;
	size_t nunits;
	bool atomic;		/* all units in one transaction (db_batch_new) */
	struct db_cursor from, to;	/* where it starts and where the next batch starts */
};

static void
batch_append(struct db_batch *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	buf_add(&b->text, s, n);
	if ((b->failed = b->text.failed))
		return;
	for (size_t i = 0; i < n; i++)
		b->chars += ((unsigned char)s[i] & 0xC0) != 0x80;
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

/* Grow *arr (of *cap elements of size) to hold one more; false when out of memory. */
static bool
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *t;

	if (n < *cap)
		return true;
	if (!(t = realloc(*arr, (*cap ? *cap * 2 : 256) * size)))
		return false;
	*arr = t;
	*cap = *cap ? *cap * 2 : 256;
	return true;
}

static void
batch_slot(struct db_batch *b, uint32_t unit, uint32_t statement, enum slot_kind kind)
{
	if (b->failed)
		return;
	if (!grow((void **)&b->slots, &b->slotcap, b->nslots, sizeof *b->slots)) {
		b->failed = true;
		return;
	}
	b->slots[b->nslots++] = (struct slot){ unit, statement, kind };
}

static void
batch_span(struct db_batch *b, size_t start, size_t end, uint32_t unit, uint32_t statement)
{
	if (b->failed)
		return;
	if (!grow((void **)&b->spans, &b->spancap, b->nspans, sizeof *b->spans)) {
		b->failed = true;
		return;
	}
	b->spans[b->nspans++] = (struct span){ start, end, unit, statement };
}

/* ms from anchor to now, by the server's clock */
#define ELAPSED_SINCE(anchor)                                                                   \
	"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - " anchor ") * 1000)::bigint"
#define EPOCH_MS(t) "(pg_catalog.date_part('epoch', " t ") * 1000)::bigint"

/*
 * The bookkeeping of unit u after its statements: a SAVEPOINT that fails unless
 * the migration left gosling's transaction open (a COMMIT or ROLLBACK among its
 * statements), its history row, goose's row, re-chaining, then the marker.
 *
 * Nothing here reads a session variable a migration could change or clear: the
 * unit's execution time runs from the previous unit's history row (committed
 * before it) or, for the first unit, from the start of the query holding its BEGIN
 * (transaction_timestamp: every transaction of one simple query shares it).
 */
static void
batch_bookkeeping(struct db_batch *b, PGconn *conn, const struct db_names *n, const struct db_session *session,
		  uint32_t u)
{
	const struct db_unit *un = &b->units[u];
	const struct db_record *r = &un->rec;
	char num[64], session_sql[768];

	batch_str(b, "SAVEPOINT gosling_check;\n");
	batch_slot(b, u, 0, SLOT_CHECK);
	if (b->atomic) {
		/* one transaction: savepoints left open would nest a subtransaction per unit */
		batch_str(b, "RELEASE SAVEPOINT gosling_check;\n");
		batch_slot(b, u, 0, SLOT_CHECK);
	}
	snprintf(num, sizeof num, "%lld", (long long)r->version);
	if (un->down) {
		batch_str(b, "DELETE FROM ");
		batch_str(b, n->history);
		batch_str(b, " WHERE version = ");
		batch_str(b, num);
		batch_str(b, ";\n");
		batch_slot(b, u, 0, SLOT_RECORD);
		if (un->goose) {
			batch_str(b, "DELETE FROM ");
			batch_str(b, n->goose);
			batch_str(b, " WHERE version_id = ");
			batch_str(b, num);
			batch_str(b, ";\n");
			batch_slot(b, u, 0, SLOT_RECORD);
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
		batch_str(b, ", pg_catalog.clock_timestamp(), ");
		if (u > 0 && !b->units[u - 1].down) {
			char prev[64];

			snprintf(prev, sizeof prev, "%lld", (long long)b->units[u - 1].rec.version);
			batch_str(b, "(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - "
				     "coalesce((SELECT applied_at FROM ");
			batch_str(b, n->history);
			batch_str(b, " WHERE version = ");
			batch_str(b, prev);
			batch_str(b, "), pg_catalog.transaction_timestamp())) * 1000)::bigint");
		} else {
			batch_str(b, ELAPSED_SINCE("pg_catalog.transaction_timestamp()"));
		}
		batch_str(b, ", ");
		batch_literal(b, conn, r->build_id);
		batch_str(b, ", ");
		batch_literal(b, conn, r->origin);
		batch_str(b, ") ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, "
			     "file_checksum = EXCLUDED.file_checksum, exec_checksum = EXCLUDED.exec_checksum, "
			     "chain = EXCLUDED.chain, applied_at = EXCLUDED.applied_at, "
			     "execution_ms = EXCLUDED.execution_ms, build_id = EXCLUDED.build_id, "
			     "origin = EXCLUDED.origin, failed_statement = NULL, error = NULL;\n");
		batch_slot(b, u, 0, SLOT_RECORD);
		if (un->goose) {
			batch_str(b, "INSERT INTO ");
			batch_str(b, n->goose);
			batch_str(b, " (version_id, is_applied) VALUES (");
			batch_str(b, num);
			batch_str(b, ", true);\n");
			batch_slot(b, u, 0, SLOT_RECORD);
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
		batch_slot(b, u, 0, SLOT_RECORD);
	}
	/*
	 * The marker: which unit this is (results are attributed by it, whatever a
	 * statement's command count said), the server's clock, and gosling's settings
	 * again, so a SET or RESET ALL in this migration does not reach the next one.
	 */
	settings_sql(session_sql, sizeof session_sql, conn, session);
	snprintf(num, sizeof num, "SELECT %u AS gosling_unit, ", u);
	batch_str(b, num);
	batch_str(b, EPOCH_MS("pg_catalog.clock_timestamp()") ", " EPOCH_MS("pg_catalog.transaction_timestamp()") ", ");
	batch_str(b, session_sql);
	batch_str(b, ";\n");
	if (!b->failed)
		b->marker[u] = b->nslots;
	batch_slot(b, u, 0, SLOT_MARKER);
	if (b->atomic && u + 1 < b->nunits)
		return;		/* atomic: the one COMMIT comes after the last unit */
	batch_str(b, "COMMIT;\n");
	batch_slot(b, u, 0, SLOT_COMMIT);
}

/*
 * Whether statement s of un goes in a query of its own: PostgreSQL parses a whole
 * simple query before running any of it, so a statement its parser may refuse
 * (one goslingc could not check) would leave every migration sharing its query
 * not attempted.
 */
static bool
statement_alone(const struct db_unit *un, uint32_t s)
{
	return (un->stmts[s].flags & STMT_UNCHECKED) != 0;
}

/* Bytes a statement takes in the batch. */
static size_t
statement_bytes(const struct db_unit *un, uint32_t s)
{
	return strlen(un->sql[s]) + 3;
}

struct db_batch *
db_batch_new(PGconn *conn, const struct db_names *n, const struct db_session *session, const struct db_unit *units,
	     size_t nunits, bool atomic, const struct db_cursor *from, struct db_error *err)
{
	struct db_batch *b = calloc(1, sizeof *b);
	size_t u = from->unit, want = 4096;
	uint32_t s = from->statement;
	bool empty = true;	/* no statement in this batch yet */

	if (!b || !(b->marker = calloc(nunits + 1, sizeof *b->marker))) {
		free(b);
		error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	b->units = units;
	b->nunits = nunits;
	b->atomic = atomic;
	b->from = *from;
	/* the text in one allocation, sized for what fits (a statement longer than the cap goes alone) */
	for (size_t v = u; v < nunits && want < BATCH_CAP; v++)
		for (uint32_t t = v == u ? s : 0; t < units[v].nstmts && want < BATCH_CAP; t++)
			want += statement_bytes(&units[v], t) + (t == 0 ? 2048 : 0);
	if (!buf_reserve(&b->text, want + 2047)) {
		db_batch_free(b);
		error_set(err, "%s", "out of memory building the batch");
		return NULL;
	}
	b->text.p[0] = '\0';
	/*
	 * Statements up to BATCH_CAP bytes of text, at least one: memory stays bounded and
	 * round trips are O(bytes / cap).  A batch may end inside a migration: its
	 * transaction stays open and the next batch goes on with its next statement.
	 */
	while (u < nunits) {
		const struct db_unit *un = &units[u];

		if (s == 0) {
			if (!empty && un->nstmts > 0 &&
			    (b->text.len + statement_bytes(un, 0) > BATCH_CAP || statement_alone(un, 0)))
				break;
			/* nothing between BEGIN and the first statement: SET TRANSACTION ... must come first */
			if (!atomic || u == 0) {
				batch_str(b, "BEGIN;\n");
				batch_slot(b, (uint32_t)u, 0, SLOT_BEGIN);
			}
		}
		for (; s < un->nstmts; s++) {
			size_t start = b->chars;

			if (!empty && (b->text.len + statement_bytes(un, s) > BATCH_CAP || statement_alone(un, s)))
				goto full;
			empty = false;
			batch_str(b, un->sql[s]);
			batch_span(b, start, b->chars, (uint32_t)u, s + 1);
			/* a statement may end in a comment, or lack its ';': an empty command costs nothing */
			batch_str(b, "\n;\n");
			for (uint32_t c = 0; c < un->stmts[s].ncommands; c++)
				batch_slot(b, (uint32_t)u, s + 1, SLOT_STATEMENT);
			/* the query ends after it (after its migration's COMMIT, when it is the last) */
			if (statement_alone(un, s) && s + 1 < un->nstmts) {
				s++;
				goto full;
			}
		}
		batch_bookkeeping(b, conn, n, session, (uint32_t)u);
		u++;
		s = 0;
		if (b->text.len >= BATCH_CAP || (un->nstmts > 0 && statement_alone(un, un->nstmts - 1)))
			break;
	}
full:
	b->to = (struct db_cursor){ u, s, -1 };
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
	buf_free(&b->text);
	free(b->slots);
	free(b->marker);
	free(b->spans);
	free(b);
}

/* Attribute an error: by its position in the text when PostgreSQL gives one, else by its slot. */
static void
batch_attribute(const struct db_batch *b, size_t slot, struct db_batch_failure *f)
{
	const struct slot *sl = slot < b->nslots ? &b->slots[slot] : b->nslots ? &b->slots[b->nslots - 1] : NULL;

	f->unit = sl ? sl->unit : 0;
	f->statement = sl && sl->kind == SLOT_STATEMENT ? sl->statement : 0;
	f->line_offset = 0;
	if (f->err.position <= 0)
		return;
	for (size_t i = 0; i < b->nspans; i++) {
		const struct span *sp = &b->spans[i];
		size_t at = (size_t)f->err.position - 1;

		if (at >= sp->start && at < sp->end) {
			const char *sql = b->units[sp->unit].sql[sp->statement - 1];
			size_t off = char_to_byte(sql, strlen(sql), (int)(at - sp->start) + 1);

			f->unit = sp->unit;
			f->statement = sp->statement;
			for (size_t j = 0; j < off; j++)
				f->line_offset += sql[j] == '\n';
			/* the position was the whole batch's; now it is a byte within the statement */
			f->err.position = (int)off + 1;
			return;
		}
	}
}

/* A command tag that ends or prepares the transaction a migration runs in. */
static bool
ends_transaction(const char *tag)
{
	return strcmp(tag, "COMMIT") == 0 || strcmp(tag, "ROLLBACK") == 0 || strcmp(tag, "PREPARE TRANSACTION") == 0;
}

/*
 * The pages of the bundle's text that hold only statements b sent: libpq has its
 * copy, so they go from the process (MADV_DONTNEED on a private file mapping that
 * was never written: a later read maps the file's page again).  An up of 10,000
 * migrations would otherwise keep all of their text resident to the end.
 */
static void
release_sent_text(const struct db_batch *b)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, page = (uintptr_t)sysconf(_SC_PAGESIZE);

	if (!sent_text || page == 0 || page == (uintptr_t)-1)
		return;
	for (size_t u = b->from.unit; u < b->nunits && u <= b->to.unit; u++) {
		const struct db_unit *un = &b->units[u];
		uint32_t first = u == b->from.unit ? b->from.statement : 0;
		uint32_t end = u == b->to.unit ? b->to.statement : un->nstmts;

		for (uint32_t s = first; s < end && s < un->nstmts; s++) {
			uintptr_t p = (uintptr_t)un->stmts[s].sql;

			if (p < (uintptr_t)sent_text || p + un->stmts[s].len >= (uintptr_t)sent_text + sent_len)
				continue;
			lo = p < lo ? p : lo;
			hi = p + un->stmts[s].len + 1 > hi ? p + un->stmts[s].len + 1 : hi;
		}
	}
	lo = (lo + page - 1) / page * page;	/* whole pages inside [lo, hi) only */
	hi = hi / page * page;
	if (lo < hi)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

bool
db_batch_run(PGconn *conn, struct db_batch *b, int64_t deadline_ms,
	     void (*done)(size_t unit, int64_t ms, void *arg), void *arg, struct db_cursor *cur,
	     struct db_batch_failure *f)
{
	struct waiter w = waiter_until(deadline_ms);
	struct db_error e;
	size_t slot = 0, marked = SIZE_MAX;
	bool failed = false;
	int64_t prev_end = cur->last_end_ms, end = -1;
	PGresult *res;

	memset(f, 0, sizeof *f);
	if (!PQsendQuery(conn, b->text.p)) {
		error_from_conn(&f->err, conn);
		return false;
	}
	(void)PQsetSingleRowMode(conn);	/* a statement's rows are read one by one and dropped */
	/* libpq holds the query now: one copy of it is enough */
	buf_free(&b->text);
	release_sent_text(b);
	for (;;) {
		ExecStatusType st;
		size_t unit;
		int64_t start;

		if (!wait_ready(conn, &w, &e))
			goto broken;
		if (!(res = PQgetResult(conn)))
			break;
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR) {
			if (!failed) {
				error_from_result(&f->err, res);
				batch_attribute(b, slot, f);
				if (f->txn_control[0] && f->txn_unit == f->unit && f->statement == 0)
					f->statement = f->txn_statement;
				failed = true;
			}
			slot++;
		} else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
			/* the COPY's own result follows: this one takes no slot */
			PQclear(res);
			if (!copy_finish(conn, st, &w, &e))
				goto broken;
			continue;
		} else if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && marker_read(res, &unit, &end, &start) &&
			   unit < b->nunits) {
			/* the marker says where we are, whatever the command counts said */
			marked = unit;
			slot = b->marker[unit];
			if (prev_end < 0)
				prev_end = start;
			if (b->atomic && !failed && done) {
				/* its work is done, nothing is committed yet */
				done(unit, end - prev_end, arg);
				prev_end = end;
			}
			if (st == PGRES_TUPLES_OK)
				slot++;
		} else if (st != PGRES_SINGLE_TUPLE) {
			const struct slot *sl = slot < b->nslots ? &b->slots[slot] : NULL;

			if (sl && sl->kind == SLOT_STATEMENT && ends_transaction(PQcmdStatus(res)) && !f->txn_control[0]) {
				snprintf(f->txn_control, sizeof f->txn_control, "%s", PQcmdStatus(res));
				f->txn_unit = sl->unit;
				f->txn_statement = sl->statement;
			}
			if (sl && sl->kind == SLOT_COMMIT && sl->unit == marked && !failed && done && !b->atomic) {
				done(sl->unit, end - prev_end, arg);
				prev_end = end;
			}
			slot++;
		}
		PQclear(res);
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
	*cur = b->to;
	cur->last_end_ms = prev_end;
	return true;
broken:
	if (!failed) {
		f->err = e;
		batch_attribute(b, slot, f);
		/* no result came: which statement was running is not known, nor which migration of the batch */
		f->statement = 0;
		f->lost = true;
		f->last_unit = b->to.statement ? b->to.unit : b->to.unit - 1;
	}
	drain(conn, &w);
	db_rollback(conn);
	return false;
}
