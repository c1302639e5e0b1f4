package userdata

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// nodeSide renders s, parses the user-data as cloud-init does, and reads
// node.yaml and secrets.yaml back as the node agent does: the spec the node
// ends up with. It fails the test on any parse error.
func nodeSide(t *testing.T, s node.Spec) (cloudinit.Config, node.Spec) {
	t.Helper()
	data, err := Render(s)
	if err != nil {
		t.Fatalf("render of a valid spec failed: %v", err)
	}
	var doc cloudinit.Config
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("user-data is not YAML: %v", err)
	}
	files := map[string]string{}
	for _, f := range doc.WriteFiles {
		files[f.Path] = f.Content
	}
	cfg, err := nodeconfig.ParseConfig([]byte(files[jitsi.NodeConfig]))
	if err != nil {
		t.Fatalf("node.yaml: %v", err)
	}
	sec, err := nodeconfig.ParseSecrets([]byte(files[jitsi.NodeSecrets]))
	if err != nil {
		t.Fatalf("secrets.yaml: %v", err)
	}
	back, err := cfg.Spec(sec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(files[jitsi.NodeConfig], s.Secret) && len(s.Secret) > 8 {
		t.Fatalf("node.yaml (world-readable) holds the secret")
	}
	return doc, back
}

// bridgeConf renders the bridge's files as the agent would at boot and
// parses jvb.conf and sip-communicator.properties back.
func bridgeConf(t *testing.T, s node.Spec) (map[string]any, map[string]string) {
	t.Helper()
	files, err := jitsi.BridgeFiles(s, jitsi.Boot{Nickname: s.Nickname})
	if err != nil {
		t.Fatal(err)
	}
	h, err := readback.HOCON(string(files[0].Content))
	if err != nil {
		t.Fatalf("jvb.conf: %v", err)
	}
	p, err := readback.JavaProperties(string(files[1].Content))
	if err != nil {
		t.Fatalf("properties: %v", err)
	}
	return h, p
}

func hoconShard(h map[string]any, key string) any {
	v, _ := readback.Lookup(h, "videobridge", "apis", "xmpp-client", "configs", "shard", key)
	return v
}

// FuzzSecret: any secret validation accepts reaches the bridge's files
// unchanged: spec → user-data → secrets.yaml → agent → jvb.conf or
// sip-communicator.properties, and the JMS's debconf seed.
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
			_, back := nodeSide(t, s)
			if back.Secret != secret {
				t.Fatalf("secrets.yaml gives %q, want %q", back.Secret, secret)
			}
			h, p := bridgeConf(t, back)
			if format == node.FormatModern && hoconShard(h, "password") != secret {
				t.Fatalf("jvb.conf password = %q, want %q", hoconShard(h, "password"), secret)
			}
			if format == node.FormatLegacy && p[jitsi.LegacyXMPPKeyPrefix+"shard.PASSWORD"] != secret {
				t.Fatalf("properties PASSWORD = %q, want %q", p[jitsi.LegacyXMPPKeyPrefix+"shard.PASSWORD"], secret)
			}
		}
		_, jms := nodeSide(t, node.Spec{Role: node.RoleJMS, JMSFQDN: "meet.example.org", Secret: secret})
		if !strings.Contains(string(jitsi.DebconfSeed(jms)), " password "+secret+"\n") {
			t.Fatalf("debconf seed lacks the secret line")
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
		doc, back := nodeSide(t, s)
		if doc.Hostname != nick || back.Nickname != nick {
			t.Fatalf("hostname %q / node.yaml %q, want %q", doc.Hostname, back.Nickname, nick)
		}
		h, _ := bridgeConf(t, back)
		if got := hoconShard(h, "muc_nickname"); got != nick {
			t.Fatalf("jvb.conf muc_nickname = %q, want %q", got, nick)
		}
	})
}

func FuzzFQDN(f *testing.F) {
	for _, s := range []string{"meet.example.org", "a.b", "https://x.org", "x.org:443", "MEET.org", "1.2.3.4", "x..org", "a-.org", "no.yes", "null.true"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, fqdn string) {
		s := node.Spec{Role: node.RoleJVB, JMSFQDN: fqdn, Secret: "s", Nickname: "jvb-1"}
		if s.Validate() != nil {
			return
		}
		_, back := nodeSide(t, s)
		if back.JMSFQDN != fqdn {
			t.Fatalf("node.yaml FQDN = %q", back.JMSFQDN)
		}
		h, _ := bridgeConf(t, back)
		if got := hoconShard(h, "hostname"); got != fqdn {
			t.Fatalf("jvb.conf hostname = %q, want %q", got, fqdn)
		}
		if got := hoconShard(h, "muc_jids"); got != "jvbbrewery@internal.auth."+fqdn {
			t.Fatalf("jvb.conf muc_jids = %q", got)
		}
		jms, _ := nodeSide(t, node.Spec{Role: node.RoleJMS, JMSFQDN: fqdn, Secret: "s"})
		if jms.FQDN != fqdn || !strings.HasPrefix(fqdn, jms.Hostname+".") {
			t.Fatalf("jms fqdn %q hostname %q", jms.FQDN, jms.Hostname)
		}
	})
}
