/*
 * cacert_none.c - no compiled-in CA bundle: the default that
 * libgosling-runtime.a supplies when a program does not link gen/cacert.c
 * (scripts/embed-pem's output) itself.
 */
#include "cacert.h"

const unsigned char gosling_cacert_pem[] = { 0 };
const size_t gosling_cacert_pem_len = 0;
