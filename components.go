package main

import "github.com/hashicorp/packer-plugin-sdk/plugin"

// registerComponents lists every Packer component the plugin serves.
func registerComponents(pps *plugin.Set) {
	_ = pps
}
