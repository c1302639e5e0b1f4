// Package version holds the plugin's version, the one value that Packer's
// plugin protocol, the CLI's --version and the registry's image records share.
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is the main version number; release builds override it with
	// -ldflags "-X github.com/jitsi-packer/packer-plugin-jitsi/version.Version=…".
	Version = "0.1.0"
	// VersionPrerelease is "dev" for local builds; Packer's offline `packer init`
	// layout needs a build with it set to "".
	VersionPrerelease = "dev"
	// VersionMetadata is optional build metadata.
	VersionMetadata = ""
)

// PluginVersion is what Packer's `describe` reports.
var PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
