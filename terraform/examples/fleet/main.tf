# A fleet: gosling migrating one database per tenant (or one schema per tenant) through
# Step Functions' Distributed Map. The targets are a JSON file in S3, written here from a
# variable; the results of every run go to the same bucket.
#
#   aws stepfunctions start-execution --state-machine-arn "$(terraform output -raw state_machine_arn)" \
#     --input '{"command": "up"}'

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

variable "db_address" {
  description = "The cluster's writer endpoint."
  type        = string
}

variable "db_secret_arn" {
  description = "The secret gosling connects with."
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
  description = "The arm64 zip goslingc package built from your migrations."
  type        = string
}

variable "targets" {
  description = "The fleet: one object per target, as gosling's event carries it in \"target\" (issue 19's shape)."
  type        = list(map(string))
  default = [
    { id = "tenant_1", schema = "tenant_1" },
    { id = "tenant_2", schema = "tenant_2" },
    { id = "tenant_3", schema = "tenant_3" },
  ]
}

module "gosling" {
  source = "../.."

  function_name      = "gosling-fleet"
  db_username        = "migrator"
  db_address         = var.db_address
  db_port            = "5432"
  db_name            = "app"
  db_secret_arn      = var.db_secret_arn
  subnet_ids         = var.private_subnet_ids
  security_group_ids = var.security_group_ids
  package_path       = var.package_path

  # the allow-list: an event's target may name a tenant schema of this database, nothing else
  environment_variables = { GOSLING_TARGET_SCHEMAS = "tenant_[0-9]+" }
}

resource "aws_s3_bucket" "fleet" {
  bucket_prefix = "gosling-fleet-"
}

resource "aws_s3_bucket_public_access_block" "fleet" {
  bucket                  = aws_s3_bucket.fleet.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_object" "targets" {
  bucket       = aws_s3_bucket.fleet.id
  key          = "targets/tenants.json"
  content      = jsonencode(var.targets)
  content_type = "application/json"
}

module "fleet" {
  source = "../../modules/fleet"

  function_arn                 = module.gosling.function_arn
  function_version             = module.gosling.function_version
  items_bucket                 = aws_s3_bucket.fleet.id
  items_key                    = aws_s3_object.targets.key
  results_bucket               = aws_s3_bucket.fleet.id
  results_prefix               = "results"
  canary_count                 = 1
  max_concurrency              = 10
  tolerated_failure_percentage = 5
}

output "state_machine_arn" {
  description = "Start a run: aws stepfunctions start-execution --state-machine-arn <this> --input '{\"command\": \"up\"}'."
  value       = module.fleet.state_machine_arn
}

output "results_bucket" {
  description = "Where each run's results are: results/<map run id>/manifest.json."
  value       = aws_s3_bucket.fleet.id
}
