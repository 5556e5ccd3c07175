################################################################################
# What runs: the gosling function
################################################################################

variable "function_arn" {
  description = "Unqualified ARN of the gosling function each target's invocation calls (the gosling module's function_arn). The role may invoke this function only."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$", var.function_arn))
    error_message = "function_arn must be an unqualified Lambda function ARN (arn:<partition>:lambda:<region>:<account>:function:<name>, no :version or :alias)."
  }
}

variable "function_version" {
  description = "Version or alias of the function to invoke (the gosling module's function_version), so one fleet run uses one build from its first target to its last. Null: the unqualified function ($LATEST)."
  type        = string
  default     = null

  validation {
    condition     = var.function_version == null || can(regex("^(\\$LATEST|[A-Za-z0-9_-]{1,128})$", coalesce(var.function_version, "1")))
    error_message = "function_version must be $LATEST, a version number or an alias name."
  }
}

################################################################################
# The targets and the results
################################################################################

variable "items_bucket" {
  description = "S3 bucket of the JSON file that lists the targets (one JSON array of target objects). Null: each execution's input carries them as \"targets\"."
  type        = string
  default     = null

  validation {
    condition     = var.items_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.items_bucket, "x")))
    error_message = "items_bucket must be an S3 bucket name."
  }
}

variable "items_key" {
  description = "Key of that JSON file in items_bucket. The role may read this one object and no other."
  type        = string
  default     = null

  validation {
    condition     = var.items_key == null || can(regex("^[^*?]+$", coalesce(var.items_key, "x")))
    error_message = "items_key must be an object key without * or ? (the role's grant names exactly this object)."
  }
}

variable "results_bucket" {
  description = "S3 bucket the Distributed Map writes its results to (ResultWriter)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.results_bucket))
    error_message = "results_bucket must be an S3 bucket name."
  }
}

variable "results_prefix" {
  description = "Key prefix of the results: each run writes <prefix>/<map run id>/manifest.json and its SUCCEEDED, FAILED and PENDING files. The role may write under this prefix only."
  type        = string
  default     = "gosling-fleet"

  validation {
    condition     = can(regex("^[^/*?]([^*?]*[^/*?])?$", var.results_prefix))
    error_message = "results_prefix must be a key prefix without * or ?, not starting or ending with /."
  }
}

################################################################################
# How it runs
################################################################################

variable "canary_count" {
  description = "How many of the first targets run first, one at a time, before the fleet: the first failure stops the execution before any other target is touched. 0: no canary stage."
  type        = number
  default     = 2

  validation {
    condition     = var.canary_count >= 0 && var.canary_count <= 100 && floor(var.canary_count) == var.canary_count
    error_message = "canary_count must be a whole number between 0 and 100."
  }
}

variable "max_concurrency" {
  description = "The Distributed Map's MaxConcurrency: how many targets migrate at once. It bounds the load on a shared cluster (an up target holds two connections, work and lock; a verify target one) and the function's concurrency."
  type        = number
  default     = 10

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 10000 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number between 1 and 10000 (0, Step Functions' \"unbounded\", is refused: it would not bound the load)."
  }
}

variable "tolerated_failure_percentage" {
  description = "The Distributed Map's ToleratedFailurePercentage: the share of failed targets (gosling's function errors) above which the map run fails and stops starting targets. 0: the first failure stops it."
  type        = number
  default     = 0

  validation {
    condition     = var.tolerated_failure_percentage >= 0 && var.tolerated_failure_percentage <= 100 && floor(var.tolerated_failure_percentage) == var.tolerated_failure_percentage
    error_message = "tolerated_failure_percentage must be a whole number between 0 and 100."
  }
}

################################################################################
# Names, IAM, tags
################################################################################

variable "name" {
  description = "Name of the state machine and, unless role_name is set, of its role."
  type        = string
  default     = "gosling-fleet"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1 to 64 letters, digits, hyphens or underscores."
  }
}

variable "role_name" {
  description = "Name of the state machine's IAM role. Null: name."
  type        = string
  default     = null
}

variable "role_permissions_boundary" {
  description = "ARN of a permissions boundary for the state machine's role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
