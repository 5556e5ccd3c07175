/*
 * main.c - goslingc's command line: options and verbs, nothing else.
 */
#include "checksum.h"
#include "compile.h"
#include "diag.h"
#include "emit.h"
#include "envsub.h"
#include "fatal.h"
#include "folder.h"
#include "lint.h"
#include "package.h"
#include "parse.h"
#include "sum.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VERSION "0.1.0"

static const char usage_text[] =
	"usage: goslingc [options] <command> [args]\n"
	"\n"
	"Compiles a folder of goose SQL migrations into C for the gosling runtime.\n"
	"\n"
	"commands:\n"
	"  build [DIR]            check DIR (default migrations) and write --out (default gen/bundle.c)\n"
	"  parse [--envsub] [--direction up|down] [--check] FILE...\n"
	"                         cut single files as goose does; print a JSON array;\n"
	"                         --check adds build's checks (PostgreSQL 15's parser)\n"
	"  list [DIR]             the migrations as the bundle holds them (--json for JSON)\n"
	"  verify [DIR]           check DIR and compare it with DIR/migrations.sum\n"
	"  sum [DIR]              record DIR's checksums in DIR/migrations.sum\n"
	"  create NAME [DIR]      new migration with the next version (--timestamp for goose's style)\n"
	"  fix [DIR]              rename timestamp versions to sequential ones, as goose fix does\n"
	"  lint [--json|--sarif] DIR|FILE...\n"
	"                         the safety lint alone, for CI: exit 1 when it finds anything\n"
	"                         not accepted by a '-- gosling:allow RULE reason' marker;\n"
	"                         --rules lists the rules (docs/lint.md)\n"
	"  package --arch ARCH --out FILE.zip [DIR]\n"
	"                         verify DIR against its migrations.sum, then build the Lambda\n"
	"                         package: bootstrap for ARCH (x86_64 or arm64), linked against the\n"
	"                         runtime installed next to goslingc, zipped reproducibly\n"
	"  zip --out FILE.zip BOOTSTRAP   zip a linked bootstrap as package does (ninja dist)\n"
	"  cacert --out FILE.c    the C of the CA bundle $GOSLING_CA_BUNDLE names (ninja dist)\n"
	"\n"
	"options:\n"
	"  -o, --out FILE         where build writes the C bundle (default gen/bundle.c)\n"
	"      --depfile FILE     also write a ninja depfile naming every migration file (build;\n"
	"                         verify adds migrations.sum, with --out naming its target)\n"
	"      --json             JSON output (list, lint)\n"
	"      --sarif            SARIF 2.1.0 output (lint), for code-review annotations\n"
	"      --lint=MODE        the safety lint in build: warn (default), error (findings fail\n"
	"                         the build) or off\n"
	"      --arch ARCH        package: x86_64 or arm64\n"
	"      --no-check         PostgreSQL 15's parser failing on a statement is a warning, not an\n"
	"                         error (build, verify, list, sum, parse --check); per file or\n"
	"                         statement, write '-- gosling:no-check' instead (see README)\n"
	"  -W, --werror           treat warnings as errors\n"
	"  -q, --quiet            print only errors\n"
	"  -h, --help             this text\n"
	"  -V, --version          the compiler's version\n"
	"\n"
	"exit codes: 0 ok, 1 errors in the migrations, 2 usage, 3 migrations.sum mismatch,\n"
	"            4 cannot read or write a file\n";

struct opts {
	const char *out;
	const char *depfile;
	const char *direction;
	const char *arch;
	bool json;
	bool quiet;
	bool envsub;
	bool check;
	bool timestamp;
	bool no_check;
	bool sarif;
	bool rules;
	enum lint_mode lint;
};

static struct diag diags = { .out = NULL };

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "goslingc: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see goslingc --help)\n");
	return EXIT_USAGE;
}

static int
finish(int ok_code)
{
	if (diags.errors) {
		fprintf(stderr, "goslingc: %u error%s, %u warning%s\n", diags.errors, diags.errors == 1 ? "" : "s",
			diags.warnings, diags.warnings == 1 ? "" : "s");
		return diags.io_errors ? EXIT_IO : EXIT_ERRORS;
	}
	return ok_code;
}

static void
print_stmts_json(FILE *out, const struct pstmt *s, size_t n, bool envsub)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		char *sql = NULL, err[256];
		uint32_t at;

		if (envsub && s[i].nenvsub) {
			sql = envsub_expand(s[i].sql, s[i].envsub, s[i].nenvsub, NULL, NULL, err, sizeof(err), &at);
		}
		fprintf(out, "%s\n    {\"sql\": ", i ? "," : "");
		if (sql)
			emit_json_string(out, sql, strlen(sql));
		else
			emit_json_string(out, s[i].sql, s[i].len);
		fprintf(out, ", \"line\": %" PRIu32 ", \"commands\": %u}", s[i].line, s[i].ncommands);
		free(sql);
	}
	fputs(n ? "\n  ]" : "]", out);
}

static int
cmd_parse(struct opts *o, int argc, char **argv)
{
	struct compile_opts po = { { !o->check, 0, o->envsub ? env_get : NULL, NULL }, o->no_check, NULL };
	struct pfile *files;
	bool ok = true;

	if (argc == 0)
		return usage_error("parse needs at least one %s", "FILE");
	if (o->direction) {
		if (strcmp(o->direction, "up") == 0)
			po.parse.dirs = 1u << DIR_UP;
		else if (strcmp(o->direction, "down") == 0)
			po.parse.dirs = 1u << DIR_DOWN;
		else
			return usage_error("--direction must be up or down, not \"%s\"", o->direction);
	}
	files = xcalloc((size_t)argc, sizeof(*files));
	for (int i = 0; i < argc; i++) {
		if (!compile_file(&files[i], argv[i], &po, &diags)) {
			ok = false;
			continue;
		}
	}
	if (ok) {
		fputs("[", stdout);
		for (int i = 0; i < argc; i++) {
			struct pfile *f = &files[i];

			fprintf(stdout, "%s\n  {\"file\": ", i ? "," : "");
			emit_json_string(stdout, f->path, strlen(f->path));
			fprintf(stdout, ", \"no_transaction\": %s,\n  \"up\": ", f->no_transaction ? "true" : "false");
			if (!po.parse.dirs || (po.parse.dirs & (1u << DIR_UP)))
				print_stmts_json(stdout, f->stmts[DIR_UP], f->nstmts[DIR_UP], false);
			else
				fputs("null", stdout);
			fputs(",\n  \"down\": ", stdout);
			if (!po.parse.dirs || (po.parse.dirs & (1u << DIR_DOWN)))
				print_stmts_json(stdout, f->stmts[DIR_DOWN], f->nstmts[DIR_DOWN], false);
			else
				fputs("null", stdout);
			fputs("}", stdout);
		}
		fputs("\n]\n", stdout);
	}
	for (int i = 0; i < argc; i++)
		pfile_free(&files[i]);
	free(files);
	return finish(EXIT_OK);
}

static int
cmd_build(struct opts *o, const char *dir)
{
	struct compile_opts po = { { false, 0, NULL, NULL }, o->no_check, NULL };
	struct compiled c;
	struct lint lint;
	bool changed;

	lint_init(&lint, o->lint);
	po.lint = o->lint == LINT_OFF ? NULL : &lint;
	if (!compile_folder(&c, dir, &po, &diags)) {
		compile_free(&c);
		lint_free(&lint);
		return finish(EXIT_ERRORS);
	}
	lint_free(&lint);
	emit_bundle(&c.bundle, dir, o->out, &changed);
	if (o->depfile) {
		const char **deps = xcalloc(c.nfiles + 1, sizeof(*deps));

		for (size_t i = 0; i < c.nfiles; i++)
			deps[i] = c.files[i].path;
		emit_depfile(o->depfile, o->out, deps, c.nfiles);
		free(deps);
	}
	if (!o->quiet)
		fprintf(stderr, "goslingc: %s: %zu migration%s, build %s%s\n", o->out, c.nfiles,
			c.nfiles == 1 ? "" : "s", c.build_id, changed ? "" : " (unchanged)");
	compile_free(&c);
	return finish(EXIT_OK);
}

static int
cmd_list(struct opts *o, const char *dir)
{
	struct compile_opts po = { { false, 0, NULL, NULL }, o->no_check, NULL };
	struct compiled c;

	if (!compile_folder(&c, dir, &po, &diags)) {
		compile_free(&c);
		return finish(EXIT_ERRORS);
	}
	if (o->json) {
		printf("{\"build_id\": \"%s\", \"migrations\": [", c.build_id);
		for (size_t i = 0; i < c.nfiles; i++) {
			const struct migration *m = &c.migrations[i];
			printf("%s\n  {\"version\": %" PRId64 ", \"name\": ", i ? "," : "", m->version);
			emit_json_string(stdout, m->name, strlen(m->name));
			printf(", \"no_transaction\": %s, \"envsub\": %s, \"up\": %" PRIu32 ", \"down\": %" PRIu32
			       ",\n   \"file_checksum\": \"%s\", \"exec_checksum\": \"%s\", \"chain\": \"%s\"}",
			       m->no_transaction ? "true" : "false", c.parsed[i].has_envsub ? "true" : "false", m->nup,
			       m->ndown, m->file_checksum, m->exec_checksum, m->chain);
		}
		printf("%s]}\n", c.nfiles ? "\n" : "");
	} else {
		printf("%-16s %-4s %-4s %-5s %-24s %s\n", "VERSION", "UP", "DOWN", "TX", "EXEC", "NAME");
		for (size_t i = 0; i < c.nfiles; i++) {
			const struct migration *m = &c.migrations[i];
			printf("%-16" PRId64 " %-4" PRIu32 " %-4" PRIu32 " %-5s %.24s %s\n", m->version, m->nup,
			       m->ndown, m->no_transaction ? "no" : "yes",
			       m->exec_checksum + strlen(CHECKSUM_EXEC_PREFIX), m->name);
		}
		printf("%zu migration%s, build %s\n", c.nfiles, c.nfiles == 1 ? "" : "s", c.build_id);
	}
	compile_free(&c);
	return finish(EXIT_OK);
}

static int
cmd_verify(struct opts *o, const char *dir)
{
	struct compile_opts po = { { false, 0, NULL, NULL }, o->no_check, NULL };
	struct compiled c;
	struct sum_entry *sum = NULL;
	size_t nsum = 0, mismatches = 0, *file_of, *entry_of;
	char *path = sum_path(dir);
	int64_t max_summed = 0;

	if (!compile_folder(&c, dir, &po, &diags) || !sum_read(path, &sum, &nsum, &diags)) {
		compile_free(&c);
		free(sum);
		free(path);
		return finish(EXIT_ERRORS);
	}
	file_of = xmalloc((nsum + 1) * sizeof(*file_of));
	entry_of = xmalloc((c.nfiles + 1) * sizeof(*entry_of));
	if (!sum_match(sum, nsum, c.migrations, c.nfiles, file_of, entry_of))
		fatal("out of memory");
	for (size_t i = 0; i < nsum; i++) {
		const struct sum_entry *e = &sum[i];
		size_t j = file_of[i];
		int64_t v;
		char err[64];

		if (version_parse(e->name, &v, err, sizeof(err)) && v > max_summed)
			max_summed = v;
		if (j == SUM_NONE) {
			diag_file(&diags, DIAG_ERROR, path, "%s is in migrations.sum but no longer in %s/", e->name,
				  dir);
		} else if (strcmp(c.migrations[j].name, e->name) != 0) {
			diag_file(&diags, DIAG_ERROR, c.files[j].path,
				  "renamed or renumbered: migrations.sum has it as %s", e->name);
		} else if (strcmp(c.migrations[j].file_checksum, e->file) == 0) {
			continue;
		} else if (strcmp(c.migrations[j].exec_checksum, e->exec) == 0) {
			diag_file(&diags, DIAG_ERROR, c.files[j].path,
				  "changed since migrations.sum (comments or blank lines only: the "
				  "statements are the same); run goslingc sum if this is deliberate");
		} else {
			diag_file(&diags, DIAG_ERROR, c.files[j].path,
				  "changed since migrations.sum: its statements differ from the summed "
				  "ones; a database that applied it will report drift");
		}
		mismatches++;
	}
	for (size_t j = 0; j < c.nfiles; j++) {
		if (entry_of[j] != SUM_NONE)
			continue;
		if (c.files[j].version < max_summed)
			diag_file(&diags, DIAG_WARNING, c.files[j].path,
				  "new migration with a version below already-summed ones (out of order)");
		else if (!o->quiet)
			fprintf(stderr, "%s: new, not yet in migrations.sum\n", c.files[j].path);
	}
	if (!diags.errors && o->depfile) {
		/* for ninja: migrations.sum and every file, so a missing sum is this error, not ninja's */
		const char **deps = xcalloc(c.nfiles + 2, sizeof(*deps));

		deps[0] = path;
		for (size_t i = 0; i < c.nfiles; i++)
			deps[i + 1] = c.files[i].path;
		emit_depfile(o->depfile, o->out, deps, c.nfiles + 1);
		free(deps);
	}
	compile_free(&c);
	free(sum);
	free(path);
	free(file_of);
	free(entry_of);
	if (diags.errors)
		return mismatches && diags.errors == mismatches ? EXIT_SUM : finish(EXIT_ERRORS);
	if (!o->quiet)
		fprintf(stderr, "goslingc: %s matches migrations.sum\n", dir);
	return EXIT_OK;
}

static int
cmd_sum(struct opts *o, const char *dir)
{
	struct compile_opts po = { { false, 0, NULL, NULL }, o->no_check, NULL };
	struct compiled c;
	char *path = sum_path(dir);
	struct sum_entry *e;
	bool ok;

	if (!compile_folder(&c, dir, &po, &diags)) {
		compile_free(&c);
		free(path);
		return finish(EXIT_ERRORS);
	}
	e = xcalloc(c.nfiles + 1, sizeof(*e));
	for (size_t i = 0; i < c.nfiles; i++) {
		snprintf(e[i].name, sizeof(e[i].name), "%s", c.migrations[i].name);
		memcpy(e[i].file, c.migrations[i].file_checksum, CHECKSUM_LEN);
		memcpy(e[i].exec, c.migrations[i].exec_checksum, CHECKSUM_LEN);
	}
	ok = sum_write(path, e, c.nfiles);
	if (ok && !o->quiet)
		fprintf(stderr, "goslingc: wrote %s (%zu migrations)\n", path, c.nfiles);
	free(e);
	free(path);
	compile_free(&c);
	return ok ? EXIT_OK : EXIT_IO;
}

static const char template_text[] = "-- +goose Up\n"
				    "-- +goose StatementBegin\n"
				    "SELECT 'up SQL query';\n"
				    "-- +goose StatementEnd\n"
				    "\n"
				    "-- +goose Down\n"
				    "-- +goose StatementBegin\n"
				    "SELECT 'down SQL query';\n"
				    "-- +goose StatementEnd\n";

static int
cmd_create(struct opts *o, const char *name, const char *dir)
{
	struct mfile *files;
	size_t n;
	int64_t last = 0;
	int width = 5;
	char version[32], *path;
	FILE *fp;

	for (const char *p = name; *p; p++)
		if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return usage_error("migration name \"%s\" may hold only letters, digits and '_'", name);
	if (!folder_scan(dir, &files, &n, &diags) && diags.errors)
		return finish(EXIT_ERRORS);
	for (size_t i = 0; i < n; i++) {
		if (version_is_timestamp(files[i].version))
			continue;
		last = files[i].version;
		if (files[i].prefix_len > width)
			width = files[i].prefix_len;
	}
	if (o->timestamp) {
		time_t now = time(NULL);
		strftime(version, sizeof(version), "%Y%m%d%H%M%S", gmtime(&now));
	} else {
		snprintf(version, sizeof(version), "%0*" PRId64, width > 19 ? 19 : width, last + 1);
	}
	folder_free(files, n);
	path = xmalloc(strlen(dir) + strlen(version) + strlen(name) + 8);
	sprintf(path, "%s/%s_%s.sql", dir, version, name);
	fp = fopen(path, "wx");
	if (!fp || fputs(template_text, fp) == EOF || fclose(fp) != 0) {
		fprintf(stderr, "goslingc: cannot create %s: %s\n", path, strerror(errno));
		free(path);
		return EXIT_IO;
	}
	printf("%s\n", path);
	free(path);
	return EXIT_OK;
}

static int
cmd_fix(struct opts *o, const char *dir)
{
	struct mfile *files;
	size_t n;
	int64_t next = 1;
	int width = 5;

	struct sum_entry *sum = NULL;
	size_t nsum = 0;
	char *path = sum_path(dir);
	bool has_sum = access(path, F_OK) == 0, renamed = false;

	(void)o;
	if (!folder_scan(dir, &files, &n, &diags) || (has_sum && !sum_read(path, &sum, &nsum, &diags))) {
		free(path);
		free(sum);
		return finish(EXIT_ERRORS);
	}
	for (size_t i = 0; i < n; i++) {
		if (version_is_timestamp(files[i].version))
			continue;
		next = files[i].version + 1;
		if (files[i].prefix_len > width)
			width = files[i].prefix_len;
	}
	for (size_t i = 0; i < n; i++) {
		const char *rest = strchr(files[i].name, '_');
		char *to;

		if (!version_is_timestamp(files[i].version))
			continue;
		to = xmalloc(strlen(dir) + strlen(rest) + 32);
		sprintf(to, "%s/%0*" PRId64 "%s", dir, width > 19 ? 19 : width, next++, rest);
		if (rename(files[i].path, to) != 0) {
			fprintf(stderr, "goslingc: cannot rename %s to %s: %s\n", files[i].path, to, strerror(errno));
			free(to);
			folder_free(files, n);
			free(sum);
			free(path);
			return EXIT_IO;
		}
		printf("renamed %s => %s\n", files[i].name, strrchr(to, '/') + 1);
		/* the summed line goes with the file: same bytes, new name */
		for (size_t j = 0; j < nsum; j++)
			if (strcmp(sum[j].name, files[i].name) == 0)
				snprintf(sum[j].name, sizeof(sum[j].name), "%s", strrchr(to, '/') + 1);
		renamed = true;
		free(to);
	}
	folder_free(files, n);
	if (has_sum && renamed && !sum_write(path, sum, nsum)) {
		free(sum);
		free(path);
		return EXIT_IO;
	}
	if (has_sum && renamed)
		printf("updated %s\n", path);
	free(sum);
	free(path);
	return EXIT_OK;
}

/* lint: each DIR a bundle of its own (files in version order), FILE arguments one bundle in the order given. */
static int
cmd_lint(struct opts *o, int argc, char **argv)
{
	struct compile_opts po = { { false, 1u << DIR_UP, NULL, NULL }, o->no_check, NULL };
	struct lint lint;
	struct mfile **dirs = xcalloc((size_t)argc + 1, sizeof(*dirs));
	size_t *ndirs = xcalloc((size_t)argc + 1, sizeof(*ndirs)), nfiles = 0, open = 0;
	int rc;

	if (o->rules) {
		lint_print_rules(stdout);
		free(dirs);
		free(ndirs);
		return EXIT_OK;
	}
	if (argc == 0) {
		free(dirs);
		free(ndirs);
		return usage_error("lint needs at least one %s", "DIR or FILE");
	}
	lint_init(&lint, LINT_WARN);
	lint.quiet = o->json || o->sarif;
	po.lint = &lint;
	for (int i = 0; i < argc; i++) {
		struct stat st;
		struct pfile f;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			lint_bundle_reset(&lint);
			folder_scan(argv[i], &dirs[i], &ndirs[i], &diags);
			for (size_t k = 0; k < ndirs[i]; k++, nfiles++) {
				if (!compile_file(&f, dirs[i][k].path, &po, &diags)) {
					/* reported; the other files are still linted */
				}
				pfile_free(&f);
			}
			lint_bundle_reset(&lint);
		} else {
			nfiles++;
			if (!compile_file(&f, argv[i], &po, &diags)) {
				/* reported */
			}
			pfile_free(&f);
		}
	}
	for (size_t i = 0; i < lint.nfindings; i++)
		open += !lint.findings[i].allowed;
	if (o->sarif)
		lint_print_sarif(&lint, stdout, VERSION);
	else if (o->json)
		lint_print_json(&lint, stdout, nfiles);
	else if (!o->quiet)
		fprintf(stderr, "goslingc: lint: %zu finding%s in %zu file%s (%zu accepted by %s)\n", open,
			open == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s", lint.nfindings - open, LINT_MARKER);
	rc = finish(open ? EXIT_ERRORS : EXIT_OK);
	lint_free(&lint);
	for (int i = 0; i < argc; i++)
		if (dirs[i])
			folder_free(dirs[i], ndirs[i]);
	free(dirs);
	free(ndirs);
	return rc;
}

/* package: what verify checks, then the folder compiled, linked and zipped (package.c). */
static int
cmd_package(struct opts *o, const char *dir)
{
	struct compile_opts po = { { false, 0, NULL, NULL }, o->no_check, NULL };
	struct compiled c;
	struct lint lint;
	size_t n = strlen(o->out);
	int rc;

	if (!o->arch || !package_arch(o->arch))
		return usage_error("package needs --arch x86_64 or --arch arm64, not \"%s\"", o->arch ? o->arch : "");
	if (n < 4 || strcmp(o->out + n - 4, ".zip") != 0)
		return usage_error("package needs --out FILE.zip, not \"%s\"", o->out);
	o->quiet = true;
	if ((rc = cmd_verify(o, dir)) != EXIT_OK)
		return rc;
	lint_init(&lint, o->lint);
	po.lint = o->lint == LINT_OFF ? NULL : &lint;
	if (!compile_folder(&c, dir, &po, &diags)) {
		compile_free(&c);
		lint_free(&lint);
		return finish(EXIT_ERRORS);
	}
	lint_free(&lint);
	rc = package_build(&c, dir, o->arch, o->out) ? EXIT_OK : EXIT_IO;
	compile_free(&c);
	return rc;
}

/* zip and cacert: ninja dist's steps, in C so that packaging needs no other tool. */
static int
cmd_tool(struct opts *o, const char *cmd, int argc, char **argv)
{
	if (strcmp(o->out, "gen/bundle.c") == 0)
		return usage_error("%s needs --out FILE", cmd);
	if (strcmp(cmd, "zip") == 0) {
		if (argc != 1)
			return usage_error("usage: goslingc zip --out FILE.zip BOOTSTRAP%s", "");
		return package_zip(argv[0], o->out) ? EXIT_OK : EXIT_IO;
	}
	if (argc != 0)
		return usage_error("usage: goslingc cacert --out FILE.c%s", "");
	return package_cacert_c(o->out) ? EXIT_OK : EXIT_IO;
}

static const struct option longopts[] = {
	{ "out", required_argument, NULL, 'o' },
	{ "depfile", required_argument, NULL, 'd' },
	{ "direction", required_argument, NULL, 'D' },
	{ "arch", required_argument, NULL, 'a' },
	{ "json", no_argument, NULL, 'j' },
	{ "werror", no_argument, NULL, 'W' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "envsub", no_argument, NULL, 'e' },
	{ "check", no_argument, NULL, 'c' },
	{ "timestamp", no_argument, NULL, 't' },
	{ "no-check", no_argument, NULL, 'n' },
	{ "sarif", no_argument, NULL, 'S' },
	{ "rules", no_argument, NULL, 'R' },
	{ "lint", required_argument, NULL, 'L' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Parse options into o; returns -1 to go on, or an exit code (after --help, --version, a bad option). */
static int
options(int argc, char **argv, const char *shortopts, struct opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'd':
			o->depfile = optarg;
			break;
		case 'D':
			o->direction = optarg;
			break;
		case 'a':
			o->arch = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'W':
			diags.werror = true;
			break;
		case 'q':
			o->quiet = true;
			diags.quiet_warnings = true;
			break;
		case 'e':
			o->envsub = true;
			break;
		case 'c':
			o->check = true;
			break;
		case 't':
			o->timestamp = true;
			break;
		case 'n':
			o->no_check = true;
			break;
		case 'S':
			o->sarif = true;
			break;
		case 'R':
			o->rules = true;
			break;
		case 'L':
			if (!lint_mode_parse(optarg, &o->lint))
				return usage_error("--lint must be warn, error or off, not \"%s\"", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			printf("goslingc %s\n", VERSION);
			return EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct opts o = { "gen/bundle.c", NULL,	 NULL,	NULL,  false, false,	false,
			  false,	  false, false, false, false, LINT_WARN };
	const char *cmd, *dir;
	int c;

	/* stderr is unbuffered: a diagnostic would cost a write per character of its
	 * caret line; buffered, diag_at() flushes once per diagnostic */
	setvbuf(stderr, NULL, _IOFBF, 1 << 16);
	diags.out = stderr;
	/* a diagnostic is written in pieces (escaped source text): one write per line, not per piece */
	setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	if ((c = options(argc, argv, "+o:WqhV", &o)) >= 0)
		return c;
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	/* options may also follow the command */
	if ((c = options(argc, argv, "o:WqhV", &o)) >= 0)
		return c;
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "parse") == 0)
		return cmd_parse(&o, argc, argv);
	if (strcmp(cmd, "lint") == 0)
		return cmd_lint(&o, argc, argv);
	if (strcmp(cmd, "create") == 0) {
		if (argc < 1 || argc > 2)
			return usage_error("usage: goslingc create NAME [DIR]%s", "");
		return cmd_create(&o, argv[0], argc == 2 ? argv[1] : "migrations");
	}
	if (strcmp(cmd, "zip") == 0 || strcmp(cmd, "cacert") == 0)
		return cmd_tool(&o, cmd, argc, argv);
	if (argc > 1)
		return usage_error("too many arguments for %s", cmd);
	dir = argc == 1 ? argv[0] : "migrations";
	if (strcmp(cmd, "build") == 0)
		return cmd_build(&o, dir);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(&o, dir);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(&o, dir);
	if (strcmp(cmd, "sum") == 0)
		return cmd_sum(&o, dir);
	if (strcmp(cmd, "fix") == 0)
		return cmd_fix(&o, dir);
	if (strcmp(cmd, "package") == 0)
		return cmd_package(&o, dir);
	return usage_error("unknown command \"%s\"", cmd);
}
