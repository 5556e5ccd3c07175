output "function_name" {
  description = "Name of the Lambda function, for `aws lambda invoke --function-name`."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (unqualified)."
  value       = aws_lambda_function.this.arn
}

output "function_qualified_arn" {
  description = "ARN of the function's newest published version ($LATEST when publish is false)."
  value       = aws_lambda_function.this.qualified_arn
}

output "function_version" {
  description = "The function's newest published version ($LATEST when publish is false)."
  value       = aws_lambda_function.this.version
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's IAM role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "db_secret_arn" {
  description = "ARN of the secret the function reads its password from (null with iam_auth)."
  value       = local.db_secret_arn
}

output "environment_variables" {
  description = "The environment the function runs with (names and values; it holds no password)."
  value       = local.environment
}

output "invoke_command" {
  description = "An AWS CLI command that applies pending migrations and prints gosling's JSON result."
  value       = "aws lambda invoke --function-name ${aws_lambda_function.this.function_name} --cli-binary-format raw-in-base64-out --payload '{\"command\":\"up\"}' /dev/stdout"
}

output "migration_result" {
  description = "gosling's JSON result of the run_on_apply invocation, decoded (null when run_on_apply is false)."
  value       = var.run_on_apply ? jsondecode(aws_lambda_invocation.up[0].result) : null
}
