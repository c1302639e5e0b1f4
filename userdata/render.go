// Package userdata turns a node spec into the cloud-init user-data that
// configures the node at first boot.
//
// The flow is one way: node.Spec → Validate → (registry assigns the
// nickname) → Render → #cloud-config bytes. The user-data is the node's
// typed config (nodeconfig: /etc/jitsi-node/node.yaml and the root-only
// secrets.yaml) and one command that runs the node agent baked into the
// image (`jitsi-node apply`); the agent writes the Jitsi files from the role
// model at boot. Render is deterministic: the same spec gives the same bytes.
package userdata

import (
	"runtime"
	"sync"
	"sync/atomic"

	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/yamldoc"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// Render validates s and returns its #cloud-config user-data. A validation
// failure is returned as is (a *multierror.Error listing every problem).
// A group's spec has no nickname: it is validated with ValidatePending.
func Render(s node.Spec) ([]byte, error) {
	validate := s.Validate
	if s.Group != "" {
		validate = s.ValidatePending
	}
	if err := validate(); err != nil {
		return nil, err
	}
	w := yamldoc.NewWriter()
	c, err := build(s, w)
	if err != nil {
		return nil, err
	}
	return c.MarshalWith(w)
}

// RenderAll renders many specs (a batch of issued bridges) on every CPU:
// each node's user-data depends on its spec alone. out[i] is specs[i]'s,
// byte for byte what Render gives; the error names the first spec (by
// index) that failed.
func RenderAll(specs []node.Spec) ([][]byte, error) {
	out := make([][]byte, len(specs))
	errs := make([]error, len(specs))
	workers := min(runtime.GOMAXPROCS(0), len(specs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(specs) {
					return
				}
				out[i], errs[i] = Render(specs[i])
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("spec %d: %w", i, err)
		}
	}
	return out, nil
}

// Build returns the cloud-config document of a validated spec.
func Build(s node.Spec) (cloudinit.Config, error) { return build(s, yamldoc.NewWriter()) }

// build is Build writing the node's files with w.
func build(s node.Spec, w *yamldoc.Writer) (cloudinit.Config, error) {
	s = s.WithDefaults()
	c := cloudinit.Config{ManageEtcHosts: true}
	switch s.Role {
	case node.RoleJMS:
		c.Hostname, _, _ = strings.Cut(s.JMSFQDN, ".")
		c.FQDN = s.JMSFQDN
		c.PreferFQDN = true
	case node.RoleJVB:
		c.Hostname = s.Nickname // a group bridge's: set by the agent once claimed
	}
	cfg, sec := nodeconfig.FromSpec(s)
	cfgYAML, err := cfg.MarshalWith(w)
	if err != nil {
		return c, err
	}
	secYAML, err := sec.MarshalWith(w)
	if err != nil {
		return c, err
	}
	// Both files are root's (cloud-init's default owner on every release,
	// so not spelled out: every key costs render time across a fleet), and
	// cloud-init writes them in its first stage (no `defer`, which needs 21.4).
	c.WriteFiles = []cloudinit.WriteFile{
		{Path: jitsi.NodeConfig, Content: string(cfgYAML), Permissions: "0644"},
		{Path: jitsi.NodeSecrets, Content: string(secYAML), Permissions: "0600"},
	}
	c.RunCmd = []string{guard}
	return c, nil
}

// guard runs the agent, or says on the console (where a cloud's serial log
// shows it) and in cloud-init's log that the image has none, and fails.
// cloud-init runs runcmd's lines with /bin/sh.
var guard = fmt.Sprintf(`[ -x %[1]s ] && exec %[1]s apply; m='%[2]s'; echo "$m" >&2; echo "$m" 2>/dev/null >/dev/console; exit 1`,
	jitsi.AgentBinary, NoAgentMessage)

// NoAgentMessage is what a node whose image has no node agent prints.
var NoAgentMessage = "jitsi-node: this image has no jitsi-node agent (" + jitsi.AgentBinary +
	"): bake it with packer-plugin-jitsi >= " + nodeconfig.AgentMinVersion
