// Package manifest is what the `jitsi` provisioner learns on the machine it
// bakes (role, OS, Jitsi package versions) handed to the `jitsi-registry`
// post-processor. Packer gives provisioners no way to add to an artifact, so,
// like the official `manifest` post-processor, the hand-over is a JSON file
// on the machine running Packer, written atomically.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/atomicfile"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Manifest describes one baked image.
type Manifest struct {
	// BuildName and BuilderType are Packer's names for the build.
	BuildName   string `json:"build_name"`
	BuilderType string `json:"builder_type"`
	// RunUUID is Packer's PACKER_RUN_UUID of the build that wrote the file;
	// the post-processor refuses a manifest from another run.
	RunUUID string `json:"run_uuid,omitempty"`
	// Role is "jms" or "jvb".
	Role string `json:"role"`
	// OS is the release the image was baked on.
	OS OS `json:"os"`
	// Packages are the image's Jitsi packages.
	Packages []Package `json:"packages"`
	// PluginVersion is the version of packer-plugin-jitsi that baked it.
	PluginVersion string `json:"plugin_version"`
	// Arch is the image's architecture (Debian's name: amd64, arm64).
	Arch string `json:"arch,omitempty"`
	// AgentVersion is what the installed jitsi-node agent reports: the
	// version of first boot every node of the image runs.
	AgentVersion string `json:"agent_version,omitempty"`
	// BuildID is the identity the provisioner stamped into the image
	// (regapi.ImageStamp at jitsi.ImageStampFile): its nodes send it, and
	// the post-processor records the image with it.
	BuildID string `json:"build_id,omitempty"`
	// Baked is when the provisioner stamped the image.
	Baked time.Time `json:"baked,omitzero"`
}

// OSName is the release as the registry records it: "debian-12".
func (o OS) OSName() string { return o.ID + "-" + o.VersionID }

// Stamp is the identity the provisioner writes into the image.
func (m Manifest) Stamp() regapi.ImageStamp {
	return regapi.ImageStamp{BuildID: m.BuildID, BuildName: m.BuildName, RunUUID: m.RunUUID, Role: m.Role, OS: m.OS.OSName(),
		Arch: m.Arch, Versions: m.Versions(), AgentVersion: m.AgentVersion, Baked: m.Baked}
}

// OS is a release as /etc/os-release names it.
type OS struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id"`
	Codename  string `json:"codename"`
}

// String is "ID VERSION_ID", as error messages name a release.
func (o OS) String() string { return o.ID + " " + o.VersionID }

// Package is one Jitsi package in the image.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// State is "installed" (held at that version) or "cached" (in apt's
	// cache, installed at first boot, pinned to that version).
	State string `json:"state"`
}

// Versions returns the packages as name → version.
func (m Manifest) Versions() map[string]string {
	out := make(map[string]string, len(m.Packages))
	for _, p := range m.Packages {
		out[p.Name] = p.Version
	}
	return out
}

// Write stores m at path atomically (temporary file, fsync, rename), with
// packages sorted so the file is deterministic.
func Write(path string, m Manifest) error {
	sort.Slice(m.Packages, func(i, j int) bool { return m.Packages[i].Name < m.Packages[j].Name })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// ErrMissing is returned (wrapped) by Read when there is no manifest.
var ErrMissing = errors.New("no manifest")

// Read loads and checks the manifest at path.
func Read(path string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("read manifest %s: %w: run the jitsi provisioner in this build first", path, ErrMissing)
	}
	if err != nil {
		return m, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if m.Role == "" || m.OS.ID == "" || len(m.Packages) == 0 {
		return m, fmt.Errorf("read manifest %s: role, os and packages are required", path)
	}
	return m, nil
}

// DefaultFile is the manifest path both the provisioner and the
// post-processor use when none is configured: one per build, in Packer's
// working directory.
func DefaultFile(buildName string) string {
	if buildName == "" {
		return "jitsi-manifest.json"
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, buildName)
	return "jitsi-manifest-" + safe + ".json"
}
