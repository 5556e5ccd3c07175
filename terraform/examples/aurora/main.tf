# An Aurora PostgreSQL cluster whose master password RDS keeps in Secrets Manager,
# and gosling migrating it: the seeds' usage, with gosling's source.

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

variable "vpc_id" {
  description = "VPC of the cluster and the function."
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

resource "aws_security_group" "lambda_rds" {
  name_prefix = "gosling-"
  description = "gosling's network interfaces"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "aurora" {
  name_prefix = "aurora-"
  description = "Aurora PostgreSQL"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "aurora_from_gosling" {
  security_group_id            = aws_security_group.aurora.id
  referenced_security_group_id = aws_security_group.lambda_rds.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

# PostgreSQL, and Secrets Manager's HTTPS endpoint (through a VPC endpoint or a NAT).
resource "aws_vpc_security_group_egress_rule" "gosling_out" {
  for_each = { postgres = 5432, https = 443 }

  security_group_id = aws_security_group.lambda_rds.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
}

resource "aws_db_subnet_group" "aurora" {
  name_prefix = "hometest-"
  subnet_ids  = var.private_subnet_ids
}

resource "aws_rds_cluster" "aurora" {
  cluster_identifier          = "hometest"
  engine                      = "aurora-postgresql"
  engine_version              = "15.10"
  database_name               = "hometest"
  master_username             = "postgres"
  manage_master_user_password = true
  db_subnet_group_name        = aws_db_subnet_group.aurora.name
  vpc_security_group_ids      = [aws_security_group.aurora.id]
  storage_encrypted           = true
  skip_final_snapshot         = true
}

resource "aws_rds_cluster_instance" "aurora" {
  identifier         = "hometest-1"
  cluster_identifier = aws_rds_cluster.aurora.id
  engine             = aws_rds_cluster.aurora.engine
  engine_version     = aws_rds_cluster.aurora.engine_version
  instance_class     = "db.t4g.medium"
}

module "goose_migrator" {
  source = "../.."

  db_username        = "postgres"
  db_address         = aws_rds_cluster.aurora.endpoint
  db_port            = "5432"
  db_name            = "hometest"
  db_cluster_id      = aws_rds_cluster.aurora.id
  subnet_ids         = var.private_subnet_ids
  security_group_ids = [aws_security_group.lambda_rds.id]

  # Beyond the seeds: migrate during apply, once the writer instance exists.
  package_path   = var.package_path
  run_on_apply   = true
  db_instance_id = aws_rds_cluster_instance.aurora.id
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
