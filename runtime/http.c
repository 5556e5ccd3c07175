/* http.c - HTTP requests through one reused libcurl easy handle. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cacert.h"
#include "http.h"

#define HTTP_MAX_BODY_DEFAULT (16u << 20)

struct http_client {
	CURL *curl;
};

/* What the callbacks fill while one request runs. */
struct exchange {
	struct http_response *rs;
	struct buf body; /* rs->body once the transfer ends */
	size_t max;
	bool too_long;
	bool nomem;
};

bool
http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void
http_global_cleanup(void)
{
	curl_global_cleanup();
}

struct http_client *
http_client_new(void)
{
	struct http_client *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *x = arg;
	size_t len = size * n;

	if (x->body.len + len > x->max) {
		x->too_long = true;
		return 0; /* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	buf_add(&x->body, data, len);
	return x->body.failed ? 0 : len;
}

static void
headers_clear(struct http_response *rs)
{
	for (size_t i = 0; i < rs->nheaders; i++) {
		free((char *)rs->headers[i].name);
		free((char *)rs->headers[i].value);
	}
	free(rs->headers);
	rs->headers = NULL;
	rs->nheaders = 0;
}

static size_t
trim_len(const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return len;
}

/* One header line at a time; a status line starts a new set (after a 100 Continue, say). */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *x = arg;
	size_t len = size * n;

	if (!http_response_header_line(x->rs, data, len)) {
		x->nomem = true;
		return 0;
	}
	return len;
}

bool
http_response_header_line(struct http_response *rs, const char *data, size_t len)
{
	const char *colon;
	struct http_header *h;
	size_t nlen, voff;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		headers_clear(rs);
		return true;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return true; /* the blank line that ends the headers */
	nlen = trim_len(data, (size_t)(colon - data));
	voff = (size_t)(colon - data) + 1;
	while (voff < len && (data[voff] == ' ' || data[voff] == '\t'))
		voff++;
	h = realloc(rs->headers, (rs->nheaders + 1) * sizeof *h);
	if (!h)
		return false;
	rs->headers = h;
	h = &rs->headers[rs->nheaders];
	h->name = strndup(data, nlen);
	h->value = strndup(data + voff, trim_len(data + voff, len - voff));
	if (!h->name || !h->value) {
		free((char *)h->name);
		free((char *)h->value);
		return false;
	}
	rs->nheaders++;
	return true;
}

/*
 * One request header onto the list, whatever its length: a Lambda session
 * token (X-Amz-Security-Token) runs to several KB.  NULL when out of memory
 * (hl is then unchanged).
 */
static struct curl_slist *
header_append(struct curl_slist *hl, const struct http_header *h)
{
	size_t nlen = strlen(h->name), vlen = strlen(h->value);
	char *line = malloc(nlen + 2 + vlen + 1);
	struct curl_slist *nl;

	if (!line)
		return NULL;
	memcpy(line, h->name, nlen);
	memcpy(line + nlen, ": ", 2);
	memcpy(line + nlen + 2, h->value, vlen + 1);
	nl = curl_slist_append(hl, line);
	explicit_bzero(line, nlen + 2 + vlen); /* it may hold a session token */
	free(line);
	return nl;
}

static const char *
env_either(const char *upper, const char *lower)
{
	const char *v = getenv(upper);

	if (!v || !*v)
		v = getenv(lower);
	return v && *v ? v : NULL;
}

/* Set the proxy for rq explicitly, so that libcurl reads no *_proxy variable itself. */
static void
proxy_set(CURL *h, const struct http_request *rq)
{
	const char *proxy = NULL, *noproxy = NULL;

	if (rq->proxy == HTTP_PROXY_AWS) {
		proxy = strncmp(rq->url, "https:", 6) == 0 ? env_either("HTTPS_PROXY", "https_proxy")
							   : env_either("HTTP_PROXY", "http_proxy");
		noproxy = env_either("NO_PROXY", "no_proxy");
	}
	curl_easy_setopt(h, CURLOPT_PROXY, proxy ? proxy : "");
	curl_easy_setopt(h, CURLOPT_NOPROXY, noproxy ? noproxy : "");
}

/* Failures where another attempt may succeed: the network, not the request or the peer's identity. */
static bool
transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

bool
http_do(struct http_client *c, const struct http_request *rq, struct http_response *rs)
{
	struct exchange x = { .rs = rs, .max = rq->max_body ? rq->max_body : HTTP_MAX_BODY_DEFAULT };
	struct curl_slist *hl = NULL;
	CURL *h = c->curl;
	CURLcode rc;
	bool ok = false;

	memset(rs, 0, sizeof *rs);
	for (size_t i = 0; i < rq->nheaders; i++) {
		struct curl_slist *nl = header_append(hl, &rq->headers[i]);

		if (!nl)
			goto nomem;
		hl = nl;
	}
	if (rq->body) {
		/* the Runtime API answers at once: no "Expect: 100-continue" round trip */
		struct curl_slist *nl = curl_slist_append(hl, "Expect:");

		if (!nl)
			goto nomem;
		hl = nl;
	}

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, rq->fresh ? 1L : 0L);
	if (rq->connect_timeout_ms)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	proxy_set(h, rq);
	if (strncmp(rq->url, "https:", 6) == 0 && cacert_system())
		curl_easy_setopt(h, CURLOPT_CAINFO, cacert_system());
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->len : 0));
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
		}
	}

	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	rs->len = x.body.len;
	if (!(rs->body = buf_take(&x.body))) /* "" when there was no body */
		rs->len = 0;
	if (x.nomem || !rs->body)
		goto nomem;
	if (x.too_long) {
		snprintf(rs->error, sizeof rs->error, "%s %s: response body longer than %zu bytes", rq->method, rq->url,
			 x.max);
		goto out;
	}
	if (rc != CURLE_OK) {
		rs->transient = transient(rc);
		rs->sent = rs->transient && rc != CURLE_COULDNT_RESOLVE_PROXY && rc != CURLE_COULDNT_RESOLVE_HOST &&
			rc != CURLE_COULDNT_CONNECT && rc != CURLE_SSL_CONNECT_ERROR;
		snprintf(rs->error, sizeof rs->error, "%s %s: %s", rq->method, rq->url, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	ok = true;
	goto out;
nomem:
	snprintf(rs->error, sizeof rs->error, "%s %s: out of memory", rq->method, rq->url);
out:
	curl_slist_free_all(hl);
	return ok;
}

const char *
http_header(const struct http_response *rs, const char *name)
{
	for (size_t i = rs->nheaders; i-- > 0;)
		if (strcasecmp(rs->headers[i].name, name) == 0)
			return rs->headers[i].value;
	return NULL;
}

void
http_response_free(struct http_response *rs)
{
	headers_clear(rs);
	free(rs->body);
	rs->body = NULL;
	rs->len = 0;
}
