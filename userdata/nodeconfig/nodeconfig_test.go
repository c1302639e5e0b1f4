package nodeconfig

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

const secret = `a#b=c:d\e "f" ü: - [x]`

func specs() map[string]node.Spec {
	reg := &node.RegistryLink{URL: "https://registry.example.org:8443", Credential: "jnode_0123456789abcdefghijk"}
	return map[string]node.Spec{
		"bridge": {Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: secret, Nickname: "jvb-001"},
		"bridge nat two shards": {Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: secret, Nickname: "jvb-002",
			Format: node.FormatLegacy, ShardID: "main",
			NAT:         node.NAT{PublicAddress: "203.0.113.7", LocalAddress: "10.0.0.7", STUNServers: []string{"stun.example.org:3478"}},
			ExtraShards: []node.Shard{{ID: "shard-2", JMSFQDN: "meet2.example.org", Secret: "second"}}, Registry: reg},
		"group": {Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: secret, Group: "bridges-eu",
			NAT:      node.NAT{Mode: node.NATNone},
			Registry: &node.RegistryLink{URL: "https://registry.example.org", Credential: "jgroup_0123456789abcdefghijk", CA: testCA}},
		"jms": {Role: node.RoleJMS, JMSFQDN: "meet.example.org", Secret: secret, LocalBridge: true,
			Cert: node.Cert{Choice: node.CertLetsEncrypt, Email: "ops@example.org"}, Registry: reg},
	}
}

// testCA is a real self-signed certificate (its key was discarded).
var testCA = testvectors.RegistryCA

func roundTrip(t *testing.T, s node.Spec) node.Spec {
	t.Helper()
	c, sec := FromSpec(s)
	cy, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sy, err := sec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cy), s.Secret) {
		t.Fatalf("node.yaml holds the secret:\n%s", cy)
	}
	c2, err := ParseConfig(cy)
	if err != nil {
		t.Fatalf("parse node.yaml: %v\n%s", err, cy)
	}
	sec2, err := ParseSecrets(sy)
	if err != nil {
		t.Fatalf("parse secrets.yaml: %v", err)
	}
	back, err := c2.Spec(sec2)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestRoundTrip(t *testing.T) {
	for name, s := range specs() {
		t.Run(name, func(t *testing.T) {
			back := roundTrip(t, s)
			want := s.WithDefaults()
			if back.Registry != nil && want.Registry != nil && reflect.DeepEqual(*back.Registry, *want.Registry) {
				back.Registry = want.Registry
			}
			if !reflect.DeepEqual(back.WithDefaults(), want) {
				t.Errorf("round trip changed the spec:\n got %+v\nwant %+v", back.WithDefaults(), want)
			}
		})
	}
}

func TestNewerVersionRefused(t *testing.T) {
	data := []byte("version: 2\nagent_min_version: 0.4.0\nrole: jvb\nsomething_new: {a: 1}\nregistry: {url: 'https://r.example.org'}\n")
	_, err := ParseConfig(data)
	var ve *VersionError
	if !errors.As(err, &ve) || !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("want a VersionError, got %v", err)
	}
	want := "node.yaml version 2 is newer than this agent (knows 1): bake the image with packer-plugin-jitsi ≥ 0.4.0"
	if err.Error() != want {
		t.Errorf("message %q\nwant    %q", err, want)
	}
	env, err := ReadEnvelope(data)
	if err != nil || env.Registry == nil || env.Registry.URL != "https://r.example.org" {
		t.Errorf("envelope %+v (%v): an old agent must still find the registry", env, err)
	}
}

func TestStrictDecode(t *testing.T) {
	for name, c := range map[string]struct{ data, want string }{
		"unknown field": {"version: 1\nrole: jvb\nnickame: jvb-1\n", "field nickame not found"},
		"no version":    {"role: jvb\n", "no version"},
		"bad version":   {"version: -1\n", "not a config version"},
		"not yaml":      {"version: 1\n: [\n", "node.yaml"},
		"wrong type":    {"version: 1\nshards: 3\n", "cannot unmarshal"},
	} {
		if _, err := ParseConfig([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// TestSecretsErrorsHideValues: a malformed secrets.yaml is reported without
// the value that did not fit.
func TestSecretsErrorsHideValues(t *testing.T) {
	_, err := ParseSecrets([]byte("version: 1\nshard_secrets: hunter2-secret\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "secrets.yaml") {
		t.Errorf("error %v", err)
	}
	_, err = ParseSecrets([]byte("version: 1\njms_secret: [hunter2-secret]\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}

func TestInconsistentFiles(t *testing.T) {
	c, sec := FromSpec(specs()["bridge nat two shards"])
	delete(sec.ShardSecrets, "shard-2")
	c.Shards[0].JMSFQDN = "other.example.org"
	_, err := c.Spec(sec)
	for _, want := range []string{`no secret for shards[1] "shard-2"`, "shards[0].jms_fqdn"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Error("error shows a secret")
	}
}

func TestDeterministic(t *testing.T) {
	for name, s := range specs() {
		c, sec := FromSpec(s)
		a, _ := c.Marshal()
		as, _ := sec.Marshal()
		for i := 0; i < 10; i++ {
			c, sec := FromSpec(s)
			b, _ := c.Marshal()
			bs, _ := sec.Marshal()
			if string(a) != string(b) || string(as) != string(bs) {
				t.Fatalf("%s: render %d differs", name, i)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(secret, "jvb-1", "stun.example.org:3478", "shard")
	f.Add("x: y", "a", "[2001:db8::1]:3478", "s_1")
	f.Add("'\"\n", "-", "::", "1")
	f.Fuzz(func(t *testing.T, sec, nick, stun, shard string) {
		s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: sec, Nickname: nick, ShardID: shard,
			NAT: node.NAT{STUNServers: []string{stun}}}
		if s.Validate() != nil {
			return
		}
		back := roundTrip(t, s)
		if back.Secret != sec || back.Nickname != nick || back.ShardID != shard || back.NAT.STUNServers[0] != stun {
			t.Fatalf("round trip: %+v", back)
		}
	})
}
