/*
 * main.c - gosling's command line.  For now: the embedded bundle (list) and the
 * build id (--version); the engine's verbs come with the engine.
 */
#include "bundle.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define VERSION "0.1.0"

static void list(void)
{
	const struct bundle *b = &gosling_bundle;

	printf("%-16s %-4s %-4s %-5s %s\n", "VERSION", "UP", "DOWN", "TX", "NAME");
	for (uint32_t i = 0; i < b->count; i++) {
		const struct migration *m = &b->migrations[i];
		printf("%-16" PRId64 " %-4" PRIu32 " %-4" PRIu32 " %-5s %s\n", m->version, m->nup, m->ndown,
		       m->no_transaction ? "no" : "yes", m->name);
	}
	printf("%" PRIu32 " migration%s, build %s\n", b->count, b->count == 1 ? "" : "s", b->build_id);
}

int main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
		printf("gosling %s (bundle %s, goslingc %s)\n", VERSION, gosling_bundle.build_id,
		       gosling_bundle.compiler_version);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		list();
		return 0;
	}
	fprintf(stderr, "usage: gosling list | --version\n");
	return 2;
}
