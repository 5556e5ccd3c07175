/* invoke.c - one command: its target, its credentials, the engine (invoke.h). */
#include "invoke.h"

#include "config.h"
#include "http.h"
#include "secrets.h"
#include "target.h"

/* The credentials resolved over tcfg (the target applied), then the engine; or res failed with why not. */
static void
run_resolved(const struct invoke *in, const struct config *tcfg, const struct engine_request *req,
	     struct engine_result *res)
{
	struct http_client *http = in->http, *own = NULL;
	struct config run;
	char err[1024];

	/* a client of its own only when a secret is to be read (or the Data API called) */
	if (!http && config_str(tcfg, SET_SECRET_ARN)) {
		if (!http_global_init()) {
			engine_result_fail(res, in->b, req->command, ENGINE_CONFIG_ERROR,
					   "unable to initialise libcurl");
			return;
		}
		if (!(http = own = http_client_new())) {
			engine_result_fail(res, in->b, req->command, ENGINE_CONFIG_ERROR, "out of memory");
			http_global_cleanup();
			return;
		}
	}
	if (secrets_resolve(tcfg, &run, http, in->secret_deadline_ms, err, sizeof err))
		engine_run(&run, in->b, req, res);
	else
		engine_result_fail(res, in->b, req->command, ENGINE_CONFIG_ERROR, err);
	config_free(&run);
	if (own) {
		http_client_free(own);
		http_global_cleanup();
	}
}

void
invoke_run(const struct invoke *in, const struct engine_request *req, struct engine_result *res)
{
	if (req->command == ENGINE_LIST) {
		engine_run(in->base, in->b, req, res);
	} else {
		struct config tcfg;
		char err[1024];
		enum engine_status st = target_prepare(in->target, in->base, &tcfg, err, sizeof err);

		if (st != ENGINE_OK)
			engine_result_fail(res, in->b, req->command, st, err);
		else
			run_resolved(in, &tcfg, req, res);
		config_free(&tcfg);
	}
	if (in->target)
		res->target = in->target->id;
}
