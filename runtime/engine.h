/*
 * engine.h - the migration engine: one call runs one command (up, down, status, ...)
 * against PostgreSQL and returns a result value.  Both faces use it: the CLI
 * (runtime/main.c) and the Lambda loop (runtime/lambda.c).
 *
 * The engine never exits and never prints: progress goes to the caller's
 * callback, diagnostics to log.h, and everything else into struct engine_result,
 * which engine_result_json() renders as the one JSON document both faces emit.
 *
 *   struct engine_request req = { .command = ENGINE_UP } MUSTCHECK;
 *   struct engine_result res;
 *   engine_run(&cfg, &gosling_bundle, &req, &res);
 *   char *json = engine_result_json(&res);      // {"command":"up","ok":true,...}
 *   int code = engine_exit_code(res.status);     // 0
 *   free(json);
 *   engine_result_free(&res);
 */
#ifndef GOSLING_ENGINE_H
#define GOSLING_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */

struct bundle;
struct config;

enum engine_command {
	ENGINE_UP,	 /* apply every pending migration (the default) */
	ENGINE_UP_TO,	 /* apply pending migrations up to .version */
	ENGINE_DOWN,	 /* roll back the newest applied migration (needs .allow_down) */
	ENGINE_DOWN_TO,	 /* roll back every applied migration above .version (needs .allow_down) */
	ENGINE_REDO,	 /* roll back the newest, then apply it again (needs .allow_down) */
	ENGINE_STATUS,	 /* every migration with its state; read-only */
	ENGINE_VERIFY,	 /* drift check; read-only, SELECT rights only, creates nothing */
	ENGINE_PLAN,	 /* what up (or up-to .version) would run, with its SQL; read-only */
	ENGINE_BASELINE, /* record migrations up to .version as applied without running them */
	ENGINE_VERSION,	 /* the database's current version; read-only */
	ENGINE_LIST,	 /* the embedded bundle; no database */
	ENGINE_COMMAND_COUNT
};

/*
 * Outcome classes.  Each maps to one CLI exit code (engine_exit_code) and one
 * Lambda error type (engine_status_reason).
 */
enum engine_status {
	ENGINE_OK = 0,		 /* exit 0 */
	ENGINE_MIGRATION_FAILED, /* exit 1, Function.MigrationFailed: SQL error, cancel at deadline */
	ENGINE_BAD_REQUEST,	 /* exit 2, Function.BadRequest: unknown command, missing version, no opt-in */
	ENGINE_CONFIG_ERROR,	 /* exit 3, Function.ConfigError: bad setting, cannot connect, unset ENVSUB variable */
	ENGINE_DRIFT,		 /* exit 4, Function.DriftDetected: drift, verify failure, out-of-order */
	ENGINE_LOCK_TIMEOUT,	 /* exit 5, Function.LockTimeout: advisory lock not acquired in time */
	ENGINE_STATUS_COUNT
};

/* One progress event: a migration has just been applied, rolled back or has failed. */
struct engine_progress {
	enum engine_command command;
	int64_t version;
	const char *name;   /* "000003_add_users.sql" */
	const char *action; /* "applied", "rolled back", "failed", "baselined", "adopted" */
	int64_t duration_ms;
	uint32_t retries; /* see engine_item */
	uint32_t index;	  /* 1-based position among the migrations this command runs */
	uint32_t total;
};

/* What one command is asked to do. Zero-initialise, then set what applies. */
struct engine_request {
	enum engine_command command;
	int64_t version; /* target of up-to, down-to, baseline, plan */
	bool has_version;
	bool allow_down;	 /* opt-in for down, down-to, redo */
	bool allow_out_of_order; /* apply pending versions below the newest applied, as goose -allow-missing */
	bool atomic;		 /* up, up-to (and plan): every pending migration in one transaction,
					 * all or nothing; refused (ENGINE_BAD_REQUEST) before any change
					 * when one of them is NO TRANSACTION */
	bool head_only;		 /* verify: the history's newest row only, one small query (see
					 * engine_run); refused (ENGINE_BAD_REQUEST) with any other command */
	int64_t deadline_ms;	 /* ms since the epoch; 0 = none.  lock wait, lock_timeout and
					 * statement_timeout are cut to fit; near it the engine cancels
					 * (PQcancel), rolls back and reports what was and was not applied */
	/* Called once per migration as it finishes (or fails), in order; may be NULL. */
	void (*progress)(const struct engine_progress *ev, void *arg);
	void *progress_arg;
};

/*
 * The error, when status != ENGINE_OK.  message is the whole sentence
 * ("unable to apply 000003_add_users.sql statement 2 (line 14): relation \"users\"
 * already exists"); the other fields are its parts, empty/0 when they do not apply.
 * Never holds a password.
 */
struct engine_error {
	char message[2048];
	char file[256]; /* migration file name */
	int64_t version;
	uint32_t statement; /* 1-based goose statement within the file */
	uint32_t line;	    /* 1-based line in the file */
	char sqlstate[6];
	char pg_message[1024];
	char detail[1024];
	char hint[512];
};

/* One migration in a result: state for status/verify/list/plan, action for the verbs that change things. */
struct engine_item {
	int64_t version;
	const char *name;	   /* points into the bundle, or owned (missing-from-bundle rows) */
	char *owned_name;	   /* non-NULL when name is owned by the result */
	const char *state;	   /* "applied", "pending", "partial" (NO TRANSACTION, stopped), "missing"
					 * (applied, not in the bundle), "embedded" (list) */
	const char *action;	   /* NULL, or what this command did/would do: "applied", "rolled back",
					 * "failed", "not attempted", "baselined", "adopted" (from goose's
					 * table), "would apply" */
	char applied_at[40];	   /* ISO 8601, empty when not applied */
	int64_t duration_ms;	   /* execution time; -1 when unknown */
	uint32_t failed_statement; /* partial NO TRANSACTION migration: statement that stopped it */
	uint32_t retries;	   /* times it was rolled back and run again after a lock timeout
					 * (55P03) or a deadlock (40P01); JSON "retries" on what ran */
	bool no_transaction;
	bool no_down;	     /* down of a migration without Down statements: its history row
					 * went, nothing was undone (JSON "no_down_statements": true, and
					 * a warning); redo refuses such a migration */
	char *sql;	     /* plan: the SQL that would run (ENVSUB expanded), owned; else NULL */
	char *dropped_index; /* "schema.name" of the INVALID index a failed CREATE INDEX
					 * CONCURRENTLY left, dropped before it ran again on resume (JSON
					 * "dropped_invalid_index"), owned; else NULL */
};

struct engine_result {
	enum engine_command command;
	enum engine_status status;
	struct engine_error error;
	int64_t version_before;	   /* newest applied version before the command; 0 = none */
	int64_t version_after;	   /* ... and after it */
	struct engine_item *items; /* in version order (descending for down) */
	size_t nitems;
	char **warnings; /* e.g. comment-only edit of an applied migration */
	size_t nwarnings;
	const char *build_id; /* the bundle's */
	const char *target;   /* a fleet target's id (runtime/target.h), set by the caller after the
					 * run and borrowed: JSON "target"; NULL = none */
};

/*
 * engine_run - run req against the database cfg describes, with bundle b.
 * Always fills *res (free it with engine_result_free), whatever happens;
 * returns res->status == ENGINE_OK.
 *
 * verify with head_only reads only the history's newest row (the chain head): its
 * chain is H(previous chain, version, exec checksum) down to the first migration, so
 * when it equals this build's compiled-in chain at that version, every applied
 * migration's SQL up to there is this build's.  The result is verify's, with the one
 * migration in "migrations"; rows below the head are not read (a hand edit of one goes
 * unseen: the full verify finds it).  When the head does not settle it (no history
 * table, a head not in this build, a chain that differs, a partial migration) the full
 * verify runs and says what differs: an out-of-order history's chain has gaps, which
 * only the full check tells from drift.
 */
bool engine_run(const struct config *cfg, const struct bundle *b, const struct engine_request *req,
		struct engine_result *res);

/*
 * engine_result_fail - fill *res as engine_run does when command c fails before
 * it reaches the database (credentials that cannot be resolved, say): status s,
 * the message, nothing applied.  Free it with engine_result_free as usual.
 */
void engine_result_fail(struct engine_result *res, const struct bundle *b, enum engine_command c, enum engine_status s,
			const char *message);

/* engine_result_free - free what engine_run allocated in res. */
void engine_result_free(struct engine_result *res);

/*
 * engine_result_json - the result as one JSON object, malloc'd (caller frees),
 * NULL only when out of memory.  The CLI's --json output and the Lambda response
 * are this document:
 *   {"command":"up","target":"tenant_42","ok":true,"status":"ok","version_before":2,"version_after":5,
 *    "build_id":"...","migrations":[{"version":3,"name":"...","state":"applied",
 *    "action":"applied","duration_ms":4,...}],"warnings":[],
 *    "error":{"type":"Function.MigrationFailed","message":"...","file":"...",
 *             "version":3,"statement":2,"line":14,"sqlstate":"42P07",
 *             "pg_message":"...","detail":"...","hint":"..."}}   (error only on failure,
 *                                                                target only with one)
 */
char *engine_result_json(const struct engine_result *res);

/*
 * engine_retries_text - what a progress line adds for a migration that was retried:
 * ", 2 retries" (in buf), or "" when retries is 0.
 */
const char *engine_retries_text(uint32_t retries, char *buf, size_t len);

/* engine_command_name - "up", "up-to", ...; engine_command_parse is its inverse. */
const char *engine_command_name(enum engine_command c);
bool engine_command_parse(const char *name, enum engine_command *out) MUSTCHECK;

/* engine_command_needs_version - up-to, down-to and baseline need a version. */
bool engine_command_needs_version(enum engine_command c);

/* engine_exit_code - the CLI exit code of a status (0..5, see enum engine_status). */
int engine_exit_code(enum engine_status s);

/* engine_status_reason - "Function.MigrationFailed", ...; NULL for ENGINE_OK. */
const char *engine_status_reason(enum engine_status s);

/* engine_status_name - "ok", "migration_failed", "bad_request", "config_error", "drift", "lock_timeout". */
const char *engine_status_name(enum engine_status s);

#endif
