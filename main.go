// Command packer-plugin-jitsi is both the Packer plugin (when Packer runs it
// with `describe` or `start …`) and the operator CLI (every other invocation).
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/jitsi-packer/packer-plugin-jitsi/cli"
	"github.com/jitsi-packer/packer-plugin-jitsi/version"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "describe" || os.Args[1] == "start") {
		os.Exit(servePlugin())
	}
	os.Exit(cli.Main(os.Args[1:], cli.StdEnv()))
}

// servePlugin registers the plugin's components and hands over to the SDK,
// which speaks Packer's plugin protocol on stdin/stdout.
func servePlugin() int {
	pps := plugin.NewSet()
	registerComponents(pps)
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
