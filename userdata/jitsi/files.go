package jitsi

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// File is one file a node needs, with the ownership the Jitsi packages give it.
type File struct {
	Path    string
	Owner   string // "user:group"
	Mode    fs.FileMode
	Content []byte
	// Deferred files are written after packages (and the users that own them)
	// exist: cloud-init's final stage instead of its first.
	Deferred bool
}

// Secret-bearing files are never world-readable: modeSecret for root-only
// files, modeService for files a service's group must read.
const (
	modeSecret  fs.FileMode = 0o600
	modeService fs.FileMode = 0o640
	modePublic  fs.FileMode = 0o644
	modeExec    fs.FileMode = 0o755
)

const header = "Written by packer-plugin-jitsi for this node at first boot; re-issue the node to change it."

// NodeFiles returns every file the node's first boot needs, in a fixed order.
// The spec must have passed node.Spec.Validate.
func NodeFiles(s node.Spec) []File {
	s = s.WithDefaults()
	files := []File{
		{Path: NodeEnv, Owner: "root:root", Mode: modePublic, Content: nodeEnv(s)},
	}
	if s.Registry != nil {
		// curl reads it with -H @file: the token stays off command lines.
		files = append(files, File{Path: NodeRegistryAuth, Owner: "root:root", Mode: modeSecret,
			Content: []byte("Authorization: Bearer " + s.Registry.Credential + "\n")})
	}
	switch s.Role {
	case node.RoleJVB:
		files = append(files, bridgeFiles(s)...)
	case node.RoleJMS:
		files = append(files,
			File{Path: NodeSecret, Owner: "root:root", Mode: modeSecret, Content: []byte(s.Secret)},
			File{Path: NodeDebconf, Owner: "root:root", Mode: modeSecret, Content: debconfSeed(s)})
	}
	return files
}

// nodeEnv is the applier's input: shell KEY="value" lines, no secret.
func nodeEnv(s node.Spec) []byte {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	kv := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, ShellValue(v)) }
	kv("JITSI_NODE_ROLE", string(s.Role))
	kv("JITSI_NODE_JMS_FQDN", s.JMSFQDN)
	if s.Registry != nil {
		kv("JITSI_NODE_REGISTRY_URL", strings.TrimSuffix(s.Registry.URL, "/"))
	}
	switch s.Role {
	case node.RoleJVB:
		kv("JITSI_NODE_NICKNAME", s.Nickname)
		kv("JITSI_NODE_FORMAT", string(s.Format))
		kv("JITSI_NODE_SERVICES", SvcJVB)
		kv("JITSI_NODE_NAT_PUBLIC_ADDRESS", s.NAT.PublicAddress)
		// An empty local address with a public one: the applier detects the
		// node's primary address at boot (it is only known there).
		kv("JITSI_NODE_NAT_LOCAL_ADDRESS", s.NAT.LocalAddress)
		if s.Group != "" {
			// No nickname above: the applier claims one from the registry.
			kv("JITSI_NODE_GROUP", s.Group)
		}
	case node.RoleJMS:
		if s.Registry != nil {
			kv("JITSI_NODE_NICKNAME", node.JMSNickname) // what it reports its state under
		}
		kv("JITSI_NODE_BRIDGE_ACCOUNT", BridgeUser+"@"+AuthDomain(s.JMSFQDN))
		kv("JITSI_NODE_BREWERY", BreweryJID(s.JMSFQDN))
		kv("JITSI_NODE_LOCAL_BRIDGE", yesNo(s.LocalBridge))
		kv("JITSI_NODE_PACKAGES", strings.Join(JMSPackages, " "))
		kv("JITSI_NODE_SERVICES", strings.Join([]string{SvcProsody, SvcJicofo, PkgApache}, " "))
	}
	return []byte(b.String())
}

// JMSPackages are installed by a JMS's first boot, in this order, once debconf
// holds the node's FQDN and secret (their postinsts bake both in).
var JMSPackages = []string{PkgMeetProsody, PkgJicofo, PkgMeet}

// debconfSeed is the JMS's debconf-set-selections input. debconf takes the
// rest of the line literally, so values need no escaping; validation has
// excluded newlines and surrounding white space.
func debconfSeed(s node.Spec) []byte {
	var b strings.Builder
	line := func(owner, q, typ, val string) { fmt.Fprintf(&b, "%s %s %s %s\n", owner, q, typ, val) }
	line("jitsi-videobridge2", QJVBHostname, "string", s.JMSFQDN)
	line("jitsi-meet-prosody", QJVBSecret, "password", s.Secret)
	line("jitsi-meet-web-config", QJaasChoice, "boolean", "false")
	switch s.Cert.Choice {
	case node.CertOwn:
		line("jitsi-meet-web-config", QCertChoice, "select", CertChoiceOwn)
		line("jitsi-meet-web-config", QCertKey, "string", s.Cert.KeyPath)
		line("jitsi-meet-web-config", QCertCrt, "string", s.Cert.CertPath)
	case node.CertLetsEncrypt:
		line("jitsi-meet-web-config", QCertChoice, "select", CertChoiceLetsEncrypt)
		line("jitsi-meet-web-config", QEmail, "string", s.Cert.Email)
	default:
		line("jitsi-meet-web-config", QCertChoice, "select", CertChoiceSelfSigned)
	}
	return []byte(b.String())
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
