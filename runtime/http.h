/*
 * http.h - a small HTTP client over libcurl: one request at a time, headers in
 * and out, a bounded body, timeouts.  The Lambda loop talks to the Runtime API
 * with it; Secrets Manager and CodeDeploy (SigV4-signed HTTPS) will use it too,
 * which is why the caller passes every header itself.
 *
 *   struct http_client *c = http_client_new() MUSTCHECK;
 *   struct http_request rq = { .method = "GET", .url = "http://127.0.0.1:9001/ping" };
 *   struct http_response rs;
 *   if (http_do(c, &rq, &rs))
 *           printf("%ld %s\n", rs.status, http_header(&rs, "content-type"));
 *   http_response_free(&rs);
 *   http_client_free(c);
 *
 * The client keeps its connection alive between requests (the Runtime API is
 * one long-lived local connection).
 */
#ifndef GOSLING_HTTP_H
#define GOSLING_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "attr.h" /* MUSTCHECK */

struct http_client;

struct http_header {
	const char *name;
	const char *value;
};

/*
 * Which proxy a request may take.  The Runtime API is a local endpoint and
 * never goes through one (aws-lambda-cpp sets an empty CURLOPT_PROXY for the
 * same reason), whatever http_proxy or ALL_PROXY say.  AWS calls take the
 * proxy the AWS SDKs take: HTTPS_PROXY (else https_proxy) for an https://
 * URL, HTTP_PROXY (else http_proxy) for an http:// one, never ALL_PROXY,
 * except for hosts NO_PROXY (else no_proxy) names (comma-separated host names
 * or domain suffixes, "*" for all; libcurl's matching).
 */
enum http_proxy {
	HTTP_PROXY_NONE,
	HTTP_PROXY_AWS
};

struct http_request {
	const char *method;    /* "GET", "POST", ... */
	enum http_proxy proxy; /* HTTP_PROXY_NONE unless set */
	const char *url;
	const struct http_header *headers; /* sent as given; may be NULL */
	size_t nheaders;
	const char *body; /* NULL: no body */
	size_t len;
	long timeout_ms;	 /* whole request; 0 = wait for ever */
	long connect_timeout_ms; /* 0 = libcurl's default */
	size_t max_body;	 /* a longer response body fails; 0 = 16 MiB */
	bool fresh;		 /* on a new connection: libcurl sends a request again by
						 * itself when a kept-alive connection turns out closed,
						 * which a request that must not run twice cannot have */
};

struct http_response {
	long status; /* 0 when no response arrived */
	char *body;  /* NUL-terminated, malloc'd (may hold NULs before len) */
	size_t len;
	struct http_header *headers; /* as received, names and values owned */
	size_t nheaders;
	char error[256]; /* why http_do failed: libcurl's text */
	bool transient;	 /* http_do failed on the network (cannot connect, connection
					 * reset, timeout): worth another attempt; false for an
					 * untrusted certificate, a bad URL, a body too long */
	bool sent;	 /* transient, and after connecting: the request may have reached
					 * the peer (another attempt may do its work twice) */
};

/* http_global_init - once per process, before any client; false when libcurl cannot start. */
bool http_global_init(void) MUSTCHECK;
void http_global_cleanup(void);

/* http_client_new - NULL when out of memory. */
struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);

/*
 * http_do - send rq and read the whole response into *rs (always initialised;
 * free it with http_response_free).  Returns false on a transport failure
 * (cannot connect, connection broken, timeout, body too long), with rs->error
 * set; any HTTP status, 500 included, is a success here: look at rs->status.
 */
bool http_do(struct http_client *c, const struct http_request *rq, struct http_response *rs) MUSTCHECK;

/* http_header - the value of the last response header called name (ASCII case-insensitive), or NULL. */
const char *http_header(const struct http_response *rs, const char *name);

void http_response_free(struct http_response *rs);

/*
 * http_response_header_line - take one raw header line as libcurl hands it over
 * ("Name: value\r\n"; a status line starts a new set, a line without ':' is
 * skipped).  http_do's header callback; public so that tests/fuzz can feed it.
 * False when out of memory.
 */
bool http_response_header_line(struct http_response *rs, const char *data, size_t len) MUSTCHECK;

#endif
