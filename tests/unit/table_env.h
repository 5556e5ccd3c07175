/* table_env.h - the unit tests' environment: a getenv over a table, not the process's. */
#ifndef GOSLING_TEST_TABLE_ENV_H
#define GOSLING_TEST_TABLE_ENV_H

#include <string.h>

/* table_get - config_load's lookup over arg, "NAME=value" strings, NULL-terminated */
static const char *
table_get(const char *name, void *arg)
{
	size_t n = strlen(name);

	for (const char *const *e = arg; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

#endif
