package jvmtier

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// boot holds what a node learns only at first boot: what the node agent
// hands the role model (jitsi.Boot), and the node's interface addresses.
type boot struct {
	// nickname is the bridge's: the spec's, or the one a group bridge claims.
	nickname string
	// local and public are the NAT mapping the agent resolved (static from
	// the spec, or discovered), both or neither.
	local, public string
	// aws is whether the agent found itself on EC2.
	aws bool
	// localAddresses are the node's interface addresses.
	localAddresses []string
}

// defaultBoot is a node as the spec describes it, on a private interface
// (10.0.0.7) behind 1:1 NAT: a static mapping takes the spec's public
// address; --nat auto finds one in the cloud's metadata (here EC2's, which
// also turns the AWS harvester on); --nat none has none.
func defaultBoot(s node.Spec) boot {
	s = s.WithDefaults()
	b := boot{nickname: s.Nickname, localAddresses: []string{"10.0.0.7"}}
	if s.Group != "" {
		b.nickname = "jvb-042"
	}
	switch s.NAT.Mode {
	case node.NATStatic:
		b.local, b.public = s.NAT.LocalAddress, s.NAT.PublicAddress
		if b.local == "" {
			b.local = "10.0.0.7"
		}
	case node.NATAuto:
		b.local, b.public, b.aws = "10.0.0.7", "198.51.100.50", true
	}
	return b
}

// bridgeFilesOf is the ONE place that knows how a bridge's files are
// produced: the node agent reads node.yaml and secrets.yaml from the
// rendered user-data (as cloud-init writes them) and writes the files the
// role model gives for that spec and what it found at boot. A JMS gets none.
func bridgeFilesOf(s node.Spec, b boot) (map[string][]byte, error) {
	data, err := userdata.Render(s)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var doc cloudinit.Config
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse user-data: %w", err)
	}
	written := map[string][]byte{}
	for _, f := range doc.WriteFiles {
		written[f.Path] = []byte(f.Content)
	}
	cfg, err := nodeconfig.ParseConfig(written[jitsi.NodeConfig])
	if err != nil {
		return nil, err
	}
	sec, err := nodeconfig.ParseSecrets(written[jitsi.NodeSecrets])
	if err != nil {
		return nil, err
	}
	spec, err := cfg.Spec(sec)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	if spec.Role != node.RoleJVB {
		return files, nil
	}
	list, err := jitsi.BridgeFiles(spec, jitsi.Boot{Nickname: b.nickname, LocalAddress: b.local, PublicAddress: b.public, AWSHarvester: b.aws})
	if err != nil {
		return nil, err
	}
	for _, f := range list {
		if f.Path != jitsi.JVBDropIn {
			files[f.Path] = f.Content
		}
	}
	return files, nil
}
