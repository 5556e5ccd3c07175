# terraform test, offline: the AWS provider is mocked, so these runs need no account. They
# apply the module against the mock and check the definition and the role's policy by
# value. tests/terraform.sh runs them (and validates the definition against the ASL
# specification with asl-validator, tests/terraform/check.js --fleet).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:eu-west-2:123456789012:stateMachine:tenants" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/tenants" }
  }
}

# The targets in an S3 file, a canary of 3, a pinned version; values no default has.
variables {
  name                         = "tenants"
  function_arn                 = "arn:aws:lambda:eu-west-2:123456789012:function:gosling"
  function_version             = "7"
  items_bucket                 = "fleet-items"
  items_key                    = "fleets/tenants.json"
  results_bucket               = "fleet-results"
  results_prefix               = "runs/tenants"
  canary_count                 = 3
  max_concurrency              = 37
  tolerated_failure_percentage = 13
}

run "s3_items_with_canary" {
  command = apply

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.MaxConcurrency == var.max_concurrency
    error_message = "the Distributed Map's MaxConcurrency is not max_concurrency"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ToleratedFailurePercentage == var.tolerated_failure_percentage
    error_message = "the Distributed Map's ToleratedFailurePercentage is not tolerated_failure_percentage"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemProcessor.ProcessorConfig == { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
    error_message = "the fleet is not a Distributed Map of STANDARD children"
  }
  # The canary precedes the map: the input check goes to it, it goes to the fleet, one at a
  # time, every failure stops it, and a failure ends the execution.
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).StartAt == "CheckInput" &&
      [for c in jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices : c.Next] == ["Canary", "HeadOnly", "NotHeadOnly"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.HeadOnly.Next == "Canary" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.NotHeadOnly.Next == "Canary" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.Next == "Fleet" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.Catch[0].Next == "CanaryFailed" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.CanaryFailed.Type == "Fail"
    )
    error_message = "the canary stage does not precede the Distributed Map, or its failure does not end the execution"
  }
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.MaxConcurrency == 1 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.ToleratedFailurePercentage == 0 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.ItemReader.ReaderConfig.MaxItems == var.canary_count &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemProcessor.States.InCanary.Choices[0].NumericLessThan == var.canary_count
    )
    error_message = "the canary is not the first canary_count targets one at a time, or the fleet does not pass over them"
  }
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemReader.Parameters == { Bucket = "fleet-items", Key = "fleets/tenants.json" } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemReader.ReaderConfig.InputType == "JSON" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ResultWriter.Parameters == { Bucket = "fleet-results", Prefix = "runs/tenants" }
    )
    error_message = "the map does not read the items file or write the results prefix"
  }
  assert {
    condition = jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemProcessor.States.MigrateTarget.Parameters == {
      FunctionName = "arn:aws:lambda:eu-west-2:123456789012:function:gosling:7"
      Payload      = { "command.$" = "$.command", "head_only.$" = "$.head_only", "target.$" = "$.target" }
    }
    error_message = "a target's invocation is not {command, head_only, target} to the pinned version"
  }
  # head_only: verify reads each target's chain head (one small query) unless the input
  # says "head_only": false; up reads the whole history; head_only with up is refused.
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.HeadOnly == {
        Type = "Pass", Comment = "verify: the chain head only, one query per target", Result = true, ResultPath = "$.head_only", Next = "Canary"
      } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.NotHeadOnly.Result == false &&
      jsondecode(aws_sfn_state_machine.this.definition).States.NotHeadOnly.ResultPath == "$.head_only" &&
      contains(jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices[1].And, { Variable = "$.command", StringEquals = "verify" }) &&
      contains(jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices[2].And, { Variable = "$.command", StringEquals = "up" }) &&
      contains(jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices[0].And, { Variable = "$.command", StringEquals = "verify" }) &&
      contains(jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices[0].And, { Variable = "$.head_only", IsBoolean = true })
    )
    error_message = "verify is not head-only by default, up is not whole-history, or an input's head_only is let through with up"
  }
  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.ItemSelector["head_only.$"] == "$.head_only" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemSelector["head_only.$"] == "$.head_only" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.ItemProcessor.States.MigrateCanaryTarget.Parameters.Payload["head_only.$"] == "$.head_only"
    )
    error_message = "the maps do not hand head_only to each target's invocation"
  }
  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD"
    error_message = "a Distributed Map needs a STANDARD state machine"
  }

  # IAM: no wildcard action, no NotAction, Allow only.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
    s.Effect == "Allow" && !contains(keys(s), "NotAction") && alltrue([for a in s.Action : !strcontains(a, "*")])])
    error_message = "the role has a wildcard action, a NotAction or a Deny"
  }
  # The role's resources: the one function (this version), the one object, the one prefix,
  # and this state machine's own executions.
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource])) == toset([
      "arn:aws:lambda:eu-west-2:123456789012:function:gosling",
      "arn:aws:lambda:eu-west-2:123456789012:function:gosling:7",
      "arn:aws:s3:::fleet-items/fleets/tenants.json",
      "arn:aws:s3:::fleet-results/runs/tenants/*",
      "arn:aws:states:eu-west-2:123456789012:stateMachine:tenants",
      "arn:aws:states:eu-west-2:123456789012:execution:tenants:*",
      "arn:aws:states:eu-west-2:123456789012:execution:tenants/*",
      "arn:aws:states:eu-west-2:123456789012:execution:tenants/*:*",
    ])
    error_message = "the role reaches a resource other than the function, the items object, the results prefix and its own executions"
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : alltrue([
      for a in s.Action : startswith(a, "lambda:") ? s.Resource == ["arn:aws:lambda:eu-west-2:123456789012:function:gosling", "arn:aws:lambda:eu-west-2:123456789012:function:gosling:7"] : (
        a == "s3:GetObject" && s.Sid == "ReadTargets" ? s.Resource == ["arn:aws:s3:::fleet-items/fleets/tenants.json"] : (
      startswith(a, "s3:") ? s.Resource == ["arn:aws:s3:::fleet-results/runs/tenants/*"] : startswith(a, "states:")))
    ])])
    error_message = "an action reaches more than its one resource: lambda the function, s3:GetObject the items object, s3 writes the results prefix"
  }
  assert {
    condition = (
      jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal == { Service = "states.amazonaws.com" } &&
      jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    )
    error_message = "the role is not assumable by Step Functions of this account only"
  }
}

run "input_targets_no_canary" {
  command = apply

  variables {
    function_version = null
    items_bucket     = null
    items_key        = null
    canary_count     = 0
  }

  assert {
    condition = (
      [for c in jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices : c.Next] == ["Fleet", "HeadOnly", "NotHeadOnly"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.HeadOnly.Next == "Fleet" &&
      !contains(keys(jsondecode(aws_sfn_state_machine.this.definition).States), "Canary") &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemsPath == "$.targets" &&
      !contains(keys(jsondecode(aws_sfn_state_machine.this.definition).States.Fleet), "ItemReader") &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemProcessor.StartAt == "MigrateTarget"
    )
    error_message = "without a canary and an items file, the map should read the input's targets and migrate each"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Fleet.ItemProcessor.States.MigrateTarget.Parameters.FunctionName == var.function_arn
    error_message = "with no function_version the unqualified function is invoked"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if anytrue([for a in s.Action : !startswith(a, "states:")])])) == toset([
      "arn:aws:lambda:eu-west-2:123456789012:function:gosling",
      "arn:aws:s3:::fleet-results/runs/tenants/*",
    ])
    error_message = "with the targets in the input, the role may read no S3 object, and invoke the unqualified function only"
  }
}

run "input_targets_with_canary" {
  command = apply

  variables {
    items_bucket = null
    items_key    = null
    canary_count = 2
  }

  assert {
    condition = (
      [for c in jsondecode(aws_sfn_state_machine.this.definition).States.CheckInput.Choices : c.Next] == ["SelectCanary", "HeadOnly", "NotHeadOnly"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SelectCanary.Parameters["canary.$"] == "$.targets[0:2]" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SelectCanary.Parameters["head_only.$"] == "$.head_only" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SelectCanary.Next == "Canary" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.ItemsPath == "$.canary" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Canary.Next == "Fleet"
    )
    error_message = "with the targets in the input, the canary should be its first canary_count targets, before the map"
  }
}

run "unbounded_concurrency_refused" {
  command = plan

  variables {
    max_concurrency = 0
  }

  expect_failures = [var.max_concurrency]
}

run "wildcard_items_key_refused" {
  command = plan

  variables {
    items_key = "fleets/*"
  }

  expect_failures = [var.items_key]
}

run "items_bucket_without_key_refused" {
  command = plan

  variables {
    items_key = null
  }

  expect_failures = [aws_sfn_state_machine.this]
}

run "qualified_function_arn_refused" {
  command = plan

  variables {
    function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:gosling:7"
  }

  expect_failures = [var.function_arn]
}
