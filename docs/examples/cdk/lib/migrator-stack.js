// MigratorStack: gosling's zip as a Lambda function on provided.al2023 in the database's
// VPC, run with {} (= up) on every deployment that changes the zip (triggers.Trigger: a
// failed migration fails the deployment).
'use strict';
const path = require('path');
const cdk = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const lambda = require('aws-cdk-lib/aws-lambda');
const logs = require('aws-cdk-lib/aws-logs');
const secretsmanager = require('aws-cdk-lib/aws-secretsmanager');
const triggers = require('aws-cdk-lib/triggers');

class MigratorStack extends cdk.Stack {
	constructor(scope, id, props) {
		super(scope, id, props);

		// The VPC and security group already exist (the database's); nothing is looked up,
		// so `cdk synth` needs no AWS account.
		const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
			vpcId: props.vpcId,
			availabilityZones: props.availabilityZones,
			privateSubnetIds: props.privateSubnetIds,
			privateSubnetRouteTableIds: props.privateSubnetRouteTableIds,
		});
		const sg = ec2.SecurityGroup.fromSecurityGroupId(this, 'LambdaToDb', props.securityGroupId);
		const secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'DbSecret', props.dbSecretArn);

		const fn = new lambda.Function(this, 'Migrator', {
			description: 'gosling: applies the goose migrations compiled into it to PostgreSQL',
			runtime: lambda.Runtime.PROVIDED_AL2023,
			handler: 'bootstrap',
			architecture: props.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
			// goslingc package's zip: the same migrations give the same bytes, so the asset
			// hash, the function's version and the trigger change only when they change.
			code: lambda.Code.fromAsset(path.resolve(props.packagePath)),
			memorySize: 128,
			timeout: cdk.Duration.minutes(5),
			vpc,
			vpcSubnets: { subnets: vpc.privateSubnets },
			securityGroups: [sg],
			environment: {
				DB_HOST: props.dbHost,
				DB_NAME: props.dbName,
				DB_USER: props.dbUser,
				DB_SECRET_ARN: props.dbSecretArn,
				DB_SSLMODE: 'require',
			},
			// Lambda sets AWS_LAMBDA_LOG_FORMAT=JSON from this; gosling then logs JSON lines
			loggingFormat: lambda.LoggingFormat.JSON,
			logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH }),
			retryAttempts: 0,
		});
		// secretsmanager:GetSecretValue (and DescribeSecret) on this one secret only
		secret.grantRead(fn);

		// Run `up` ({}) during the deployment, after the function exists, whenever its code
		// (the zip) changes; a failed migration fails the deployment.
		new triggers.Trigger(this, 'MigrateOnDeploy', {
			handler: fn,
			invocationType: triggers.InvocationType.REQUEST_RESPONSE,
			timeout: cdk.Duration.minutes(5),
			executeOnHandlerChange: true,
		});

		new cdk.CfnOutput(this, 'FunctionName', { value: fn.functionName });
	}
}

module.exports = { MigratorStack };
