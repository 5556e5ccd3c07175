data "aws_caller_identity" "current" {}

locals {
  # The function's partition: the definition depends on the inputs only, so it can be
  # rendered offline (tests/terraform.sh validates it against the ASL specification).
  partition     = split(":", var.function_arn)[1]
  function_name = var.function_version == null ? var.function_arn : "${var.function_arn}:${var.function_version}"
  items_from_s3 = var.items_bucket != null
  canary        = var.canary_count > 0
  role_name     = coalesce(var.role_name, var.name)

  # One target: gosling's event, {"command": "up"|"verify", "head_only": true|false,
  # "target": <the item>} (the state is named apart in each map: ASL's state names are
  # unique in the whole state machine). head_only is the execution's: true for verify
  # unless the input says false (the whole history read), false for up.
  # Retried: Lambda's own failures (throttling, the service's errors: no answer came from
  # gosling, and `up` again skips whatever was applied) and a lock timeout (another run held
  # the target's lock; nothing ran). gosling's other errors (Function.MigrationFailed,
  # Function.DriftDetected, Function.BadRequest, ...) fail the target, once: they are what
  # the tolerated failures count.
  migrate = {
    Type     = "Task"
    Comment  = "gosling migrates (or verifies) one target; its JSON result is the output"
    Resource = "arn:${local.partition}:states:::lambda:invoke"
    Parameters = {
      FunctionName = local.function_name
      Payload = {
        "command.$"   = "$.command"
        "head_only.$" = "$.head_only"
        "target.$"    = "$.target"
      }
    }
    OutputPath = "$.Payload"
    Retry = [
      {
        ErrorEquals     = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
        IntervalSeconds = 2
        MaxAttempts     = 6
        BackoffRate     = 2
        MaxDelaySeconds = 60
        JitterStrategy  = "FULL"
      },
      {
        ErrorEquals     = ["Function.LockTimeout"]
        IntervalSeconds = 30
        MaxAttempts     = 2
        BackoffRate     = 2
      },
    ]
    End = true
  }

  item_reader = {
    Resource     = "arn:${local.partition}:states:::s3:getObject"
    ReaderConfig = { InputType = "JSON" }
    Parameters   = { Bucket = var.items_bucket, Key = var.items_key }
  }
  processor_config = {
    Mode = "DISTRIBUTED"
    # STANDARD children: a target may run for the function's whole timeout (up to 15
    # minutes, past EXPRESS's 5), runs exactly once (EXPRESS is at-least-once), and keeps
    # its own execution history for a failed target.
    ExecutionType = "STANDARD"
  }

  # The parts that exist or not with the inputs. A Terraform conditional needs one type on
  # both sides, so each is JSON text here, decoded where the definition is put together.

  # Where each map's items come from: the S3 file (the canary reads its first canary_count
  # items), or arrays in the execution input.
  canary_items_json = local.items_from_s3 ? jsonencode({
    ItemReader = merge(local.item_reader, { ReaderConfig = { InputType = "JSON", MaxItems = var.canary_count } })
  }) : jsonencode({ ItemsPath = "$.canary" })
  fleet_items_json = local.items_from_s3 ? jsonencode({ ItemReader = local.item_reader }) : jsonencode({ ItemsPath = "$.targets" })

  # The input's targets (when not in an S3 file) and its head_only: a boolean, given with
  # verify only (the runtime refuses "head_only": true with another command).
  targets_given   = jsondecode(local.items_from_s3 ? "[]" : jsonencode([{ Variable = "$.targets", IsPresent = true }]))
  is_verify       = [{ Variable = "$.command", IsPresent = true }, { Variable = "$.command", IsString = true }, { Variable = "$.command", StringEquals = "verify" }]
  is_up           = [{ Variable = "$.command", IsPresent = true }, { Variable = "$.command", IsString = true }, { Variable = "$.command", StringEquals = "up" }]
  head_only_given = [{ Variable = "$.head_only", IsPresent = true }, { Variable = "$.head_only", IsBoolean = true }]
  no_head_only    = [{ Variable = "$.head_only", IsPresent = false }]

  # Where the targets start: the canary (its first targets picked from the input first),
  # or the fleet.
  first_stage = local.canary ? (local.items_from_s3 ? "Canary" : "SelectCanary") : "Fleet"

  # The input's first canary_count targets (Parameters take any JsonPath, slices included).
  select_canary_json = local.canary && !local.items_from_s3 ? jsonencode({
    SelectCanary = {
      Type    = "Pass"
      Comment = "The first ${var.canary_count} targets"
      Parameters = {
        "command.$"   = "$.command"
        "head_only.$" = "$.head_only"
        "targets.$"   = "$.targets"
        "canary.$"    = "$.targets[0:${var.canary_count}]"
      }
      Next = "Canary"
    }
  }) : "{}"

  canary_json = local.canary ? jsonencode({
    Canary = merge(jsondecode(local.canary_items_json), {
      Type    = "Map"
      Comment = "The first ${var.canary_count} targets, one at a time: the first failure stops the execution before the fleet starts"
      Label   = "canary"
      ItemProcessor = {
        ProcessorConfig = local.processor_config
        StartAt         = "MigrateCanaryTarget"
        States          = { MigrateCanaryTarget = local.migrate }
      }
      ItemSelector = {
        "command.$"   = "$.command"
        "head_only.$" = "$.head_only"
        "target.$"    = "$$.Map.Item.Value"
      }
      MaxConcurrency             = 1
      ToleratedFailurePercentage = 0
      ResultPath                 = "$.canary"
      Catch = [{
        ErrorEquals = ["States.ALL"]
        ResultPath  = "$.canary_error"
        Next        = "CanaryFailed"
      }]
      Next = "Fleet"
    })
    CanaryFailed = {
      Type      = "Fail"
      Error     = "Fleet.CanaryFailed"
      CausePath = "$.canary_error.Cause"
    }
  }) : "{}"

  # In the fleet, the canary's targets are passed over: they are done.
  skip_canary_json = local.canary ? jsonencode({
    InCanary = {
      Type    = "Choice"
      Comment = "The canary stage has done the first ${var.canary_count}"
      Choices = [{
        Variable        = "$.index"
        NumericLessThan = var.canary_count
        Next            = "DoneByCanary"
      }]
      Default = "MigrateTarget"
    }
    DoneByCanary = {
      Type   = "Pass"
      Result = { skipped = "done by the canary stage" }
      End    = true
    }
  }) : "{}"

  states = merge(
    {
      CheckInput = {
        Type    = "Choice"
        Comment = "The execution input: {\"command\": \"up\"} or {\"command\": \"verify\"} (\"head_only\": false for the whole history)${local.items_from_s3 ? "" : ", with \"targets\": [...]"}"
        Choices = [
          {
            And  = concat(local.is_verify, local.head_only_given, local.targets_given)
            Next = local.first_stage
          },
          {
            And  = concat(local.is_verify, local.no_head_only, local.targets_given)
            Next = "HeadOnly"
          },
          {
            And  = concat(local.is_up, local.no_head_only, local.targets_given)
            Next = "NotHeadOnly"
          },
        ]
        Default = "BadInput"
      }
      # The input with its head_only set: gosling's verify reads each target's chain head,
      # one small query; up reads the whole history, as it must.
      HeadOnly = {
        Type       = "Pass"
        Comment    = "verify: the chain head only, one query per target"
        Result     = true
        ResultPath = "$.head_only"
        Next       = local.first_stage
      }
      NotHeadOnly = {
        Type       = "Pass"
        Comment    = "up: the whole history"
        Result     = false
        ResultPath = "$.head_only"
        Next       = local.first_stage
      }
      BadInput = {
        Type  = "Fail"
        Error = "Fleet.BadInput"
        Cause = "the execution input must be {\"command\": \"up\"} or {\"command\": \"verify\"} (with verify, \"head_only\": true or false)${local.items_from_s3 ? "" : ", with \"targets\": [target, ...]"}"
      }
    },
    jsondecode(local.select_canary_json),
    jsondecode(local.canary_json),
    {
      Fleet = merge(jsondecode(local.fleet_items_json), {
        Type    = "Map"
        Comment = "Every target${local.canary ? " after the canary's" : ""}, at most max_concurrency at once; results to S3"
        Label   = "fleet"
        ItemProcessor = {
          ProcessorConfig = local.processor_config
          StartAt         = local.canary ? "InCanary" : "MigrateTarget"
          States          = merge(jsondecode(local.skip_canary_json), { MigrateTarget = local.migrate })
        }
        ItemSelector = {
          "command.$"   = "$.command"
          "head_only.$" = "$.head_only"
          "target.$"    = "$$.Map.Item.Value"
          "index.$"     = "$$.Map.Item.Index"
        }
        MaxConcurrency             = var.max_concurrency
        ToleratedFailurePercentage = var.tolerated_failure_percentage
        ResultWriter = {
          Resource   = "arn:${local.partition}:states:::s3:putObject"
          Parameters = { Bucket = var.results_bucket, Prefix = var.results_prefix }
        }
        ResultPath = "$.fleet"
        Next       = "Report"
      })
      Report = {
        Type    = "Pass"
        Comment = "Where the results are: results.Key is the map run's manifest.json"
        Parameters = merge(
          {
            "command.$"   = "$.command"
            "head_only.$" = "$.head_only"
            "map_run.$"   = "$.fleet.MapRunArn"
            "results.$"   = "$.fleet.ResultWriterDetails"
          },
          jsondecode(local.canary ? jsonencode({ "canary.$" = "$.canary" }) : "{}"),
        )
        End = true
      }
    },
  )

  definition = jsonencode({
    Comment = "gosling fleet: ${local.canary ? "a canary of ${var.canary_count} targets, one at a time, then " : ""}every target through a Distributed Map (${var.function_arn})"
    StartAt = "CheckInput"
    States  = local.states
  })
}

################################################################################
# IAM: no wildcard action; the one function, the one items object, the one results
# prefix, and this state machine's own map runs
################################################################################

resource "aws_iam_role" "this" {
  name                 = local.role_name
  permissions_boundary = var.role_permissions_boundary
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "StepFunctionsAssumeRole"
      Effect    = "Allow"
      Action    = ["sts:AssumeRole"]
      Principal = { Service = "states.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })

  tags = var.tags
}

locals {
  # This state machine's executions: its own (execution:<name>:<id>) and its map runs'
  # children (execution:<name>/<map run label>:<id>).
  execution_arn = replace(aws_sfn_state_machine.this.arn, ":stateMachine:", ":execution:")

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "InvokeGosling"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = distinct([var.function_arn, local.function_name])
      }],
      local.items_from_s3 ? [{
        Sid      = "ReadTargets"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["arn:${local.partition}:s3:::${var.items_bucket}/${var.items_key}"]
      }] : [],
      [
        {
          # What ResultWriter needs (AWS's Distributed Map IAM example): the objects it
          # writes, multipart, under this prefix only.
          Sid      = "WriteResults"
          Effect   = "Allow"
          Action   = ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
          Resource = ["arn:${local.partition}:s3:::${var.results_bucket}/${var.results_prefix}/*"]
        },
        {
          # A Distributed Map starts its children as executions of this state machine.
          Sid      = "StartOwnMapRuns"
          Effect   = "Allow"
          Action   = ["states:StartExecution"]
          Resource = [aws_sfn_state_machine.this.arn]
        },
        {
          Sid      = "WatchOwnMapRuns"
          Effect   = "Allow"
          Action   = ["states:DescribeExecution", "states:StopExecution"]
          Resource = ["${local.execution_arn}:*", "${local.execution_arn}/*"]
        },
        {
          # A redriven execution redrives its map runs' failed children.
          Sid      = "RedriveOwnMapRuns"
          Effect   = "Allow"
          Action   = ["states:RedriveExecution"]
          Resource = ["${local.execution_arn}/*:*"]
        },
      ],
    )
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.role_name}-fleet"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}

################################################################################
# The state machine
################################################################################

resource "aws_sfn_state_machine" "this" {
  name       = var.name
  role_arn   = aws_iam_role.this.arn
  type       = "STANDARD" # a Distributed Map runs only in a STANDARD workflow
  definition = local.definition

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.items_bucket == null) == (var.items_key == null)
      error_message = "Set both items_bucket and items_key (the targets in an S3 JSON file), or neither (the targets in each execution's input)."
    }
  }
}
