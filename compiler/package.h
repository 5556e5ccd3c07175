/*
 * package.h - a folder of migrations into the Lambda deployment package: the bundle,
 * compiled for one architecture with the compiler the installed runtime was built with,
 * linked against that runtime, zipped reproducibly.
 */
#ifndef GOSLING_PACKAGE_H
#define GOSLING_PACKAGE_H

#include "bundle.h"

struct compiled;

/* package_arch - the runtime's folder name for an --arch value: "x86_64" for x86_64,
 * "aarch64" for arm64 or aarch64; NULL for anything else. */
const char *package_arch(const char *arch);

/*
 * package_build - c (the folder dir, compiled) as the zip out for arch ("x86_64" or
 * "arm64"; "aarch64" too): writes gen/bundle.c's text and the CA bundle's C
 * ($GOSLING_CA_BUNDLE, as ninja dist reads it) into a temporary directory, compiles and
 * links them with <prefix>/lib/gosling/<arch>/ (cc.txt names the compiler, link.txt the
 * archives and flags; <prefix> is where this goslingc is installed, ../ from its bin/),
 * then writes the zip with package_zip().  Diagnostics on stderr; false on failure.
 */
bool package_build(const struct compiled *c, const char *dir, const char *arch, const char *out) MUSTCHECK;

/*
 * package_zip - the file bootstrap as out, a zip holding it as "bootstrap" with mode
 * 0755 (zip_build's fixed form), written through out.tmp and rename() (the folders
 * above out are made when missing, as mkdir -p does); writes the
 * zip's base64 SHA-256 to out.base64sha256 and prints
 *   "<out>: <n> bytes (bootstrap <m> bytes), filebase64sha256 <hash>"
 * on stdout.  False, with a message on stderr, when a file cannot be read or written.
 */
bool package_zip(const char *bootstrap, const char *out) MUSTCHECK;

/*
 * package_cacert_c - the C file that compiles the PEM bundle $GOSLING_CA_BUNDLE names
 * into the bootstrap (gosling_cacert_pem, runtime/cacert.h), or an empty bundle when it
 * is unset or empty, written to path only when its bytes change.  False, with a
 * message on stderr, when the bundle cannot be read or is not ASCII PEM.
 */
bool package_cacert_c(const char *path) MUSTCHECK;

#endif
