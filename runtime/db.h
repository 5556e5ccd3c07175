/*
 * db.h - the libpq transport (transport.h): every SQL statement gosling sends, and the
 * only code that includes libpq-fe.h.  Its files: db_transport.c (the transport's table
 * of calls over two connections), db_io.c (the I/O core), db_connect.c, db_history.c,
 * db_batch.c; db_impl.h is what they share.
 *
 * No wait is unbounded: gosling's own queries and connects follow the transport's
 * limit, migration statements their deadline; past it the query is cancelled (SQLSTATE
 * 57014), and a server that does not answer a cancel within a short grace loses its
 * connection.
 */
#ifndef GOSLING_DB_H
#define GOSLING_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "attr.h" /* MUSTCHECK */
#include "transport.h"

struct config;

/*
 * db_transport_init - the libpq transport (transport.h) over cfg: two connections, the
 * work link and the lock link, opened when the engine asks.  cfg must outlive t.
 */
bool db_transport_init(struct transport *t, const struct config *cfg, struct db_error *err) MUSTCHECK;

/*
 * The server libpq will connect to for cfg, as plain strings: config_conn's precedence
 * over DATABASE_URL's fields (libpq parses the URL) and libpq's PG* variables.  Each is
 * NULL when nothing sets it; all are the caller's (db_target_free).
 */
struct db_target {
	char *host;
	char *port;
	char *user;
	char *sslmode;
};

/*
 * db_target_read - fill *t for cfg.  On failure (t all NULL) err says what is wrong: a
 * DATABASE_URL libpq cannot parse, with libpq's reason but none of the URL it quotes
 * (a libpq keyword stays), and how to write it, or out of memory:
 *   invalid DATABASE_URL: invalid URI query parameter: "...": percent-encode special
 *   characters in the password (@ as %40, / as %2F, % as %25)
 */
bool db_target_read(const struct config *cfg, struct db_target *t, char *err, size_t errlen) MUSTCHECK;
void db_target_free(struct db_target *t);

#endif
