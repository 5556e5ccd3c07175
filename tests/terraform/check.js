#!/usr/bin/env node
// tests/terraform/check.js - structural checks of gosling's Terraform module, offline.
//
//   node check.js MODULE_DIR RUNTIME_ENV      one line per check: "PASS name" or
//                                            "FAIL name: problem; problem"; exit 1 on a FAIL
//   node check.js --fmt DIR                  hclwrite's formatting (terraform fmt's core) of
//                                            every .tf below DIR; exit 1 naming unformatted files
//   node check.js --fleet MODULE_DIR DEF...  the fleet sub-module (terraform/modules/fleet): its
//                                            inputs and outputs documented, no wildcard IAM action,
//                                            and each DEF, a state machine definition it rendered
//                                            (JSON), valid against the Amazon States Language
//                                            specification (asl-validator) and shaped as a fleet:
//                                            a canary one at a time, then a Distributed Map;
//                                            an execution's data flow followed to each
//                                            target's payload {command, head_only, target}
//
// The module is parsed with a real HCL parser (@cdktf/hcl2json, hcl2json compiled to
// WebAssembly) into JSON, in which expressions stay strings such as "${var.x}".
// RUNTIME_ENV names the environment variables gosling reads: either the JSON that
// `gosling settings --json` prints (any object or array; every string under a key starting
// with "env" that looks like a variable name is taken), or a text list, one name a line.
// NODE_PATH must reach the installed @cdktf packages (tests/terraform.sh sets it).
'use strict';
const fs = require('fs');
const path = require('path');

// The seeds' module inputs: gosling's must accept these, and require only these and the
// package (the seeds' source_path, which built the Go binary, becomes the zip's path).
const SEEDS_INPUTS = ['db_username', 'db_address', 'db_port', 'db_name', 'db_cluster_id',
	'subnet_ids', 'security_group_ids'];
const REQUIRED_INPUTS = SEEDS_INPUTS.concat(['package_path']);
// What the module must put in the function's environment (DB_SECRET_ARN and DB_IAM_AUTH
// are alternatives, both present in the map, one of them null; DB_CLUSTER_ARN is set in
// the Data API mode only).
const MODULE_ENV = ['DB_ADDRESS', 'DB_PORT', 'DB_NAME', 'DB_USERNAME', 'DB_SSLMODE',
	'DB_SECRET_ARN', 'DB_IAM_AUTH', 'DB_CLUSTER_ARN'];
// Names the module sets before the runtime reads them, each with what will read it. The
// environment check accepts them, and one check a name says whether the runtime reads it
// yet: a SKIP until it does, then a PASS (and the entry can go).
const AHEAD_OF_RUNTIME = {
	DB_CLUSTER_ARN: "issue 18's RDS Data API transport (runtime/config.c's settings table)",
};
// The Data API mode's calls (issue 18): exactly these, on the one cluster.
const RDS_DATA_ACTIONS = ['rds-data:BeginTransaction', 'rds-data:CommitTransaction',
	'rds-data:ExecuteStatement', 'rds-data:RollbackTransaction'];

function listTf(dir, recursive) {
	let out = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) {
			if (recursive && e.name !== '.terraform' && e.name !== 'node_modules') out = out.concat(listTf(p, true));
		} else if (e.name.endsWith('.tf')) {
			out.push(p);
		}
	}
	return out.sort();
}

// Merge hcl2json documents of several files: blocks are objects of arrays.
function merge(a, b) {
	for (const [k, v] of Object.entries(b)) {
		if (Array.isArray(v)) a[k] = (a[k] || []).concat(v);
		else if (v && typeof v === 'object') a[k] = merge(a[k] || {}, v);
		else a[k] = v;
	}
	return a;
}

async function parseDir(dir) {
	const { parse } = require('@cdktf/hcl2json');
	let doc = {};
	for (const f of listTf(dir, false)) {
		try {
			doc = merge(doc, await parse(path.basename(f), fs.readFileSync(f, 'utf8')));
		} catch (e) {
			throw new Error(`${f}: ${e.message}`);
		}
	}
	return doc;
}

const first = (x) => (Array.isArray(x) ? x[0] : x);
const str = (x) => JSON.stringify(x === undefined ? null : x);

function walk(node, fn, key) {
	fn(node, key);
	if (Array.isArray(node)) node.forEach((n) => walk(n, fn, key));
	else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, fn, k);
}

function readRuntimeEnv(file) {
	const text = fs.readFileSync(file, 'utf8');
	const names = new Set();
	if (/^\s*[[{]/.test(text)) {
		walk(JSON.parse(text), (n, k) => {
			if (typeof n === 'string' && k && /^env/i.test(k) && /^[A-Z][A-Z0-9_]*$/.test(n)) names.add(n);
		});
	} else {
		for (const line of text.split('\n')) {
			const t = line.replace(/#.*/, '').trim();
			if (t) names.add(t);
		}
	}
	return names;
}

// Names in the first Markdown table under a "## <title>" heading: `name` in column one.
function readmeTable(readme, title) {
	const m = readme.match(new RegExp(`^## ${title}\\s*$([\\s\\S]*?)(?=^## |(?![\\s\\S]))`, 'm'));
	if (!m) return null;
	const names = [];
	for (const line of m[1].split('\n')) {
		const c = line.match(/^\|\s*`([A-Za-z0-9_]+)`\s*\|/);
		if (c) names.push(c[1]);
	}
	return names;
}

// Every IAM action in the parsed module, as an attribute (actions = [...]) or inside a
// policy written as jsonencode() or heredoc text: no wildcard, and no NotAction.
function noWildcardActions(doc, fail) {
	walk(doc, (n, k) => {
		if (k === 'not_actions' || k === 'NotAction') fail(`${k} is used: it grants every other action`);
		if ((k === 'actions' || k === 'Action') && typeof n === 'string' && n.includes('*'))
			fail(`wildcard action ${n}`);
		if (typeof n === 'string')
			for (const m of n.matchAll(/"?(?:Not)?Action"?\s*[:=]\s*(\[[^\]]*\]|"[^"]*")/g))
				for (const a of m[1].match(/"[^"]*"/g) || [])
					if (a.includes('*')) fail(`wildcard action ${a.replace(/"/g, '')}`);
	});
}

const blocksOf = (doc, kind) => Object.fromEntries(Object.entries(doc[kind] || {}).map(([k, v]) => [k, first(v)]));

// A module's interface: every variable described, typed, used and in the README's Inputs
// table; every output described and in its Outputs table; neither table naming another.
function checkInterface(check, doc, readme) {
	const variables = blocksOf(doc, 'variable');
	const outputs = blocksOf(doc, 'output');

	check('every variable has a description and a type', (fail) => {
		for (const [n, v] of Object.entries(variables)) {
			if (!v.description) fail(`variable ${n} has no description`);
			if (!v.type) fail(`variable ${n} has no type`);
		}
	});

	check('every variable is used', (fail) => {
		// Everything but the variable blocks themselves (their validations name them).
		const rest = str(Object.fromEntries(Object.entries(doc).filter(([k]) => k !== 'variable')));
		for (const n of Object.keys(variables))
			if (!new RegExp(`var\\.${n}\\b`).test(rest)) fail(`variable ${n} is declared but never used`);
	});

	check('every variable is documented in the README and the README documents no other', (fail) => {
		const rows = readmeTable(readme, 'Inputs');
		if (!rows) return fail('README.md has no "## Inputs" table');
		for (const n of Object.keys(variables)) if (!rows.includes(n)) fail(`variable ${n} is not documented in README.md's Inputs`);
		for (const n of rows) if (!(n in variables)) fail(`README.md's Inputs documents ${n}, which is not a variable`);
	});

	check('every output has a description and is documented in the README', (fail) => {
		const rows = readmeTable(readme, 'Outputs');
		if (!rows) return fail('README.md has no "## Outputs" table');
		for (const [n, o] of Object.entries(outputs)) {
			if (!o.description) fail(`output ${n} has no description`);
			if (!rows.includes(n)) fail(`output ${n} is not documented in README.md's Outputs`);
		}
		for (const n of rows) if (!(n in outputs)) fail(`README.md's Outputs documents ${n}, which is not an output`);
	});
}

// A list of checks run into results: check(name, fn) calls fn(fail) and records what failed.
function checker() {
	const results = [];
	const check = (name, fn) => {
		const problems = [];
		let skipped = null;
		try {
			fn((msg) => problems.push(msg), (why) => (skipped = why));
		} catch (e) {
			problems.push(`check crashed: ${e.message}`);
		}
		results.push({ name, problems, skipped: problems.length ? null : skipped });
	};
	return { results, check };
}

async function checkModule(dir, runtimeEnvFile) {
	const { results, check } = checker();

	const doc = await parseDir(dir);
	const readmePath = path.join(dir, 'README.md');
	const readme = fs.existsSync(readmePath) ? fs.readFileSync(readmePath, 'utf8') : '';
	const variables = blocksOf(doc, 'variable');
	const locals = Object.assign({}, ...(doc.locals || []));
	const res = (type, name) => first(((doc.resource || {})[type] || {})[name]);
	const resourcesOf = (type) => Object.values((doc.resource || {})[type] || {}).map(first);
	const fn = resourcesOf('aws_lambda_function')[0];
	// An expression with its local.X references expanded, for looking at what it uses.
	const expand = (v, depth = 0) => {
		let s = str(v);
		if (depth > 8) return s;
		return s.replace(/local\.([A-Za-z0-9_]+)/g, (m, n) => (n in locals ? `(${expand(locals[n], depth + 1)})` : m));
	};

	check('the module has files versions.tf, variables.tf, main.tf, outputs.tf, README.md, examples/', (fail) => {
		for (const f of ['versions.tf', 'variables.tf', 'main.tf', 'outputs.tf', 'README.md', 'examples'])
			if (!fs.existsSync(path.join(dir, f))) fail(`${f} is missing`);
	});

	check('versions.tf requires Terraform >= 1.5 and the AWS provider >= 5', (fail) => {
		const tf = first(doc.terraform) || {};
		const rv = tf.required_version || '';
		const m = rv.match(/>=\s*1\.(\d+)/);
		if (!m || Number(m[1]) < 5) fail(`required_version is ${str(rv)}, want ">= 1.5" or later`);
		const aws = (first(tf.required_providers) || {}).aws || {};
		if (aws.source !== 'hashicorp/aws') fail(`aws provider source is ${str(aws.source)}, want "hashicorp/aws"`);
		const pm = (aws.version || '').match(/>=\s*(\d+)/);
		if (!pm || Number(pm[1]) < 5) fail(`aws provider version is ${str(aws.version)}, want ">= 5" or later`);
	});

	checkInterface(check, doc, readme);

	check("the seeds' inputs are accepted and, with package_path, are the only required ones (drop-in)", (fail) => {
		for (const n of SEEDS_INPUTS) if (!(n in variables)) fail(`the seeds' input ${n} is not a variable`);
		for (const [n, v] of Object.entries(variables))
			if (!('default' in v) && !REQUIRED_INPUTS.includes(n)) fail(`variable ${n} is required, but the seeds do not pass it`);
		if (variables.package_path && 'default' in variables.package_path)
			fail(`package_path has a default (${str(variables.package_path.default)}): the user's zip must be passed`);
	});

	check('no IAM action contains a wildcard, and no NotAction', (fail) => noWildcardActions(doc, fail));

	check("IAM resources are the function's own: its log group, the secret, the key, the database user", (fail) => {
		walk(doc.data || {}, (n, k) => {
			if (k === 'resources' && n === '*') fail('a statement has resources = ["*"]');
			if (k === 'resources' && typeof n === 'string' && /^arn:[^$]*\*/.test(n)) fail(`a statement has the literal wildcard resource ${n}`);
		});
		const stmts = [];
		walk(doc.data || {}, (n, k) => {
			if (k !== 'statement' || !n || typeof n !== 'object' || Array.isArray(n)) return;
			// A dynamic "statement" block: its content, with where statement.value comes from.
			if (n.content) stmts.push(Object.assign({}, first(n.content), { for_each: n.for_each }));
			else if (n.actions) stmts.push(n);
		});
		const byAction = (a) => stmts.filter((s) => (s.actions || []).includes(a));
		for (const s of byAction('logs:PutLogEvents'))
			if (!str(s.resources).includes('aws_cloudwatch_log_group.')) fail('logs:PutLogEvents is not limited to the function\'s log group');
		if (!byAction('logs:PutLogEvents').length) fail('no statement lets the function write its logs');
		// A resource that is statement.value stands for the dynamic block's for_each.
		const scope = (s) => expand(s.resources) + (str(s.resources).includes('statement.value') ? expand(s.for_each) : '');
		for (const s of byAction('secretsmanager:GetSecretValue'))
			if (!/secret_arn/.test(scope(s))) fail('secretsmanager:GetSecretValue is not limited to the one secret');
		if (!byAction('secretsmanager:GetSecretValue').length) fail('no statement lets the function read its secret');
		for (const s of byAction('kms:Decrypt')) {
			if (!/var\.kms_key_arn/.test(scope(s))) fail('kms:Decrypt is not limited to kms_key_arn');
			if (!/var\.kms_key_arn\s*!=\s*null/.test(expand(s.for_each))) fail('kms:Decrypt is granted even when no kms_key_arn is given');
		}
		const rds = byAction('rds-db:connect');
		if (!rds.length) fail('no statement grants rds-db:connect for iam_auth');
		for (const s of rds)
			if (!/:dbuser:.*var\.db_username/.test(scope(s)) || !/var\.iam_auth/.test(expand(s.for_each))) fail('rds-db:connect is not limited to dbuser:<cluster resource id>/<db_username> when iam_auth is true');
		const vpc = resourcesOf('aws_iam_role_policy_attachment').filter((a) =>
			/policy\/service-role\/AWSLambda(ENIManagementAccess|VPCAccessExecutionRole)$/.test(a.policy_arn || ''));
		if (!vpc.length) fail("the role does not get VPC access through AWS's managed policy");
		for (const a of vpc)
			if (!/^"\$\{local\.data_api_mode \? 0 : 1\}"$/.test(str(a.count)))
				fail(`the network interface policy is attached in the Data API mode too (count ${str(a.count)})`);
	});

	check('the Data API mode: rds-data BeginTransaction, CommitTransaction, ExecuteStatement, RollbackTransaction on data_api.cluster_arn only', (fail) => {
		if (!variables.data_api) return fail('no variable data_api');
		const stmts = [];
		walk(doc.data || {}, (n, k) => {
			if (k !== 'statement' || !n || typeof n !== 'object' || Array.isArray(n)) return;
			if (n.content) stmts.push(Object.assign({}, first(n.content), { for_each: n.for_each }));
			else if (n.actions) stmts.push(n);
		});
		const rds = stmts.filter((s) => (s.actions || []).some((a) => a.startsWith('rds-data:')));
		if (rds.length !== 1) return fail(`${rds.length} statements grant rds-data actions, want 1`);
		const s = rds[0];
		const got = [...s.actions].sort();
		if (str(got) !== str(RDS_DATA_ACTIONS)) fail(`its actions are ${got.join(', ')}, want ${RDS_DATA_ACTIONS.join(', ')}`);
		if (str(s.resources) !== str(['${statement.value}']) || !/var\.data_api\.cluster_arn/.test(expand(s.for_each)))
			fail(`its resources are ${str(s.resources)} over ${expand(s.for_each)}, want [statement.value] over var.data_api.cluster_arn`);
		if (!/data_api_mode|var\.data_api\s*!=\s*null/.test(expand(s.for_each))) fail('it is granted outside the Data API mode');
	});

	check('the function: provided.al2023, bootstrap, arm64 by default (x86_64 selectable), 128 MB, 300 s, VPC, JSON logs', (fail) => {
		if (!fn) return fail('no aws_lambda_function');
		if (fn.runtime !== 'provided.al2023') fail(`runtime is ${str(fn.runtime)}, want "provided.al2023"`);
		if (fn.handler !== 'bootstrap') fail(`handler is ${str(fn.handler)}, want "bootstrap"`);
		if (str(fn.architectures) !== str(['${var.architecture}'])) fail(`architectures is ${str(fn.architectures)}, want [var.architecture]`);
		const arch = variables.architecture || {};
		if (arch.default !== 'arm64') fail(`variable architecture defaults to ${str(arch.default)}, want "arm64"`);
		const av = str(arch.validation);
		if (!av.includes('arm64') || !av.includes('x86_64')) fail('variable architecture has no validation allowing exactly arm64 and x86_64');
		const want = { memory_size: 128, timeout: 300, log_format: 'JSON' };
		for (const [v, d] of Object.entries(want)) {
			if (!variables[v] || variables[v].default !== d) fail(`variable ${v} defaults to ${str((variables[v] || {}).default)}, want ${str(d)}`);
		}
		if (fn.memory_size !== '${var.memory_size}') fail('memory_size is not var.memory_size');
		if (fn.timeout !== '${var.timeout}') fail('timeout is not var.timeout');
		// vpc_config: a dynamic block, absent in the Data API mode.
		const dyn = first((first(fn.dynamic) || {}).vpc_config);
		const vpc = dyn ? first(dyn.content) || {} : first(fn.vpc_config) || {};
		if (vpc.subnet_ids !== '${var.subnet_ids}' || vpc.security_group_ids !== '${var.security_group_ids}')
			fail('vpc_config does not use var.subnet_ids and var.security_group_ids');
		if (!dyn || !/^\$\{local\.data_api_mode \? \[\] : \[1\]\}$/.test(dyn.for_each || ''))
			fail('vpc_config is not a dynamic block absent in the Data API mode (for_each = local.data_api_mode ? [] : [1])');
		const lc = first(fn.logging_config) || {};
		if (lc.log_format !== '${var.log_format}') fail('logging_config.log_format is not var.log_format');
		if (!str(lc.log_group).includes('aws_cloudwatch_log_group.')) fail("logging_config.log_group is not the module's log group");
		if (!/var\.reserved_concurrent_executions/.test(str(fn.reserved_concurrent_executions))) fail('reserved_concurrent_executions is not an input');
	});

	check("the package: the user's zip at package_path, nothing of gosling's tree, source_code_hash = filebase64sha256(...)", (fail) => {
		if (!fn) return fail('no aws_lambda_function');
		if (!expand(fn.filename).includes('var.package_path')) fail('filename does not come from var.package_path');
		if (/build\/dist|path\.module/.test(expand(fn.filename))) fail(`filename ${expand(fn.filename)} falls back to a zip in gosling's tree`);
		if (!/filebase64sha256\([^)]*package_path/.test(expand(fn.source_code_hash))) fail(`source_code_hash is ${str(fn.source_code_hash)}, want filebase64sha256 of the package`);
	});

	check('the log group: /aws/lambda/<function_name>, retention from log_retention_in_days', (fail) => {
		const lg = resourcesOf('aws_cloudwatch_log_group')[0];
		if (!lg) return fail('no aws_cloudwatch_log_group');
		if (lg.name !== '/aws/lambda/${var.function_name}') fail(`log group name is ${str(lg.name)}`);
		if (lg.retention_in_days !== '${var.log_retention_in_days}') fail('retention_in_days is not var.log_retention_in_days');
	});

	check('asynchronous invocations are never retried (maximum_retry_attempts = 0)', (fail) => {
		const c = resourcesOf('aws_lambda_function_event_invoke_config')[0];
		if (!c) return fail('no aws_lambda_function_event_invoke_config');
		if (c.maximum_retry_attempts !== 0) fail(`maximum_retry_attempts is ${str(c.maximum_retry_attempts)}, want 0`);
	});

	check('run_on_apply: aws_lambda_invocation of "up", CRUD scope, triggered by the package hash', (fail) => {
		const inv = resourcesOf('aws_lambda_invocation')[0];
		if (!inv) return fail('no aws_lambda_invocation');
		if (!/var\.run_on_apply\b/.test(str(inv.count))) fail('its count does not depend on var.run_on_apply');
		if (inv.lifecycle_scope !== 'CRUD') fail(`lifecycle_scope is ${str(inv.lifecycle_scope)}, want "CRUD"`);
		if (!/command\s*=\s*\\?"up/.test(str(inv.input))) fail(`input is ${str(inv.input)}, want {command = "up"}`);
		if (!/filebase64sha256|source_code_hash/.test(expand(inv.triggers))) fail('triggers do not include the package hash');
	});

	check('the environment the module sets is exactly what the runtime reads', (fail) => {
		if (!fn) return fail('no aws_lambda_function');
		const runtime = readRuntimeEnv(runtimeEnvFile);
		if (!runtime.size) return fail(`${runtimeEnvFile} names no environment variable`);
		// Keys of the object literals the variables expression reaches through locals;
		// var.environment_variables is the user's own map, checked by its validation.
		const keys = new Set();
		const collect = (v, depth) => {
			if (depth > 8) return;
			if (v && typeof v === 'object' && !Array.isArray(v)) Object.keys(v).forEach((k) => keys.add(k));
			else if (typeof v === 'string')
				for (const m of v.matchAll(/local\.([A-Za-z0-9_]+)/g)) if (m[1] in locals) collect(locals[m[1]], depth + 1);
			else if (Array.isArray(v)) v.forEach((x) => collect(x, depth + 1));
		};
		collect((first(fn.environment) || {}).variables, 0);
		for (const k of keys) if (!runtime.has(k) && !(k in AHEAD_OF_RUNTIME)) fail(`the module sets ${k}, which is not read by the runtime`);
		for (const k of MODULE_ENV) if (!keys.has(k)) fail(`the module does not set ${k}`);
		// The user's extra variables may not shadow any connection setting gosling reads.
		const guard = str((variables.environment_variables || {}).validation);
		for (const k of new Set([...runtime, ...Object.keys(AHEAD_OF_RUNTIME)]))
			if (/^(DATABASE_URL|DB_)/.test(k) && !guard.includes(`\\"${k}\\"`)) fail(`environment_variables may override ${k}: add it to its validation`);
	});

	for (const [k, what] of Object.entries(AHEAD_OF_RUNTIME)) {
		check(`the runtime reads ${k}, which the module sets`, (fail, skip) => {
			if (!readRuntimeEnv(runtimeEnvFile).has(k)) skip(`not yet: waiting for ${what}`);
		});
	}

	check("the README's usage block is the seeds' usage with gosling's source", (fail) => {
		const m = readme.match(/^## Usage\s*$[\s\S]*?```hcl\n([\s\S]*?)```/m);
		if (!m) return fail('README.md has no ```hcl block under "## Usage"');
		const block = m[1];
		const mod = block.match(/module\s+"([^"]+)"\s*{([\s\S]*)}/);
		if (!mod) return fail('the usage block has no module block');
		if (mod[1] !== 'goose_migrator') fail(`the usage module is named ${mod[1]}, the seeds' is goose_migrator`);
		const args = [...mod[2].matchAll(/^\s*([a-z_]+)\s*=/gm)].map((a) => a[1]);
		if (!args.includes('source')) fail('the usage block has no source');
		const inputs = args.filter((a) => a !== 'source');
		for (const n of REQUIRED_INPUTS) if (!inputs.includes(n)) fail(`the usage block does not pass the required ${n}`);
		for (const n of inputs) if (!(n in variables)) fail(`the usage block passes ${n}, which is not a variable`);
	});

	const exdir = path.join(dir, 'examples');
	const examples = fs.existsSync(exdir) ? fs.readdirSync(exdir).filter((e) => fs.statSync(path.join(exdir, e)).isDirectory()) : [];
	const exdocs = {};
	for (const e of examples) exdocs[e] = await parseDir(path.join(exdir, e));
	check('the examples: an Aurora one, an IAM auth one and a Data API one, passing only real inputs and every required one', (fail) => {
		let iam = false;
		let seeds = false;
		let dataApi = false;
		if (!examples.length) fail('no examples/');
		for (const [e, d] of Object.entries(exdocs)) {
			const mods = Object.entries(d.module || {}).map(([n, v]) => [n, first(v)]).filter(([, v]) => v.source === '../..');
			if (!mods.length) fail(`examples/${e} does not use the module (source = "../..")`);
			for (const [n, m] of mods) {
				const passed = Object.keys(m).filter((k) => !['source', 'depends_on', 'providers', 'count', 'for_each'].includes(k));
				for (const k of passed) if (!(k in variables)) fail(`examples/${e} module ${n} passes ${k}, which is not a variable`);
				for (const [v, d2] of Object.entries(variables))
					if (!('default' in d2) && !passed.includes(v)) fail(`examples/${e} module ${n} does not pass the required ${v}`);
				if (m.iam_auth === true) iam = true;
				if (m.data_api) {
					dataApi = true;
					const da = str(m.data_api);
					if (!/aws_rds_cluster\.[A-Za-z0-9_-]+\.arn/.test(da) || !/master_user_secret\[0\]\.secret_arn/.test(da))
						fail(`examples/${e} module ${n} passes data_api ${da}, want the cluster's arn and its master_user_secret[0].secret_arn`);
					for (const k of ['db_address', 'db_username', 'subnet_ids', 'security_group_ids', 'db_secret_arn', 'db_cluster_id', 'iam_auth'])
						if (passed.includes(k)) fail(`examples/${e} module ${n} passes ${k} with data_api: the plan refuses the two modes at once`);
					const c = Object.values((d.resource || {}).aws_rds_cluster || {}).map(first);
					if (!c.length) fail(`examples/${e} has no aws_rds_cluster`);
					for (const cl of c) {
						if (cl.enable_http_endpoint !== true) fail(`examples/${e}: the cluster has no enable_http_endpoint = true (the Data API)`);
						if (cl.manage_master_user_password !== true) fail(`examples/${e}: the cluster has no manage_master_user_password = true`);
						const sc = first(cl.serverlessv2_scaling_configuration) || {};
						if (cl.engine !== 'aurora-postgresql' || sc.min_capacity !== 0)
							fail(`examples/${e}: the cluster is not Aurora PostgreSQL Serverless v2 with min_capacity 0 (engine ${str(cl.engine)}, min_capacity ${str(sc.min_capacity)})`);
					}
				}
				if (SEEDS_INPUTS.every((k) => passed.includes(k))) seeds = true;
			}
		}
		if (!iam) fail('no example sets iam_auth = true');
		if (!dataApi) fail('no example sets data_api');
		if (!seeds) fail("no example passes all the seeds' inputs");
	});

	return results;
}

// The transitions out of a state: Next, a Choice's Next and Default, a Catch's Next.
function transitions(state) {
	const out = [];
	if (state.Next) out.push(state.Next);
	for (const c of state.Choices || []) if (c.Next) out.push(c.Next);
	if (state.Default) out.push(state.Default);
	for (const c of state.Catch || []) if (c.Next) out.push(c.Next);
	return out;
}

// The states reachable from `from` in one States object without passing through `avoid`.
function reachable(states, from, avoid) {
	const seen = new Set();
	const todo = [from];
	while (todo.length) {
		const n = todo.pop();
		if (seen.has(n) || n === avoid || !states[n]) continue;
		seen.add(n);
		todo.push(...transitions(states[n]));
	}
	return seen;
}

// gosling's errors a target's invocation may be retried on: Lambda's own (the event never
// reached gosling, or was throttled) and a lock timeout (nothing ran). A migration that
// failed is never run again blindly.
const RETRYABLE = /^(Lambda\.(ServiceException|AWSLambdaException|SdkClientException|TooManyRequestsException)|Function\.LockTimeout)$/;

// --- a small interpreter of the definition's data flow ----------------------------------
// Enough of the Amazon States Language to follow an execution input to each target's
// payload: JsonPath ($.a.b, $.a[i:j], $$.Map.Item.Value/Index), Parameters/ItemSelector
// (".$" keys), Pass (Result, Parameters, ResultPath), Choice (And/Or/Not, IsPresent,
// IsString, IsBoolean, StringEquals, BooleanEquals, NumericLessThan), Map (ItemsPath or an
// S3 ItemReader given its items, MaxItems), Task (the payload recorded; its output the
// Payload {}), Fail. What it does not know it throws on, so a new construct is noticed.
function jsonPath(data, ctx, p) {
	let m = /^(\$\$?)(.*)$/.exec(p || '');
	if (!m) throw new Error(`not a JsonPath: ${p}`);
	let v = m[1] === '$$' ? ctx : data;
	let rest = m[2];
	while (rest) {
		let k;
		if ((k = /^\.([A-Za-z0-9_]+)/.exec(rest))) {
			if (v === null || typeof v !== 'object' || !(k[1] in v)) return undefined;
			v = v[k[1]];
		} else if ((k = /^\[([0-9]+):([0-9]+)\]/.exec(rest))) {
			if (!Array.isArray(v)) return undefined;
			v = v.slice(Number(k[1]), Number(k[2]));
		} else {
			throw new Error(`JsonPath ${p}: cannot follow ${rest}`);
		}
		rest = rest.slice(k[0].length);
	}
	return v;
}

function fillIn(tpl, data, ctx) {
	if (Array.isArray(tpl)) return tpl.map((x) => fillIn(x, data, ctx));
	if (!tpl || typeof tpl !== 'object') return tpl;
	const out = {};
	for (const [k, v] of Object.entries(tpl)) {
		if (k.endsWith('.$')) {
			const got = jsonPath(data, ctx, v);
			if (got === undefined) throw new Error(`States.Runtime: ${k} = ${v} is not in the input`);
			out[k.slice(0, -2)] = got;
		} else {
			out[k] = fillIn(v, data, ctx);
		}
	}
	return out;
}

function setPath(data, p, value) {
	if (p === null) return data;
	if (p === undefined || p === '$') return value;
	const m = /^\$\.([A-Za-z0-9_]+)$/.exec(p);
	if (!m) throw new Error(`ResultPath ${p} is not followed here`);
	return Object.assign({}, data, { [m[1]]: value });
}

function choiceRule(r, data) {
	if (r.And) return r.And.every((x) => choiceRule(x, data));
	if (r.Or) return r.Or.some((x) => choiceRule(x, data));
	if (r.Not) return !choiceRule(r.Not, data);
	const v = jsonPath(data, {}, r.Variable);
	if ('IsPresent' in r) return (v !== undefined) === r.IsPresent;
	if ('IsString' in r) return (typeof v === 'string') === r.IsString;
	if ('IsBoolean' in r) return (typeof v === 'boolean') === r.IsBoolean;
	if ('StringEquals' in r) return v === r.StringEquals;
	if ('BooleanEquals' in r) return v === r.BooleanEquals;
	if ('NumericLessThan' in r) return typeof v === 'number' && v < r.NumericLessThan;
	throw new Error(`a Choice rule this checker does not know: ${str(r)}`);
}

// Run States from StartAt on input; ctx the context object ($$). Each Task's payload is
// pushed to calls; items is the S3 items file's content. Returns {output} or {error}.
function runStates(machine, input, ctx, calls, items) {
	let name = machine.StartAt;
	let data = input;
	for (let steps = 0; steps < 100; steps++) {
		const s = machine.States[name];
		if (!s) throw new Error(`no state ${name}`);
		let result;
		if (s.Type === 'Fail') return { error: s.Error };
		if (s.Type === 'Succeed') return { output: data };
		if (s.Type === 'Choice') {
			const c = (s.Choices || []).find((x) => choiceRule(x, data));
			name = c ? c.Next : s.Default;
			if (!name) return { error: 'States.NoChoiceMatched' };
			continue;
		}
		if (s.Type === 'Pass') {
			result = s.Parameters ? fillIn(s.Parameters, data, ctx) : ('Result' in s ? s.Result : data);
		} else if (s.Type === 'Task') {
			const p = fillIn(s.Parameters || {}, data, ctx);
			calls.push(p.Payload);
			result = { Payload: {} };
		} else if (s.Type === 'Map') {
			let list;
			if (s.ItemReader) {
				list = items.slice(0, (s.ItemReader.ReaderConfig || {}).MaxItems || items.length);
			} else {
				list = jsonPath(data, ctx, s.ItemsPath || '$');
			}
			if (!Array.isArray(list)) return { error: 'States.Runtime' };
			result = [];
			for (let i = 0; i < list.length; i++) {
				const mctx = { Map: { Item: { Value: list[i], Index: i } } };
				const one = s.ItemSelector ? fillIn(s.ItemSelector, data, mctx) : list[i];
				const r = runStates(s.ItemProcessor, one, mctx, calls, items);
				if (r.error) return r;
				result.push(r.output);
			}
			if (s.ResultWriter) result = { MapRunArn: 'arn:map-run', ResultWriterDetails: {} };
		} else {
			throw new Error(`a state type this checker does not follow: ${s.Type}`);
		}
		if (s.ResultSelector) throw new Error('ResultSelector is not followed here');
		if (s.OutputPath && s.Type === 'Task') result = jsonPath(result, ctx, s.OutputPath);
		data = setPath(data, s.ResultPath, result);
		if (s.End) return { output: data };
		name = s.Next;
	}
	throw new Error('more than 100 transitions');
}

// Follow an execution of def for one input: the payloads of every invocation, or the error.
function execute(def, input, targets) {
	const calls = [];
	const inp = def.States.Fleet && def.States.Fleet.ItemReader ? input : Object.assign({ targets }, input);
	const r = runStates(def, inp, {}, calls, targets);
	return r.error ? { error: r.error, calls } : { calls };
}

async function checkFleet(dir, defFiles) {
	const { results, check } = checker();
	const doc = await parseDir(dir);
	const readmePath = path.join(dir, 'README.md');
	const readme = fs.existsSync(readmePath) ? fs.readFileSync(readmePath, 'utf8') : '';

	checkInterface(check, doc, readme);
	check('no IAM action contains a wildcard, and no NotAction', (fail) => noWildcardActions(doc, fail));
	check('the state machine is STANDARD and its definition is jsonencode()d', (fail) => {
		const sm = Object.values((doc.resource || {}).aws_sfn_state_machine || {}).map(first);
		if (sm.length !== 1) return fail(`${sm.length} aws_sfn_state_machine resources, want 1`);
		if (sm[0].type !== 'STANDARD') fail(`type is ${str(sm[0].type)}, want "STANDARD" (a Distributed Map runs only there)`);
		const locals = Object.assign({}, ...(doc.locals || []));
		const d = /^\$\{local\.([A-Za-z0-9_]+)\}$/.exec(sm[0].definition || '');
		if (!/jsonencode\(/.test(str(d ? locals[d[1]] : sm[0].definition))) fail('definition is not built with jsonencode()');
	});

	const aslValidator = require('asl-validator');
	for (const f of defFiles) {
		const name = path.basename(f);
		let def;
		try {
			def = JSON.parse(fs.readFileSync(f, 'utf8'));
		} catch (e) {
			check(`${name}: is JSON`, (fail) => fail(e.message));
			continue;
		}
		const states = def.States || {};
		const fleet = states.Fleet || {};
		const canary = states.Canary;

		check(`${name}: valid Amazon States Language (asl-validator)`, (fail) => {
			// The validator fills in defaults (QueryLanguage): give it a copy.
			const { isValid, errorsText } = aslValidator(JSON.parse(JSON.stringify(def)));
			if (!isValid) fail(errorsText('; '));
		});

		check(`${name}: the fleet is a Distributed Map of STANDARD children, bounded, results to S3`, (fail) => {
			if (fleet.Type !== 'Map') return fail('no Map state named Fleet');
			const pc = (fleet.ItemProcessor || {}).ProcessorConfig || {};
			if (pc.Mode !== 'DISTRIBUTED' || pc.ExecutionType !== 'STANDARD')
				fail(`ProcessorConfig is ${str(pc)}, want Mode DISTRIBUTED, ExecutionType STANDARD`);
			if (!Number.isInteger(fleet.MaxConcurrency) || fleet.MaxConcurrency < 1)
				fail(`MaxConcurrency is ${str(fleet.MaxConcurrency)}, want a bound of at least 1 (0 is unbounded)`);
			if (!Number.isInteger(fleet.ToleratedFailurePercentage)) fail('no ToleratedFailurePercentage');
			if (!/^arn:[^:]+:states:::s3:putObject$/.test((fleet.ResultWriter || {}).Resource || ''))
				fail('no ResultWriter to S3 (arn:<partition>:states:::s3:putObject)');
			const reader = fleet.ItemReader;
			if (reader) {
				if (!/^arn:[^:]+:states:::s3:getObject$/.test(reader.Resource || '') || (reader.ReaderConfig || {}).InputType !== 'JSON')
					fail(`ItemReader is ${str(reader)}, want s3:getObject of a JSON file`);
			} else if (!fleet.ItemsPath) {
				fail('neither an ItemReader nor an ItemsPath: the map has no items');
			}
		});

		check(`${name}: the canary, if any, precedes the map, runs one target at a time and stops on failure`, (fail) => {
			if (!states[def.StartAt]) return fail(`StartAt ${str(def.StartAt)} is not a state`);
			const all = reachable(states, def.StartAt, null);
			if (!all.has('Fleet')) fail('the Fleet map is not reachable from StartAt');
			if (!canary) return;
			if (!all.has('Canary')) fail('the Canary is not reachable from StartAt');
			if (reachable(states, def.StartAt, 'Canary').has('Fleet')) fail('the Fleet map is reachable without passing the Canary');
			if (reachable(states, 'Fleet', null).has('Canary')) fail('the Canary comes after the Fleet map');
			if (canary.MaxConcurrency !== 1) fail(`the canary's MaxConcurrency is ${str(canary.MaxConcurrency)}, want 1`);
			if ((canary.ToleratedFailurePercentage || 0) !== 0 || (canary.ToleratedFailureCount || 0) !== 0)
				fail('the canary tolerates failures');
			for (const c of canary.Catch || [])
				if (reachable(states, c.Next, null).has('Fleet')) fail(`a failed canary goes on to the fleet (Catch -> ${c.Next})`);
			const n = canary.ItemReader ? (canary.ItemReader.ReaderConfig || {}).MaxItems : undefined;
			const skip = ((fleet.ItemProcessor || {}).States || {}).InCanary;
			if (!skip) fail('the Fleet map does not pass over the canary\'s targets');
			else if (n !== undefined && skip.Choices[0].NumericLessThan !== n)
				fail(`the canary reads ${n} targets but the fleet passes over ${skip.Choices[0].NumericLessThan}`);
		});

		check(`${name}: a target is one invocation of gosling with {command, head_only, target}, retried only on Lambda's errors and a lock timeout`, (fail) => {
			const tasks = [];
			walk(def, (n) => {
				if (n && typeof n === 'object' && n.Type === 'Task') tasks.push(n);
			});
			if (!tasks.length) fail('no Task state');
			for (const t of tasks) {
				if (!/^arn:[^:]+:states:::lambda:invoke$/.test(t.Resource || '')) fail(`a Task calls ${str(t.Resource)}, not lambda:invoke`);
				const p = t.Parameters || {};
				if (!/^arn:[^:]+:lambda:[^:]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$/.test(p.FunctionName || ''))
					fail(`FunctionName ${str(p.FunctionName)} is not a function ARN`);
				if (str(Object.keys(p.Payload || {}).sort()) !== str(['command.$', 'head_only.$', 'target.$']))
					fail(`the payload is ${str(p.Payload)}, want {command, head_only, target}`);
				const errs = (t.Retry || []).flatMap((r) => r.ErrorEquals || []);
				for (const e of ['Lambda.ServiceException', 'Lambda.TooManyRequestsException'])
					if (!errs.includes(e)) fail(`${e} is not retried`);
				for (const e of errs) if (!RETRYABLE.test(e)) fail(`${e} is retried: a failed migration must not be run again blindly`);
				if (t.Catch) fail('a target\'s failure is caught: it must fail the child, to count against the tolerated failures');
			}
		});

		// The data flow, followed: each input's targets each invoked once, with the payload
		// gosling must get (verify reads the chain head unless told otherwise).
		const targets = [1, 2, 3, 4, 5].map((i) => ({ id: `tenant_${i}`, schema: `tenant_${i}` }));
		check(`${name}: each target invoked once with {command, head_only, target}: verify head-only by default, up not, bad input refused`, (fail) => {
			const cases = [
				[{ command: 'verify' }, 'verify', true],
				[{ command: 'verify', head_only: false }, 'verify', false],
				[{ command: 'verify', head_only: true }, 'verify', true],
				[{ command: 'up' }, 'up', false],
			];
			for (const [input, command, headOnly] of cases) {
				let r;
				try {
					r = execute(def, input, targets);
				} catch (e) {
					return fail(`${str(input)}: ${e.message}`);
				}
				if (r.error) {
					fail(`${str(input)} failed the execution: ${r.error}`);
					continue;
				}
				const want = targets.map((t) => str({ command, head_only: headOnly, target: t }));
				const got = r.calls.map((c) => str(c));
				if (str(got.slice().sort()) !== str(want.slice().sort()))
					fail(`${str(input)} invoked ${got.join(', ')}; want each of ${want.join(', ')} once`);
			}
			for (const input of [{ command: 'up', head_only: true }, { command: 'up', head_only: false },
				{ command: 'verify', head_only: 'yes' }, { command: 'status' }, {}]) {
				let r;
				try {
					r = execute(def, input, targets);
				} catch (e) {
					return fail(`${str(input)}: ${e.message}`);
				}
				if (r.error !== 'Fleet.BadInput' || r.calls.length)
					fail(`${str(input)}: ${r.error || 'succeeded'} after ${r.calls.length} invocations, want Fleet.BadInput before any`);
			}
		});
	}
	return results;
}

async function checkFmt(dir) {
	const { format } = require('@cdktf/hcl-tools');
	const bad = [];
	for (const f of listTf(dir, true)) {
		const text = fs.readFileSync(f, 'utf8');
		if ((await format(text)) !== text) bad.push(f);
	}
	return bad;
}

(async () => {
	const args = process.argv.slice(2);
	if (args[0] === '--fmt' && args.length === 2) {
		const bad = await checkFmt(args[1]);
		for (const f of bad) console.log(`not formatted: ${f}`);
		process.exit(bad.length ? 1 : 0);
	}
	const fleet = args[0] === '--fleet' && args.length >= 3;
	if (args.length !== 2 && !fleet) {
		console.error('usage: check.js MODULE_DIR RUNTIME_ENV | check.js --fmt DIR | check.js --fleet MODULE_DIR DEFINITION.json...');
		process.exit(2);
	}
	let results;
	try {
		results = fleet ? await checkFleet(args[1], args.slice(2)) : await checkModule(args[0], args[1]);
	} catch (e) {
		console.log(`FAIL the module parses: ${e.message}`);
		process.exit(1);
	}
	let failed = 0;
	for (const r of results) {
		if (r.problems.length) {
			failed++;
			console.log(`FAIL ${r.name}: ${r.problems.join('; ')}`);
		} else if (r.skipped) {
			console.log(`SKIP ${r.name} # ${r.skipped}`);
		} else {
			console.log(`PASS ${r.name}`);
		}
	}
	process.exit(failed ? 1 : 0);
})();
