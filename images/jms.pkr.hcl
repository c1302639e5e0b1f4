# The Jitsi Meet server image: its web server (nginx or Apache), coturn,
# prosody, Java and every dependency installed; the Jitsi packages in apt's
# cache, installed by first boot once debconf holds the node's FQDN and
# secrets.
#   packer build -only='jms.*' images/

build {
  name = "jms"

  source "source.qemu.base" {
    name             = "jms"
    output_directory = "${var.output_dir}/jms-${var.os}"
    vm_name          = "jms-${var.os}.qcow2"
  }

  provisioner "jitsi" {
    role                     = "jms"
    web_server               = var.jms_web_server
    firewall                 = var.firewall
    firewall_bridge_networks = var.firewall_bridge_networks
    apt_repo_url             = var.apt_repo_url
    apt_key_file             = var.apt_key_file
    versions                 = var.jms_versions
    manifest_file            = "${var.output_dir}/jitsi-manifest-jms-${var.os}.json"
  }

  post-processor "jitsi-registry" {
    # The embedded registry in registry_dir, or a registry's API.
    registry_dir        = var.registry_url == "" ? var.registry_dir : null
    registry_url        = var.registry_url == "" ? null : var.registry_url
    registry_token_file = var.registry_url == "" ? null : var.registry_token_file
    registry_ca_file    = var.registry_ca_file == "" ? null : var.registry_ca_file
    manifest_file       = "${var.output_dir}/jitsi-manifest-jms-${var.os}.json"
  }
}
