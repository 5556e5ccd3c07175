output "state_machine_arn" {
  description = "ARN of the state machine, for `aws stepfunctions start-execution --state-machine-arn`."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the state machine."
  value       = aws_sfn_state_machine.this.name
}

output "role_arn" {
  description = "ARN of the state machine's IAM role."
  value       = aws_iam_role.this.arn
}

output "definition" {
  description = "The state machine's Amazon States Language definition (JSON)."
  value       = local.definition
}

output "start_execution_command" {
  description = "An AWS CLI command that migrates every target (\"verify\" for the drift report)."
  value       = "aws stepfunctions start-execution --state-machine-arn ${aws_sfn_state_machine.this.arn} --input '${local.items_from_s3 ? "{\"command\":\"up\"}" : "{\"command\":\"up\",\"targets\":[...]}"}'"
}
