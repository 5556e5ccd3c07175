# An Aurora PostgreSQL Serverless v2 cluster with the RDS Data API (enable_http_endpoint),
# its master password kept by RDS in Secrets Manager, scaling to 0 ACUs when idle; and
# gosling migrating it over HTTPS through the Data API (issue 18): no VPC for the
# function, no network interfaces, no security group rule to the database.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.81: serverlessv2_scaling_configuration's min_capacity 0 and seconds_until_auto_pause.
      version = ">= 5.81"
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

variable "vpc_id" {
  description = "VPC of the cluster (the function runs outside it)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of that VPC (at least two, in different zones, for the DB subnet group)."
  type        = list(string)
}

variable "package_path" {
  description = "The arm64 zip goslingc package built from your migrations (for example build/migrator-arm64.zip)."
  type        = string
}

# The Data API reaches the cluster from inside AWS: no ingress rule is needed for gosling.
resource "aws_security_group" "aurora" {
  name_prefix = "aurora-"
  description = "Aurora PostgreSQL (reached by gosling through the Data API)"
  vpc_id      = var.vpc_id
}

resource "aws_db_subnet_group" "aurora" {
  name_prefix = "hometest-"
  subnet_ids  = var.private_subnet_ids
}

resource "aws_rds_cluster" "aurora" {
  cluster_identifier          = "hometest"
  engine                      = "aurora-postgresql"
  engine_mode                 = "provisioned"
  engine_version              = "16.6"
  database_name               = "hometest"
  master_username             = "postgres"
  manage_master_user_password = true
  enable_http_endpoint        = true
  db_subnet_group_name        = aws_db_subnet_group.aurora.name
  vpc_security_group_ids      = [aws_security_group.aurora.id]
  storage_encrypted           = true
  skip_final_snapshot         = true

  # 0 ACUs: the cluster pauses after seconds_until_auto_pause without connections; the
  # first call after it answers DatabaseResumingException, which gosling retries.
  serverlessv2_scaling_configuration {
    min_capacity             = 0
    max_capacity             = 4
    seconds_until_auto_pause = 300
  }
}

resource "aws_rds_cluster_instance" "writer" {
  identifier         = "hometest-1"
  cluster_identifier = aws_rds_cluster.aurora.id
  engine             = aws_rds_cluster.aurora.engine
  engine_version     = aws_rds_cluster.aurora.engine_version
  instance_class     = "db.serverless"
}

module "goose_migrator" {
  source = "../.."

  # The Data API mode: the cluster and the secret it authenticates with, the database by
  # name. No db_address, db_username, subnet_ids or security_group_ids.
  data_api = {
    cluster_arn = aws_rds_cluster.aurora.arn
    secret_arn  = aws_rds_cluster.aurora.master_user_secret[0].secret_arn
  }
  db_name = "hometest"
  # With master_user_secret_kms_key_id (a customer key) on the cluster, pass it here too:
  # kms_key_arn = aws_kms_key.db.arn

  package_path   = var.package_path
  run_on_apply   = true
  db_instance_id = aws_rds_cluster_instance.writer.id
}

output "function_name" {
  description = "Invoke it to migrate."
  value       = module.goose_migrator.function_name
}

output "invoke_command" {
  description = "Applies pending migrations from a shell."
  value       = module.goose_migrator.invoke_command
}

output "migration_result" {
  description = "What gosling did during this apply."
  value       = module.goose_migrator.migration_result
}
