/*
 * sigv4.c - AWS Signature Version 4, per AWS's "Create a signed AWS API
 * request" and checked against AWS's sigv4 test suite (tests/unit/test_sigv4.c)
 * and against the AWS JS SDK's signer (tests/sigv4/).
 */
#include "sigv4.h"
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAX_EXPIRES 604800 /* a presigned URL lives at most a week */

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		c == '_' || c == '~';
}

/* RFC 3986 encoding as SigV4 wants it: unreserved bytes as they are, every
 * other byte as %XX with upper-case hex; '/' kept when keep_slash. */
static void
buf_encode(struct buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			buf_char(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_add(b, e, 3);
		}
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into b.  A '%' not followed by two hex digits stays
 * literal; '+' stays '+' (this is RFC 3986, not form encoding). */
static void
buf_decode(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			buf_char(b, (char)(hi << 4 | lo));
			i += 2;
		} else {
			buf_char(b, s[i]);
		}
	}
}

static void
to_hex(const unsigned char *md, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return false;
	to_hex(md, 32, out);
	return true;
}

/* out may be the key: HMAC() reads the key before it writes the digest, but
 * going through md keeps that from mattering. */
static bool
hmac256(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	bool ok = HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), md, &n) && n == 32;
	if (ok)
		memcpy(out, md, 32);
	OPENSSL_cleanse(md, sizeof md);
	return ok;
}

/* --- canonical URI --------------------------------------------------------- */

static void
canonical_path(struct buf *b, const char *path, bool as_is)
{
	if (!path || !*path) {
		buf_char(b, '/');
		return;
	}
	if (as_is) {
		buf_str(b, path);
		return;
	}
	/* Segments kept so far, as [start, end) offsets into path. */
	size_t n = strlen(path), nseg = 0;
	size_t(*seg)[2] = malloc((n / 2 + 2) * sizeof *seg);
	if (!seg) {
		b->failed = true;
		return;
	}
	for (size_t i = 0; i <= n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && path[i] == '.')) {
			/* empty or "." */
		} else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg > 0)
				nseg--;
		} else {
			seg[nseg][0] = i;
			seg[nseg][1] = j;
			nseg++;
		}
		i = j + 1;
	}
	buf_char(b, '/');
	for (size_t k = 0; k < nseg; k++) {
		if (k > 0)
			buf_char(b, '/');
		buf_encode(b, path + seg[k][0], seg[k][1] - seg[k][0], false);
	}
	if (nseg > 0 && path[n - 1] == '/')
		buf_char(b, '/');
	free(seg);
}

/* --- canonical query ------------------------------------------------------- */

struct param {
	char *name;  /* encoded */
	char *value; /* encoded */
};

struct params {
	struct param *v;
	size_t n, cap;
	bool failed;
};

/* Append name=value, both given decoded (raw bytes), encoding them. */
static void
params_add(struct params *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (p->failed)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct param *v = realloc(p->v, cap * sizeof *v);
		if (!v) {
			p->failed = true;
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	struct buf bn = { 0 }, bv = { 0 };
	buf_encode(&bn, name, nlen, false);
	buf_encode(&bv, value, vlen, false);
	char *en = buf_take(&bn), *ev = buf_take(&bv);
	if (!en || !ev) {
		free(en);
		free(ev);
		p->failed = true;
		return;
	}
	p->v[p->n].name = en;
	p->v[p->n].value = ev;
	p->n++;
}

static void
params_add_str(struct params *p, const char *name, const char *value)
{
	params_add(p, name, strlen(name), value, strlen(value));
}

/* Parse a query string as sent: split on '&' and the first '=', decode. */
static void
params_parse(struct params *p, const char *q)
{
	if (!q)
		return;
	while (*q) {
		size_t len = strcspn(q, "&");
		if (len > 0) {
			const char *eq = memchr(q, '=', len);
			size_t nlen = eq ? (size_t)(eq - q) : len;
			const char *v = eq ? eq + 1 : q + len;
			size_t vlen = eq ? len - nlen - 1 : 0;
			struct buf dn = { 0 }, dv = { 0 };
			buf_decode(&dn, q, nlen);
			buf_decode(&dv, v, vlen);
			if (dn.failed || dv.failed)
				p->failed = true;
			else
				params_add(p, dn.p ? dn.p : "", dn.len, dv.p ? dv.p : "", dv.len);
			free(dn.p);
			free(dv.p);
		}
		q += len;
		if (*q == '&')
			q++;
	}
}

static int
param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static void
params_write(struct buf *b, struct params *p)
{
	if (p->n > 1)
		qsort(p->v, p->n, sizeof *p->v, param_cmp);
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0)
			buf_char(b, '&');
		buf_str(b, p->v[i].name);
		buf_char(b, '=');
		buf_str(b, p->v[i].value);
	}
}

static void
params_free(struct params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].value);
	}
	free(p->v);
	memset(p, 0, sizeof *p);
}

/* --- canonical headers ----------------------------------------------------- */

struct hdr {
	char *name;	   /* lower-cased */
	const char *value; /* as given */
	size_t order;	   /* position in the request: keeps repeated names in order */
};

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* The AWS JS SDK's list (@smithy/signature-v4 ALWAYS_UNSIGNABLE_HEADERS):
 * headers a proxy or the HTTP stack may add or rewrite after signing. */
static bool
unsignable(const char *lname)
{
	static const char *const names[] = {
		"authorization", "cache-control",     "connection", "expect",	  "from",
		"keep-alive",	 "max-forwards",      "pragma",	    "referer",	  "te",
		"trailer",	 "transfer-encoding", "upgrade",    "user-agent", "x-amzn-trace-id",
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(lname, names[i]) == 0)
			return true;
	return strncmp(lname, "proxy-", 6) == 0 || strncmp(lname, "sec-", 4) == 0;
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A header value trimmed, with each run of whitespace turned into one space. */
static void
buf_header_value(struct buf *b, const char *v)
{
	bool space = false, any = false;
	for (; *v; v++) {
		if (is_ws(*v)) {
			space = any;
			continue;
		}
		if (space)
			buf_char(b, ' ');
		buf_char(b, *v);
		space = false;
		any = true;
	}
}

static char *
lower_dup(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	return d;
}

/* Canonical headers ("name:value\n" each) into ch, the signed list
 * ("a;b;c") into sh.  extra[] are headers the signer adds. */
static bool
write_headers(const struct sigv4_header *hs, size_t n, const struct sigv4_header *extra, size_t nextra, struct buf *ch,
	      struct buf *sh)
{
	bool ok = false;
	size_t count = 0;
	struct hdr *v = calloc(n + nextra + 1, sizeof *v);
	if (!v)
		return false;
	for (size_t i = 0; i < n + nextra; i++) {
		const struct sigv4_header *h = i < n ? &hs[i] : &extra[i - n];
		if (!h->name || !h->value)
			goto out;
		char *lname = lower_dup(h->name);
		if (!lname)
			goto out;
		if (unsignable(lname)) {
			free(lname);
			continue;
		}
		v[count++] = (struct hdr){ lname, h->value, i };
	}
	if (count > 1)
		qsort(v, count, sizeof *v, hdr_cmp);
	for (size_t i = 0; i < count; i++) {
		bool same = i > 0 && strcmp(v[i].name, v[i - 1].name) == 0;
		if (same) {
			buf_char(ch, ',');
		} else {
			if (i > 0) {
				buf_char(ch, '\n');
				buf_char(sh, ';');
			}
			buf_str(ch, v[i].name);
			buf_char(ch, ':');
			buf_str(sh, v[i].name);
		}
		buf_header_value(ch, v[i].value);
	}
	if (count > 0)
		buf_char(ch, '\n');
	ok = !ch->failed && !sh->failed;
out:
	for (size_t i = 0; i < count; i++)
		free(v[i].name);
	free(v);
	return ok;
}

static const struct sigv4_header *
find_header(const struct sigv4_request *req, const char *lname)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name && strcasecmp(req->headers[i].name, lname) == 0)
			return &req->headers[i];
	return NULL;
}

/* --- signing --------------------------------------------------------------- */

/* HMAC chain from the secret to the signing key, then the signature. */
static bool
compute_signature(const char *secret, const char *date8, const char *region, const char *service, const char *sts,
		  char out[65])
{
	bool ok = false;
	size_t slen = strlen(secret);
	unsigned char k[32], sig[32];
	char *ksecret = malloc(slen + 5);
	if (!ksecret)
		return false;
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, secret, slen + 1);
	if (hmac256(ksecret, slen + 4, date8, k) && hmac256(k, 32, region, k) && hmac256(k, 32, service, k) &&
	    hmac256(k, 32, "aws4_request", k) && hmac256(k, 32, sts, sig)) {
		to_hex(sig, 32, out);
		ok = true;
	}
	OPENSSL_cleanse(ksecret, slen + 4);
	OPENSSL_cleanse(k, sizeof k);
	free(ksecret);
	return ok;
}

static bool
nonempty(const char *s)
{
	return s && *s;
}

/* What the steps of one signing share: sign() owns ch, sh and q and frees them. */
struct signing {
	bool presign; /* expires > 0 */
	unsigned expires;
	const char *token; /* the session token, or NULL */
	bool sign_token;   /* the token is a signed header or query parameter */
	char date8[9];
	char scope[512]; /* <date>/<region>/<service>/aws4_request */
	char payload_hash[65];
	struct sigv4_header extra[2]; /* headers signing adds: X-Amz-Date, X-Amz-Security-Token */
	size_t nextra;
	struct buf ch, sh; /* canonical headers, signed header names */
	struct params q;   /* the query, with presigning's parameters */
};

/* Check the request, then fill out->amz_date and s's date, scope and token. */
static bool
sign_scope(const struct sigv4_request *req, const struct sigv4_credentials *creds, struct signing *s,
	   struct sigv4_result *out)
{
	struct tm tm;

	if (!req || !creds || !nonempty(req->method) || !nonempty(req->region) || !nonempty(req->service) ||
	    !nonempty(creds->access_key_id) || !creds->secret_access_key || (req->nheaders > 0 && !req->headers) ||
	    s->expires > MAX_EXPIRES || !gmtime_r(&req->time, &tm) ||
	    strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return false;
	memcpy(s->date8, out->amz_date, 8);
	s->date8[8] = '\0';
	if ((size_t)snprintf(s->scope, sizeof s->scope, "%s/%s/%s/aws4_request", s->date8, req->region, req->service) >=
	    sizeof s->scope)
		return false;
	s->token = nonempty(creds->session_token) ? creds->session_token : NULL;
	s->sign_token = s->token && !req->token_unsigned;
	return true;
}

/* The canonical headers, the payload's hash and the query, presigning's parameters added. */
static bool
sign_inputs(const struct sigv4_request *req, const struct sigv4_credentials *creds, struct signing *s,
	    const struct sigv4_result *out)
{
	if (!s->presign) {
		const struct sigv4_header *d = find_header(req, "x-amz-date");
		if (d && strcmp(d->value ? d->value : "", out->amz_date) != 0)
			return false;
		if (!d)
			s->extra[s->nextra++] = (struct sigv4_header){ "X-Amz-Date", out->amz_date };
		if (s->sign_token && !find_header(req, "x-amz-security-token"))
			s->extra[s->nextra++] = (struct sigv4_header){ "X-Amz-Security-Token", s->token };
	}
	if (!write_headers(req->headers, req->nheaders, s->extra, s->nextra, &s->ch, &s->sh))
		return false;

	if (req->payload_hash) {
		if (strlen(req->payload_hash) >= sizeof s->payload_hash)
			return false;
		strcpy(s->payload_hash, req->payload_hash);
	} else if (!sha256_hex(req->payload ? req->payload : "", req->payload ? req->payload_len : 0,
			       s->payload_hash)) {
		return false;
	}

	params_parse(&s->q, req->query);
	if (s->presign) {
		char exp[16], cred[600];
		snprintf(exp, sizeof exp, "%u", s->expires);
		if ((size_t)snprintf(cred, sizeof cred, "%s/%s", creds->access_key_id, s->scope) >= sizeof cred)
			return false;
		params_add_str(&s->q, "X-Amz-Algorithm", SIGV4_ALGORITHM);
		params_add_str(&s->q, "X-Amz-Credential", cred);
		params_add_str(&s->q, "X-Amz-Date", out->amz_date);
		params_add_str(&s->q, "X-Amz-Expires", exp);
		params_add_str(&s->q, "X-Amz-SignedHeaders", s->sh.p ? s->sh.p : "");
		if (s->sign_token)
			params_add_str(&s->q, "X-Amz-Security-Token", s->token);
	}
	return !s->q.failed;
}

/*
 * The canonical request (out->canonical_request; presigning: its query, out->query),
 * the string to sign and the signature.
 */
static bool
sign_request(const struct sigv4_request *req, const struct sigv4_credentials *creds, struct signing *s,
	     struct sigv4_result *out)
{
	struct buf b = { 0 };
	char creq_hash[65];

	buf_str(&b, req->method);
	buf_char(&b, '\n');
	canonical_path(&b, req->path, req->path_as_is);
	buf_char(&b, '\n');
	size_t qstart = b.len;
	params_write(&b, &s->q);
	size_t qend = b.len;
	buf_char(&b, '\n');
	if (s->ch.p)
		buf_str(&b, s->ch.p);
	buf_char(&b, '\n');
	if (s->sh.p)
		buf_str(&b, s->sh.p);
	buf_char(&b, '\n');
	buf_str(&b, s->payload_hash);
	if (b.failed)
		goto fail;
	if (s->presign) {
		struct buf qb = { 0 };
		buf_add(&qb, b.p + qstart, qend - qstart);
		out->query = buf_take(&qb);
		if (!out->query)
			goto fail;
	}
	out->canonical_request = buf_take(&b);
	if (!out->canonical_request || !sha256_hex(out->canonical_request, strlen(out->canonical_request), creq_hash))
		goto fail;

	buf_str(&b, SIGV4_ALGORITHM "\n");
	buf_str(&b, out->amz_date);
	buf_char(&b, '\n');
	buf_str(&b, s->scope);
	buf_char(&b, '\n');
	buf_str(&b, creq_hash);
	out->string_to_sign = buf_take(&b);
	return out->string_to_sign &&
		compute_signature(creds->secret_access_key, s->date8, req->region, req->service, out->string_to_sign,
				  out->signature);
fail:
	free(b.p);
	return false;
}

/* Presigning: the query to send, the signature (and an unsigned token) appended. */
static bool
sign_query(const struct sigv4_request *req, const struct signing *s, struct sigv4_result *out)
{
	struct buf b = { 0 };

	buf_str(&b, out->query);
	if (*out->query)
		buf_char(&b, '&');
	buf_str(&b, "X-Amz-Signature=");
	buf_str(&b, out->signature);
	if (s->token && req->token_unsigned) {
		buf_str(&b, "&X-Amz-Security-Token=");
		buf_encode(&b, s->token, strlen(s->token), false);
	}
	free(out->query);
	out->query = buf_take(&b);
	return out->query != NULL;
}

/* Header signing: the Authorization header, and the headers to add to the request. */
static bool
sign_headers(const struct sigv4_request *req, const struct sigv4_credentials *creds, const struct signing *s,
	     struct sigv4_result *out)
{
	struct buf b = { 0 };

	buf_str(&b, SIGV4_ALGORITHM " Credential=");
	buf_str(&b, creds->access_key_id);
	buf_char(&b, '/');
	buf_str(&b, s->scope);
	buf_str(&b, ", SignedHeaders=");
	if (s->sh.p)
		buf_str(&b, s->sh.p);
	buf_str(&b, ", Signature=");
	buf_str(&b, out->signature);
	out->authorization = buf_take(&b);
	if (!out->authorization)
		return false;
	for (size_t i = 0; i < s->nextra; i++)
		out->headers[out->nheaders++] = s->extra[i];
	if (s->token && req->token_unsigned && !find_header(req, "x-amz-security-token"))
		out->headers[out->nheaders++] = (struct sigv4_header){ "X-Amz-Security-Token", s->token };
	out->headers[out->nheaders++] = (struct sigv4_header){ "Authorization", out->authorization };
	return true;
}

/* Both faces of SigV4: presign (expires > 0) or header signing (expires == 0). */
static bool
sign(const struct sigv4_request *req, const struct sigv4_credentials *creds, unsigned expires, struct sigv4_result *out)
{
	struct signing s = { .presign = expires > 0, .expires = expires };

	memset(out, 0, sizeof *out);
	bool ok = sign_scope(req, creds, &s, out) && sign_inputs(req, creds, &s, out) &&
		sign_request(req, creds, &s, out) &&
		(s.presign ? sign_query(req, &s, out) : sign_headers(req, creds, &s, out));
	free(s.ch.p);
	free(s.sh.p);
	params_free(&s.q);
	if (!ok)
		sigv4_result_free(out);
	return ok;
}

bool
sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds, struct sigv4_result *out)
{
	return sign(req, creds, 0, out);
}

bool
sigv4_presign(const struct sigv4_request *req, const struct sigv4_credentials *creds, unsigned expires,
	      struct sigv4_result *out)
{
	if (expires == 0) {
		memset(out, 0, sizeof *out);
		return false;
	}
	return sign(req, creds, expires, out);
}

void
sigv4_result_free(struct sigv4_result *r)
{
	if (!r)
		return;
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->authorization);
	free(r->query);
	memset(r, 0, sizeof *r);
}

bool
sigv4_rds_iam_token(const char *host, unsigned port, const char *region, const char *user,
		    const struct sigv4_credentials *creds, time_t time, char **token)
{
	struct buf hb = { 0 }, qb = { 0 }, tb = { 0 };
	struct sigv4_result r;
	bool ok = false;

	*token = NULL;
	if (!nonempty(host) || !user || port == 0 || port > 65535)
		return false;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	buf_str(&hb, host);
	buf_char(&hb, ':');
	buf_str(&hb, portstr);
	buf_str(&qb, "Action=connect&DBUser=");
	buf_encode(&qb, user, strlen(user), false);
	char *hostport = buf_take(&hb), *query = buf_take(&qb);
	if (!hostport || !query)
		goto out;

	struct sigv4_header h = { "host", hostport };
	struct sigv4_request req = {
		.method = "GET",
		.path = "/",
		.query = query,
		.headers = &h,
		.nheaders = 1,
		.region = region,
		.service = "rds-db",
		.time = time,
	};
	if (!sigv4_presign(&req, creds, 900, &r))
		goto out;
	buf_str(&tb, hostport);
	buf_str(&tb, "/?");
	buf_str(&tb, r.query);
	OPENSSL_cleanse(r.query, strlen(r.query));
	sigv4_result_free(&r);
	*token = buf_take(&tb);
	ok = *token != NULL;
out:
	free(hostport);
	free(query);
	return ok;
}
