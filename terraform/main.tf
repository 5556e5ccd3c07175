data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # The zip goslingc package builds: bootstrap at its root, same bytes for the same
  # code and migrations, so source_code_hash changes only when they do.
  package_path = var.package_path
  package_hash = filebase64sha256(local.package_path)

  # Two ways to reach the database. The VPC mode (the seeds'): libpq to db_address
  # from network interfaces in subnet_ids. The Data API mode (data_api set, issue 18):
  # HTTPS calls to rds-data, no VPC, the cluster's Data API (enable_http_endpoint)
  # authenticating with the secret; the VPC mode's inputs are refused with it.
  data_api_mode        = var.data_api != null
  data_api_cluster_arn = try(var.data_api.cluster_arn, null)
  data_api_secret_arn  = try(var.data_api.secret_arn, null)

  # The VPC mode's inputs that are set: none may be in the Data API mode.
  vpc_mode_inputs_set = [for k, v in {
    db_address             = var.db_address
    db_username            = var.db_username
    subnet_ids             = var.subnet_ids
    security_group_ids     = var.security_group_ids
    db_cluster_id          = var.db_cluster_id
    db_secret_arn          = var.db_secret_arn
    db_cluster_resource_id = var.db_cluster_resource_id
    db_sslmode             = var.db_sslmode
    iam_auth               = var.iam_auth ? true : null
  } : k if v != null]
  # The VPC mode's required inputs that are missing.
  vpc_mode_inputs_missing = [for k, v in {
    db_address         = var.db_address
    db_username        = var.db_username
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  } : k if v == null]

  # The cluster is read only when a value must come from it: the managed master
  # secret (password auth, no explicit secret) or the resource id (IAM auth).
  # Counts depend on plain inputs only, so a cluster created in the same apply works.
  lookup_cluster = !local.data_api_mode && (var.iam_auth ? var.db_cluster_resource_id == null : var.db_secret_arn == null)
  cluster        = one(data.aws_rds_cluster.this[*])

  db_secret_arn = local.data_api_mode ? local.data_api_secret_arn : var.iam_auth ? null : (
    var.db_secret_arn != null ? var.db_secret_arn : try(local.cluster.master_user_secret[0].secret_arn, null)
  )
  db_cluster_resource_id = var.iam_auth ? (
    var.db_cluster_resource_id != null ? var.db_cluster_resource_id : try(local.cluster.cluster_resource_id, null)
  ) : null

  region = data.aws_region.current.name

  # The key the secret is encrypted with: kms_key_arn, else the managed master secret's
  # own (RDS reports it as an ARN or a key id; the AWS-managed aws/secretsmanager key
  # too, where the grant is redundant but harmless). A secret given without kms_key_arn
  # uses a key whose policy already admits the account (the AWS-managed one).
  cluster_secret_kms_key = try(local.cluster.master_user_secret[0].kms_key_id, null)
  db_secret_kms_key_arn = var.iam_auth ? null : (
    var.kms_key_arn != null ? var.kms_key_arn : (
      var.db_secret_arn != null || local.cluster_secret_kms_key == null ? null : (
        startswith(local.cluster_secret_kms_key, "arn:") ? local.cluster_secret_kms_key :
        "arn:${data.aws_partition.current.partition}:kms:${local.region}:${data.aws_caller_identity.current.account_id}:key/${local.cluster_secret_kms_key}"
      )
    )
  )

  # An IAM token is a credential: by default it goes only to the server the certificate names.
  db_sslmode = var.db_sslmode != null ? var.db_sslmode : (var.iam_auth ? "verify-full" : "require")

  # What gosling reads (runtime/config.c's settings table; tests/terraform/check.js
  # holds this list against it). Exactly one of DB_SECRET_ARN and DB_IAM_AUTH is set;
  # the null ones are dropped below. The Data API mode sets DB_CLUSTER_ARN,
  # DB_SECRET_ARN and DB_NAME only: with DB_CLUSTER_ARN gosling calls the Data API.
  gosling_environment = {
    DB_ADDRESS     = var.db_address
    DB_PORT        = local.data_api_mode ? null : var.db_port
    DB_NAME        = var.db_name
    DB_USERNAME    = var.db_username
    DB_SSLMODE     = local.data_api_mode ? null : local.db_sslmode
    DB_SECRET_ARN  = local.db_secret_arn
    DB_IAM_AUTH    = var.iam_auth ? "1" : null
    DB_CLUSTER_ARN = local.data_api_cluster_arn
  }
  environment = merge(
    var.environment_variables,
    { for k, v in local.gosling_environment : k => v if v != null },
  )

  role_name = coalesce(var.role_name, var.function_name)
}

data "aws_rds_cluster" "this" {
  count = local.lookup_cluster ? 1 : 0

  cluster_identifier = var.db_cluster_id

  lifecycle {
    precondition {
      condition     = var.db_cluster_id != null
      error_message = "Set db_cluster_id (to use the cluster's managed master secret or resource id), db_secret_arn, or iam_auth with db_cluster_resource_id."
    }
  }
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

################################################################################
# IAM: no wildcard actions; every resource is this function's own
################################################################################

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  # The module creates the log group, so the function needs no logs:CreateLogGroup.
  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = var.iam_auth ? [] : [local.db_secret_arn]
    content {
      sid       = "ReadDatabaseSecret"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.db_secret_kms_key_arn != null ? [local.db_secret_kms_key_arn] : []
    content {
      sid       = "DecryptDatabaseSecret"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.iam_auth ? [local.db_cluster_resource_id] : []
    content {
      sid       = "ConnectAsDatabaseUser"
      effect    = "Allow"
      actions   = ["rds-db:connect"]
      resources = ["arn:${data.aws_partition.current.partition}:rds-db:${local.region}:${data.aws_caller_identity.current.account_id}:dbuser:${statement.value}/${var.db_username}"]
    }
  }

  # The Data API mode: the four calls gosling makes, on the one cluster. BatchExecuteStatement
  # and the deprecated ExecuteSql are not among them.
  dynamic "statement" {
    for_each = local.data_api_mode ? [local.data_api_cluster_arn] : []
    content {
      sid       = "RunStatementsThroughDataAPI"
      effect    = "Allow"
      actions   = ["rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:ExecuteStatement", "rds-data:RollbackTransaction"]
      resources = [statement.value]
    }
  }

  # A CodeDeploy lifecycle hook event is answered with PutLifecycleEventHookExecutionStatus.
  dynamic "statement" {
    for_each = length(var.codedeploy_deployment_group_arns) > 0 ? [var.codedeploy_deployment_group_arns] : []
    content {
      sid       = "ReportCodeDeployHookStatus"
      effect    = "Allow"
      actions   = ["codedeploy:PutLifecycleEventHookExecutionStatus"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.role_name}-gosling"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# Network interfaces in the VPC. AWSLambdaENIManagementAccess holds only the EC2
# actions; AWSLambdaVPCAccessExecutionRole would add logs:* rights on every log group.
# The Data API mode has no VPC, so no network interface either.
resource "aws_iam_role_policy_attachment" "vpc" {
  count = local.data_api_mode ? 0 : 1

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
}

# The attachment had no count before the Data API mode: keep the existing one.
moved {
  from = aws_iam_role_policy_attachment.vpc
  to   = aws_iam_role_policy_attachment.vpc[0]
}

################################################################################
# The function
################################################################################

resource "aws_lambda_function" "this" {
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  filename         = local.package_path
  source_code_hash = local.package_hash
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  publish                        = var.publish

  environment {
    variables = local.environment
  }

  dynamic "vpc_config" {
    for_each = local.data_api_mode ? [] : [1]
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  logging_config {
    log_format            = var.log_format
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.log_format == "JSON" ? var.log_level : null
    system_log_level      = var.log_format == "JSON" ? "INFO" : null
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !local.data_api_mode || length(local.vpc_mode_inputs_set) == 0
      error_message = "data_api (the Data API mode: HTTPS, no VPC) cannot be combined with the VPC mode's inputs, but ${join(", ", local.vpc_mode_inputs_set)} ${length(local.vpc_mode_inputs_set) == 1 ? "is" : "are"} set: use one mode (the secret is data_api.secret_arn, the database db_name)."
    }
    precondition {
      condition     = local.data_api_mode || length(local.vpc_mode_inputs_missing) == 0
      error_message = "Set ${join(", ", local.vpc_mode_inputs_missing)} (the VPC mode: libpq to db_address from subnet_ids), or data_api (the Data API mode)."
    }
    precondition {
      condition     = var.iam_auth || local.db_secret_arn != null
      error_message = "No database secret: pass db_secret_arn, or a db_cluster_id whose cluster has manage_master_user_password = true, or set iam_auth."
    }
    precondition {
      condition     = !var.iam_auth || local.db_cluster_resource_id != null
      error_message = "iam_auth needs the cluster's resource id: pass db_cluster_resource_id or db_cluster_id."
    }
    precondition {
      condition     = !var.iam_auth || !contains(["disable", "allow", "prefer"], local.db_sslmode)
      error_message = "iam_auth needs TLS: RDS refuses IAM tokens on unencrypted connections, and gosling refuses to send one where TLS is optional, so db_sslmode cannot be disable, allow or prefer."
    }
    precondition {
      condition     = length(var.codedeploy_deployment_group_arns) == 0 || var.codedeploy_service_role_custom || startswith(var.function_name, "CodeDeployHook_")
      error_message = "codedeploy_deployment_group_arns is set, but function_name does not start with CodeDeployHook_: AWS's managed service-role policy AWSCodeDeployRoleForLambda may invoke only functions named CodeDeployHook_*, so the hook would fail. Name the function CodeDeployHook_<something>, or grant the deployment groups' service role lambda:InvokeFunction on it and set codedeploy_service_role_custom = true."
    }
  }

  # CreateFunction checks that the role may create network interfaces, and the
  # first invocation needs its logs and secret rights.
  depends_on = [
    aws_iam_role_policy.this,
    aws_iam_role_policy_attachment.vpc,
  ]
}

# A migration is not safe to repeat blindly: asynchronous invocations are not retried.
# The setting is per qualifier: the unqualified one covers $LATEST only, so each
# published version (which run_on_apply and CodeDeploy invoke) gets its own.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name          = aws_lambda_function.this.function_name
  maximum_retry_attempts = 0
}

resource "aws_lambda_function_event_invoke_config" "version" {
  count = var.publish ? 1 : 0

  function_name          = aws_lambda_function.this.function_name
  qualifier              = aws_lambda_function.this.version
  maximum_retry_attempts = 0
}

################################################################################
# Optional: migrate on terraform apply
################################################################################

# Known only once the writer instance exists, so what depends on it waits for it.
resource "terraform_data" "db_instance" {
  count = var.run_on_apply ? 1 : 0

  input = var.db_instance_id
}

resource "aws_lambda_invocation" "up" {
  count = var.run_on_apply ? 1 : 0

  function_name = aws_lambda_function.this.function_name
  qualifier     = var.publish ? aws_lambda_function.this.version : null
  input         = jsonencode({ command = "up" })

  # CRUD: gosling sees tf.action (create, update, delete); on delete it does nothing,
  # so destroying the module never touches the database.
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"

  triggers = merge(var.run_on_apply_triggers, {
    package     = local.package_hash
    environment = sha256(jsonencode(local.environment))
  })

  # The writer instance first: on a first apply the cluster accepts no connection before it.
  depends_on = [
    aws_lambda_function_event_invoke_config.this,
    aws_lambda_function_event_invoke_config.version,
    terraform_data.db_instance,
  ]
}
