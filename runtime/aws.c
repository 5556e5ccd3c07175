/* aws.c - signed AWS JSON calls with the SDKs' standard retry mode. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "aws.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "sigv4.h"

#define CONTENT_TYPE "application/x-amz-json-1.1"
#define CONTENT_TYPE_REST "application/json"
#define ATTEMPT_TIMEOUT_MS 10000L /* one attempt, at most */
#define CONNECT_TIMEOUT_MS 5000L
#define MIN_ATTEMPT_MS 500 /* an attempt with less time left is not started */
#define MAX_BACKOFF_MS 20000

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *
aws_region(void)
{
	const char *r = env("AWS_REGION");

	return r ? r : env("AWS_DEFAULT_REGION");
}

bool
aws_credentials(struct sigv4_credentials *cr, const char *who, char *err, size_t errlen)
{
	cr->access_key_id = env("AWS_ACCESS_KEY_ID");
	cr->secret_access_key = env("AWS_SECRET_ACCESS_KEY");
	cr->session_token = env("AWS_SESSION_TOKEN");
	if (!cr->access_key_id || !cr->secret_access_key)
		return errorf(err, errlen,
			      "%s needs AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", who);
	return true;
}

/* --- where to send it ------------------------------------------------------------------ */

struct endpoint {
	char url[600];	/* https://secretsmanager.eu-west-2.amazonaws.com/ */
	char host[256]; /* what is signed: host[:port] */
	char path[256]; /* "/" or the override's path */
};

/* The DNS suffix of region's partition (the SDKs' partitions.json). */
static const char *
partition_domain(const char *region)
{
	if (strncmp(region, "cn-", 3) == 0)
		return "amazonaws.com.cn";
	if (strncmp(region, "us-isob-", 8) == 0)
		return "sc2s.sgov.gov";
	if (strncmp(region, "us-iso-", 7) == 0)
		return "c2s.ic.gov";
	return "amazonaws.com";
}

bool
aws_rds_region(const char *host, char *out, size_t outlen)
{
	static const char *const suffixes[] = {
		".rds.amazonaws.com",
		".rds.amazonaws.com.cn",
		".rds.c2s.ic.gov",
		".rds.sc2s.sgov.gov",
	};
	size_t len = strlen(host);

	if (len > 0 && host[len - 1] == '.') /* a fully qualified name */
		len--;
	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		size_t sl = strlen(suffixes[i]), start;

		if (len <= sl || strncasecmp(host + len - sl, suffixes[i], sl) != 0)
			continue;
		start = len - sl;
		while (start > 0 && host[start - 1] != '.')
			start--;
		/* a region: letters and dashes, ending in "-<digits>" (us-gov-west-1), with a name before it */
		if (start == 0 || len - sl - start >= outlen || len - sl - start < 4)
			return false;
		snprintf(out, outlen, "%.*s", (int)(len - sl - start), host + start);
		for (char *p = out; *p; p++) /* host names are case-insensitive */
			*p = (char)tolower((unsigned char)*p);
		if (strspn(out, "abcdefghijklmnopqrstuvwxyz-0123456789") != strlen(out))
			return false;
		return strchr(out, '-') && out[strlen(out) - 1] >= '0' && out[strlen(out) - 1] <= '9';
	}
	return false;
}

static bool
endpoint_find(const struct aws_service *svc, const char *region, struct endpoint *ep, char *err, size_t errlen)
{
	const char *name = svc->endpoint_env, *e = env(name);

	if (!e) {
		name = "AWS_ENDPOINT_URL";
		e = env(name);
	}
	if (e) {
		bool https = strncmp(e, "https://", 8) == 0;
		const char *h = https ? e + 8 : strncmp(e, "http://", 7) == 0 ? e + 7 : NULL;
		size_t n = h ? strcspn(h, "/?#") : 0;

		if (!h || n == 0 || n >= sizeof ep->host || (svc->https_only && !https))
			return errorf(err, errlen, "%s must be an %s URL", name,
				      svc->https_only ? "https://" : "http(s)://");
		snprintf(ep->host, sizeof ep->host, "%.*s", (int)n, h);
		snprintf(ep->path, sizeof ep->path, "%s", h[n] == '/' ? h + n : "/");
		snprintf(ep->url, sizeof ep->url, "%.*s%s%s", (int)(h - e), e, ep->host, ep->path);
		return true;
	}
	snprintf(ep->host, sizeof ep->host, "%s.%s.%s", svc->name, region, partition_domain(region));
	snprintf(ep->path, sizeof ep->path, "/");
	snprintf(ep->url, sizeof ep->url, "https://%s/", ep->host);
	return true;
}

/* --- AWS's errors ------------------------------------------------------------------------ */

/* The error code alone: "ThrottlingException" from "com.amazon.coral#ThrottlingException" or the header. */
static void
error_code(const struct http_response *rs, json_t *o, char *code, size_t codelen)
{
	const char *type = o ? json_string_value(json_object_get(o, "__type")) : NULL, *hash;

	if (!type)
		type = http_header(rs, "x-amzn-ErrorType");
	code[0] = '\0';
	if (!type)
		return;
	if ((hash = strrchr(type, '#')) != NULL)
		type = hash + 1;
	snprintf(code, codelen, "%.*s", (int)strcspn(type, ":"), type); /* the header may add ":http://..." */
}

void
aws_error_code(const struct http_response *rs, char *code, size_t codelen)
{
	json_t *o = json_loadb(rs->body ? rs->body : "", rs->len, 0, NULL);

	error_code(rs, json_is_object(o) ? o : NULL, code, codelen);
	json_decref(o);
}

void
aws_error_text(const struct http_response *rs, char *out, size_t outlen)
{
	json_t *o = json_loadb(rs->body ? rs->body : "", rs->len, 0, NULL);
	const char *msg = NULL;
	char code[128];

	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	if (o && !(msg = json_string_value(json_object_get(o, "message"))))
		msg = json_string_value(json_object_get(o, "Message"));
	error_code(rs, o, code, sizeof code);
	if (code[0])
		snprintf(out, outlen, "%s: %s", code, msg ? msg : "(no message)");
	else
		snprintf(out, outlen, "HTTP %ld", rs->status);
	json_decref(o);
}

/* --- the retry policy -------------------------------------------------------------------- */

/* botocore retries/standard.py: TransientRetryableChecker and ThrottledRetryableChecker. */
static bool
retryable_answer(const struct aws_service *svc, const struct http_response *rs)
{
	static const char *const codes[] = {
		/* transient */
		"RequestTimeout",
		"RequestTimeoutException",
		"PriorRequestNotComplete",
		/* throttling */
		"Throttling",
		"ThrottlingException",
		"ThrottledException",
		"RequestThrottledException",
		"TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException",
		"RequestLimitExceeded",
		"BandwidthLimitExceeded",
		"LimitExceededException",
		"RequestThrottled",
		"SlowDown",
		"EC2ThrottledException",
	};
	char code[128];

	if (rs->status == 500 || rs->status == 502 || rs->status == 503 || rs->status == 504)
		return true;
	aws_error_code(rs, code, sizeof code);
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	for (const char *const *c = svc->retryable; c && *c; c++)
		if (strcmp(code, *c) == 0)
			return true;
	return false;
}

/* The wait before attempt `attempt + 1`: full jitter, rand(0,1) * min(2^(attempt-1) s, 20 s). */
static int64_t
backoff_ms(int attempt)
{
	int64_t cap = (int64_t)1000 << (attempt - 1);
	uint32_t r;

	if (cap > MAX_BACKOFF_MS)
		cap = MAX_BACKOFF_MS;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint32_t)ts.tv_nsec * 2654435761u;
	}
	return (int64_t)((double)r / 4294967296.0 * (double)cap);
}

/* Sleep ms whole: a signal does not cut an AWS retry's backoff short. */
static void
sleep_ms(int64_t ms)
{
	int64_t until = clock_now_ms() + ms, left;

	while ((left = until - clock_now_ms()) > 0)
		clock_sleep_ms(left);
}

/* --- one attempt ------------------------------------------------------------------------- */

static bool
attempt(struct http_client *http, const struct aws_request *rq, const struct endpoint *ep, const char *region,
	const struct sigv4_credentials *cr, long timeout, struct http_response *rs, char *err, size_t errlen)
{
	bool rest = rq->service->target_prefix == NULL;
	const char *ctype = rest ? CONTENT_TYPE_REST : CONTENT_TYPE;
	char target[160], path[512], url[1024];
	struct sigv4_result sig = { 0 };
	struct sigv4_header sh[] = { { "host", ep->host }, { "content-type", ctype }, { "x-amz-target", target } };
	struct sigv4_request sr = {
		.method = "POST",
		.path = path,
		.headers = sh,
		.nheaders = rest ? 2 : 3,
		.payload = rq->body,
		.payload_len = rq->len,
		.region = region,
		.service = rq->service->name,
		.time = time(NULL),
	};
	struct http_header hh[3 + 3];
	size_t nh = 0;
	struct http_request hr = {
		.method = "POST",
		.url = url,
		.proxy = HTTP_PROXY_AWS,
		.headers = hh,
		.body = rq->body,
		.len = rq->len,
		.timeout_ms = timeout,
		.connect_timeout_ms = CONNECT_TIMEOUT_MS,
		.max_body = rq->max_body ? rq->max_body : 1u << 20,
		.fresh = rq->once,
	};
	bool ok;

	if (rest) { /* the endpoint's path, then the operation's requestUri: "/" + "/Execute" = "/Execute" */
		size_t pl = strlen(ep->path);

		while (pl > 0 && ep->path[pl - 1] == '/')
			pl--;
		snprintf(path, sizeof path, "%.*s%s", (int)pl, ep->path, rq->uri);
	} else
		snprintf(path, sizeof path, "%s", ep->path);
	snprintf(url, sizeof url, "%.*s%s", (int)(strlen(ep->url) - strlen(ep->path)), ep->url, path);
	snprintf(target, sizeof target, "%s.%s", rest ? "" : rq->service->target_prefix, rq->operation);
	if (!sigv4_sign(&sr, cr, &sig)) {
		memset(rs, 0, sizeof *rs);
		return errorf(err, errlen, "unable to sign the request to %s", rq->service->name);
	}
	hh[nh++] = (struct http_header){ "Host", ep->host };
	hh[nh++] = (struct http_header){ "Content-Type", ctype };
	if (!rest)
		hh[nh++] = (struct http_header){ "X-Amz-Target", target };
	for (size_t i = 0; i < sig.nheaders && nh < sizeof hh / sizeof *hh; i++)
		hh[nh++] = (struct http_header){ sig.headers[i].name, sig.headers[i].value };
	hr.nheaders = nh;
	ok = http_do(http, &hr, rs);
	sigv4_result_free(&sig);
	if (!ok)
		return errorf(err, errlen, "%s", rs->error);
	return true;
}

bool
aws_call(struct http_client *http, const struct aws_request *rq, struct http_response *rs, char *err, size_t errlen)
{
	const char *region = rq->region ? rq->region : aws_region();
	const char *op = rq->operation;
	struct sigv4_credentials cr;
	struct endpoint ep;
	char why[768] = "";

	memset(rs, 0, sizeof *rs);
	if (!region)
		return errorf(err, errlen, "%s needs an AWS region: set AWS_REGION", rq->who);
	if (!aws_credentials(&cr, rq->who, err, errlen) || !endpoint_find(rq->service, region, &ep, err, errlen))
		return false;
	for (int n = 1;; n++) {
		/* late or not, the first attempt is made: a report nobody sends leaves a deployment waiting */
		int64_t most = rq->attempt_ms > 0 ? rq->attempt_ms : ATTEMPT_TIMEOUT_MS;
		int64_t timeout = rq->deadline_ms ? rq->deadline_ms - clock_now_ms() : most, wait;
		bool answered, retry;

		if (timeout > most)
			timeout = most;
		if (timeout < MIN_ATTEMPT_MS)
			timeout = MIN_ATTEMPT_MS;
		log_debug("%s %s at %s (region %s), attempt %d", rq->service->name, op, ep.url, region, n);
		http_response_free(rs);
		answered = attempt(http, rq, &ep, region, &cr, (long)timeout, rs, why, sizeof why);
		if (answered && rs->status >= 200 && rs->status < 300) {
			if (n > 1)
				log_info("%s %s succeeded after %d retr%s", rq->service->name, op, n - 1,
					 n == 2 ? "y" : "ies");
			return true;
		}
		if (answered)
			aws_error_text(rs, why, sizeof why);
		retry = answered ? retryable_answer(rq->service, rs) : rs->transient && !(rq->once && rs->sent);
		if (!retry || n == AWS_MAX_ATTEMPTS)
			return n > 1 ? errorf(err, errlen, "%s (%d attempts)", why, n) : errorf(err, errlen, "%s", why);
		wait = backoff_ms(n);
		if (rq->deadline_ms && clock_now_ms() + wait + MIN_ATTEMPT_MS > rq->deadline_ms)
			return errorf(err, errlen, "%s (%d attempt%s; no time left for another before the deadline)",
				      why, n, n == 1 ? "" : "s");
		log_warn("%s %s: %s; retry %d of %d in %lld ms", rq->service->name, op, why, n, AWS_MAX_ATTEMPTS - 1,
			 (long long)wait);
		sleep_ms(wait);
	}
}
