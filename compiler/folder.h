/*
 * folder.h - a folder of goose migrations: which files, which versions, in which
 * order, with goose's naming rules.
 */
#ifndef GOSLING_FOLDER_H
#define GOSLING_FOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diag;

struct mfile {
	char *path; /* dir + "/" + name */
	char *name; /* "000001_create_tables.sql" */
	int64_t version;
	int prefix_len; /* digits before the first '_' ("000001" is 6) */
};

/*
 * folder_scan - the top-level `*.sql` files of dir, sorted by version.  Names
 * follow goose: `<version>_<name>.sql`, version an int64 ≥ 1 before the first
 * '_'; duplicate versions are errors.  Every problem is reported to d; returns
 * false when there was any.  *files is malloc'd (free with folder_free).
 */
bool folder_scan(const char *dir, struct mfile **files, size_t *n, struct diag *d);

/* version_parse - goose's NumericComponent on a file name; err gets goose's reason. */
bool version_parse(const char *name, int64_t *version, char *err, size_t errlen);

/* version_is_timestamp - goose's test: the version reads as YYYYMMDDhhmmss after 1970. */
bool version_is_timestamp(int64_t version);

void folder_free(struct mfile *files, size_t n);

#endif
