# One qemu source for both roles: it boots a copy of a local cloud image,
# gives its cloud-init the bake key through a NoCloud seed (CD labelled
# "cidata"), and logs in as root over an SSH forward bound to 127.0.0.1.
# The builds (jvb.pkr.hcl, jms.pkr.hcl) name the output.

locals {
  base_image = "${var.base_image_dir}/${var.os}.qcow2"
}

source "qemu" "base" {
  iso_url          = local.base_image
  iso_checksum     = "none"
  disk_image       = true
  use_backing_file = false
  format           = "qcow2"
  disk_size        = var.disk_size
  disk_interface   = "virtio"
  accelerator      = var.accelerator
  cpus             = var.cpus
  memory           = var.memory
  headless         = true
  vnc_bind_address = "127.0.0.1"

  cd_label = "cidata"
  cd_content = {
    "meta-data" = "instance-id: packer-jitsi-bake\nlocal-hostname: packer-jitsi-bake\n"
    "user-data" = join("\n", [
      "#cloud-config",
      "disable_root: false",
      "ssh_authorized_keys:",
      "  - ${var.ssh_public_key}",
      "",
    ])
  }

  # Packer's default -netdev forwards SSH on every interface; bind it to
  # loopback (the builder still adds its virtio-net device for user.0).
  qemuargs = [
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22${var.qemu_netdev_extra}"],
  ]

  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "30m"
  shutdown_command     = "shutdown -P now"
}
