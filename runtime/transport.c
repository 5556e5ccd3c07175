/*
 * transport.c - what every transport and the engine share (transport.h): the history
 * tables' names, freeing rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "transport.h"

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
db_history_ddl(const struct db_names *n, char *sql, size_t len)
{
	snprintf(sql, len,
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
}

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
		row_str_free(rows[i].name, rows[i].shared, DB_ROW_NAME);
		row_str_free(rows[i].file_checksum, rows[i].shared, DB_ROW_FILE);
		row_str_free(rows[i].exec_checksum, rows[i].shared, DB_ROW_EXEC);
		row_str_free(rows[i].chain, rows[i].shared, DB_ROW_CHAIN);
		row_str_free(rows[i].build_id, rows[i].shared, DB_ROW_BUILD);
		free((void *)rows[i].done_checksum);
	}
	free(rows);
}
