/*
 * main.c - gosling's CLI face: options, verbs, --help, --version and output.
 * The work is engine_run(); this file only turns argv into a request and the
 * result into text (or the engine's JSON with --json).
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bundle.h"
#include "config.h"
#include "engine.h"
#include "envsub.h"
#include "invoke.h"
#include "lambda.h"
#include "log.h"
#include "signals.h"
#include "target.h"

/*
 * The program's first load segment (ELF header, dynamic symbols and the
 * relocation tables: 3.4 MB of .rela.dyn at 10,000 migrations, one entry per
 * pointer in the bundle) is read by the loader once, before main, and not
 * again.  It is a private read-only file mapping the loader never wrote, so
 * MADV_DONTNEED only drops its pages from the process: a later read (a symbol
 * lookup) maps the file's page again.  Not done when the program has text
 * relocations, which would have written it.  Measured in docs/benchmarks.md.
 */
static int
release_first_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)size;
	(void)arg;
	if (page == 0 || page == (uintptr_t)-1)
		return 1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_DYNAMIC)
			continue;
		for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr); d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)))
				return 1;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo, hi;

		if (ph->p_type != PT_LOAD || ph->p_offset != 0 || ph->p_flags != PF_R)
			continue;
		lo = (info->dlpi_addr + ph->p_vaddr) / page * page;
		hi = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz) / page * page; /* whole pages only */
		if (lo < hi)
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	return 1; /* the program is the first object: stop there */
}

static void
release_loader_pages(void)
{
	(void)dl_iterate_phdr(release_first_segment, NULL);
}

static const char usage_text[] =
	"usage: gosling [options] [command [version]]\n"
	"\n"
	"Applies the PostgreSQL migrations compiled into this binary.\n"
	"\n"
	"commands:\n"
	"  up               apply every pending migration (the default)\n"
	"  up-to V          apply pending migrations up to version V\n"
	"  down             roll back the newest migration (needs --allow-down)\n"
	"  down-to V        roll back every migration above version V (needs --allow-down)\n"
	"  redo             roll back the newest migration and apply it again (needs --allow-down)\n"
	"  status           every migration and whether it is applied\n"
	"  verify           check applied migrations against this binary; read-only\n"
	"  plan [V]         what up (or up-to V) would run, with its SQL; read-only\n"
	"  baseline V       record migrations up to V as applied without running them\n"
	"  version          the database's current version\n"
	"  list             the migrations compiled into this binary; no database\n"
	"  settings         every setting with its environment variable and default\n"
	"\n"
	"options:\n"
	"  --json                 print the result as JSON\n"
	"  --allow-down           confirm a down, down-to or redo\n"
	"  --allow-out-of-order   apply pending versions below the newest applied one\n"
	"  --atomic               up, up-to: every pending migration in one transaction, all or\n"
	"                         nothing (refused, exit 2, when one is NO TRANSACTION)\n"
	"  --deadline-ms MS       finish by this time (ms since the epoch): timeouts follow it\n"
	"  --event JSON           the request as a Lambda event: {\"command\": \"up-to\", \"version\": 5}\n"
	"  --target-json JSON     one fleet member instead of the configured database, as an event's\n"
	"                         target: {\"id\": \"tenant_42\", \"schema\": \"tenant_42\"}; each field needs\n"
	"                         its allow-list (--target-schemas, ...), else exit 2\n"
	"  --head-only            verify: the history's newest row only (one query), as fleet verify\n"
	"  --help, --version\n"
	"  --NAME VALUE           any setting below, overriding its environment variable\n"
	"\n"
	"settings (flag, environment, default):\n";

static const char exit_text[] =
	"\n"
	"exit codes:\n"
	"  0  success\n"
	"  1  a migration failed (the error names file, statement and line)\n"
	"  2  usage error: unknown command or option, missing version, down without --allow-down,\n"
	"     --atomic with a NO TRANSACTION migration pending\n"
	"  3  configuration error: invalid setting, cannot connect, unset ENVSUB variable\n"
	"  4  drift: an applied migration changed, is missing, or its history row was edited;\n"
	"     or a pending migration is out of order (verify fails with this code too)\n"
	"  5  lock timeout: another migration held the lock longer than --lock-wait\n"
	"  130, 143  stopped by SIGINT or SIGTERM: the running statement was cancelled, where a\n"
	"     NO TRANSACTION migration stopped is recorded, the lock released\n";

static void
usage(FILE *f)
{
	fputs(usage_text, f);
	for (int i = 0; i < SET_COUNT; i++) {
		const struct setting *s = &settings[i];
		char env[64];

		snprintf(env, sizeof env, "%s%s%s", s->env ? s->env : "-", s->env_alt ? ", " : "",
			 s->env_alt ? s->env_alt : "");
		fprintf(f, "  --%-20s %-28s %s\n      %s\n", s->name, env, s->def ? s->def : "-", s->help);
	}
	fputs(exit_text, f);
}

/* One line per migration as it runs (stderr under --json, so stdout stays JSON). */
static void
on_progress(const struct engine_progress *ev, void *arg)
{
	FILE *f = *(bool *)arg ? stderr : stdout;
	char retries[32];

	if (ev->duration_ms >= 0 && strcmp(ev->action, "baselined") != 0 && strcmp(ev->action, "adopted") != 0)
		fprintf(f, "%-11s %s (%lld ms%s)\n", ev->action, ev->name, (long long)ev->duration_ms,
			engine_retries_text(ev->retries, retries, sizeof retries));
	else
		fprintf(f, "%-11s %s\n", ev->action, ev->name);
	fflush(f);
}

/* Column widths of a status or list table: at least the heading's, else the widest
 * value, so a long migration name or a 19-digit version keeps the columns aligned. */
struct widths {
	int version, name;
};

static struct widths
table_widths(const struct engine_result *res)
{
	struct widths w = { 16, 40 };

	for (size_t i = 0; i < res->nitems; i++) {
		const struct engine_item *it = &res->items[i];
		int v = snprintf(NULL, 0, "%lld", (long long)it->version);
		int n = it->name ? (int)strlen(it->name) : 0;

		if (v > w.version)
			w.version = v;
		if (n > w.name)
			w.name = n;
	}
	return w;
}

static void
print_table(const struct engine_result *res)
{
	struct widths w = table_widths(res);

	printf("%-*s %-*s %-9s %-24s %s\n", w.version, "VERSION", w.name, "NAME", "STATE", "APPLIED AT", "TIME");
	for (size_t i = 0; i < res->nitems; i++) {
		const struct engine_item *it = &res->items[i];
		char ms[48] = "";

		if (it->duration_ms >= 0)
			snprintf(ms, sizeof ms, "%lld ms", (long long)it->duration_ms);
		if (it->failed_statement)
			snprintf(ms, sizeof ms, "stopped at statement %u", it->failed_statement);
		printf("%-*lld %-*s %-9s %-24s %s\n", w.version, (long long)it->version, w.name,
		       it->name ? it->name : "", it->state ? it->state : "", it->applied_at, ms);
	}
}

static void
print_text(const struct engine_result *res)
{
	size_t done = 0;
	struct widths w;

	switch (res->command) {
	case ENGINE_STATUS:
	case ENGINE_VERIFY:
		print_table(res);
		if (res->command == ENGINE_VERIFY && res->status == ENGINE_OK)
			printf("verified: the database's history matches this build (%s)\n", res->build_id);
		break;
	case ENGINE_LIST:
		w = table_widths(res);
		printf("%-*s %-*s %s\n", w.version, "VERSION", w.name, "NAME", "TRANSACTION");
		for (size_t i = 0; i < res->nitems; i++)
			printf("%-*lld %-*s %s\n", w.version, (long long)res->items[i].version, w.name,
			       res->items[i].name, res->items[i].no_transaction ? "no" : "yes");
		break;
	case ENGINE_PLAN:
		if (res->status != ENGINE_OK)
			break;
		if (res->nitems == 0)
			printf("nothing to apply: the database is at version %lld\n", (long long)res->version_after);
		for (size_t i = 0; i < res->nitems; i++)
			printf("-- %s (version %lld%s)\n%s\n\n", res->items[i].name, (long long)res->items[i].version,
			       res->items[i].no_transaction ? ", no transaction" : "", res->items[i].sql);
		break;
	case ENGINE_VERSION:
		if (res->status == ENGINE_OK)
			printf("%lld\n", (long long)res->version_after);
		break;
	default:
		for (size_t i = 0; i < res->nitems; i++) {
			const char *a = res->items[i].action;

			done += a &&
				(strcmp(a, "applied") == 0 || strcmp(a, "rolled back") == 0 ||
				 strcmp(a, "baselined") == 0);
		}
		if (res->status == ENGINE_OK)
			printf("%s: %zu migration%s, version %lld -> %lld\n", engine_command_name(res->command), done,
			       done == 1 ? "" : "s", (long long)res->version_before, (long long)res->version_after);
		for (size_t i = 0; i < res->nitems; i++)
			if (res->items[i].no_down)
				printf("WARNING: %s has no Down statements: its history row was removed, nothing in "
				       "the database was undone\n",
				       res->items[i].name);
		break;
	}
}

/* A version or a time: digits only, within int64 (strtoll alone saturates a longer one). */
static bool
parse_version(const char *s, int64_t *v)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno == 0 && !*end;
}

/* Is name one of the CLI's own flags (not a setting)? */
static bool
cli_flag(const char *name)
{
	static const char *const flags[] = {
		"json",	   "allow-down", "allow-out-of-order", "atomic",      "help",
		"version", "event",	 "deadline-ms",	       "target-json", "head-only"
	};

	for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
		if (strcmp(name, flags[i]) == 0)
			return true;
	return false;
}

/* What the command line asks beside the request: the answer's form, the settings command, an event. */
struct cli {
	bool json;
	bool settings_cmd;
	const char *positional[2];
	int npos;
	const char *event;
	const char *target_json;
	struct target target; /* from the event or --target-json, when has_target */
	bool has_target;
};

/* What parsing the command line ended with. */
enum cli_outcome {
	CLI_RUN,   /* run the request */
	CLI_DONE,  /* answered already (--help, --version, a Terraform delete): exit 0 */
	CLI_USAGE, /* a usage error, said on stderr: exit 2 */
	CLI_OOM,   /* out of memory, said on stderr: exit 3 */
};

/* One --<setting> option at argv[*i] (value after '=' or next): into cfg. */
static enum cli_outcome
parse_setting(int argc, char **argv, int *i, struct config *cfg)
{
	const char *a = argv[*i], *eq = strchr(a, '=');
	enum setting_id id;
	char name[64];
	const char *val;

	snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a - 2 : (long)strlen(a) - 2), a + 2);
	if (!config_find(name, &id)) {
		if (eq && cli_flag(name))
			fprintf(stderr, "gosling: error: --%s takes %s\n", name,
				strcmp(name, "event") == 0 || strcmp(name, "deadline-ms") == 0 ||
						strcmp(name, "target-json") == 0
					? "its value as the next argument, not after '='"
					: "no value");
		else
			fprintf(stderr, "gosling: error: unknown option --%s\n", name);
		return CLI_USAGE;
	}
	if (eq) {
		val = eq + 1;
	} else if (*i + 1 < argc) {
		val = argv[++*i];
	} else {
		fprintf(stderr, "gosling: error: --%s needs a value\n", name);
		return CLI_USAGE;
	}
	if (!config_set(cfg, id, val)) {
		fprintf(stderr, "gosling: error: out of memory\n");
		return CLI_OOM;
	}
	return CLI_RUN;
}

/* The options and the positional arguments, in argv's order. */
static enum cli_outcome
parse_options(int argc, char **argv, struct config *cfg, struct engine_request *req, struct cli *cli)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		enum cli_outcome o;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return CLI_DONE;
		} else if (strcmp(a, "--version") == 0) {
			printf("gosling (bundle %s, compiler %s, %u migrations)\n", gosling_bundle.build_id,
			       gosling_bundle.compiler_version, gosling_bundle.count);
			return CLI_DONE;
		} else if (strcmp(a, "--json") == 0) {
			cli->json = true;
		} else if (strcmp(a, "--allow-down") == 0) {
			req->allow_down = true;
		} else if (strcmp(a, "--allow-out-of-order") == 0) {
			req->allow_out_of_order = true;
		} else if (strcmp(a, "--atomic") == 0) {
			req->atomic = true;
		} else if (strcmp(a, "--head-only") == 0) {
			req->head_only = true;
		} else if (strcmp(a, "--event") == 0 || strcmp(a, "--deadline-ms") == 0 ||
			   strcmp(a, "--target-json") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "gosling: error: %s needs a value\n", a);
				return CLI_USAGE;
			}
			if (a[2] == 't') {
				cli->target_json = argv[++i];
			} else if (a[2] == 'e') {
				cli->event = argv[++i];
			} else if (!parse_version(argv[++i], &req->deadline_ms)) {
				fprintf(stderr,
					"gosling: error: invalid --deadline-ms \"%.64s\": milliseconds since the epoch, "
					"up to 9223372036854775807\n",
					argv[i]);
				return CLI_USAGE;
			}
		} else if (strncmp(a, "--", 2) == 0) {
			if ((o = parse_setting(argc, argv, &i, cfg)) != CLI_RUN)
				return o;
		} else if (cli->npos < 2) {
			cli->positional[cli->npos++] = a;
		} else {
			fprintf(stderr, "gosling: error: unexpected argument \"%s\"\n", a);
			return CLI_USAGE;
		}
	}
	return CLI_RUN;
}

/* --event: the request (and the target) as a Lambda event names it; the flags given beside it still apply. */
static enum cli_outcome
parse_event(struct cli *cli, struct engine_request *req)
{
	char err[512];
	struct lambda_event ev;

	if (cli->npos > 0) {
		fprintf(stderr, "gosling: error: --event replaces the command\n");
		return CLI_USAGE;
	}
	/* the same strict decoder as the Lambda face: an event means the same here */
	if (!lambda_event_decode(cli->event, strlen(cli->event), &ev, err, sizeof err)) {
		fprintf(stderr, "gosling: error: %s\n", err);
		return CLI_USAGE;
	}
	if (ev.kind == LAMBDA_TF_DELETE) {
		fprintf(stderr, "gosling: Terraform delete: nothing to do\n");
		return CLI_DONE;
	}
	ev.req.allow_down |= req->allow_down;
	ev.req.allow_out_of_order |= req->allow_out_of_order;
	ev.req.atomic |= req->atomic;
	ev.req.head_only |= req->head_only;
	ev.req.deadline_ms = req->deadline_ms;
	*req = ev.req;
	if (ev.has_target) {
		cli->target = ev.target;
		cli->has_target = true;
	}
	return CLI_RUN;
}

/* The command and its version from the positional arguments or --event, the target, and their checks. */
static enum cli_outcome
parse_command(struct cli *cli, struct engine_request *req)
{
	char err[512];
	enum cli_outcome o;

	if (cli->npos > 0) {
		if (strcmp(cli->positional[0], "settings") == 0) {
			cli->settings_cmd = true;
		} else if (!engine_command_parse(cli->positional[0], &req->command)) {
			fprintf(stderr, "gosling: error: unknown command \"%s\"\n", cli->positional[0]);
			return CLI_USAGE;
		}
	}
	if (cli->npos > 1) {
		if (cli->settings_cmd || !(engine_command_needs_version(req->command) || req->command == ENGINE_PLAN)) {
			fprintf(stderr, "gosling: error: unexpected argument \"%s\"\n", cli->positional[1]);
			return CLI_USAGE;
		}
		if (!parse_version(cli->positional[1], &req->version)) {
			fprintf(stderr,
				"gosling: error: invalid version \"%.64s\": a migration version is an integer "
				"from 0 to 9223372036854775807\n",
				cli->positional[1]);
			return CLI_USAGE;
		}
		req->has_version = true;
	}
	if (cli->event && (o = parse_event(cli, req)) != CLI_RUN)
		return o;
	if (cli->target_json) {
		if (cli->has_target) {
			fprintf(stderr, "gosling: error: --target-json and the event's target: give one\n");
			return CLI_USAGE;
		}
		if (!target_parse_text(cli->target_json, &cli->target, err, sizeof err)) {
			fprintf(stderr, "gosling: error: --target-json: %s\n", err);
			return CLI_USAGE;
		}
		cli->has_target = true;
	}
	if (req->head_only && req->command != ENGINE_VERIFY) {
		fprintf(stderr, "gosling: error: --head-only applies to verify, not to %s\n",
			engine_command_name(req->command));
		return CLI_USAGE;
	}
	if (cli->has_target && req->command == ENGINE_LIST) {
		fprintf(stderr, "gosling: error: a target does not apply to list: it reads no database\n");
		return CLI_USAGE;
	}
	return CLI_RUN;
}

/* gosling settings [--json]: every setting, its variable, default and help. */
static void
print_settings(bool json)
{
	if (json) {
		char *s = config_settings_json();

		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	for (int i = 0; i < SET_COUNT; i++)
		printf("--%-20s %-26s %-20s %s\n", settings[i].name, settings[i].env ? settings[i].env : "-",
		       settings[i].def ? settings[i].def : "-", settings[i].help);
}

/* The result on stdout (text or JSON), its error's fields on stderr. */
static void
report(const struct engine_result *res, bool json)
{
	if (json) {
		char *s = engine_result_json(res);

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		print_text(res);
	}
	if (res->status != ENGINE_OK) {
		log_error("%s", res->error.message);
		if (res->error.detail[0])
			log_error("detail: %s", res->error.detail);
		if (res->error.hint[0])
			log_error("hint: %s", res->error.hint);
		if (res->error.sqlstate[0])
			log_error("sqlstate: %s", res->error.sqlstate);
	}
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct engine_request req = { .command = ENGINE_UP };
	struct engine_result res;
	enum log_level level = LOG_INFO;
	struct cli cli = { 0 };
	enum cli_outcome o;
	int code;

	release_loader_pages();
	/* installed as Lambda's bootstrap: the Runtime API loop */
	if (argc == 1 && getenv("AWS_LAMBDA_RUNTIME_API"))
		return lambda_main(&gosling_bundle);

	config_load(&cfg, env_get, NULL);
	o = parse_options(argc, argv, &cfg, &req, &cli);
	if (o == CLI_RUN)
		o = parse_command(&cli, &req);
	if (o == CLI_RUN && cli.settings_cmd) {
		print_settings(cli.json);
		o = CLI_DONE;
	}
	if (o != CLI_RUN) {
		if (o == CLI_USAGE)
			fprintf(stderr, "run gosling --help for usage\n");
		config_free(&cfg);
		return o == CLI_DONE ? 0 : o == CLI_OOM ? 3 : engine_exit_code(ENGINE_BAD_REQUEST);
	}

	if (cfg.value[SET_LOG_LEVEL] && !log_parse_level(cfg.value[SET_LOG_LEVEL], &level))
		level = LOG_INFO;
	log_init(cfg.value[SET_LOG_FORMAT] && strcasecmp(cfg.value[SET_LOG_FORMAT], "json") == 0 ? LOG_JSON : LOG_TEXT,
		 level);
	req.progress = on_progress;
	req.progress_arg = &cli.json;

	signals_catch(true);
	invoke_run(&(struct invoke){ .base = &cfg,
				     .b = &gosling_bundle,
				     .target = cli.has_target ? &cli.target : NULL,
				     .secret_deadline_ms = req.deadline_ms },
		   &req, &res);
	report(&res, cli.json);
	code = engine_exit_code(res.status);
	if (signals_interrupted() && res.status != ENGINE_OK)
		code = 128 + signals_interrupted(); /* as a shell reports a process a signal ended */
	engine_result_free(&res);
	config_free(&cfg);
	return code;
}
