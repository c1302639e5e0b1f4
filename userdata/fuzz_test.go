package userdata

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// readBack renders s, parses the YAML, and reads every config file back the
// way its consumer does. It fails the test on any parse error.
type readBackFiles struct {
	doc     cloudinit.Config
	props   map[string]string
	hocon   map[string]any
	shell   map[string]string // /etc/jitsi/videobridge/config
	nodeEnv map[string]string
	files   map[string]string
}

func renderAndReadBack(t *testing.T, s node.Spec) readBackFiles {
	t.Helper()
	data, err := Render(s)
	if err != nil {
		t.Fatalf("render of a valid spec failed: %v", err)
	}
	var r readBackFiles
	if err := yaml.Unmarshal(data, &r.doc); err != nil {
		t.Fatalf("user-data is not YAML: %v", err)
	}
	r.files = map[string]string{}
	for _, f := range r.doc.WriteFiles {
		r.files[f.Path] = f.Content
	}
	if r.nodeEnv, err = readback.ShellAssignments(r.files[jitsi.NodeEnv]); err != nil {
		t.Fatalf("node.env: %v", err)
	}
	if s.Role == node.RoleJVB {
		if r.props, err = readback.JavaProperties(r.files[jitsi.JVBProperties]); err != nil {
			t.Fatalf("properties: %v", err)
		}
		if r.hocon, err = readback.HOCON(r.files[jitsi.JVBConf]); err != nil {
			t.Fatalf("jvb.conf: %v\n%s", err, r.files[jitsi.JVBConf])
		}
		if r.shell, err = readback.ShellAssignments(r.files[jitsi.JVBShellConfig]); err != nil {
			t.Fatalf("config: %v", err)
		}
	}
	return r
}

func hoconShard(r readBackFiles, key string) any {
	v, _ := readback.Lookup(r.hocon, "videobridge", "apis", "xmpp-client", "configs", "shard", key)
	return v
}

func FuzzSecret(f *testing.F) {
	for _, s := range testvectors.SecretSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		for _, format := range []node.Format{node.FormatModern, node.FormatLegacy} {
			s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: secret, Nickname: "jvb-1", Format: format}
			if err := s.Validate(); err != nil {
				if len(secret) >= 16 && strings.Contains(err.Error(), secret) {
					t.Fatalf("validation error shows the secret: %v", err)
				}
				return
			}
			r := renderAndReadBack(t, s)
			if format == node.FormatModern {
				if got := hoconShard(r, "password"); got != secret {
					t.Fatalf("jvb.conf password = %q, want %q", got, secret)
				}
			} else {
				if got := r.props[jitsi.LegacyXMPPKeyPrefix+"shard.PASSWORD"]; got != secret {
					t.Fatalf("properties PASSWORD = %q, want %q", got, secret)
				}
				if got := r.shell["JVB_SECRET"]; got != secret {
					t.Fatalf("config JVB_SECRET = %q, want %q", got, secret)
				}
			}
		}
		jms := node.Spec{Role: node.RoleJMS, JMSFQDN: "meet.example.org", Secret: secret}
		r := renderAndReadBack(t, jms)
		if r.files[jitsi.NodeSecret] != secret {
			t.Fatalf("secret file = %q", r.files[jitsi.NodeSecret])
		}
		if !strings.Contains(r.files[jitsi.NodeDebconf], " password "+secret+"\n") {
			t.Fatalf("debconf seed lacks the secret line")
		}
		if strings.Contains(r.files[jitsi.NodeEnv], secret) && len(secret) > 8 {
			t.Fatalf("node.env (world-readable) holds the secret")
		}
	})
}

func FuzzNickname(f *testing.F) {
	for _, s := range testvectors.NicknameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, nick string) {
		s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s", Nickname: nick}
		if s.Validate() != nil {
			return
		}
		r := renderAndReadBack(t, s)
		if got := hoconShard(r, "muc_nickname"); got != nick {
			t.Fatalf("jvb.conf muc_nickname = %q, want %q", got, nick)
		}
		if r.doc.Hostname != nick || r.nodeEnv["JITSI_NODE_NICKNAME"] != nick {
			t.Fatalf("hostname %q / node.env %q, want %q", r.doc.Hostname, r.nodeEnv["JITSI_NODE_NICKNAME"], nick)
		}
		s.Format = node.FormatLegacy
		r = renderAndReadBack(t, s)
		if got := r.props[jitsi.LegacyXMPPKeyPrefix+"shard.MUC_NICKNAME"]; got != nick {
			t.Fatalf("properties MUC_NICKNAME = %q, want %q", got, nick)
		}
	})
}

func FuzzFQDN(f *testing.F) {
	for _, s := range []string{"meet.example.org", "a.b", "https://x.org", "x.org:443", "MEET.org", "1.2.3.4", "x..org", "a-.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, fqdn string) {
		s := node.Spec{Role: node.RoleJVB, JMSFQDN: fqdn, Secret: "s", Nickname: "jvb-1"}
		if s.Validate() != nil {
			return
		}
		r := renderAndReadBack(t, s)
		if got := hoconShard(r, "hostname"); got != fqdn {
			t.Fatalf("jvb.conf hostname = %q, want %q", got, fqdn)
		}
		if got := hoconShard(r, "domain"); got != "auth."+fqdn {
			t.Fatalf("jvb.conf domain = %q", got)
		}
		if got := hoconShard(r, "muc_jids"); got != "jvbbrewery@internal.auth."+fqdn {
			t.Fatalf("jvb.conf muc_jids = %q", got)
		}
		if r.nodeEnv["JITSI_NODE_JMS_FQDN"] != fqdn {
			t.Fatalf("node.env FQDN = %q", r.nodeEnv["JITSI_NODE_JMS_FQDN"])
		}
		jms := renderAndReadBack(t, node.Spec{Role: node.RoleJMS, JMSFQDN: fqdn, Secret: "s"})
		if jms.doc.FQDN != fqdn || !strings.HasPrefix(fqdn, jms.doc.Hostname+".") {
			t.Fatalf("jms fqdn %q hostname %q", jms.doc.FQDN, jms.doc.Hostname)
		}
	})
}
