# gosling on an existing Aurora cluster with IAM database authentication: no
# password and no secret; the role may rds-db:connect as one user of one cluster.
#
# The user needs, once:  CREATE ROLE migrator LOGIN; GRANT rds_iam TO migrator;
# plus ownership of (or rights on) the schema the migrations change.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.26"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-2"
}

variable "cluster_identifier" {
  description = "An Aurora PostgreSQL cluster with iam_database_authentication_enabled = true."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets that reach the cluster."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups the cluster admits on its port."
  type        = list(string)
}

variable "package_path" {
  description = "The x86_64 zip goslingc package built from your migrations (for example build/migrator-x86_64.zip)."
  type        = string
}

data "aws_rds_cluster" "db" {
  cluster_identifier = var.cluster_identifier
}

module "gosling" {
  source = "../.."

  function_name          = "hometest-gosling"
  db_username            = "migrator"
  db_address             = data.aws_rds_cluster.db.endpoint
  db_port                = data.aws_rds_cluster.db.port
  db_name                = data.aws_rds_cluster.db.database_name
  iam_auth               = true
  db_cluster_resource_id = data.aws_rds_cluster.db.cluster_resource_id
  db_sslmode             = "verify-full"
  subnet_ids             = var.private_subnet_ids
  security_group_ids     = var.security_group_ids

  architecture                   = "x86_64"
  package_path                   = var.package_path
  reserved_concurrent_executions = 1
  log_retention_in_days          = 90
  log_level                      = "DEBUG"

  tags = {
    Service = "hometest"
  }
}

output "function_name" {
  description = "Invoke it to migrate."
  value       = module.gosling.function_name
}

output "role_arn" {
  description = "The role, allowed rds-db:connect as migrator on this cluster only."
  value       = module.gosling.role_arn
}
