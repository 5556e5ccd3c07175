/* rdsdata.c - the RDS Data API's calls, and its records as PostgreSQL's text. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "rdsdata.h"

static const char *const rdsdata_retryable[] = { "DatabaseResumingException", NULL };

static const struct aws_service rdsdata_service = {
	"rds-data", "AWS_ENDPOINT_URL_RDS_DATA", NULL, true, rdsdata_retryable,
};

const char *
rdsdata_error_name(enum rdsdata_error e)
{
	switch (e) {
	case RDSDATA_OK:
		return "ok";
	case RDSDATA_DATABASE:
		return "database error";
	case RDSDATA_RESUMING:
		return "resuming";
	case RDSDATA_TIMEOUT:
		return "statement timeout";
	case RDSDATA_TXN_NOT_FOUND:
		return "transaction not found";
	case RDSDATA_THROTTLED:
		return "throttled";
	case RDSDATA_UNAVAILABLE:
		return "unavailable";
	case RDSDATA_BAD_REQUEST:
		return "bad request";
	case RDSDATA_OTHER:
		break;
	}
	return "other";
}

/* The region an ARN names: eu-west-2 from arn:aws:rds:eu-west-2:123456789012:cluster:db. */
static bool
arn_region(const char *arn, char *out, size_t outlen)
{
	const char *p = arn;

	for (int i = 0; i < 3; i++) {
		if (!p || !(p = strchr(p, ':')))
			return false;
		p++;
	}
	size_t n = strcspn(p, ":");

	if (n == 0 || n >= outlen || p[n] != ':')
		return false;
	snprintf(out, outlen, "%.*s", (int)n, p);
	return true;
}

static enum rdsdata_error
classify(const char *code, long status)
{
	static const struct {
		const char *code;
		enum rdsdata_error e;
	} codes[] = {
		{ "DatabaseErrorException", RDSDATA_DATABASE },
		{ "DatabaseResumingException", RDSDATA_RESUMING },
		{ "StatementTimeoutException", RDSDATA_TIMEOUT },
		{ "TransactionNotFoundException", RDSDATA_TXN_NOT_FOUND },
		{ "BadRequestException", RDSDATA_BAD_REQUEST },
		{ "ThrottlingException", RDSDATA_THROTTLED },
		{ "Throttling", RDSDATA_THROTTLED },
		{ "TooManyRequestsException", RDSDATA_THROTTLED },
		{ "RequestLimitExceeded", RDSDATA_THROTTLED },
		{ "LimitExceededException", RDSDATA_THROTTLED },
	};

	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		if (strcmp(code, codes[i].code) == 0)
			return codes[i].e;
	if (status >= 500 && status < 600)
		return RDSDATA_UNAVAILABLE;
	return RDSDATA_OTHER;
}

/* The SQLSTATE a DatabaseErrorException's message ends with: "...; SQLState: 42P01". */
static void
message_sqlstate(const char *msg, char *out)
{
	const char *p = NULL, *q = msg;

	out[0] = '\0';
	while ((q = strstr(q, "SQLState: ")) != NULL)
		p = q++;
	if (p && strspn(p + 10, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") >= 5)
		snprintf(out, 6, "%.5s", p + 10);
}

/*
 * One call: req (consumed) as the body, the answer's JSON into *answer (an
 * object).  False with st set.
 */
static bool
call(const struct rdsdata *db, const char *op, const char *uri, json_t *req, bool once, json_t **answer,
     struct rdsdata_status *st)
{
	char region[64], why[sizeof st->message - 64];
	char *body = NULL;
	struct http_response rs;
	struct aws_request rq = {
		.service = &rdsdata_service,
		.operation = op,
		.uri = uri,
		.deadline_ms = db->deadline_ms,
		.max_body = 2 * RDSDATA_RESPONSE_MAX,
		.attempt_ms = RDSDATA_ATTEMPT_MS,
		.who = "the RDS Data API",
		.once = once,
	};
	bool ok = false;

	*answer = NULL;
	memset(st, 0, sizeof *st);
	if (req)
		body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body) {
		st->code = RDSDATA_OTHER;
		snprintf(st->message, sizeof st->message, "%s: out of memory", op);
		return false;
	}
	rq.body = body;
	rq.len = strlen(body);
	rq.region = arn_region(db->resource_arn, region, sizeof region) ? region : NULL;
	if (aws_call(db->http, &rq, &rs, why, sizeof why)) {
		json_error_t jerr;

		*answer = json_loadb(rs.body ? rs.body : "", rs.len, 0, &jerr);
		if (json_is_object(*answer))
			ok = true;
		else {
			json_decref(*answer);
			*answer = NULL;
			st->code = RDSDATA_OTHER;
			snprintf(st->message, sizeof st->message, "%s: the answer is not a JSON object: %s", op,
				 jerr.text);
		}
	} else {
		if (rs.status != 0)
			aws_error_code(&rs, st->aws_code, sizeof st->aws_code);
		st->code = rs.status != 0 ? classify(st->aws_code, rs.status) : RDSDATA_OTHER;
		/* PostgreSQL's error whole (aws_call cuts its text shorter), and the SQLSTATE from
		 * the whole answer: a long message (a Where of many lines) may cut even this */
		if (st->code == RDSDATA_DATABASE) {
			aws_error_text(&rs, why, sizeof why);
			message_sqlstate(rs.body ? rs.body : why, st->sqlstate);
		}
		snprintf(st->message, sizeof st->message, "%s: %s", op, why);
	}
	http_response_free(&rs);
	free(body);
	return ok;
}

/* The members every call has; database too where the model has it (Begin, Execute). */
static json_t *
request(const struct rdsdata *db, bool database)
{
	json_t *o = json_pack("{s:s, s:s}", "resourceArn", db->resource_arn, "secretArn", db->secret_arn);

	if (o && database && db->database && json_object_set_new(o, "database", json_string(db->database)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

bool
rdsdata_begin(const struct rdsdata *db, char *txid, size_t txidlen, struct rdsdata_status *st)
{
	json_t *a;
	const char *id;

	txid[0] = '\0';
	if (!call(db, "BeginTransaction", "/BeginTransaction", request(db, true), false, &a, st))
		return false;
	id = json_string_value(json_object_get(a, "transactionId"));
	if (!id || !*id || strlen(id) >= txidlen) {
		st->code = RDSDATA_OTHER;
		snprintf(st->message, sizeof st->message, "BeginTransaction: the answer has no usable transactionId");
		json_decref(a);
		return false;
	}
	snprintf(txid, txidlen, "%s", id);
	json_decref(a);
	return true;
}

static bool
end_transaction(const struct rdsdata *db, const char *op, const char *uri, const char *txid, struct rdsdata_status *st)
{
	json_t *rq = request(db, false), *a;

	if (rq && json_object_set_new(rq, "transactionId", json_string(txid)) != 0) {
		json_decref(rq);
		rq = NULL;
	}
	/* a commit whose answer was lost is not sent again: the transaction may have committed */
	if (!call(db, op, uri, rq, strcmp(op, "CommitTransaction") == 0, &a, st))
		return false;
	log_debug("rds-data %s: %s", op,
		  json_string_value(json_object_get(a, "transactionStatus"))
			  ? json_string_value(json_object_get(a, "transactionStatus"))
			  : "(no status)");
	json_decref(a);
	return true;
}

bool
rdsdata_commit(const struct rdsdata *db, const char *txid, struct rdsdata_status *st)
{
	return end_transaction(db, "CommitTransaction", "/CommitTransaction", txid, st);
}

bool
rdsdata_rollback(const struct rdsdata *db, const char *txid, struct rdsdata_status *st)
{
	return end_transaction(db, "RollbackTransaction", "/RollbackTransaction", txid, st);
}

/* --- a Field as PostgreSQL's text ------------------------------------------------------- */

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* blobValue (base64) as bytea's hex text, "\x0aff". */
static bool
blob_text(const char *b64, struct buf *b)
{
	static const char hex[] = "0123456789abcdef";
	unsigned acc = 0;
	int bits = 0;

	buf_str(b, "\\x");
	for (const char *p = b64; *p && *p != '='; p++) {
		int v = b64_value((unsigned char)*p);

		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			unsigned byte = (acc >> (bits - 8)) & 0xff;

			bits -= 8;
			buf_char(b, hex[byte >> 4]);
			buf_char(b, hex[byte & 15]);
		}
	}
	return true;
}

/* The shortest text that reads back as d, as PostgreSQL prints a float8. */
static void
double_text(double d, struct buf *b)
{
	char s[64];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	buf_str(b, s);
}

static void
long_text(json_t *v, struct buf *b)
{
	char s[32];

	snprintf(s, sizeof s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	buf_str(b, s);
}

/* A string element as array_out writes it: quoted when empty, "NULL" or holding a special. */
static void
element_text(const char *s, struct buf *b)
{
	bool quote = !*s || strcasecmp(s, "NULL") == 0;

	for (const char *p = s; *p && !quote; p++)
		quote = strchr("{},\"\\ \t\n\r\v\f", *p) != NULL;
	if (!quote) {
		buf_str(b, s);
		return;
	}
	buf_char(b, '"');
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_char(b, '\\');
		buf_char(b, *p);
	}
	buf_char(b, '"');
}

/* An array (arrayValue) as array_out writes a one-dimensional one: {1,NULL,"a b"}. */
static bool
array_text(json_t *a, struct buf *b)
{
	static const char *const kinds[] = { "booleanValues", "longValues", "doubleValues", "stringValues",
					     "arrayValues" };
	json_t *list = NULL;
	int kind = -1;
	size_t i;
	json_t *v;

	for (int k = 0; k < 5 && kind < 0; k++)
		if ((list = json_object_get(a, kinds[k])) != NULL)
			kind = k;
	if (kind < 0 || !json_is_array(list))
		return false;
	buf_char(b, '{');
	json_array_foreach(list, i, v)
	{
		if (i > 0)
			buf_char(b, ',');
		if (json_is_null(v)) {
			buf_str(b, "NULL");
			continue;
		}
		switch (kind) {
		case 0:
			if (!json_is_boolean(v))
				return false;
			buf_char(b, json_is_true(v) ? 't' : 'f');
			break;
		case 1:
			if (!json_is_integer(v))
				return false;
			long_text(v, b);
			break;
		case 2:
			if (!json_is_number(v))
				return false;
			double_text(json_number_value(v), b);
			break;
		case 3:
			if (!json_is_string(v))
				return false;
			element_text(json_string_value(v), b);
			break;
		default:
			if (!json_is_object(v) || !array_text(v, b))
				return false;
		}
	}
	buf_char(b, '}');
	return true;
}

/* One Field: *out malloc'd, NULL for isNull. */
static bool
field_text(json_t *f, char **out)
{
	struct buf b = { 0 };
	json_t *v;
	bool ok = true;

	*out = NULL;
	if (!json_is_object(f))
		return false;
	if (json_is_true(json_object_get(f, "isNull")))
		return true;
	if ((v = json_object_get(f, "stringValue")) != NULL && json_is_string(v))
		buf_add(&b, json_string_value(v), json_string_length(v));
	else if ((v = json_object_get(f, "longValue")) != NULL && json_is_integer(v))
		long_text(v, &b);
	else if ((v = json_object_get(f, "booleanValue")) != NULL && json_is_boolean(v))
		buf_char(&b, json_is_true(v) ? 't' : 'f');
	else if ((v = json_object_get(f, "doubleValue")) != NULL && json_is_number(v))
		double_text(json_number_value(v), &b);
	else if ((v = json_object_get(f, "blobValue")) != NULL && json_is_string(v))
		ok = blob_text(json_string_value(v), &b);
	else if ((v = json_object_get(f, "arrayValue")) != NULL && json_is_object(v))
		ok = array_text(v, &b);
	else
		ok = false;
	if (!ok) {
		buf_free(&b);
		return false;
	}
	buf_str(&b, ""); /* an empty string is "", not NULL */
	*out = buf_take(&b);
	return *out != NULL;
}

void
rdsdata_result_free(struct rdsdata_result *r)
{
	for (size_t i = 0; r->rows && i < r->nrows; i++) {
		for (size_t j = 0; r->rows[i] && j < r->ncols; j++)
			free(r->rows[i][j]);
		free(r->rows[i]);
	}
	free(r->rows);
	memset(r, 0, sizeof *r);
}

/* records (a list of lists of Field) into r. */
static bool
records_read(json_t *records, struct rdsdata_result *r, char *why, size_t whylen)
{
	size_t n = json_array_size(records);

	if (n == 0)
		return true;
	r->ncols = json_array_size(json_array_get(records, 0));
	if (!(r->rows = calloc(n, sizeof *r->rows)))
		return errorf(why, whylen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_array_get(records, i);

		if (!json_is_array(row) || json_array_size(row) != r->ncols)
			return errorf(why, whylen, "record %zu has %zu fields, not %zu", i + 1, json_array_size(row),
				      r->ncols);
		if (r->ncols > 0 && !(r->rows[i] = calloc(r->ncols, sizeof *r->rows[i])))
			return errorf(why, whylen, "out of memory");
		r->nrows = i + 1;
		for (size_t j = 0; j < r->ncols; j++)
			if (!field_text(json_array_get(row, j), &r->rows[i][j]))
				return errorf(why, whylen,
					      "record %zu, field %zu: a value of no known shape (or out of memory)",
					      i + 1, j + 1);
	}
	return true;
}

static json_t *
param_json(const struct rdsdata_param *p)
{
	json_t *value;

	if (p->is_null)
		value = json_pack("{s:b}", "isNull", 1);
	else if (p->string)
		value = json_pack("{s:s}", "stringValue", p->string);
	else
		value = json_pack("{s:I}", "longValue", (json_int_t)p->long_value);
	return value ? json_pack("{s:s, s:o}", "name", p->name, "value", value) : NULL;
}

bool
rdsdata_execute(const struct rdsdata *db, const struct rdsdata_statement *s, struct rdsdata_result *r,
		struct rdsdata_status *st)
{
	json_t *rq = request(db, true), *params = s->nparams ? json_array() : NULL, *a, *v;
	char why[512];
	bool built = rq && json_object_set_new(rq, "sql", json_string(s->sql)) == 0;

	memset(r, 0, sizeof *r);
	for (size_t i = 0; built && i < s->nparams; i++) {
		json_t *p = param_json(&s->params[i]);

		built = p && json_array_append_new(params, p) == 0;
	}
	if (built && params) {
		built = json_object_set_new(rq, "parameters", params) == 0;
		params = NULL;
	}
	if (built && s->transaction_id)
		built = json_object_set_new(rq, "transactionId", json_string(s->transaction_id)) == 0;
	if (built && s->continue_after_timeout)
		built = json_object_set_new(rq, "continueAfterTimeout", json_true()) == 0;
	json_decref(params);
	if (!built) {
		json_decref(rq);
		rq = NULL;
	}
	if (!call(db, "ExecuteStatement", "/Execute", rq, s->once, &a, st))
		return false;
	if ((v = json_object_get(a, "numberOfRecordsUpdated")) != NULL && json_is_integer(v))
		r->updated = json_integer_value(v);
	v = json_object_get(a, "records");
	if (v && (!json_is_array(v) || !records_read(v, r, why, sizeof why))) {
		st->code = RDSDATA_OTHER;
		snprintf(st->message, sizeof st->message, "ExecuteStatement: unreadable records: %s",
			 json_is_array(v) ? why : "not a list");
		rdsdata_result_free(r);
		json_decref(a);
		return false;
	}
	json_decref(a);
	return true;
}
