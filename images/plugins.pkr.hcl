# Plugins these templates need. `packer init images/` installs them from
# GitHub; offline, see README.md ("Installing the plugins").
packer {
  required_version = ">= 1.9.4"
  required_plugins {
    jitsi = {
      source  = "github.com/jitsi-packer/jitsi"
      version = ">= 0.1.0"
    }
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = ">= 1.0.9"
    }
  }
}
