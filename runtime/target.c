/* target.c - a fleet member in the event: its parse, its allow-list, its settings (issue 19). */
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h" /* errorf */
#include "target.h"
#include "text.h"

/* One field of a target: where it goes, how long it may be, its allow-list and setting. */
struct field {
	const char *key;
	size_t off, size;      /* the char array in struct target; size 0 for port */
	enum setting_id allow; /* its allow-list; SET_COUNT for id */
	enum setting_id set;   /* what it sets; SET_COUNT for id */
};

#define TEXT_FIELD(k, allow, set)                                                         \
	{                                                                                 \
#k, offsetof(struct target, k), sizeof((struct target *)0)->k, allow, set \
	}

static const struct field fields[] = {
	TEXT_FIELD(id, SET_COUNT, SET_COUNT),
	TEXT_FIELD(database, SET_TARGET_DATABASES, SET_DBNAME),
	TEXT_FIELD(schema, SET_TARGET_SCHEMAS, SET_SCHEMA),
	TEXT_FIELD(secret_arn, SET_TARGET_SECRET_ARNS, SET_SECRET_ARN),
	TEXT_FIELD(host, SET_TARGET_HOSTS, SET_HOST),
	{ "port", 0, 0, SET_TARGET_PORTS, SET_PORT },
	TEXT_FIELD(cluster_arn, SET_TARGET_CLUSTER_ARNS, SET_CLUSTER_ARN),
};

#define FIELD_NAMES "id, database, schema, secret_arn, host, port, cluster_arn"
#define QUOTE_MAX 48

/* s as a message may quote it: at most QUOTE_MAX bytes, anything but printable ASCII (and " \) as \xNN. */
static const char *
quoted(const char *s, char *buf, size_t len)
{
	size_t n = 0, i;

	for (i = 0; s[i] && i < QUOTE_MAX && n + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (s[i] && n + 4 < len)
		memcpy(buf + n, "...", 4);
	return buf;
}

static bool
id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_.-:/@+=", c);
}

static bool
schema_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* What a text field holds beyond its length: false with the reason in err. */
static bool
text_ok(const struct field *f, const char *s, char *err, size_t errlen)
{
	char q[QUOTE_MAX * 4 + 8];

	if (strcmp(f->key, "id") == 0) {
		for (const char *p = s; *p; p++)
			if (!id_char(*p))
				return errorf(
					err, errlen,
					"field \"target.id\" must be letters, digits and _ . - : / @ + =, not \"%s\"",
					quoted(s, q, sizeof q));
		return true;
	}
	if (strcmp(f->key, "schema") == 0 && !schema_ok(s))
		return errorf(
			err, errlen,
			"field \"target.schema\" must be letters, digits and _ (not starting with a digit), not \"%s\"",
			quoted(s, q, sizeof q));
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return errorf(err, errlen, "field \"target.%s\" holds a control character: \"%s\"", f->key,
				      quoted(s, q, sizeof q));
	return true;
}

/* port: 1 to 65535, a number or a string of digits */
static bool
port_parse(const json_t *v, int *port, char *err, size_t errlen)
{
	long long n = -1;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);

		if (len > 0 && len <= 5 && strspn(s, "0123456789") == len)
			n = atoll(s);
	}
	if (n < 1 || n > 65535)
		return errorf(err, errlen,
			      "field \"target.port\" must be a port number from 1 to 65535 (or a string of "
			      "its digits), not %s",
			      json_is_integer(v) || json_is_string(v) ? "that" : json_kind(v));
	*port = (int)n;
	return true;
}

static bool
text_parse(const struct field *f, const json_t *v, struct target *t, char *err, size_t errlen)
{
	char *out = (char *)t + f->off;
	size_t len;

	if (!json_is_string(v))
		return errorf(err, errlen, "field \"target.%s\" must be a string, not %s", f->key, json_kind(v));
	len = json_string_length(v);
	if (len == 0)
		return errorf(err, errlen, "field \"target.%s\" must not be empty", f->key);
	if (len >= f->size)
		return errorf(err, errlen, "field \"target.%s\" is longer than %zu bytes", f->key, f->size - 1);
	if (strlen(json_string_value(v)) != len)
		return errorf(err, errlen, "field \"target.%s\" contains a NUL character", f->key);
	if (!text_ok(f, json_string_value(v), err, errlen))
		return false;
	memcpy(out, json_string_value(v), len + 1);
	return true;
}

bool
target_parse(const json_t *v, struct target *t, char *err, size_t errlen)
{
	const char *key;
	json_t *item;

	memset(t, 0, sizeof *t);
	if (!json_is_object(v))
		return errorf(err, errlen, "field \"target\" must be an object, not %s", json_kind(v));
	/* jansson's foreach wants a non-const object; nothing here changes it */
	json_object_foreach((json_t *)v, key, item)
	{
		const struct field *f = NULL;
		char q[QUOTE_MAX * 4 + 8];

		for (size_t i = 0; i < sizeof fields / sizeof *fields && !f; i++)
			if (strcmp(fields[i].key, key) == 0)
				f = &fields[i];
		if (!f)
			return errorf(err, errlen, "unknown field \"target.%s\" (a target takes " FIELD_NAMES ")",
				      quoted(key, q, sizeof q));
		if (!(f->size ? text_parse(f, item, t, err, errlen) : port_parse(item, &t->port, err, errlen)))
			return false;
	}
	if (!t->id[0])
		return errorf(err, errlen, "field \"target.id\" is required in a target");
	return true;
}

bool
target_parse_text(const char *json, struct target *t, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	bool ok;

	memset(t, 0, sizeof *t);
	if (!o)
		return errorf(err, errlen, "the target is not valid JSON: %s (line %d, column %d)", jerr.text,
			      jerr.line, jerr.column);
	ok = target_parse(o, t, err, errlen);
	json_decref(o);
	return ok;
}

/* The value of f in t as text ("" when not given); port in buf. */
static const char *
field_value(const struct field *f, const struct target *t, char *buf, size_t len)
{
	if (f->size)
		return (const char *)t + f->off;
	if (!t->port)
		return "";
	snprintf(buf, len, "%d", t->port);
	return buf;
}

bool
target_allowed(const struct target *t, const struct config *base, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		const struct field *f = &fields[i];
		const char *pattern, *v;
		char port[16], why[128], q[QUOTE_MAX * 4 + 8];
		regex_t re;
		bool match;

		if (f->allow == SET_COUNT)
			continue;
		v = field_value(f, t, port, sizeof port);
		if (!*v)
			continue;
		pattern = config_str(base, f->allow);
		if (!pattern)
			return errorf(err, errlen, "field \"target.%s\" may not be given: %s (%s) is not set", f->key,
				      settings[f->allow].env, settings[f->allow].name);
		if (!config_regcomp(&re, pattern, why, sizeof why))
			return errorf(err, errlen, "invalid value for --%s: %s", settings[f->allow].name, why);
		match = regexec(&re, v, 0, NULL, 0) == 0;
		regfree(&re);
		if (!match)
			return errorf(err, errlen, "field \"target.%s\": \"%s\" is not allowed by %s (%s)", f->key,
				      quoted(v, q, sizeof q), settings[f->allow].env, settings[f->allow].name);
	}
	return true;
}

int64_t
target_lock_key(int64_t key, const char *schema)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a 64 offset basis */

	for (int i = 7; i >= 0; i--) {
		h ^= (uint64_t)key >> (i * 8) & 0xff;
		h *= 1099511628211u; /* FNV-1a 64 prime */
	}
	for (const unsigned char *p = (const unsigned char *)schema; *p; p++) {
		h ^= *p;
		h *= 1099511628211u;
	}
	return (int64_t)(h & INT64_MAX);
}

bool
target_apply(const struct target *t, const struct config *base, struct config *run)
{
	config_derive(run, base);
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		const struct field *f = &fields[i];
		char port[16];
		const char *v;

		if (f->set == SET_COUNT)
			continue;
		v = field_value(f, t, port, sizeof port);
		if (*v && !config_put(run, f->set, v, CONFIG_TARGET))
			return false;
	}
	if (t->schema[0] && strcmp(t->schema, config_str(base, SET_SCHEMA)) != 0) {
		char key[24];

		snprintf(key, sizeof key, "%lld",
			 (long long)target_lock_key(config_int(base, SET_LOCK_KEY), t->schema));
		if (!config_put(run, SET_LOCK_KEY, key, CONFIG_TARGET))
			return false;
	}
	return true;
}

enum engine_status
target_prepare(const struct target *t, const struct config *base, struct config *run, char *err, size_t errlen)
{
	if (!t) {
		config_derive(run, base);
		return ENGINE_OK;
	}
	if (!target_allowed(t, base, err, errlen)) {
		config_derive(run, base);
		return ENGINE_BAD_REQUEST;
	}
	if (!target_apply(t, base, run)) {
		errorf(err, errlen, "out of memory");
		return ENGINE_CONFIG_ERROR;
	}
	return ENGINE_OK;
}
