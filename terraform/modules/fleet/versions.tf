terraform {
  # 1.5: preconditions and check blocks, as the gosling module.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.26, as the gosling module the fleet invokes.
      version = ">= 5.26"
    }
  }
}
