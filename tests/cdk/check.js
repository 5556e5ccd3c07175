#!/usr/bin/env node
// tests/cdk/check.js - checks of the CloudFormation template `cdk synth` wrote for the CDK
// example (docs/examples/cdk), offline.
//
//   node check.js CDK_OUT STACK PACKAGE_ZIP ARCH SUBNETS SECURITY_GROUP RUNTIME_ENV
//
// One line per check: "PASS name" or "FAIL name: problem; problem"; exit 1 on a FAIL.
// SUBNETS is comma-separated; RUNTIME_ENV is `gosling settings --json` (the variables the
// runtime reads).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [outDir, stack, zip, arch, subnets, sg, runtimeEnvFile] = process.argv.slice(2);
const template = JSON.parse(fs.readFileSync(path.join(outDir, `${stack}.template.json`), 'utf8'));
const resources = template.Resources || {};
const ofType = (t) => Object.entries(resources).filter(([, r]) => r.Type === t);
const runtimeEnv = new Set();
for (const s of JSON.parse(fs.readFileSync(runtimeEnvFile, 'utf8'))) {
	if (s.env) runtimeEnv.add(s.env);
	if (s.env_alt) runtimeEnv.add(s.env_alt);
}
const sha256 = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

const results = [];
function check(name, fn) {
	const problems = [];
	try {
		fn((m) => problems.push(m));
	} catch (e) {
		problems.push(`check crashed: ${e.message}`);
	}
	results.push({ name, problems });
}

// The migrator: the function whose handler is bootstrap (the trigger's provider is Node).
const fns = ofType('AWS::Lambda::Function').filter(([, r]) => r.Properties.Handler === 'bootstrap');
const [fnId, fn] = fns[0] || [null, { Properties: {} }];
const p = fn.Properties;

check('one function runs gosling: handler bootstrap on provided.al2023', (fail) => {
	if (fns.length !== 1) fail(`${fns.length} functions with handler bootstrap, want 1`);
	if (p.Runtime !== 'provided.al2023') fail(`runtime is ${JSON.stringify(p.Runtime)}, want "provided.al2023"`);
});

check(`the architecture is ${arch}`, (fail) => {
	if (JSON.stringify(p.Architectures) !== JSON.stringify([arch])) fail(`architectures are ${JSON.stringify(p.Architectures)}`);
});

check("the code is the user's zip, byte for byte", (fail) => {
	const key = p.Code && p.Code.S3Key;
	if (!key) return fail('the function has no S3Key asset code');
	const assets = JSON.parse(fs.readFileSync(path.join(outDir, `${stack}.assets.json`), 'utf8'));
	const hash = key.replace(/\.zip$/, '');
	const asset = (assets.files || {})[hash];
	if (!asset) return fail(`asset ${hash} is not in ${stack}.assets.json`);
	if (asset.source.packaging !== 'file') fail(`the asset is packaged as ${asset.source.packaging}, want file (the zip as is)`);
	const file = path.join(outDir, asset.source.path);
	if (!fs.existsSync(file)) return fail(`asset file ${asset.source.path} is missing`);
	if (sha256(file) !== sha256(zip)) fail(`asset ${asset.source.path} differs from ${zip}`);
});

check('the function runs in the VPC: the given private subnets and security group', (fail) => {
	const vpc = p.VpcConfig || {};
	if (JSON.stringify(vpc.SubnetIds) !== JSON.stringify(subnets.split(','))) fail(`subnets are ${JSON.stringify(vpc.SubnetIds)}`);
	if (JSON.stringify(vpc.SecurityGroupIds) !== JSON.stringify([sg])) fail(`security groups are ${JSON.stringify(vpc.SecurityGroupIds)}`);
	const role = resources[(p.Role || {})['Fn::GetAtt'] ? p.Role['Fn::GetAtt'][0] : ''];
	if (!role || !JSON.stringify(role.Properties.ManagedPolicyArns || []).includes('AWSLambdaVPCAccessExecutionRole'))
		fail("the function's role lacks AWSLambdaVPCAccessExecutionRole (network interfaces in the VPC)");
});

check('the environment holds only variables gosling reads, and names the database', (fail) => {
	const env = (p.Environment || {}).Variables || {};
	for (const k of Object.keys(env)) {
		if (!runtimeEnv.has(k)) fail(`sets ${k}, which gosling does not read`);
		// Lambda reserves these; AWS_LAMBDA_LOG_FORMAT comes from LoggingConfig
		if (/^(AWS_LAMBDA_|AWS_REGION$|AWS_EXECUTION_ENV$|_)/.test(k)) fail(`sets ${k}, which Lambda reserves`);
	}
	if (!('DB_HOST' in env || 'DB_ADDRESS' in env || 'DATABASE_URL' in env)) fail('names no database host');
	if (!('DB_SECRET_ARN' in env || 'DB_IAM_AUTH' in env || 'DATABASE_URL' in env)) fail('names no credentials');
});

check('no retries of asynchronous invocations (MaximumRetryAttempts 0)', (fail) => {
	const cfg = ofType('AWS::Lambda::EventInvokeConfig').filter(([, r]) => JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: fnId }));
	if (!cfg.length) return fail('no EventInvokeConfig for the function');
	if (cfg[0][1].Properties.MaximumRetryAttempts !== 0) fail(`MaximumRetryAttempts is ${cfg[0][1].Properties.MaximumRetryAttempts}`);
});

check('deploying runs the migrations: a trigger invokes this code version synchronously, again when the code changes', (fail) => {
	const trig = ofType('Custom::Trigger');
	if (trig.length !== 1) return fail(`${trig.length} Custom::Trigger resources, want 1`);
	const t = trig[0][1].Properties;
	const ver = resources[(t.HandlerArn || {}).Ref];
	if (!ver || ver.Type !== 'AWS::Lambda::Version') return fail(`HandlerArn is ${JSON.stringify(t.HandlerArn)}, want a Ref to the function's version`);
	if (JSON.stringify(ver.Properties.FunctionName) !== JSON.stringify({ Ref: fnId })) fail(`the version is of ${JSON.stringify(ver.Properties.FunctionName)}, not the migrator`);
	if (t.InvocationType !== 'RequestResponse') fail(`InvocationType is ${t.InvocationType}: a failed migration must fail the deployment`);
	if (t.ExecuteOnHandlerChange !== true && t.ExecuteOnHandlerChange !== 'true') fail('ExecuteOnHandlerChange is not true: a new zip would not migrate');
	if (!(Number(t.Timeout) >= 60000)) fail(`the trigger waits ${t.Timeout} ms`);
	const provider = resources[(t.ServiceToken['Fn::GetAtt'] || [])[0]];
	if (!provider || provider.Type !== 'AWS::Lambda::Function') fail('the trigger has no provider function');
});

check('no IAM statement allows a wildcard action', (fail) => {
	const statements = [];
	for (const [id, r] of ofType('AWS::IAM::Policy')) for (const s of r.Properties.PolicyDocument.Statement) statements.push([id, s]);
	for (const [id, r] of ofType('AWS::IAM::Role'))
		for (const pol of r.Properties.Policies || []) for (const s of pol.PolicyDocument.Statement) statements.push([id, s]);
	if (!statements.length) fail('no IAM statements found at all');
	for (const [id, s] of statements) {
		if (s.NotAction) fail(`${id} uses NotAction`);
		for (const a of [].concat(s.Action || [])) if (String(a).includes('*')) fail(`${id} allows wildcard action ${a}`);
	}
});

check('the secret is readable by the function, and only that secret', (fail) => {
	const role = (p.Role || {})['Fn::GetAtt'] ? p.Role['Fn::GetAtt'][0] : '';
	const env = (p.Environment || {}).Variables || {};
	const grants = ofType('AWS::IAM::Policy').filter(([, r]) => JSON.stringify(r.Properties.Roles).includes(role))
		.flatMap(([, r]) => r.Properties.PolicyDocument.Statement)
		.filter((s) => [].concat(s.Action).includes('secretsmanager:GetSecretValue'));
	if (!grants.length) return fail("the function's role cannot read the secret");
	for (const s of grants) if (JSON.stringify(s.Resource) !== JSON.stringify(env.DB_SECRET_ARN)) fail(`GetSecretValue on ${JSON.stringify(s.Resource)}, want ${env.DB_SECRET_ARN}`);
});

let failed = false;
for (const r of results) {
	if (r.problems.length) {
		failed = true;
		console.log(`FAIL ${r.name}: ${r.problems.join('; ')}`);
	} else {
		console.log(`PASS ${r.name}`);
	}
}
process.exit(failed ? 1 : 0);
