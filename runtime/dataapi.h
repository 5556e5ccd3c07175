/*
 * dataapi.h - the RDS Data API transport (transport.h; issue 18): the engine's calls
 * over rdsdata.h, chosen when DB_CLUSTER_ARN (or DB_RESOURCE_ARN) is set, with
 * DB_SECRET_ARN (the secret the Data API logs in with) and DB_NAME.  No libpq
 * connection is opened.  What each call does over it: dataapi_transport.c's head
 * comment and docs/design.md, "The transport seam".
 */
#ifndef GOSLING_DATAAPI_H
#define GOSLING_DATAAPI_H

#include <stdbool.h>

#include "transport.h"

/*
 * dataapi_transport_init - the Data API transport over cfg (kept, not copied: it must
 * outlive t) into *t; its own HTTP client (http_global_init must have run).  Release
 * it with t->release.  False (err set) when out of memory.
 */
bool dataapi_transport_init(struct transport *t, const struct config *cfg, struct db_error *err) MUSTCHECK;

#endif
