/*
 * zip.c - a reproducible zip archive (PKWARE APPNOTE 6.3: local headers, data, central
 * directory, end record), members deflated with zlib.
 */
#include "zip.h"
#include "buf.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ZIP_DOS_DATE ((0 << 9) | (1 << 5) | 1) /* 1980-01-01 */
#define ZIP_DOS_TIME 0			       /* 00:00:00 */
#define ZIP_VERSION 20			       /* 2.0: deflate */
#define ZIP_MADE_BY_UNIX (3 << 8)

static void
put16(struct buf *b, unsigned v)
{
	unsigned char c[2] = { v & 0xff, (v >> 8) & 0xff };
	buf_add(b, c, 2);
}

static void
put32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff };
	buf_add(b, c, 4);
}

/* deflate_raw - data deflated (raw, level 9) onto the end of b; its compressed size in *clen. */
static bool
deflate_raw(struct buf *b, const unsigned char *data, size_t len, size_t *clen, char *err, size_t errlen)
{
	z_stream z = { 0 };
	uLong bound;
	int rc;

	if (deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		snprintf(err, errlen, "unable to start zlib's deflate: %s", z.msg ? z.msg : "out of memory");
		return false;
	}
	bound = deflateBound(&z, (uLong)len);
	if (!buf_reserve(b, bound)) {
		deflateEnd(&z);
		snprintf(err, errlen, "unable to deflate %zu bytes: out of memory", len);
		return false;
	}
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)b->p + b->len;
	z.avail_out = (uInt)(b->cap - b->len - 1); /* the NUL buf keeps after len */
	rc = deflate(&z, Z_FINISH);
	if (rc != Z_STREAM_END) {
		snprintf(err, errlen, "unable to deflate %zu bytes: zlib error %d", len, rc);
		deflateEnd(&z);
		return false;
	}
	*clen = z.total_out;
	b->len += z.total_out;
	b->p[b->len] = '\0';
	deflateEnd(&z);
	return true;
}

bool
zip_build(const struct zip_entry *entries, size_t n, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf b = { 0 }, cd = { 0 };

	for (size_t i = 0; i < n; i++) {
		const struct zip_entry *e = &entries[i];
		size_t name_len = strlen(e->name), header = b.len, sizes, clen;
		uint32_t crc;

		if (e->len >= UINT32_MAX || name_len > UINT16_MAX) {
			snprintf(err, errlen, "unable to zip %s: %zu bytes is too large for a zip without zip64",
				 e->name, e->len);
			goto fail;
		}
		crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), e->data, (uInt)e->len);
		put32(&b, 0x04034b50);
		put16(&b, ZIP_VERSION);
		put16(&b, 0); /* flags */
		put16(&b, Z_DEFLATED);
		put16(&b, ZIP_DOS_TIME);
		put16(&b, ZIP_DOS_DATE);
		put32(&b, crc);
		sizes = b.len;
		put32(&b, 0); /* compressed size, filled in below */
		put32(&b, (uint32_t)e->len);
		put16(&b, (unsigned)name_len);
		put16(&b, 0); /* extra */
		buf_add(&b, e->name, name_len);
		if (!deflate_raw(&b, e->data, e->len, &clen, err, errlen))
			goto fail;
		if (clen >= UINT32_MAX || b.len >= UINT32_MAX) {
			snprintf(err, errlen, "unable to zip %s: the archive would need zip64", e->name);
			goto fail;
		}
		for (int k = 0; k < 4; k++)
			b.p[sizes + k] = (unsigned char)(clen >> (8 * k));

		put32(&cd, 0x02014b50);
		put16(&cd, ZIP_MADE_BY_UNIX | ZIP_VERSION);
		put16(&cd, ZIP_VERSION);
		put16(&cd, 0);
		put16(&cd, Z_DEFLATED);
		put16(&cd, ZIP_DOS_TIME);
		put16(&cd, ZIP_DOS_DATE);
		put32(&cd, crc);
		put32(&cd, (uint32_t)clen);
		put32(&cd, (uint32_t)e->len);
		put16(&cd, (unsigned)name_len);
		put16(&cd, 0);						   /* extra */
		put16(&cd, 0);						   /* comment */
		put16(&cd, 0);						   /* disk */
		put16(&cd, 0);						   /* internal attributes */
		put32(&cd, (uint32_t)(0100000 | (e->mode & 07777)) << 16); /* regular file, mode */
		put32(&cd, (uint32_t)header);
		buf_add(&cd, e->name, name_len);
	}
	{
		size_t cd_at = b.len;

		buf_add(&b, cd.p, cd.len);
		put32(&b, 0x06054b50);
		put16(&b, 0);
		put16(&b, 0);
		put16(&b, (unsigned)n);
		put16(&b, (unsigned)n);
		put32(&b, (uint32_t)cd.len);
		put32(&b, (uint32_t)cd_at);
		put16(&b, 0); /* comment */
	}
	if (b.failed || cd.failed || n > UINT16_MAX) {
		snprintf(err, errlen, "unable to build the zip: %s",
			 n > UINT16_MAX ? "too many members" : "out of memory");
		goto fail;
	}
	buf_free(&cd);
	*outlen = b.len;
	*out = (unsigned char *)buf_take(&b);
	return true;
fail:
	buf_free(&b);
	buf_free(&cd);
	return false;
}

void
zip_base64sha256(const unsigned char *data, size_t len, char out[45])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, 32);
}
