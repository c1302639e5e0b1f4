package jvmtier

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// boot holds what a node learns only at first boot.
type boot struct {
	// nickname a group bridge claims from the registry.
	nickname string
	// natLocal is the primary address the boot step detects when the spec
	// has a public address but no local one.
	natLocal string
	// localAddresses are the node's interface addresses.
	localAddresses []string
}

// natLocalEnv is the environment variable through which jvb.conf's static
// mapping gets a local address detected at boot (see userdata/jitsi/bridge.go).
const natLocalEnv = "JITSI_NODE_NAT_LOCAL_ADDRESS"

// bridgeFilesOf is the ONE place that knows how a bridge's files are produced:
// today cloud-init's write_files of the rendered user-data (the applier entry,
// gz+b64, is not a bridge file and is skipped). When a node agent writes them
// at boot from userdata/jitsi, this function changes and the tests do not.
func bridgeFilesOf(s node.Spec) (map[string][]byte, error) {
	data, err := userdata.Render(s)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var doc cloudinit.Config
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse user-data: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range doc.WriteFiles {
		if !strings.HasPrefix(f.Path, jitsi.JVBConfigDir+"/") {
			continue
		}
		if f.Encoding != "" {
			return nil, fmt.Errorf("%s: encoding %q not handled", f.Path, f.Encoding)
		}
		files[f.Path] = []byte(f.Content)
	}
	return files, nil
}

// afterBoot applies what today's first-boot applier (scripts/node/jitsi-node-apply)
// adds for the bridge: drop-in Environment= lines (claimed nickname, detected
// NAT local address) and, in the legacy format, the detected local address
// appended to sip-communicator.properties.
func afterBoot(s node.Spec, b boot, files map[string][]byte) map[string]string {
	env := map[string]string{}
	if s.Group != "" && b.nickname != "" {
		env[jitsi.NicknameEnv] = b.nickname
	}
	if s.NAT.PublicAddress != "" && s.NAT.LocalAddress == "" && b.natLocal != "" {
		if s.Format == node.FormatLegacy {
			files[jitsi.JVBProperties] = append(files[jitsi.JVBProperties],
				[]byte("org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS="+b.natLocal+"\n")...)
		} else {
			env[natLocalEnv] = b.natLocal
		}
	}
	return env
}

// defaultBoot is a node as the spec describes it: behind 1:1 NAT (private
// interface 10.0.0.7) when the spec gives a public address or STUN servers,
// else on a public interface address.
func defaultBoot(s node.Spec) boot {
	b := boot{nickname: s.Nickname}
	if s.Group != "" {
		b.nickname = "jvb-042"
	}
	if s.NAT.PublicAddress != "" || len(s.NAT.STUNServers) > 0 {
		b.natLocal = "10.0.0.7"
		b.localAddresses = []string{"10.0.0.7"}
	} else {
		b.localAddresses = []string{"198.51.100.20"}
	}
	return b
}
