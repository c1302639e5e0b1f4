package jitsi

import (
	"fmt"
	"io/fs"
	"net/netip"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// File is one file a node needs, with the ownership the Jitsi packages give it.
type File struct {
	Path    string
	Owner   string // "user:group"
	Mode    fs.FileMode
	Content []byte
}

// Secret-bearing files are never world-readable: modeSecret for root-only
// files, modeService for files a service's group must read.
const (
	modeSecret  fs.FileMode = 0o600
	modeService fs.FileMode = 0o640
	modePublic  fs.FileMode = 0o644
)

// Owners of the files the node agent writes.
const (
	// RootOwner owns the agent's own files.
	RootOwner = "root:root"
	// JVBOwner is how the jitsi-videobridge2 package owns its config files.
	JVBOwner = "jvb:jitsi"
)

const header = "Written by the jitsi-node agent (packer-plugin-jitsi) from /etc/jitsi-node; re-issue the node to change it."

// Boot is what the node agent finds out at boot, which no user-data can
// carry: the nickname a group bridge claimed, the NAT mapping it
// discovered, whether it runs on EC2.
type Boot struct {
	// Nickname is the bridge's brewery nickname: the spec's, or the one a
	// group bridge claimed from the registry.
	Nickname string
	// LocalAddress and PublicAddress are the NAT mapping the bridge
	// advertises: both set, or neither (no mapping).
	LocalAddress, PublicAddress string
	// AWSHarvester turns on ice4j's AWS harvester: only on EC2, where it
	// finds the same mapping from the instance metadata itself.
	AWSHarvester bool
}

// Check says what is missing or inconsistent in b for a bridge.
func (b Boot) Check() error {
	if p := node.NicknameProblem(b.Nickname); p != "" {
		return fmt.Errorf("bridge files: nickname %s", p)
	}
	if (b.LocalAddress == "") != (b.PublicAddress == "") {
		return fmt.Errorf("bridge files: a NAT mapping needs both addresses (local %q, public %q)", b.LocalAddress, b.PublicAddress)
	}
	for _, a := range []string{b.LocalAddress, b.PublicAddress} {
		if ip, err := netip.ParseAddr(a); a != "" && (err != nil || ip.Zone() != "" || ip.String() != a) {
			return fmt.Errorf("bridge files: NAT address %q is not an IP address in canonical form without zone", a)
		}
	}
	return nil
}

// BridgeFiles returns the videobridge's files as the node agent writes them
// at boot, in a fixed order: all three of the package's config files
// whatever the format, so that nothing stale from the image or a package
// script survives (the format decides which file carries the shards), and
// the systemd drop-in that re-checks them before every start. The spec must
// have passed node.Spec.Validate (ValidatePending for a group bridge).
func BridgeFiles(s node.Spec, b Boot) ([]File, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	s = s.WithDefaults()
	s.Nickname = b.Nickname
	f := func(path string, content []byte) File {
		return File{Path: path, Owner: JVBOwner, Mode: modeService, Content: content}
	}
	return []File{
		f(JVBConf, bridgeHOCON(s, b)),
		f(JVBProperties, bridgeProperties(s, b)),
		f(JVBShellConfig, bridgeShellConfig(s)),
		{Path: JVBDropIn, Owner: RootOwner, Mode: modePublic, Content: jvbDropIn()},
	}, nil
}
