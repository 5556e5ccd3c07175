/*
 * checksum.c - the c1, x1, p1 and h1 checksums and the build id (checksum.h), over
 * OpenSSL's SHA-256; shared by goslingc and gosling.
 */
#include "bundle.h"
#include "checksum.h"

#include <openssl/evp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * SHA-256 through OpenSSL's EVP interface, written as "<prefix><hex>".  OpenSSL may
 * fail to allocate its context: the failure is sticky (later adds do nothing) and
 * sha_done reports it, so every checksum function returns false instead of abort()ing
 * in the middle of an invocation.
 */
struct sha {
	EVP_MD_CTX *ctx;
	bool failed;
};

static void
sha_init(struct sha *h)
{
	h->ctx = EVP_MD_CTX_new();
	h->failed = !h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

static void
sha_add(struct sha *h, const void *p, size_t n)
{
	if (!h->failed && n && !EVP_DigestUpdate(h->ctx, p, n))
		h->failed = true;
}

static void sha_addf(struct sha *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
sha_addf(struct sha *h, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sha_add(h, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* The digest into out, and the context freed; false (out "") when anything failed. */
static bool
sha_done(struct sha *h, const char *prefix, char out[CHECKSUM_LEN])
{
	unsigned char md[32];
	unsigned int n = 0;
	size_t plen = strlen(prefix);

	if (!h->failed && (!EVP_DigestFinal_ex(h->ctx, md, &n) || n != 32))
		h->failed = true;
	EVP_MD_CTX_free(h->ctx);
	out[0] = '\0';
	if (h->failed)
		return false;
	memcpy(out, prefix, plen);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + plen + 2 * i, 3, "%02x", md[i]);
	return true;
}

bool
checksum_file(const char *data, size_t len, char out[CHECKSUM_LEN])
{
	struct sha h;
	size_t start = len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0, end = len, from = start;

	/* the canonical form, fed in runs between the bytes it changes: no copy of the file */
	while (end > start && (data[end - 1] == '\n' || data[end - 1] == '\r'))
		end--;
	sha_init(&h);
	for (size_t i = start; i < end; i++) {
		if (data[i] == '\r') {
			sha_add(&h, data + from, i - from);
			sha_add(&h, "\n", 1);
			if (data[i + 1] == '\n') /* i + 1 < end: data[end - 1] is no CR */
				i++;
			from = i + 1;
		}
	}
	sha_add(&h, data + from, end - from);
	if (end > start)
		sha_add(&h, "\n", 1);
	return sha_done(&h, CHECKSUM_FILE_PREFIX, out);
}

static void
add_stmts(struct sha *h, const char *dir, const struct stmt *s, uint32_t n)
{
	sha_addf(h, "%s %" PRIu32 "\n", dir, n);
	for (uint32_t i = 0; i < n; i++) {
		sha_addf(h, "%" PRIu32 "\n", s[i].len);
		sha_add(h, s[i].sql, s[i].len);
		sha_add(h, "\n", 1);
		for (uint32_t j = 0; j < s[i].nenvsub; j++)
			sha_addf(h, "envsub %" PRIu32 " %" PRIu32 "\n", s[i].envsub[j].start, s[i].envsub[j].end);
	}
}

bool
checksum_exec(const struct migration *m, char out[CHECKSUM_LEN])
{
	struct sha h;

	sha_init(&h);
	sha_addf(&h, "gosling-x1\ntx %d\n", m->no_transaction ? 0 : 1);
	add_stmts(&h, "up", m->up, m->nup);
	add_stmts(&h, "down", m->down, m->ndown);
	return sha_done(&h, CHECKSUM_EXEC_PREFIX, out);
}

bool
checksum_done(const struct migration *m, uint32_t n, char out[CHECKSUM_LEN])
{
	struct sha h;

	sha_init(&h);
	sha_addf(&h, "gosling-p1\n");
	add_stmts(&h, "up", m->up, n < m->nup ? n : m->nup);
	return sha_done(&h, CHECKSUM_DONE_PREFIX, out);
}

bool
checksum_chain(const char *prev, int64_t version, const char *exec, char out[CHECKSUM_LEN])
{
	struct sha h;

	sha_init(&h);
	sha_addf(&h, "%s\n%" PRId64 "\n", prev ? prev : "", version);
	sha_add(&h, exec, strlen(exec));
	sha_add(&h, "\n", 1);
	return sha_done(&h, CHECKSUM_CHAIN_PREFIX, out);
}

bool
checksum_build_id(const struct migration *m, uint32_t n, char out[17])
{
	struct sha h;
	char full[CHECKSUM_LEN];

	sha_init(&h);
	sha_addf(&h, "gosling-build-1\n");
	for (uint32_t i = 0; i < n; i++) {
		sha_addf(&h, "%" PRId64 " ", m[i].version);
		sha_add(&h, m[i].name, strlen(m[i].name));
		sha_addf(&h, " %s %s\n", m[i].file_checksum, m[i].exec_checksum);
	}
	if (!sha_done(&h, "", full))
		return false;
	memcpy(out, full, 16);
	out[16] = '\0';
	return true;
}
