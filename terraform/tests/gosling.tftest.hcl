# terraform test, offline: the AWS provider is mocked, so these plans need no account.
# They check what the module computes for each way of using it. tests/terraform.sh runs
# them on a copy of the module with an empty tests/fixture.zip as the package.

mock_provider "aws" {
  mock_data "aws_rds_cluster" {
    defaults = {
      cluster_resource_id = "cluster-ABCDEFGHIJKL"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
        kms_key_id    = "arn:aws:kms:eu-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"
        secret_status = "active"
      }]
    }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-2" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

# The seeds' usage.
variables {
  db_username        = "postgres"
  db_address         = "hometest.cluster-abc.eu-west-2.rds.amazonaws.com"
  db_port            = "5432"
  db_name            = "hometest"
  db_cluster_id      = "hometest"
  subnet_ids         = ["subnet-1", "subnet-2"]
  security_group_ids = ["sg-1"]
  package_path       = "tests/fixture.zip"
}

run "seeds_usage" {
  command = plan

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      DB_ADDRESS    = "hometest.cluster-abc.eu-west-2.rds.amazonaws.com"
      DB_PORT       = "5432"
      DB_NAME       = "hometest"
      DB_USERNAME   = "postgres"
      DB_SSLMODE    = "require"
      DB_SECRET_ARN = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    })
    error_message = "the environment is not the seeds' one with the cluster's managed secret"
  }
  assert {
    condition     = aws_lambda_function.this.runtime == "provided.al2023" && aws_lambda_function.this.handler == "bootstrap"
    error_message = "runtime or handler is wrong"
  }
  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"]) && aws_lambda_function.this.memory_size == 128 && aws_lambda_function.this.timeout == 300
    error_message = "architecture, memory or timeout is not the seeds' arm64, 128 MB, 300 s"
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_format == "JSON"
    error_message = "logs are not JSON"
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 0
    error_message = "asynchronous invocations are retried"
  }
  assert {
    condition     = length(aws_lambda_invocation.up) == 0 && length(data.aws_rds_cluster.this) == 1
    error_message = "run_on_apply should be off and the cluster looked up"
  }
}

run "explicit_secret_and_key" {
  command = plan

  variables {
    db_cluster_id = null
    db_secret_arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:gosling-AbCdEf"
    kms_key_arn   = "arn:aws:kms:eu-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["DB_SECRET_ARN"] == "arn:aws:secretsmanager:eu-west-2:123456789012:secret:gosling-AbCdEf"
    error_message = "DB_SECRET_ARN is not db_secret_arn"
  }
  assert {
    condition     = length(data.aws_rds_cluster.this) == 0
    error_message = "the cluster is looked up although the secret was given"
  }
}

run "iam_auth" {
  command = plan

  variables {
    db_username            = "migrator"
    iam_auth               = true
    db_cluster_id          = null
    db_cluster_resource_id = "cluster-ABCDEFGHIJKL"
    architecture           = "x86_64"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["DB_IAM_AUTH"] == "1" && !contains(keys(aws_lambda_function.this.environment[0].variables), "DB_SECRET_ARN")
    error_message = "iam_auth must set DB_IAM_AUTH=1 and no DB_SECRET_ARN"
  }
  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["x86_64"])
    error_message = "architecture x86_64 not applied"
  }
}

run "run_on_apply" {
  command = plan

  variables {
    run_on_apply = true
  }

  assert {
    condition     = length(aws_lambda_invocation.up) == 1 && aws_lambda_invocation.up[0].lifecycle_scope == "CRUD" && jsondecode(aws_lambda_invocation.up[0].input).command == "up"
    error_message = "run_on_apply must invoke up with CRUD scope"
  }
}

run "no_secret_source" {
  command = plan

  variables {
    db_cluster_id = null
  }

  expect_failures = [data.aws_rds_cluster.this]
}

run "extra_env_cannot_override" {
  command = plan

  variables {
    environment_variables = { DB_PASSWORD = "hunter2" }
  }

  expect_failures = [var.environment_variables]
}

run "bad_architecture" {
  command = plan

  variables {
    architecture = "sparc"
  }

  expect_failures = [var.architecture]
}

run "iam_auth_without_tls" {
  command = plan

  variables {
    iam_auth               = true
    db_cluster_resource_id = "cluster-ABCDEFGHIJKL"
    db_sslmode             = "disable"
  }

  expect_failures = [aws_lambda_function.this]
}

# The cluster's managed master secret: its KMS key may be used, through Secrets Manager only.
run "managed_secret_kms_grant" {
  command = plan

  assert {
    condition = [for s in data.aws_iam_policy_document.this.statement : [s.actions, s.resources, [for c in s.condition : [c.test, c.variable, toset(c.values)]]] if s.sid == "DecryptDatabaseSecret"] == [[
      toset(["kms:Decrypt"]),
      toset(["arn:aws:kms:eu-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"]),
      [["StringEquals", "kms:ViaService", toset(["secretsmanager.eu-west-2.amazonaws.com"])]],
    ]]
    error_message = "no kms:Decrypt via Secrets Manager on the managed master secret's key"
  }
}

# RDS may report the key as a bare key id: the grant names its ARN.
run "managed_secret_kms_key_id" {
  command = plan

  override_data {
    target = data.aws_rds_cluster.this
    values = {
      cluster_resource_id = "cluster-ABCDEFGHIJKL"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
        kms_key_id    = "22222222-2222-2222-2222-222222222222"
        secret_status = "active"
      }]
    }
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "DecryptDatabaseSecret"] == [toset(["arn:aws:kms:eu-west-2:123456789012:key/22222222-2222-2222-2222-222222222222"])]
    error_message = "the grant does not name the key id's ARN"
  }
}

# A secret given by ARN without kms_key_arn: the AWS-managed key, no grant; with it, that key.
run "given_secret_kms_grant" {
  command = plan

  variables {
    db_cluster_id = null
    db_secret_arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:gosling-AbCdEf"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "DecryptDatabaseSecret"]) == 0
    error_message = "kms:Decrypt granted although no key was given"
  }
}

run "given_secret_and_key_kms_grant" {
  command = plan

  variables {
    db_cluster_id = null
    db_secret_arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:gosling-AbCdEf"
    kms_key_arn   = "arn:aws:kms:eu-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "DecryptDatabaseSecret"] == [toset(["arn:aws:kms:eu-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"])]
    error_message = "kms:Decrypt is not on kms_key_arn"
  }
}

run "iam_auth_no_kms_grant_and_verify_full" {
  command = plan

  variables {
    iam_auth               = true
    db_cluster_id          = null
    db_cluster_resource_id = "cluster-ABCDEFGHIJKL"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "DecryptDatabaseSecret" || s.sid == "ReadDatabaseSecret"]) == 0
    error_message = "iam_auth must grant no secret or key"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["DB_SSLMODE"] == "verify-full"
    error_message = "iam_auth does not default db_sslmode to verify-full"
  }
}

run "iam_auth_sslmode_given" {
  command = plan

  variables {
    iam_auth               = true
    db_cluster_id          = null
    db_cluster_resource_id = "cluster-ABCDEFGHIJKL"
    db_sslmode             = "require"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["DB_SSLMODE"] == "require"
    error_message = "an explicit db_sslmode is not kept with iam_auth"
  }
}

# AWS's managed AWSCodeDeployRoleForLambda invokes only functions named CodeDeployHook_*.
run "codedeploy_needs_hook_name" {
  command = plan

  variables {
    codedeploy_deployment_group_arns = ["arn:aws:codedeploy:eu-west-2:123456789012:deploymentgroup:app/group"]
  }

  expect_failures = [aws_lambda_function.this]
}

run "codedeploy_hook_name" {
  command = plan

  variables {
    function_name                    = "CodeDeployHook_gosling"
    codedeploy_deployment_group_arns = ["arn:aws:codedeploy:eu-west-2:123456789012:deploymentgroup:app/group"]
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "ReportCodeDeployHookStatus"] == [toset(["arn:aws:codedeploy:eu-west-2:123456789012:deploymentgroup:app/group"])]
    error_message = "the hook status grant is missing"
  }
}

run "codedeploy_custom_service_role" {
  command = plan

  variables {
    codedeploy_deployment_group_arns = ["arn:aws:codedeploy:eu-west-2:123456789012:deploymentgroup:app/group"]
    codedeploy_service_role_custom   = true
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "gosling"
    error_message = "a custom service role must allow any function name"
  }
}

# Asynchronous retries are per qualifier: the published version gets 0 too.
run "published_version_not_retried" {
  command = apply

  override_resource {
    target = aws_iam_role.this
    values = { arn = "arn:aws:iam::123456789012:role/gosling" }
  }
  override_resource {
    target = aws_lambda_function.this
    values = { version = "7", arn = "arn:aws:lambda:eu-west-2:123456789012:function:gosling" }
  }

  assert {
    condition     = length(aws_lambda_function_event_invoke_config.version) == 1 && aws_lambda_function_event_invoke_config.version[0].maximum_retry_attempts == 0 && aws_lambda_function_event_invoke_config.version[0].qualifier == "7"
    error_message = "the published version's asynchronous invocations are retried"
  }
}

run "unpublished_no_version_config" {
  command = plan

  variables {
    publish = false
  }

  assert {
    condition     = length(aws_lambda_function_event_invoke_config.version) == 0 && aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 0
    error_message = "publish = false must configure $LATEST only"
  }
}

run "endpoint_url_variables_allowed" {
  command = plan

  variables {
    environment_variables = {
      AWS_ENDPOINT_URL_SECRETS_MANAGER = "https://vpce-1.secretsmanager.eu-west-2.vpce.amazonaws.com"
      AWS_ENDPOINT_URL_CODEDEPLOY      = "https://vpce-2.codedeploy.eu-west-2.vpce.amazonaws.com"
    }
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == "https://vpce-1.secretsmanager.eu-west-2.vpce.amazonaws.com" && aws_lambda_function.this.environment[0].variables["AWS_ENDPOINT_URL_CODEDEPLOY"] == "https://vpce-2.codedeploy.eu-west-2.vpce.amazonaws.com"
    error_message = "AWS_ENDPOINT_URL_* did not reach the function"
  }
}

run "reserved_aws_variable_refused" {
  command = plan

  variables {
    environment_variables = { AWS_REGION = "us-east-1" }
  }

  expect_failures = [var.environment_variables]
}

run "db_iam_region_refused" {
  command = plan

  variables {
    environment_variables = { DB_IAM_REGION = "us-east-1" }
  }

  expect_failures = [var.environment_variables]
}

# run_on_apply waits for the writer instance: the invocation depends on terraform_data.db_instance.
run "run_on_apply_waits_for_instance" {
  command = plan

  variables {
    run_on_apply   = true
    db_instance_id = "hometest-writer"
  }

  assert {
    condition     = length(terraform_data.db_instance) == 1 && terraform_data.db_instance[0].input == "hometest-writer"
    error_message = "the writer instance is not what the invocation waits for"
  }
}

run "iam_auth_with_optional_tls" {
  command = plan

  variables {
    iam_auth               = true
    db_cluster_resource_id = "cluster-ABCDEFGHIJKL"
    db_sslmode             = "prefer"
  }

  expect_failures = [aws_lambda_function.this]
}

################################################################################
# The RDS Data API mode (issue 18): no VPC, the four rds-data calls on the cluster
################################################################################

run "data_api" {
  command = plan

  variables {
    db_username        = null
    db_address         = null
    db_port            = "5432"
    db_cluster_id      = null
    subnet_ids         = null
    security_group_ids = null
    data_api = {
      cluster_arn = "arn:aws:rds:eu-west-2:123456789012:cluster:hometest"
      secret_arn  = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    }
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      DB_CLUSTER_ARN = "arn:aws:rds:eu-west-2:123456789012:cluster:hometest"
      DB_SECRET_ARN  = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
      DB_NAME        = "hometest"
    })
    error_message = "the Data API mode's environment is not exactly DB_CLUSTER_ARN, DB_SECRET_ARN and DB_NAME"
  }
  assert {
    condition     = length(aws_lambda_function.this.vpc_config) == 0
    error_message = "the Data API mode's function has a vpc_config"
  }
  assert {
    condition     = length(aws_iam_role_policy_attachment.vpc) == 0
    error_message = "the Data API mode's role gets AWS's network interface policy"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if anytrue([for a in s.actions : startswith(a, "ec2:") || startswith(a, "rds-db:")])]) == 0
    error_message = "the Data API mode's role may call EC2 (network interfaces) or rds-db:connect"
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.this.statement : [s.effect, s.actions, s.resources] if anytrue([for a in s.actions : startswith(a, "rds-data:")])] == [[
      "Allow",
      toset(["rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:ExecuteStatement", "rds-data:RollbackTransaction"]),
      toset(["arn:aws:rds:eu-west-2:123456789012:cluster:hometest"]),
    ]]
    error_message = "rds-data is not exactly ExecuteStatement, BeginTransaction, CommitTransaction and RollbackTransaction on the cluster ARN, in one statement"
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.this.statement : [s.actions, s.resources] if contains(s.actions, "secretsmanager:GetSecretValue")] == [[
      toset(["secretsmanager:GetSecretValue"]),
      toset(["arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"]),
    ]]
    error_message = "secretsmanager:GetSecretValue is not on data_api.secret_arn alone"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : alltrue([for a in s.actions : !strcontains(a, "*")])])
    error_message = "a wildcard action"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "DecryptDatabaseSecret"]) == 0 && length(data.aws_rds_cluster.this) == 0
    error_message = "kms:Decrypt granted without kms_key_arn, or the cluster looked up"
  }
  assert {
    condition     = output.db_secret_arn == "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    error_message = "the db_secret_arn output is not data_api.secret_arn"
  }
}

# A customer key: kms:Decrypt on it, through Secrets Manager only.
run "data_api_kms_key" {
  command = plan

  variables {
    db_username        = null
    db_address         = null
    db_cluster_id      = null
    subnet_ids         = null
    security_group_ids = null
    kms_key_arn        = "arn:aws:kms:eu-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"
    data_api = {
      cluster_arn = "arn:aws:rds:eu-west-2:123456789012:cluster:hometest"
      secret_arn  = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    }
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.this.statement : [s.actions, s.resources, [for c in s.condition : [c.test, c.variable, toset(c.values)]]] if contains(s.actions, "kms:Decrypt")] == [[
      toset(["kms:Decrypt"]),
      toset(["arn:aws:kms:eu-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"]),
      [["StringEquals", "kms:ViaService", toset(["secretsmanager.eu-west-2.amazonaws.com"])]],
    ]]
    error_message = "no kms:Decrypt via Secrets Manager on kms_key_arn alone"
  }
}

# The VPC mode has none of it.
run "vpc_mode_no_data_api" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.this.vpc_config) == 1 && length(aws_iam_role_policy_attachment.vpc) == 1 && !contains(keys(aws_lambda_function.this.environment[0].variables), "DB_CLUSTER_ARN")
    error_message = "the VPC mode lost its vpc_config or network interface policy, or sets DB_CLUSTER_ARN"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if anytrue([for a in s.actions : startswith(a, "rds-data:")])]) == 0
    error_message = "the VPC mode's role may call the Data API"
  }
}

# Both modes at once: refused (here with the seeds' full VPC inputs).
run "data_api_and_vpc_refused" {
  command = plan

  variables {
    data_api = {
      cluster_arn = "arn:aws:rds:eu-west-2:123456789012:cluster:hometest"
      secret_arn  = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    }
  }

  expect_failures = [aws_lambda_function.this]
}

# One VPC input is enough to be refused.
run "data_api_and_subnets_refused" {
  command = plan

  variables {
    db_username        = null
    db_address         = null
    db_cluster_id      = null
    security_group_ids = null
    data_api = {
      cluster_arn = "arn:aws:rds:eu-west-2:123456789012:cluster:hometest"
      secret_arn  = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    }
  }

  expect_failures = [aws_lambda_function.this]
}

# Neither mode: the VPC mode's inputs are missing.
run "no_mode_refused" {
  command = plan

  variables {
    db_address = null
    subnet_ids = null
  }

  expect_failures = [aws_lambda_function.this]
}

run "data_api_bad_cluster_arn" {
  command = plan

  variables {
    db_username        = null
    db_address         = null
    db_cluster_id      = null
    subnet_ids         = null
    security_group_ids = null
    data_api = {
      cluster_arn = "hometest.cluster-abc.eu-west-2.rds.amazonaws.com"
      secret_arn  = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rds!cluster-1-AbCdEf"
    }
  }

  expect_failures = [var.data_api]
}
