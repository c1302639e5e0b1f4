# For full specification on the configuration of this file visit:
# https://github.com/hashicorp/integration-template#metadata-configuration
integration {
  name        = "Jitsi"
  description = "Bakes Jitsi Meet server and videobridge images with no per-node identity, and records them in the project's registry."
  identifier  = "packer/jitsi-packer/jitsi"
  component {
    type = "provisioner"
    name = "Jitsi"
    slug = "jitsi"
  }
  component {
    type = "post-processor"
    name = "Jitsi Registry"
    slug = "jitsi-registry"
  }
}
