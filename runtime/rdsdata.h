/*
 * rdsdata.h - the RDS Data API's four calls (rds-data 2018-08-01, REST-JSON,
 * signing name rds-data) over aws_call: BeginTransaction, ExecuteStatement,
 * CommitTransaction, RollbackTransaction.  No session exists outside a
 * transaction: what a caller needs to share a backend goes in one.
 *
 *   struct rdsdata db = { .http = http, .resource_arn = cluster, .secret_arn = secret,
 *                         .database = "app", .deadline_ms = d };
 *   struct rdsdata_status st;
 *   char tx[RDSDATA_TXID_MAX];
 *   struct rdsdata_result r;
 *   struct rdsdata_param p[] = { { .name = "v", .string = "20240101" } };
 *   struct rdsdata_statement s = { .sql = "SELECT :v", .params = p, .nparams = 1, .transaction_id = tx };
 *   if (rdsdata_begin(&db, tx, sizeof tx, &st) && rdsdata_execute(&db, &s, &r, &st) &&
 *       rdsdata_commit(&db, tx, &st))
 *           ... r.rows[i][j]: a value as PostgreSQL's text, or NULL for SQL NULL ...
 *   else
 *           ... st.code, st.message ("ERROR: ... ; SQLState: 42P01"), st.sqlstate ...
 *   rdsdata_result_free(&r);
 *
 * Where the calls go: AWS_ENDPOINT_URL_RDS_DATA, else AWS_ENDPOINT_URL, else
 * https://rds-data.<region>.<partition domain>/ (the region the cluster ARN
 * names, else AWS_REGION, else AWS_DEFAULT_REGION); http:// overrides are
 * refused (a request names the secret, an answer carries the data).
 *
 * Retries are aws_call's (the SDKs' standard mode: 3 attempts, full-jitter
 * backoff, throttling and HTTP 500/502/503/504), with DatabaseResumingException
 * (a paused Aurora Serverless v2 instance waking) retried the same way.  Each
 * attempt may take up to RDSDATA_ATTEMPT_MS, past the service's 45 s per call,
 * so that its StatementTimeoutException arrives rather than a client timeout;
 * the deadline bounds every attempt and wait.  A StatementTimeoutException is
 * never retried: the statement may have run (continueAfterTimeout: it runs on).
 * Nor is a CommitTransaction, or an ExecuteStatement with once, whose answer was
 * lost after the request may have arrived (RDSDATA_OTHER, aws_code ""): it may
 * have committed or run.
 *
 * Messages name the operation and AWS's error, never the credentials; the
 * secret's ARN is not a secret and may appear.
 */
#ifndef GOSLING_RDSDATA_H
#define GOSLING_RDSDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */

struct http_client;

#define RDSDATA_SQL_MAX 65536		/* ExecuteStatement's sql, in characters (the model's SqlStatement) */
#define RDSDATA_TXID_MAX (192 + 1)	/* a transaction id (the model's Id, at most 192) and its NUL */
#define RDSDATA_RESPONSE_MAX (1u << 20) /* the service's response limit, 1 MiB */
#define RDSDATA_ATTEMPT_MS 50000L	/* one attempt: the service's 45 s per call and a margin */

struct rdsdata {
	struct http_client *http;
	const char *resource_arn; /* the cluster: arn:aws:rds:<region>:<account>:cluster:<name> */
	const char *secret_arn;	  /* the secret the Data API logs in with */
	const char *database;	  /* NULL: the cluster's default */
	int64_t deadline_ms;	  /* ms since the epoch, 0 = none: bounds every call */
};

/* What went wrong, from AWS's error code. */
enum rdsdata_error {
	RDSDATA_OK,
	RDSDATA_DATABASE,      /* DatabaseErrorException: PostgreSQL refused the statement */
	RDSDATA_RESUMING,      /* DatabaseResumingException (after its retries) */
	RDSDATA_TIMEOUT,       /* StatementTimeoutException: the call's 45 s ran out */
	RDSDATA_TXN_NOT_FOUND, /* TransactionNotFoundException (e.g. 3 minutes idle) */
	RDSDATA_THROTTLED,     /* a throttling code (after its retries) */
	RDSDATA_UNAVAILABLE,   /* HTTP 5xx: InternalServerErrorException, ServiceUnavailableError,
					 * DatabaseUnavailableException (after their retries) */
	RDSDATA_BAD_REQUEST,   /* BadRequestException (the sql or the response too long, ...) */
	RDSDATA_OTHER,	       /* any other error code, the network, credentials, configuration */
};

struct rdsdata_status {
	enum rdsdata_error code;
	char aws_code[64];  /* AWS's error code, "" when there was no answer */
	char sqlstate[6];   /* RDSDATA_DATABASE: the SQLSTATE the message ends with, else "" */
	char message[8192]; /* "<operation>: <AWS code>: <AWS message>" or the reason; the
					 * message of a DatabaseErrorException is PostgreSQL's, as
					 * "ERROR: <text>[\n  Detail: ...][\n  Hint: ...][\n  Position:
					 * N]...; SQLState: <code>": room for db_error's message, detail
					 * and hint whole, each up to its own size */
};

/* A named parameter (":name" in the sql): a string, a long, or NULL. */
struct rdsdata_param {
	const char *name;
	const char *string; /* stringValue, when set */
	int64_t long_value; /* longValue, when string is NULL and !is_null */
	bool is_null;	    /* isNull */
};

struct rdsdata_statement {
	const char *sql; /* one statement, at most RDSDATA_SQL_MAX characters */
	const struct rdsdata_param *params;
	size_t nparams;
	const char *transaction_id;  /* NULL: the call commits on its own */
	bool continue_after_timeout; /* the statement runs on after the call's 45 s */
	bool once;		     /* not sent again when its answer is lost: the caller reads back */
};

/*
 * A statement's result: nrows rows of ncols values, each PostgreSQL's text of
 * the value (booleans "t"/"f", bytea "\x..." hex, one-dimensional arrays
 * "{...}") or NULL for SQL NULL.  updated: numberOfRecordsUpdated.
 */
struct rdsdata_result {
	size_t nrows, ncols;
	char ***rows;
	int64_t updated;
};

/* rdsdata_begin - BeginTransaction; its id into txid (RDSDATA_TXID_MAX bytes). */
bool rdsdata_begin(const struct rdsdata *db, char *txid, size_t txidlen, struct rdsdata_status *st) MUSTCHECK;

/* rdsdata_commit / rdsdata_rollback - CommitTransaction / RollbackTransaction of txid. */
bool rdsdata_commit(const struct rdsdata *db, const char *txid, struct rdsdata_status *st) MUSTCHECK;
bool rdsdata_rollback(const struct rdsdata *db, const char *txid, struct rdsdata_status *st) MUSTCHECK;

/*
 * rdsdata_execute - ExecuteStatement.  True with the rows in *r (free them with
 * rdsdata_result_free); false with st set and *r empty.  A sql longer than
 * RDSDATA_SQL_MAX characters is sent all the same: the service refuses it
 * (BadRequestException), which is the error to report.
 */
bool rdsdata_execute(const struct rdsdata *db, const struct rdsdata_statement *s, struct rdsdata_result *r,
		     struct rdsdata_status *st) MUSTCHECK;

void rdsdata_result_free(struct rdsdata_result *r);

/* rdsdata_error_name - "database error", "resuming", ... for messages. */
const char *rdsdata_error_name(enum rdsdata_error e);

#endif
