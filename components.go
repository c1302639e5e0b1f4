package main

import (
	"github.com/hashicorp/packer-plugin-sdk/plugin"

	registrypp "github.com/jitsi-packer/packer-plugin-jitsi/plugin/postprocessor/registry"
	jitsiprov "github.com/jitsi-packer/packer-plugin-jitsi/plugin/provisioner/jitsi"
)

// registerComponents lists every Packer component the plugin serves. Packer
// names them after the plugin: provisioner "jitsi" (the default name) and
// post-processor "jitsi-registry".
func registerComponents(pps *plugin.Set) {
	pps.RegisterProvisioner(plugin.DEFAULT_NAME, new(jitsiprov.Provisioner))
	pps.RegisterPostProcessor("registry", new(registrypp.PostProcessor))
}
