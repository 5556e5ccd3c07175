/*
 * folder.c - goose's file rules (migration.go NumericComponent, migrate.go
 * collectMigrationsFS): top-level *.sql, version before the first '_'.
 */
#include "folder.h"

#include "bundle.h"
#include "diag.h"
#include "fatal.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
version_parse(const char *name, int64_t *version, char *err, size_t errlen)
{
	const char *us = strchr(name, '_'), *p = name;
	size_t len = strlen(name);
	bool neg = false;
	uint64_t v = 0;

	if (len < 4 || strcmp(name + len - 4, ".sql") != 0) {
		snprintf(err, errlen, "migration file does not have .sql file extension");
		return false;
	}
	if (!us) {
		snprintf(err, errlen, "no filename separator '_' found");
		return false;
	}
	/* strconv.ParseInt(before, 10, 64): optional sign, then decimal digits */
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p == us) {
		snprintf(err, errlen, "version \"%.*s\" before '_' is not a number", (int)(us - name), name);
		return false;
	}
	for (; p < us; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(err, errlen, "version \"%.*s\" before '_' is not a number", (int)(us - name), name);
			return false;
		}
		if (v > (UINT64_MAX - 9) / 10 || v * 10 + (uint64_t)(*p - '0') > (uint64_t)INT64_MAX + neg) {
			snprintf(err, errlen, "version \"%.*s\" is out of range for a 64-bit integer", (int)(us - name),
				 name);
			return false;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg || v < 1) {
		snprintf(err, errlen, "migration version must be greater than zero");
		return false;
	}
	*version = (int64_t)v;
	return true;
}

bool
version_is_timestamp(int64_t v)
{
	int year, mon, day, hh, mm, ss;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (v < 19700101000001LL || v > 99991231235959LL)
		return false;
	ss = (int)(v % 100), v /= 100;
	mm = (int)(v % 100), v /= 100;
	hh = (int)(v % 100), v /= 100;
	day = (int)(v % 100), v /= 100;
	mon = (int)(v % 100), v /= 100;
	year = (int)v;
	if (mon < 1 || mon > 12 || day < 1 || hh > 23 || mm > 59 || ss > 59)
		return false;
	if (day > mdays[mon - 1])
		return false;
	if (mon == 2 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return false;
	return true;
}

/*
 * file_check - a *.sql entry must be a regular file.  Symbolic links are
 * followed, as goose's os.DirFS + fs.ReadFile do; a dangling one cannot be read.
 */
static bool
file_check(const char *path, struct diag *d)
{
	struct stat st;
	char target[512];
	ssize_t n;

	if (stat(path, &st) != 0) {
		int err = errno;

		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
		    (n = readlink(path, target, sizeof(target) - 1)) >= 0) {
			target[n] = '\0';
			diag_file(d, DIAG_IO, path, "cannot open: %s (dangling symbolic link to %s)", strerror(err),
				  target);
		} else {
			diag_file(d, DIAG_IO, path, "cannot open: %s", strerror(err));
		}
		return false;
	}
	if (S_ISDIR(st.st_mode)) {
		diag_file(d, DIAG_ERROR, path, "is a directory, not a migration file");
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_file(d, DIAG_ERROR, path, "not a regular file (a FIFO, socket or device), not a migration file");
		return false;
	}
	return true;
}

/*
 * name_check - a name the runtime, the history table (text), ninja's depfile and
 * migrations.sum can all carry: valid UTF-8 without control characters.
 */
static bool
name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name), k;
	uint32_t rune;

	for (size_t i = 0; i < n; i += k) {
		if ((k = text_char_at(name + i, n - i, &rune)) == 0) {
			snprintf(err, errlen,
				 "file name is not valid UTF-8 (byte 0x%02x at offset %zu): rename the file",
				 (unsigned char)name[i], i);
			return false;
		}
		if (text_is_control(rune)) {
			snprintf(err, errlen,
				 "file name holds a control character (U+%04X at offset %zu): rename the file",
				 (unsigned)rune, i);
			return false;
		}
	}
	return true;
}

static int
by_version(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	if (x->version != y->version)
		return (x->version > y->version) - (x->version < y->version);
	return strcmp(x->name, y->name);
}

bool
folder_scan(const char *dir, struct mfile **files, size_t *n, struct diag *d)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	struct mfile *v = NULL;
	size_t count = 0;
	unsigned errors = d->errors;

	*files = NULL;
	*n = 0;
	if (!dp) {
		diag_file(d, DIAG_IO, dir, "cannot open migrations folder: %s", strerror(errno));
		return false;
	}
	while ((e = readdir(dp)) != NULL) {
		size_t len = strlen(e->d_name);
		char err[256], *path;
		int64_t version;

		if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
			continue;
		path = xmalloc(strlen(dir) + len + 2);
		sprintf(path, "%s/%s", dir, e->d_name);
		if (!file_check(path, d)) {
			free(path);
			continue;
		}
		if (!name_check(e->d_name, err, sizeof(err))) {
			diag_file(d, DIAG_ERROR, path, "%s", err);
			free(path);
			continue;
		}
		if (!version_parse(e->d_name, &version, err, sizeof(err))) {
			diag_file(d, DIAG_ERROR, path, "could not parse SQL migration file name: %s", err);
			free(path);
			continue;
		}
		if ((count & (count - 1)) == 0) /* doubles: capacity is the next power of two */
			v = xrealloc(v, (count ? 2 * count : 1) * sizeof(*v));
		v[count].path = path;
		v[count].name = xstrdup(e->d_name);
		v[count].version = version;
		v[count].prefix_len = (int)(strchr(e->d_name, '_') - e->d_name);
		count++;
	}
	closedir(dp);
	if (count)
		qsort(v, count, sizeof(*v), by_version);
	for (size_t i = 1; i < count; i++) {
		if (v[i].version == v[i - 1].version)
			diag_file(d, DIAG_ERROR, v[i].path, "duplicate version %" PRId64 ": also %s", v[i].version,
				  v[i - 1].name);
	}
	*files = v;
	*n = count;
	return d->errors == errors;
}

void
folder_free(struct mfile *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].name);
	}
	free(files);
}
