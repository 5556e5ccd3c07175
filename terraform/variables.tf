################################################################################
# The database: the seeds' inputs, unchanged
################################################################################

variable "db_username" {
  description = "Database user the migrations run as (DB_USERNAME). With iam_auth, the user that is granted rds_iam. Required in the VPC mode; null (not set) with data_api, where the secret's user is used."
  type        = string
  default     = null

  validation {
    condition     = var.db_username == null ? true : length(trimspace(var.db_username)) > 0
    error_message = "db_username must not be empty."
  }
}

variable "db_address" {
  description = "Database host name, for example the Aurora cluster (writer) endpoint (DB_ADDRESS). Required in the VPC mode; null (not set) with data_api."
  type        = string
  default     = null

  validation {
    condition     = var.db_address == null ? true : length(trimspace(var.db_address)) > 0 && !can(regex("[/:@ ]", var.db_address))
    error_message = "db_address must be a bare host name: no scheme, port, user or path."
  }
}

variable "db_port" {
  description = "Database port (DB_PORT). A string, as the seeds pass it; numbers are accepted too."
  type        = string
  default     = "5432"

  validation {
    condition     = can(regex("^[0-9]+$", var.db_port)) && try(tonumber(var.db_port) >= 1 && tonumber(var.db_port) <= 65535, false)
    error_message = "db_port must be a port number between 1 and 65535."
  }
}

variable "db_name" {
  description = "Database name (DB_NAME)."
  type        = string

  validation {
    condition     = length(trimspace(var.db_name)) > 0
    error_message = "db_name must not be empty."
  }
}

variable "db_cluster_id" {
  description = "Aurora cluster identifier. When db_secret_arn is null and iam_auth is false, the cluster's RDS-managed master user secret (manage_master_user_password) is looked up from it, as the seeds do; with iam_auth and no db_cluster_resource_id, its resource id is looked up from it."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnet IDs the function runs in; they need a route to the database and to the Secrets Manager endpoint (a VPC endpoint or a NAT). Required in the VPC mode; null (not set) with data_api, which runs outside any VPC."
  type        = list(string)
  default     = null

  validation {
    condition     = var.subnet_ids == null ? true : length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet: the function runs inside the VPC."
  }
}

variable "security_group_ids" {
  description = "Security group IDs for the function's network interfaces; one of them must be allowed to reach db_address:db_port. Required in the VPC mode; null (not set) with data_api."
  type        = list(string)
  default     = null

  validation {
    condition     = var.security_group_ids == null ? true : length(var.security_group_ids) > 0
    error_message = "security_group_ids must name at least one security group."
  }
}

################################################################################
# The RDS Data API mode (issue 18)
################################################################################

variable "data_api" {
  description = "Reach the database through the RDS Data API instead of libpq in a VPC: cluster_arn, an Aurora cluster with enable_http_endpoint = true (DB_CLUSTER_ARN), and secret_arn, the Secrets Manager secret the Data API authenticates with, for example the cluster's master_user_secret[0].secret_arn (DB_SECRET_ARN); the database is db_name (DB_NAME). The function then has no VPC config and no network interface rights; its role may call rds-data:ExecuteStatement, BeginTransaction, CommitTransaction and RollbackTransaction on this cluster only and read this secret only (kms:Decrypt through Secrets Manager with kms_key_arn). Null: the VPC mode. It cannot be combined with db_address, db_username, subnet_ids, security_group_ids, db_cluster_id, db_secret_arn, db_cluster_resource_id, db_sslmode or iam_auth."
  type = object({
    cluster_arn = string
    secret_arn  = string
  })
  default = null

  validation {
    condition     = var.data_api == null ? true : can(regex("^arn:[^:]+:rds:[^:]+:[0-9]{12}:cluster:[A-Za-z][A-Za-z0-9-]*$", var.data_api.cluster_arn))
    error_message = "data_api.cluster_arn must be an Aurora cluster ARN (arn:<partition>:rds:<region>:<account>:cluster:<name>), not its identifier, endpoint or resource id."
  }
  validation {
    condition     = var.data_api == null ? true : can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", var.data_api.secret_arn))
    error_message = "data_api.secret_arn must be a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>): the Data API authenticates with the secret."
  }
}

################################################################################
# Credentials
################################################################################

variable "db_secret_arn" {
  description = "ARN of a Secrets Manager secret whose JSON holds the password (and optionally host, port, dbname, username) (DB_SECRET_ARN). Null: the Aurora-managed master secret of db_cluster_id. Ignored when iam_auth is true."
  type        = string
  default     = null

  validation {
    condition     = var.db_secret_arn == null || can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", var.db_secret_arn))
    error_message = "db_secret_arn must be a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key db_secret_arn (or data_api.secret_arn) is encrypted with. When set, the role may kms:Decrypt with this key only, and only through Secrets Manager. Null: with db_secret_arn, the secret uses the AWS-managed key, which needs no IAM grant; without it, the key of the cluster's managed master secret (master_user_secret's kms_key_id) gets the same grant."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "iam_auth" {
  description = "Connect with an RDS IAM authentication token instead of a password (DB_IAM_AUTH=1). The role gets rds-db:connect for db_username on this cluster only, and no Secrets Manager access. The cluster needs iam_database_authentication_enabled and the user GRANT rds_iam."
  type        = bool
  default     = false
}

variable "db_cluster_resource_id" {
  description = "The cluster's resource id (cluster-ABCDEFGHIJKL), used in the rds-db:connect ARN when iam_auth is true. Null: looked up from db_cluster_id."
  type        = string
  default     = null

  validation {
    condition     = var.db_cluster_resource_id == null || can(regex("^cluster-[A-Z0-9]+$", var.db_cluster_resource_id))
    error_message = "db_cluster_resource_id must look like cluster-ABCDEFGHIJKL (the cluster's resource id, not its name)."
  }
}

variable "db_sslmode" {
  description = "libpq sslmode for the connection (DB_SSLMODE). verify-full checks the server against the CA bundle compiled into gosling. Null: verify-full with iam_auth (the token is a credential: it goes only to the server the certificate names), require otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.db_sslmode == null || contains(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"], coalesce(var.db_sslmode, "require"))
    error_message = "db_sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full."
  }
}

################################################################################
# The function
################################################################################

variable "function_name" {
  description = "Name of the Lambda function; also names its log group (/aws/lambda/<name>) and, unless role_name is set, its role."
  type        = string
  default     = "gosling"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1 to 64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = "gosling: applies the goose migrations compiled into it to PostgreSQL"
}

variable "package_path" {
  description = "Path of the deployment package: the zip goslingc package builds from your migrations for this architecture (bootstrap at its root). Required: the module carries no package of its own."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must name a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set of the function, matching the package: arm64 (Graviton, the default) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB. gosling needs little: 128 is plenty."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout of the function in seconds. gosling derives lock_timeout and statement_timeout from the invocation's deadline."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function: -1 for none (the default), 0 to disable it, 1 to serialise invocations (gosling's advisory lock already makes concurrent runs safe)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 0."
  }
}

variable "publish" {
  description = "Publish a new function version on every change (as the seeds do); run_on_apply then invokes that exact version."
  type        = bool
  default     = true
}

variable "environment_variables" {
  description = "Extra environment variables, for example the values of ENVSUB migrations, or AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_CODEDEPLOY for VPC endpoints (AWS_ENDPOINT_URL_RDS_DATA for the Data API). They may not override the names gosling reads for its connection (DATABASE_URL, DB_*, PG*), which the module sets from its inputs, nor Lambda's reserved AWS_* names (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_* are allowed)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k in keys(var.environment_variables) : !contains([
      "DATABASE_URL", "DB_HOST", "DB_ADDRESS", "DB_PORT", "DB_NAME", "DB_USER", "DB_USERNAME",
      "DB_PASSWORD", "DB_SSLMODE", "DB_SSLROOTCERT", "DB_SECRET_ARN", "DB_IAM_AUTH", "DB_IAM_REGION",
      "DB_CLUSTER_ARN", "DB_RESOURCE_ARN",
    ], k) && !startswith(k, "PG") && (!startswith(k, "AWS_") || can(regex("^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$", k)))])
    error_message = "environment_variables may not set DATABASE_URL, DB_HOST, DB_ADDRESS, DB_PORT, DB_NAME, DB_USER, DB_USERNAME, DB_PASSWORD, DB_SSLMODE, DB_SSLROOTCERT, DB_SECRET_ARN, DB_IAM_AUTH, DB_IAM_REGION, DB_CLUSTER_ARN, DB_RESOURCE_ARN, PG* or AWS_* other than AWS_ENDPOINT_URL_*: use the module's inputs (an IAM token is signed for the region in db_address, an RDS host name)."
  }
}

################################################################################
# Logs
################################################################################

variable "log_retention_in_days" {
  description = "Days the function's CloudWatch log group keeps its events (0: forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch's values: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "codedeploy_deployment_group_arns" {
  description = "CodeDeploy deployment groups whose lifecycle hooks invoke the function: grants codedeploy:PutLifecycleEventHookExecutionStatus on exactly these, so gosling can report the hook's result."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.codedeploy_deployment_group_arns : can(regex("^arn:[^:]+:codedeploy:[^:]+:[0-9]{12}:deploymentgroup:[^/]+/.+$", a))])
    error_message = "codedeploy_deployment_group_arns must hold deployment group ARNs (arn:<partition>:codedeploy:<region>:<account>:deploymentgroup:<application>/<group>)."
  }
}

variable "codedeploy_service_role_custom" {
  description = "The deployment groups' CodeDeploy service role has its own lambda:InvokeFunction grant on this function. False (the default): the role is AWS's managed AWSCodeDeployRoleForLambda, which may invoke only functions named CodeDeployHook_*, so with codedeploy_deployment_group_arns the function_name must start with CodeDeployHook_."
  type        = bool
  default     = false
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key to encrypt the log group with. Null: CloudWatch's default encryption."
  type        = string
  default     = null
}

variable "log_format" {
  description = "Log format Lambda passes to gosling as AWS_LAMBDA_LOG_FORMAT: JSON (one JSON object per line, the default) or Text."
  type        = string
  default     = "JSON"

  validation {
    condition     = contains(["JSON", "Text"], var.log_format)
    error_message = "log_format must be JSON or Text."
  }
}

variable "log_level" {
  description = "Application log level (AWS_LAMBDA_LOG_LEVEL) when log_format is JSON."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

################################################################################
# IAM
################################################################################

variable "role_name" {
  description = "Name of the function's IAM role. Null: the function name."
  type        = string
  default     = null
}

variable "role_permissions_boundary" {
  description = "ARN of a permissions boundary for the function's role."
  type        = string
  default     = null
}

################################################################################
# Running migrations from terraform apply
################################################################################

variable "run_on_apply" {
  description = "Invoke the function with {\"command\":\"up\"} during terraform apply whenever the package or the connection settings change (aws_lambda_invocation, CRUD scope: destroying it invokes gosling with tf.action = delete, which changes nothing). A failed migration fails the apply."
  type        = bool
  default     = false
}

variable "db_instance_id" {
  description = "The id of the cluster's writer instance (aws_rds_cluster_instance.writer.id). run_on_apply waits for it: a cluster without an instance accepts no connection, so on a first apply the invocation must come after the instance. Null: pass the instance through the module's depends_on instead, or create it beforehand."
  type        = string
  default     = null
}

variable "run_on_apply_triggers" {
  description = "Extra values that, when they change, make run_on_apply invoke the function again."
  type        = map(string)
  default     = {}
}

################################################################################
# Tags
################################################################################

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
