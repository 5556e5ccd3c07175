/*
 * tool.c - build/tests/rdsdata-tool: runtime/rdsdata.c from the command line,
 * for tests/rdsdata.sh only (test code, not shipped).
 *
 *   rdsdata-tool begin                      prints the transaction id
 *   rdsdata-tool commit|rollback TXID
 *   rdsdata-tool exec [-t TXID] [-c] [-p name=s:TEXT|name=l:N|name=null]... [-f FILE | SQL]
 *       prints the rows, fields joined by '|', SQL NULL as \N (as
 *       psql -At -P 'null=\N' does), then "updated N" on stderr
 *
 * The cluster, secret and database come from DB_CLUSTER_ARN, DB_SECRET_ARN and
 * DB_NAME (the names issue 18 gives the Data API's configuration); AWS's own
 * variables as the runtime reads them; GOSLING_LOG_LEVEL=debug logs each call.
 * A failure prints "rdsdata-tool: <kind> [<sqlstate>]: <message>" on stderr
 * and exits 10 + its enum rdsdata_error (11 database error, 12 resuming, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "rdsdata.h"

#define MAX_PARAMS 16

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		if (fread(s, 1, (size_t)n, f) != (size_t)n) {
			free(s);
			s = NULL;
		} else
			s[n] = '\0';
	}
	fclose(f);
	return s;
}

static int
failed(const struct rdsdata_status *st)
{
	fprintf(stderr, "rdsdata-tool: %s%s%s%s: %s\n", rdsdata_error_name(st->code), st->sqlstate[0] ? " [" : "",
		st->sqlstate, st->sqlstate[0] ? "]" : "", st->message);
	return 10 + (int)st->code;
}

static int
usage(void)
{
	fprintf(stderr, "usage: rdsdata-tool begin | commit TXID | rollback TXID |\n"
			"       exec [-t TXID] [-c] [-p name=s:TEXT|name=l:N|name=null]... [-f FILE | SQL]\n");
	return 2;
}

static int
execute(const struct rdsdata *db, int argc, char **argv)
{
	struct rdsdata_param params[MAX_PARAMS];
	struct rdsdata_statement s = { 0 };
	struct rdsdata_result r;
	struct rdsdata_status st;
	char *file_sql = NULL;
	int i, rc = 0;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0)
			s.continue_after_timeout = true;
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			s.transaction_id = argv[++i];
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			if (!(file_sql = slurp(argv[++i]))) {
				perror(argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc && s.nparams < MAX_PARAMS) {
			char *p = argv[++i], *eq = strchr(p, '=');
			struct rdsdata_param *q = &params[s.nparams++];

			if (!eq)
				return usage();
			*eq = '\0';
			memset(q, 0, sizeof *q);
			q->name = p;
			if (strcmp(eq + 1, "null") == 0)
				q->is_null = true;
			else if (strncmp(eq + 1, "s:", 2) == 0)
				q->string = eq + 3;
			else if (strncmp(eq + 1, "l:", 2) == 0)
				q->long_value = strtoll(eq + 3, NULL, 10);
			else
				return usage();
		} else
			return usage();
	}
	s.params = params;
	s.sql = file_sql ? file_sql : i < argc ? argv[i] : NULL;
	if (!s.sql)
		return usage();
	if (!rdsdata_execute(db, &s, &r, &st))
		rc = failed(&st);
	else {
		for (size_t row = 0; row < r.nrows; row++)
			for (size_t col = 0; col < r.ncols; col++)
				printf("%s%s", r.rows[row][col] ? r.rows[row][col] : "\\N", col + 1 < r.ncols ? "|" : "\n");
		fprintf(stderr, "updated %lld\n", (long long)r.updated);
		rdsdata_result_free(&r);
	}
	free(file_sql);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *level = getenv("GOSLING_LOG_LEVEL");
	enum log_level min = LOG_INFO;
	struct rdsdata db = {
		.resource_arn = getenv("DB_CLUSTER_ARN"), .secret_arn = getenv("DB_SECRET_ARN"), .database = getenv("DB_NAME"),
	};
	struct rdsdata_status st;
	char tx[RDSDATA_TXID_MAX];
	int rc;

	if (level && !log_parse_level(level, &min))
		min = LOG_INFO;
	log_init(LOG_TEXT, min);
	if (argc < 2 || !db.resource_arn || !db.secret_arn)
		return usage();
	if (!http_global_init() || !(db.http = http_client_new())) {
		fprintf(stderr, "rdsdata-tool: unable to start libcurl\n");
		return 1;
	}
	if (strcmp(argv[1], "begin") == 0 && argc == 2)
		rc = rdsdata_begin(&db, tx, sizeof tx, &st) ? (printf("%s\n", tx), 0) : failed(&st);
	else if (strcmp(argv[1], "commit") == 0 && argc == 3)
		rc = rdsdata_commit(&db, argv[2], &st) ? 0 : failed(&st);
	else if (strcmp(argv[1], "rollback") == 0 && argc == 3)
		rc = rdsdata_rollback(&db, argv[2], &st) ? 0 : failed(&st);
	else if (strcmp(argv[1], "exec") == 0)
		rc = execute(&db, argc - 2, argv + 2);
	else
		rc = usage();
	http_client_free(db.http);
	http_global_cleanup();
	return rc;
}
