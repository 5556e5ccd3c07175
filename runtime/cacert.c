/* cacert.c - the compiled-in CA bundle, handed to libpq through a private temporary file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cacert.h"

bool
cacert_compiled(void)
{
	return gosling_cacert_pem_len > 0;
}

bool
cacert_write(char *path, size_t pathlen, char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	const unsigned char *p = gosling_cacert_pem;
	size_t left = gosling_cacert_pem_len;
	int fd, n;

	if (!dir || !*dir)
		dir = "/tmp";
	n = snprintf(path, pathlen, "%s/gosling-ca-XXXXXX", dir);
	if (n < 0 || (size_t)n >= pathlen) {
		snprintf(err, errlen, "unable to write the compiled-in CA bundle: TMPDIR is too long");
		path[0] = '\0';
		return false;
	}
	/* mkstemp: a new file, mode 0600, that nobody else can have opened */
	if ((fd = mkstemp(path)) < 0) {
		snprintf(err, errlen, "unable to write the compiled-in CA bundle in %s: %s", dir, strerror(errno));
		path[0] = '\0';
		return false;
	}
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "unable to write the compiled-in CA bundle to %s: %s", path,
				 w < 0 ? strerror(errno) : "short write");
			close(fd);
			cacert_remove(path);
			return false;
		}
		p += w;
		left -= (size_t)w;
	}
	if (close(fd) != 0) {
		snprintf(err, errlen, "unable to write the compiled-in CA bundle to %s: %s", path, strerror(errno));
		cacert_remove(path);
		return false;
	}
	return true;
}

void
cacert_remove(char *path)
{
	if (path[0])
		(void)unlink(path);
	path[0] = '\0';
}
