terraform {
  # 1.5: check blocks, import blocks and the preconditions this module relies on.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.26 added aws_lambda_function's logging_config (JSON logs, log levels).
      version = ">= 5.26"
    }
  }
}
