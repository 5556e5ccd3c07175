/*
 * cacert.h - CA certificates for TLS: the system's bundle, wherever the
 * distribution keeps it, and the PEM bundle `ninja dist` can compile into the
 * bootstrap (GOSLING_CA_BUNDLE=rds-global-bundle.pem ninja dist), for
 * sslmode=verify-full against RDS, whose CA is in no system store.
 *
 * OpenSSL built on Debian looks in Debian's paths (/usr/lib/ssl); Amazon Linux
 * 2023 keeps its bundle at /etc/pki/tls/certs/ca-bundle.crt.  Neither libpq nor
 * libcurl is told about the other layout, so gosling names the file itself.
 */
#ifndef GOSLING_CACERT_H
#define GOSLING_CACERT_H

/*
 * cacert_system - the first readable CA bundle of: $SSL_CERT_FILE, Amazon
 * Linux's (/etc/pki/tls/certs/ca-bundle.crt), Debian's
 * (/etc/ssl/certs/ca-certificates.crt), /etc/ssl/cert.pem.  NULL when none is.
 */
const char *cacert_system(void);

/*
 * cacert_builtin_file - the path of a private file (mode 0600, in $TMPDIR or
 * /tmp) holding the compiled-in PEM bundle: libpq 15 reads root certificates
 * only from a file.  Written on first use, reused for the life of the process
 * and removed at exit.  NULL when no bundle was compiled in or the file could
 * not be written.  The string is static.
 */
const char *cacert_builtin_file(void);

/*
 * cacert_libpq_root - the sslrootcert to give libpq, or NULL to leave libpq's
 * own choice alone.  Only for sslmode (else $PGSSLMODE) verify-ca or
 * verify-full when no CA file is named (sslrootcert, $PGSSLROOTCERT,
 * ~/.postgresql/root.crt): the compiled-in bundle, else cacert_system().
 *
 *   cacert_libpq_root("verify-full", NULL)  -> "/etc/pki/tls/certs/ca-bundle.crt" on Amazon Linux
 *   cacert_libpq_root("require", NULL)      -> NULL
 */
const char *cacert_libpq_root(const char *sslmode, const char *sslrootcert);

#endif
