#!/usr/bin/env node
// The CDK app: one stack holding the migrator.  Settings come from cdk.json's context (or
// `cdk synth -c packagePath=... -c vpcId=...`), so the same app serves every environment.
'use strict';
const cdk = require('aws-cdk-lib');
const { MigratorStack } = require('../lib/migrator-stack');

const app = new cdk.App();
const ctx = (name) => {
	const v = app.node.tryGetContext(name);
	if (v === undefined || v === '') throw new Error(`context ${name} is not set (cdk.json or -c ${name}=...)`);
	return typeof v === 'string' && v.startsWith('[') ? JSON.parse(v) : v;
};
new MigratorStack(app, 'HomeTestMigrator', {
	packagePath: ctx('packagePath'),
	architecture: ctx('architecture'),
	vpcId: ctx('vpcId'),
	availabilityZones: ctx('availabilityZones'),
	privateSubnetIds: ctx('privateSubnetIds'),
	privateSubnetRouteTableIds: ctx('privateSubnetRouteTableIds'),
	securityGroupId: ctx('securityGroupId'),
	dbHost: ctx('dbHost'),
	dbName: ctx('dbName'),
	dbUser: ctx('dbUser'),
	dbSecretArn: ctx('dbSecretArn'),
});
