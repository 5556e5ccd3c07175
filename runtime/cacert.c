/* cacert.c - where the CA certificates are (see cacert.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cacert.h"

/*
 * The compiled-in bundle: defined by gen/cacert.c in `ninja dist` builds (empty
 * unless built with GOSLING_CA_BUNDLE); absent, a null weak reference, in
 * build/gosling and the test programs, which do not link gen/cacert.c.
 */
extern const char gosling_cacert_pem[] __attribute__((weak));

static char builtin_path[4096];

const char *
cacert_system(void)
{
	static const char *const paths[] = {
		"/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux, Fedora, RHEL */
		"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
		"/etc/ssl/cert.pem",		      /* Alpine, macOS */
	};
	const char *e = getenv("SSL_CERT_FILE");

	if (e && *e)
		return e;
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

static void
builtin_remove(void)
{
	if (builtin_path[0])
		unlink(builtin_path);
}

const char *
cacert_builtin_file(void)
{
	const char *dir = getenv("TMPDIR");
	size_t len;
	FILE *f;
	int fd;

	if (!gosling_cacert_pem || !gosling_cacert_pem[0])
		return NULL;
	if (builtin_path[0] && access(builtin_path, R_OK) == 0)
		return builtin_path;
	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(builtin_path, sizeof builtin_path, "%s/gosling-ca.XXXXXX", dir) >= sizeof builtin_path)
		goto fail;
	fd = mkstemp(builtin_path); /* O_EXCL, mode 0600 */
	if (fd < 0)
		goto fail;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		goto fail_unlink;
	}
	len = strlen(gosling_cacert_pem);
	if (fwrite(gosling_cacert_pem, 1, len, f) != len) {
		fclose(f);
		goto fail_unlink;
	}
	if (fclose(f) != 0)
		goto fail_unlink;
	{
		static int registered;

		if (!registered && atexit(builtin_remove) == 0)
			registered = 1;
	}
	return builtin_path;
fail_unlink:
	unlink(builtin_path);
fail:
	builtin_path[0] = '\0';
	return NULL;
}

static int
readable_home_root(void)
{
	const char *home = getenv("HOME");
	char path[4096];

	if (!home || !*home)
		return 0;
	if ((size_t)snprintf(path, sizeof path, "%s/.postgresql/root.crt", home) >= sizeof path)
		return 0;
	return access(path, R_OK) == 0;
}

const char *
cacert_libpq_root(const char *sslmode, const char *sslrootcert)
{
	const char *builtin;

	if (!sslmode || !*sslmode)
		sslmode = getenv("PGSSLMODE");
	if (!sslmode || (strcmp(sslmode, "verify-ca") != 0 && strcmp(sslmode, "verify-full") != 0))
		return NULL;
	if (!sslrootcert || !*sslrootcert)
		sslrootcert = getenv("PGSSLROOTCERT");
	if ((sslrootcert && *sslrootcert) || readable_home_root())
		return NULL;
	builtin = cacert_builtin_file();
	return builtin ? builtin : cacert_system();
}
