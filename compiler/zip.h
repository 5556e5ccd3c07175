/*
 * zip.h - a reproducible zip archive, written with zlib: the Lambda deployment package.
 */
#ifndef GOSLING_ZIP_H
#define GOSLING_ZIP_H

#include "bundle.h"

#include <stddef.h>

/* One member of an archive: a regular file with its Unix mode (0755 for bootstrap). */
struct zip_entry {
	const char *name;
	const unsigned char *data;
	size_t len;
	unsigned mode;
};

/*
 * zip_build - the archive of entries, in the order given, into a malloc'd buffer
 * (*out, *outlen; the caller frees *out).  Every member is deflated with zlib at
 * level 9 (raw deflate, 15-bit window, memLevel 8: what Python's zipfile writes),
 * dated 1980-01-01 00:00 (the zip epoch), "made by" Unix so the mode is kept, with no
 * extra fields, no data descriptor and no comment: the same entries always give the
 * same bytes.  False with a message in err when a member is 4 GiB or larger (no zip64)
 * or zlib fails.
 */
bool zip_build(const struct zip_entry *entries, size_t n, unsigned char **out, size_t *outlen, char *err,
	       size_t errlen) MUSTCHECK;

/*
 * zip_base64sha256 - the base64 of data's SHA-256 (44 characters and a NUL into out):
 * what Terraform's filebase64sha256() computes and Lambda reports as CodeSha256.
 */
void zip_base64sha256(const unsigned char *data, size_t len, char out[45]);

#endif
