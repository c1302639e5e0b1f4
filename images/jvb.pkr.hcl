# The videobridge image: jitsi-videobridge2 installed and held, no shard,
# secret or nickname; first boot (user-data + the jitsi-node agent) makes the node.
#   packer build -only='jvb.*' images/

build {
  name = "jvb"

  source "source.qemu.base" {
    name             = "jvb"
    output_directory = "${var.output_dir}/jvb-${var.os}"
    vm_name          = "jvb-${var.os}.qcow2"
  }

  provisioner "jitsi" {
    role          = "jvb"
    firewall      = var.firewall
    apt_repo_url  = var.apt_repo_url
    apt_key_file  = var.apt_key_file
    versions      = var.jvb_versions
    manifest_file = "${var.output_dir}/jitsi-manifest-jvb-${var.os}.json"
  }

  post-processor "jitsi-registry" {
    # The embedded registry in registry_dir, or a registry's API.
    registry_dir        = var.registry_url == "" ? var.registry_dir : null
    registry_url        = var.registry_url == "" ? null : var.registry_url
    registry_token_file = var.registry_url == "" ? null : var.registry_token_file
    registry_ca_file    = var.registry_ca_file == "" ? null : var.registry_ca_file
    manifest_file       = "${var.output_dir}/jitsi-manifest-jvb-${var.os}.json"
  }
}
