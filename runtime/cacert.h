/*
 * cacert.h - the CA bundle compiled into gosling for TLS to PostgreSQL.
 *
 * The build embeds the PEM file named by build.ninja's ca_pem (for RDS, AWS's
 * global bundle) with scripts/embed-pem as gen/cacert.c.  db_connect uses it
 * for sslmode verify-ca and verify-full when no sslrootcert is configured
 * (DB_SSLROOTCERT, DATABASE_URL or PGSSLROOTCERT): libpq reads its root
 * certificates only from a file, so the bundle is written to a private
 * (0600, mkstemp) temporary file for the connection attempt and removed as
 * soon as the connection is made or has failed.
 *
 * A program linked without gen/cacert.c gets runtime/cacert_none.c from
 * libgosling-runtime.a: no compiled-in bundle.
 */
#ifndef GOSLING_CACERT_H
#define GOSLING_CACERT_H

#include <stdbool.h>
#include <stddef.h>

#include "bundle.h"	/* MUSTCHECK */

/* The embedded PEM text (NUL-terminated) and its length; 0 = none compiled in. */
extern const unsigned char gosling_cacert_pem[];
extern const size_t gosling_cacert_pem_len;

/* cacert_compiled - whether a CA bundle is compiled in. */
bool cacert_compiled(void);

/*
 * cacert_write - write the compiled-in bundle to a new 0600 file in $TMPDIR
 * (else /tmp); its name goes to path.  On failure writes why to err.
 */
bool cacert_write(char *path, size_t pathlen, char *err, size_t errlen) MUSTCHECK;

/* cacert_remove - remove the file cacert_write made; path becomes "". */
void cacert_remove(char *path);

#endif
