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
