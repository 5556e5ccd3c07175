/*
 * lock.c - the transport's two links and the two locks of a run: the migration lock on
 * the lock link, the work lock on the work link (transport.h, lock_try), each polled
 * within the one bounded wait; opening a link again while the server is not ready.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "config.h"
#include "engine_impl.h"
#include "log.h"
#include "signals.h"

/* A uniform random number in [0, n), n > 0: backoff jitter, not secrets. */
int64_t
backoff_jitter(int64_t n)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint64_t)clock_now_ms() * 2654435761u;
	return (int64_t)(v % (uint64_t)n);
}

/*
 * Connect; while the server is not ready (db_error.not_ready: refused, reset, no answer,
 * 57P03), try again after 250 ms doubling to at most 5 s, the half of it random, for up
 * to GOSLING_CONNECT_RETRY seconds, inside the lock wait and the deadline.  A cluster
 * resuming from zero capacity or failing over takes up to ~15 s to take connections.
 */
static bool
connect_retry(struct run *r, enum transport_link link, const char *purpose)
{
	struct db_error e;
	int64_t start = clock_now_ms(), until = start + config_int(r->cfg, SET_CONNECT_RETRY) * 1000, delay = 250;
	unsigned tries = 1;

	if (r->deadline && r->deadline < until)
		until = r->deadline;
	if (r->lock_until && r->lock_until < until)
		until = r->lock_until;
	while (!r->tp->open(r->tp, link, &e)) {
		int64_t wait = delay / 2 + backoff_jitter(delay / 2 + 1);

		if (!e.not_ready || signals_interrupted() || clock_now_ms() + wait >= until) {
			if (tries > 1) {
				size_t len = strlen(e.message);

				snprintf(e.message + len, sizeof e.message - len, " (%u tries in %lld ms)", tries,
					 (long long)(clock_now_ms() - start));
			}
			result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to connect to the database", &e);
			return false;
		}
		log_warn("database not ready, retrying in %lld ms: %s", (long long)wait, e.message);
		clock_sleep_ms(wait);
		tries++;
		if (delay < 5000)
			delay *= 2;
	}
	if (tries > 1)
		log_info("connected (%s) after %u tries in %lld ms", purpose, tries,
			 (long long)(clock_now_ms() - start));
	return true;
}

bool
connect_work(struct run *r)
{
	struct db_error e;
	int64_t st = config_int(r->cfg, SET_STATEMENT_TIMEOUT), lk = config_int(r->cfg, SET_LOCK_TIMEOUT);

	if (!connect_retry(r, TRANSPORT_WORK, "migrations"))
		return false;
	if (r->deadline) {
		int64_t left = r->deadline - clock_now_ms();

		if (left < 1)
			left = 1;
		if (left > INT32_MAX) /* PostgreSQL's timeouts are int milliseconds */
			left = INT32_MAX;
		if (st == 0 || st > left)
			st = left;
		if (lk == 0 || lk > left)
			lk = left;
	}
	if (log_enabled(LOG_DEBUG)) {
		char who[256];

		r->tp->describe(r->tp, who, sizeof who);
		log_debug("connected to %s", who);
	}
	r->session = (struct db_session){ st, lk, config_search_path(r->cfg) };
	if (!r->tp->session(r->tp, &r->session, &e)) {
		result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to set the session's timeouts", &e);
		return false;
	}
	return true;
}

/*
 * Poll one of the two advisory locks on conn until r->lock_until: the migration lock
 * (on the lock link) or the work lock (on the work link; transport.h, lock_try).
 */
static bool
lock_poll(struct run *r, bool work)
{
	struct db_error e;
	unsigned tries = 0;

	for (;;) {
		bool got = false;
		int64_t now, nap;

		if (signals_interrupted()) {
			result_fail(r->res, ENGINE_MIGRATION_FAILED, "stopped waiting for the migration lock");
			return false;
		}
		if (!r->tp->lock_try(r->tp, r->lock_key, work, &got, &e)) {
			result_fail_db(r->res, ENGINE_CONFIG_ERROR, "unable to take the migration lock", &e);
			return false;
		}
		if (got) {
			log_debug("took the %s lock after %lld ms", work ? "work" : "migration",
				  (long long)(clock_now_ms() - r->lock_start));
			return true;
		}
		if (tries++ == 0)
			log_info(work ? "waiting for the session of a gosling that ended to finish on the server"
				      : "waiting for the migration lock (another gosling is running)");
		now = clock_now_ms();
		if (now >= r->lock_until) {
			result_fail(r->res, ENGINE_LOCK_TIMEOUT,
				    "unable to take the migration lock (key %lld) within %lld ms: "
				    "another migration is running on this database",
				    (long long)r->lock_key, (long long)(now - r->lock_start));
			return false;
		}
		/* the transport's poll to three times it (libpq: 50..150 ms), so a crowd of waiters does not poll in step */
		nap = r->tp->lock_poll_ms +
			(int64_t)((unsigned)(now * 7919 + tries * 104729) % (unsigned)(2 * r->tp->lock_poll_ms + 1));
		if (nap > r->lock_until - now)
			nap = r->lock_until - now;
		clock_sleep_ms(nap);
	}
}

/* Poll pg_try_advisory_lock on a connection of its own, up to the bounded wait. */
bool
lock_acquire(struct run *r)
{
	int64_t wait = config_int(r->cfg, SET_LOCK_WAIT) * 1000;

	r->lock_key = config_int(r->cfg, SET_LOCK_KEY);
	r->lock_start = clock_now_ms();
	r->lock_until = r->lock_start + wait;
	if (r->deadline && r->deadline < r->lock_until)
		r->lock_until = r->deadline;
	/* both connections and both locks, host name lookups included, fit in the one bounded wait */
	r->tp->limit(r->tp, r->lock_until, 0, r->hard);
	if (!connect_retry(r, TRANSPORT_LOCK, "lock"))
		return false;
	if (!lock_poll(r, false))
		return false;
	r->locked = true;
	return true;
}

/*
 * The migration session's own lock, once the migration lock is held.  The lock session
 * of a gosling killed mid-migration ends as soon as its socket closes, but its migration
 * session's backend goes on with the statement it runs (and, before PostgreSQL 14, with
 * the rest of the batch, COMMIT included) until it next talks to the client.  Holding
 * the work lock for the whole session makes the next run wait for that backend to end,
 * so it reads the history only once the orphan has committed or rolled back.
 * client_connection_check_interval (db_set_timeouts) makes such a backend stop within
 * a second.
 */
bool
work_lock_acquire(struct run *r)
{
	if (!lock_poll(r, true))
		return false;
	r->tp->limit(r->tp, r->hard, r->lock_wait, r->hard);
	return true;
}

void
lock_release(struct run *r)
{
	struct db_error e;

	if (r->locked && r->tp->alive(r->tp, TRANSPORT_LOCK) && !r->tp->unlock(r->tp, r->lock_key, &e))
		log_warn("unable to release the migration lock: %s", e.message);
	r->locked = false;
	r->tp->close(r->tp, TRANSPORT_LOCK); /* closing the session releases it in any case */
}
