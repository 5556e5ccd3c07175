/*
 * target.h - one member of a fleet: the database or tenant schema an event (or the
 * CLI's --target-json) asks gosling to migrate instead of the function's own, and the
 * allow-list that decides whether it may (issue 19).
 *
 *   {"command": "up", "target": {"id": "tenant_42", "schema": "tenant_42"}}
 *
 * The target object's fields:
 *   id           required: 1 to 128 bytes of letters, digits and _ . - : / @ + =; the
 *                result carries it ("target": id), failures too
 *   database     a database name (1 to 63 bytes)
 *   schema       a schema: letters, digits and _ (not starting with a digit), 1 to 63
 *                bytes.  The migrations run with search_path set to it alone (inside
 *                every migration transaction: gosling re-asserts it after each one),
 *                the history table lives there, the schema is created when missing,
 *                and the advisory lock key is the target's own (target_lock_key)
 *   secret_arn   the Secrets Manager secret to read the credentials from (up to 2048 bytes)
 *   host         the database host (up to 255 bytes)
 *   port         1 to 65535, a number or a string of digits
 *   cluster_arn  for the RDS Data API transport: refused until that transport exists
 * Any other field, a wrong type, an empty or over-long value, a NUL or a control
 * character is refused naming the field ("target.schema").
 *
 * The allow-list is the function's configuration: each field but id has a setting
 * (GOSLING_TARGET_DATABASES, _SCHEMAS, _SECRET_ARNS, _HOSTS, _PORTS) holding a POSIX
 * extended regular expression the whole value must match (config_regcomp).  A field
 * whose setting is unset may not be given at all: an invoke permission must not become
 * "run DDL anywhere".  A refused target is a bad request (Function.BadRequest, exit 2)
 * and is refused before any connection or secret is read.
 */
#ifndef GOSLING_TARGET_H
#define GOSLING_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr.h" /* MUSTCHECK */
#include "config.h"
#include "engine.h" /* enum engine_status */

#define TARGET_ID_MAX 128

/* A parsed target; a field not given is "" (port: 0). */
struct target {
	char id[TARGET_ID_MAX + 1];
	char database[64];
	char schema[64];
	char secret_arn[2049];
	char host[256];
	int port;
	char cluster_arn[2049];
};

struct json_t;

/*
 * target_parse - read the event's "target" value (a JSON object) into *t.  On a
 * malformed one returns false with err naming the field, e.g.
 *   field "target.schema" must be letters, digits and _ (not starting with a digit), not "te\"nant"
 *   unknown field "target.region" (a target takes id, database, schema, secret_arn, host, port, cluster_arn)
 * Values quoted in messages are cut to 48 bytes, anything outside printable ASCII
 * written as \xNN.
 */
bool target_parse(const struct json_t *v, struct target *t, char *err, size_t errlen) MUSTCHECK;

/* target_parse_text - the same from JSON text (--target-json). */
bool target_parse_text(const char *json, struct target *t, char *err, size_t errlen) MUSTCHECK;

/*
 * target_allowed - whether base's allow-list lets t through; on refusal err names
 * the field and the setting, e.g.
 *   field "target.schema": "public" is not allowed by GOSLING_TARGET_SCHEMAS (target-schemas)
 *   field "target.host" may not be given: GOSLING_TARGET_HOSTS (target-hosts) is not set
 * base must have passed config_check.
 */
bool target_allowed(const struct target *t, const struct config *base, char *err, size_t errlen) MUSTCHECK;

/*
 * target_apply - run becomes base (config_derive) with t's fields set over it
 * (CONFIG_TARGET): database, schema, secret_arn, host, port; and, when t's schema is
 * not base's, the lock key target_lock_key gives.  Check target_allowed first.  run is
 * always initialised: release it with config_free.  False only when out of memory.
 */
bool target_apply(const struct target *t, const struct config *base, struct config *run) MUSTCHECK;

/*
 * target_prepare - the configuration a run for t uses, in *run: t checked against
 * base's allow-list (target_allowed), then applied (target_apply); t NULL: base as it
 * is.  *run is always initialised: release it with config_free.  ENGINE_OK, or the
 * failure with its reason in err: ENGINE_BAD_REQUEST for a refused target (nothing has
 * connected), ENGINE_CONFIG_ERROR out of memory.
 */
enum engine_status target_prepare(const struct target *t, const struct config *base, struct config *run, char *err,
				  size_t errlen) MUSTCHECK;

/*
 * target_lock_key - the advisory lock key of schema under the configured key: FNV-1a
 * (64-bit) over key's 8 bytes (big-endian) then the schema's name, its top bit cleared
 * (0 to INT64_MAX, as the setting).  Tenants sharing a database get keys of their own
 * and do not wait for each other; two runs for one schema share one key.
 */
int64_t target_lock_key(int64_t key, const char *schema);

#endif
