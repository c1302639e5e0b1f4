// Package userdata turns a node spec into the cloud-init user-data that
// configures the node at first boot.
//
// The flow is one way: node.Spec → Validate → (registry assigns the
// nickname) → Render → #cloud-config bytes. Render is deterministic: the same
// spec gives the same bytes.
package userdata

import (
	"strings"
	"sync"

	"github.com/jitsi-packer/packer-plugin-jitsi/scripts"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Render validates s and returns its #cloud-config user-data. A validation
// failure is returned as is (a *multierror.Error listing every problem).
func Render(s node.Spec) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return Build(s).Marshal()
}

// Build returns the cloud-config document of a validated spec.
func Build(s node.Spec) cloudinit.Config {
	s = s.WithDefaults()
	c := cloudinit.Config{ManageEtcHosts: true}
	switch s.Role {
	case node.RoleJMS:
		c.Hostname, _, _ = strings.Cut(s.JMSFQDN, ".")
		c.FQDN = s.JMSFQDN
		c.PreferFQDN = true
	case node.RoleJVB:
		c.Hostname = s.Nickname // a group bridge's: set by the applier once claimed
	}
	// The applier travels with the files it applies, so user-data and applier
	// always match, even on an image baked by an older plugin. Compressed: it
	// is most of the document, and EC2 takes at most 16 KiB of user-data.
	c.WriteFiles = append(c.WriteFiles, cloudinit.WriteFile{
		Path: jitsi.Applier, Content: compressedApplier(), Encoding: cloudinit.EncodingGzipBase64,
		Owner: "root:root", Permissions: "0755",
	})
	for _, f := range jitsi.NodeFiles(s) {
		c.WriteFiles = append(c.WriteFiles, cloudinit.WriteFile{
			Path:        f.Path,
			Content:     string(f.Content),
			Owner:       f.Owner,
			Permissions: cloudinit.Permissions(f.Mode),
			Defer:       f.Deferred,
		})
	}
	c.RunCmd = [][]string{{jitsi.Applier}}
	return c
}

// compressedApplier is the applier compressed once per process: it is the
// same for every node.
var compressedApplier = sync.OnceValue(func() string { return cloudinit.Compressed(scripts.NodeApplier) })
