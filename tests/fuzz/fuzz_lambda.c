/*
 * fuzz_lambda.c - libFuzzer target over what the Lambda loop reads from the
 * Runtime API: the header lines of a /next response as libcurl hands them over
 * (http_response_header_line), the invocation's headers (lambda_next_headers),
 * and the event in its body (lambda_event_decode, which the CLI's --event
 * uses too).
 *
 * The input is a raw response: header lines up to the first empty line, then
 * the body.  Seeds are in tests/fuzz/seeds/lambda/.
 */
#include "http.h"
#include "lambda.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A string the loop takes from a header must not reach past the header's bytes. */
static void check_within(const struct http_response *rs, const char *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < rs->nheaders; i++)
		if (p == rs->headers[i].value)
			return;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct http_response rs;
	struct lambda_next nx;
	struct lambda_event ev;
	size_t pos = 0;
	char err[1024], *body;

	memset(&rs, 0, sizeof rs);
	/* header lines, each with its line end as libcurl passes it */
	while (pos < size) {
		const char *nl = memchr(s + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - s) + 1 : size, n = end - pos;
		bool blank = (n == 1 && s[pos] == '\n') || (n == 2 && s[pos] == '\r' && s[pos + 1] == '\n');

		if (!http_response_header_line(&rs, s + pos, n))
			abort();
		pos = end;
		if (blank)
			break;	/* the empty line that ends the headers */
	}
	for (size_t i = 0; i < rs.nheaders; i++)
		if (!rs.headers[i].name || !rs.headers[i].value || strchr(rs.headers[i].value, '\n'))
			abort();

	lambda_next_headers(&rs, &nx);
	check_within(&rs, nx.id);
	check_within(&rs, nx.arn);
	check_within(&rs, nx.trace);
	if (nx.id && (!*nx.id || strlen(nx.id) > 256 || strpbrk(nx.id, "/?#% ")))
		abort();
	if (nx.bad_deadline && nx.deadline_ms != 0)
		abort();

	/* the body, as the loop has it: NUL-terminated, len bytes (NULs may be inside) */
	body = malloc(size - pos + 1);
	if (!body)
		abort();
	memcpy(body, s + pos, size - pos);
	body[size - pos] = '\0';
	err[0] = '\0';
	if (!lambda_event_decode(body, size - pos, &ev, err, sizeof err)) {
		if (!err[0])
			abort();	/* a refusal always says why */
	} else if (ev.kind == LAMBDA_TF_DELETE && strcmp(ev.tf_action, "delete") != 0) {
		abort();
	}
	free(body);
	http_response_free(&rs);
	return 0;
}
