# Example: both role images as Amazon EBS-backed AMIs. A documented example,
# not run by the tests (they have no AWS access): `packer validate` checks it.
#   packer init images/aws && packer build -var region=eu-west-1 images/aws
# Credentials come from the usual AWS environment (AWS_PROFILE, instance role…).

packer {
  required_version = ">= 1.9.4"
  required_plugins {
    jitsi = {
      source  = "github.com/jitsi-packer/jitsi"
      version = ">= 0.1.0"
    }
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.2.1"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "os" {
  type        = string
  default     = "ubuntu-22.04"
  description = "ubuntu-18.04, ubuntu-20.04, ubuntu-22.04, ubuntu-24.04, debian-11, debian-12 or debian-13."
}

variable "instance_type" {
  type    = string
  default = "t3.medium"
}

variable "jvb_versions" {
  type    = map(string)
  default = {}
}

variable "jms_versions" {
  type    = map(string)
  default = {}
}

variable "registry_dir" {
  type    = string
  default = "registry-data"
}

locals {
  # Official images: owner account, AMI name pattern and login user per release.
  amis = {
    "ubuntu-18.04" = { owner = "099720109477", name = "ubuntu/images/hvm-ssd/ubuntu-bionic-18.04-amd64-server-*", user = "ubuntu" }
    "ubuntu-20.04" = { owner = "099720109477", name = "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-*", user = "ubuntu" }
    "ubuntu-22.04" = { owner = "099720109477", name = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*", user = "ubuntu" }
    "ubuntu-24.04" = { owner = "099720109477", name = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*", user = "ubuntu" }
    "debian-11"    = { owner = "136693071363", name = "debian-11-amd64-*", user = "admin" }
    "debian-12"    = { owner = "136693071363", name = "debian-12-amd64-*", user = "admin" }
    "debian-13"    = { owner = "136693071363", name = "debian-13-amd64-*", user = "admin" }
  }
  ami       = local.amis[var.os]
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "base" {
  region        = var.region
  instance_type = var.instance_type
  source_ami_filter {
    owners      = [local.ami.owner]
    most_recent = true
    filters = {
      name                = local.ami.name
      virtualization-type = "hvm"
      architecture        = "x86_64"
    }
  }
  # Packer's temporary key pair; the jitsi provisioner removes it from the image.
  ssh_username = local.ami.user
  tags = {
    os     = var.os
    source = "packer-plugin-jitsi"
  }
}

build {
  name = "jvb"
  source "source.amazon-ebs.base" {
    name     = "jvb"
    ami_name = "jitsi-jvb-${var.os}-${local.timestamp}"
  }
  # The SSH user is not root: the provisioner's script elevates with sudo -n.
  provisioner "jitsi" {
    role     = "jvb"
    versions = var.jvb_versions
  }
  post-processor "jitsi-registry" {
    registry_dir = var.registry_dir
  }
}

build {
  name = "jms"
  source "source.amazon-ebs.base" {
    name     = "jms"
    ami_name = "jitsi-jms-${var.os}-${local.timestamp}"
  }
  provisioner "jitsi" {
    role     = "jms"
    versions = var.jms_versions
  }
  post-processor "jitsi-registry" {
    registry_dir = var.registry_dir
  }
}
