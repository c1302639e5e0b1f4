// Package release lays out a packer-plugin-jitsi release the way Packer
// installs plugins, as goreleaser does for the official ones:
//
//	packer-plugin-jitsi_v1.2.3_x5.0_linux_amd64.zip  holds packer-plugin-jitsi_v1.2.3_x5.0_linux_amd64
//	packer-plugin-jitsi_v1.2.3_x5.0_linux_arm64.zip  holds packer-plugin-jitsi_v1.2.3_x5.0_linux_arm64
//	packer-plugin-jitsi_v1.2.3_SHA256SUMS            "<sha256>  <zip>" lines over the zips
//
// What Packer 1.11 does with it (packer/plugin-getter in Packer's sources):
// its getter reads the SHA256SUMS file line by line (two blank-separated
// fields; a last line without a newline is dropped), keeps the entry
// `packer-plugin-jitsi_v<version>_x<api>_<os>_<arch>.zip` of its platform,
// checks the zip against it, takes the zip entry named like the zip without
// `.zip`, runs its `describe` (the version must be the one in the name) and
// installs it as PACKER_PLUGIN_PATH/github.com/jitsi-packer/jitsi/<that name>
// next to a `_SHA256SUM` of the binary. `packer plugins install --path BINARY
// github.com/jitsi-packer/jitsi` (offline) names the file from `describe` the
// same way, and `packer init` is satisfied by it without any download.
//
// Make builds the binaries (cgo, libdqlite linked statically, the agents
// embedded), checks each one (ELF machine, interpreter, shared libraries,
// `describe`, the embedded agents), and writes deterministic zips (one
// entry, fixed time and mode: the same binaries give the same sums) and the
// SHA256SUMS file. The command is internal/release/mkrelease (`make release`).
package release

import (
	"fmt"
	"regexp"
	"strings"
)

// Name is the plugin's name: its binary is packer-plugin-<Name> and its
// source address github.com/jitsi-packer/<Name>.
const Name = "jitsi"

// Platform is an operating system and architecture, in Go's (and Packer's)
// names.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Platforms are the platforms a release is made for.
var Platforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}}

// ParsePlatform reads "linux/amd64"; it accepts only Platforms.
func ParsePlatform(s string) (Platform, error) {
	for _, p := range Platforms {
		if p.String() == s {
			return p, nil
		}
	}
	names := make([]string, len(Platforms))
	for i, p := range Platforms {
		names[i] = p.String()
	}
	return Platform{}, fmt.Errorf("platform %q: not one this plugin is released for; use %s", s, strings.Join(names, " or "))
}

var versionRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// CheckVersion accepts a release version x.y.z. Packer installs releases
// only (`packer init` ignores pre-releases) and reads the version from the
// file name, where it must be canonical: no "v", no leading zeros, no suffix.
func CheckVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("version %q: want MAJOR.MINOR.PATCH without \"v\" or suffix, e.g. 0.2.0 (Packer installs releases only)", v)
	}
	return nil
}

// apiRE is the plugin API version `describe` reports, e.g. "x5.0".
var apiRE = regexp.MustCompile(`^x[0-9]+\.[0-9]+$`)

// BinaryName is the binary's name in the zip and in Packer's plugin
// directory: packer-plugin-jitsi_v1.2.3_x5.0_linux_amd64.
func BinaryName(version, api string, p Platform) string {
	return fmt.Sprintf("packer-plugin-%s_v%s_%s_%s_%s", Name, version, api, p.OS, p.Arch)
}

// ZipName is the zip holding BinaryName.
func ZipName(version, api string, p Platform) string { return BinaryName(version, api, p) + ".zip" }

// SumsName is the checksum file of a release: packer-plugin-jitsi_v1.2.3_SHA256SUMS.
func SumsName(version string) string {
	return fmt.Sprintf("packer-plugin-%s_v%s_SHA256SUMS", Name, version)
}

// filePrefix starts every file a release directory holds.
const filePrefix = "packer-plugin-" + Name + "_v"
