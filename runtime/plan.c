/*
 * plan.c - the steps a command runs: which migrations, up or down, from which statement,
 * with their statements as they will run (ENVSUB expanded).  Over the history and the
 * bundle only: nothing here talks to the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "engine_impl.h"
#include "envsub.h"
#include "log.h"

uint32_t
stmt_lines_before(const char *s, size_t upto)
{
	uint32_t n = 0;

	for (size_t i = 0; i < upto && s[i]; i++)
		n += s[i] == '\n';
	return n;
}

/* Copy (and ENVSUB-expand) the statements a step runs; an unset variable names itself. */
bool
step_expand(struct engine_result *res, struct step *s)
{
	const struct stmt *st = s->down ? s->m->down : s->m->up;
	uint32_t n = s->down ? s->m->ndown : s->m->nup;

	s->sql = calloc(n + 1, sizeof *s->sql);
	s->nsql = n;
	if (!s->sql) {
		result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		char err[512];
		uint32_t off = 0;

		if (st[i].nenvsub == 0)
			s->sql[i] = (char *)st[i].sql; /* the bundle's text, not a copy (steps_free knows) */
		else
			s->sql[i] = envsub_expand(st[i].sql, st[i].envsub, st[i].nenvsub, env_get, NULL, err,
						  sizeof err, &off);
		if (!s->sql[i] && st[i].nenvsub) {
			result_fail(res, ENGINE_CONFIG_ERROR, "unable to expand %s statement %u (line %u): %s",
				    s->m->name, i + 1, st[i].line + stmt_lines_before(st[i].sql, off), err);
			res->error.version = s->m->version;
			res->error.statement = i + 1;
			res->error.line = st[i].line + stmt_lines_before(st[i].sql, off);
			snprintf(res->error.file, sizeof res->error.file, "%s", s->m->name);
			return false;
		}
		if (!s->sql[i]) {
			result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
			return false;
		}
	}
	return true;
}

void
steps_free(struct step *steps, size_t n)
{
	for (size_t i = 0; steps && i < n; i++) {
		const struct stmt *st = steps[i].down ? steps[i].m->down : steps[i].m->up;

		for (uint32_t j = 0; steps[i].sql && j < steps[i].nsql; j++)
			if (steps[i].sql[j] != st[j].sql)
				free(steps[i].sql[j]);
		free(steps[i].sql);
		free(steps[i].rechain);
	}
	free(steps);
}

/* The steps of up / up-to / plan: pending migrations up to target, partial ones resumed. */
bool
plan_up(const struct history *h, int64_t target, struct engine_result *res, struct step **out, size_t *nout)
{
	struct step *steps;
	size_t n = 0, pending = 0;

	/* as many steps as there are pending migrations: at 10,000 applied, none */
	for (size_t k = 0; k < h->b->count && h->b->migrations[k].version <= target; k++)
		pending += !history_applied(h, k);
	steps = calloc(pending + 1, sizeof *steps);

	*out = steps;
	*nout = 0;
	if (!steps) {
		result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (size_t k = 0; k < h->b->count; k++) {
		const struct migration *m = &h->b->migrations[k];
		struct step *s = &steps[n];

		if (m->version > target)
			break;
		if (history_applied(h, k))
			continue;
		s->m = m;
		s->resume = history_partial(h, k);
		s->first = s->resume ? history_row(h, k)->failed_statement - 1 : 0;
		if (s->first > m->nup)
			s->first = m->nup; /* statements after the stopping one were removed: nothing left */
		n++;
		*nout = n;
		if (!step_expand(res, s))
			return false;
		if (s->first)
			log_info("resuming %s at statement %u, where it stopped", m->name, s->first + 1);
	}
	return true;
}

/* The steps of down / down-to: applied migrations above target, newest first. */
bool
plan_down(const struct history *h, int64_t target, size_t limit, struct engine_result *res, struct step **out,
	  size_t *nout)
{
	struct step *steps = calloc(h->b->count + 1, sizeof *steps);
	size_t n = 0;

	*out = steps;
	*nout = 0;
	if (!steps) {
		result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
		return false;
	}
	for (size_t k = h->b->count; k-- > 0 && n < limit;) {
		const struct migration *m = &h->b->migrations[k];

		if (m->version <= target)
			break;
		if (history_partial(h, k)) {
			result_fail(res, ENGINE_MIGRATION_FAILED,
				    "migration %s stopped at statement %u: finish it with up, or repair it by hand, "
				    "before rolling back",
				    m->name, history_row(h, k)->failed_statement);
			return false;
		}
		if (!history_applied(h, k))
			continue;
		steps[n].m = m;
		steps[n].down = true;
		n++;
		*nout = n;
		if (!step_expand(res, &steps[n - 1]))
			return false;
	}
	return true;
}

bool
plan_items(const struct history *h, struct engine_result *res, struct step *steps, size_t n)
{
	size_t first = res->nitems;

	for (size_t i = 0; i < n; i++) {
		struct engine_item *it = result_item_add(res, steps[i].m->version, steps[i].m->name);

		if (!it) {
			result_fail(res, ENGINE_MIGRATION_FAILED, "out of memory");
			return false;
		}
		history_item_state(h, it, (size_t)(steps[i].m - h->b->migrations));
	}
	/* item_add may move the array: take the pointers once it is complete */
	for (size_t i = 0; i < n; i++)
		steps[i].item = &res->items[first + i];
	return true;
}

/*
 * --atomic runs every pending migration in one transaction.  A NO TRANSACTION one cannot
 * join it (its statements refuse a transaction block, or must commit one by one): refused
 * before anything changes, naming the first, with the way round it.
 */
bool
plan_atomic_check(struct engine_result *res, const struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct migration *m = steps[i].m;
		char way[160];

		if (!m->no_transaction)
			continue;
		if (i > 0)
			snprintf(way, sizeof way,
				 "apply the %zu before it atomically (up-to %lld), then it without atomic", i,
				 (long long)steps[i - 1].m->version);
		else
			snprintf(way, sizeof way, "apply it without atomic first");
		result_fail(res, ENGINE_BAD_REQUEST,
			    "atomic refused: pending migration %s is NO TRANSACTION%s, so it cannot run inside the one "
			    "transaction: %s",
			    m->name, steps[i].resume ? " (and stopped part way)" : "", way);
		res->error.version = m->version;
		snprintf(res->error.file, sizeof res->error.file, "%s", m->name);
		return false;
	}
	return true;
}

/* plan: each step's item gets the statements it would run, from where it would start. */
bool
plan_sql(struct engine_result *res, struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		char *sql, *p;

		for (uint32_t j = steps[i].first; j < steps[i].nsql; j++)
			len += strlen(steps[i].sql[j]) + 2;
		if (!(sql = malloc(len + 1))) {
			result_fail(res, ENGINE_CONFIG_ERROR, "out of memory");
			return false;
		}
		p = sql;
		*p = '\0';
		for (uint32_t j = steps[i].first; j < steps[i].nsql; j++)
			p += sprintf(p, "%s%s", steps[i].sql[j], j + 1 < steps[i].nsql ? "\n\n" : "");
		steps[i].item->sql = sql;
		steps[i].item->action = "would apply";
	}
	return true;
}
