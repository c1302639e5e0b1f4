package node

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-multierror"
)

const goodSecret = "correct horse battery staple"

func bridge() Spec {
	return Spec{Role: RoleJVB, JMSFQDN: "meet.example.org", Secret: goodSecret, Nickname: "jvb-001"}
}

func jms() Spec {
	return Spec{Role: RoleJMS, JMSFQDN: "meet.example.org", Secret: goodSecret}
}

func TestValidateAcceptsGoodSpecs(t *testing.T) {
	for name, s := range map[string]Spec{
		"bridge":        bridge(),
		"bridge legacy": func() Spec { s := bridge(); s.Format = FormatLegacy; return s }(),
		"bridge nat": func() Spec {
			s := bridge()
			s.NAT = NAT{PublicAddress: "203.0.113.1", LocalAddress: "10.0.0.1", STUNServers: []string{"stun.example.org:3478", "[2001:db8::1]:3478", "192.0.2.1:19302"}}
			return s
		}(),
		"bridge two shards": func() Spec {
			s := bridge()
			s.ExtraShards = []Shard{{ID: "shard-2", JMSFQDN: "meet2.example.org", Secret: "x"}}
			return s
		}(),
		"bridge group legacy": func() Spec {
			s := bridge()
			s.Nickname, s.Group, s.Format = "", "bridges-eu", FormatLegacy
			s.Registry = &RegistryLink{URL: "https://registry.example.org:8443/", Credential: "tok-0123456789abcdef"}
			return s
		}(),
		"bridge nat none": func() Spec { s := bridge(); s.NAT.Mode = NATNone; return s }(),
		"bridge nat auto stun": func() Spec {
			s := bridge()
			s.NAT = NAT{Mode: NATAuto, STUNServers: []string{"stun.example.org:3478"}}
			return s
		}(),
		"bridge auto with public ip is static": func() Spec {
			s := bridge()
			s.NAT = NAT{Mode: NATAuto, PublicAddress: "203.0.113.1"}
			return s
		}(),
		"bridge group": func() Spec {
			s := bridge()
			s.Nickname, s.Group = "", "bridges-eu"
			s.Registry = &RegistryLink{URL: "https://registry.example.org:8443/", Credential: "tok-0123456789abcdef"}
			return s
		}(),
		"jms":       jms(),
		"jms local": func() Spec { s := jms(); s.LocalBridge = true; return s }(),
		"jms own cert": func() Spec {
			s := jms()
			s.Cert = Cert{Choice: CertOwn, CertPath: "/etc/ssl/m.crt", KeyPath: "/etc/ssl/m.key"}
			return s
		}(),
		"jms letsencrypt": func() Spec { s := jms(); s.Cert = Cert{Choice: CertLetsEncrypt, Email: "ops@example.org"}; return s }(),
		"max lengths": func() Spec {
			s := bridge()
			s.Secret = strings.Repeat("s", MaxSecretLen)
			s.Nickname = "j" + strings.Repeat("1", MaxNicknameLen-1)
			s.JMSFQDN = strings.Repeat("a", 63) + ".example.org"
			return s
		}(),
		"secret unicode": func() Spec { s := bridge(); s.Secret = `a#b=c:d\e "f" ü`; return s }(),
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: unexpected error: %v", name, err)
		}
	}
}

// TestValidateRejects: each bad field gives one message naming the field and the fix.
func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Spec)
		want   string // "field: ...fragment"
	}{
		{"no role", func(s *Spec) { s.Role = "" }, "role: is required: jms or jvb"},
		{"bad role", func(s *Spec) { s.Role = "jibri" }, `role: "jibri" is not a role: use jms or jvb`},
		{"no fqdn", func(s *Spec) { s.JMSFQDN = "" }, "jms_fqdn: is required"},
		{"scheme", func(s *Spec) { s.JMSFQDN = "https://meet.example.org/x" }, `jms_fqdn: "https://meet.example.org/x" has a scheme: give the bare DNS name, e.g. meet.example.org`},
		{"port", func(s *Spec) { s.JMSFQDN = "meet.example.org:443" }, "jms_fqdn: \"meet.example.org:443\" has a port or path"},
		{"path", func(s *Spec) { s.JMSFQDN = "meet.example.org/room" }, "has a port or path"},
		{"ip", func(s *Spec) { s.JMSFQDN = "192.0.2.10" }, "jms_fqdn: \"192.0.2.10\" is an IP address"},
		{"one label", func(s *Spec) { s.JMSFQDN = "localhost" }, `jms_fqdn: "localhost" has one label`},
		{"empty label", func(s *Spec) { s.JMSFQDN = "meet..example.org" }, `label "" is empty`},
		{"long label", func(s *Spec) { s.JMSFQDN = strings.Repeat("a", 64) + ".org" }, "is longer than 63 characters"},
		{"long fqdn", func(s *Spec) { s.JMSFQDN = strings.Repeat(strings.Repeat("a", 60)+".", 5) + "org" }, "a DNS name has at most 253"},
		{"hyphen edge", func(s *Spec) { s.JMSFQDN = "-meet.example.org" }, "starts or ends with '-'"},
		{"upper case", func(s *Spec) { s.JMSFQDN = "Meet.example.org" }, "write the name in lower case"},
		{"underscore", func(s *Spec) { s.JMSFQDN = "meet_1.example.org" }, "only letters a-z, digits and '-' are allowed"},
		{"trailing dot", func(s *Spec) { s.JMSFQDN = "meet.example.org." }, "ends with a dot: drop it"},
		{"numeric tld", func(s *Spec) { s.JMSFQDN = "meet.example.123" }, "ends in a numeric label"},
		{"no secret", func(s *Spec) { s.Secret = "" }, "secret: is required"},
		{"long secret", func(s *Spec) { s.Secret = strings.Repeat("x", MaxSecretLen+1) }, "secret: is 257 bytes long: at most 256"},
		{"newline secret", func(s *Spec) { s.Secret = "abc\ndef" }, "secret: has a control character (U+000A) at byte 3"},
		{"nul secret", func(s *Spec) { s.Secret = "abc\x00" }, "secret: has a control character (U+0000)"},
		{"space secret", func(s *Spec) { s.Secret = " abc" }, "secret: starts or ends with white space"},
		{"bad utf8 secret", func(s *Spec) { s.Secret = "abc\xff" }, "secret: is not valid UTF-8"},
		{"no nickname", func(s *Spec) { s.Nickname = "" }, "nickname: is required for a bridge"},
		{"upper nickname", func(s *Spec) { s.Nickname = "JVB1" }, `nickname: "JVB1" is not allowed: use lower-case letters`},
		{"digit first", func(s *Spec) { s.Nickname = "1jvb" }, `nickname: "1jvb" is not allowed`},
		{"dot nickname", func(s *Spec) { s.Nickname = "jvb.1" }, `nickname: "jvb.1" is not allowed`},
		{"long nickname", func(s *Spec) { s.Nickname = "j" + strings.Repeat("a", 64) }, "nickname: is 65 characters long: at most 64"},
		{"bad format", func(s *Spec) { s.Format = "json" }, `format: "json" is not a config format: use modern (jvb.conf) or legacy`},
		{"bad shard", func(s *Spec) { s.ShardID = "Shard One" }, `shard_id: "Shard One" is not allowed`},
		{"dup shard id", func(s *Spec) {
			s.ExtraShards = []Shard{{ID: "shard", JMSFQDN: "meet2.example.org", Secret: "x"}}
		}, `extra_shards[0].id: "shard" is already used by shard_id: shard ids must be unique`},
		{"dup shard fqdn", func(s *Spec) {
			s.ExtraShards = []Shard{{ID: "b", JMSFQDN: "meet.example.org", Secret: "x"}}
		}, `extra_shards[0].jms_fqdn: "meet.example.org" is already served through jms_fqdn`},
		{"extra shard secret", func(s *Spec) {
			s.ExtraShards = []Shard{{ID: "b", JMSFQDN: "meet2.example.org"}}
		}, "extra_shards[0].secret: is required"},
		{"public ip", func(s *Spec) { s.NAT.PublicAddress = "203.0.113" }, `nat.public_address: "203.0.113" is not an IP address`},
		{"local without public", func(s *Spec) { s.NAT.LocalAddress = "10.0.0.1" }, "nat.local_address: is set without nat.public_address"},
		{"stun no port", func(s *Spec) { s.NAT.STUNServers = []string{"stun.example.org"} }, `nat.stun_servers[0]: "stun.example.org" is not host:port`},
		{"stun bad port", func(s *Spec) { s.NAT.STUNServers = []string{"stun.example.org:70000"} }, `nat.stun_servers[0]: "stun.example.org:70000" has port "70000"`},
		{"stun bad host", func(s *Spec) { s.NAT.STUNServers = []string{"st un:3478"} }, "host is neither an IP address nor a DNS name"},
		{"group with nickname", func(s *Spec) {
			s.Group = "g"
			s.Registry = &RegistryLink{URL: "http://127.0.0.1:8443", Credential: "t-0123456789abcdef"}
		}, `nickname: must be empty with a group: each bridge of group "g" claims its nickname at boot`},
		{"group public ip", func(s *Spec) {
			s.Nickname, s.Group = "", "g"
			s.NAT.PublicAddress = "203.0.113.1"
			s.Registry = &RegistryLink{URL: "http://127.0.0.1:8443", Credential: "t-0123456789abcdef"}
		}, `nat.public_address: cannot be used with a group`},
		{"nat mode", func(s *Spec) { s.NAT.Mode = "upnp" }, `nat.mode: "upnp" is not a NAT mode: use auto`},
		{"nat none with address", func(s *Spec) { s.NAT = NAT{Mode: NATNone, PublicAddress: "203.0.113.1"} }, "nat.mode: none writes no mapping"},
		{"nat none with stun", func(s *Spec) { s.NAT = NAT{Mode: NATNone, STUNServers: []string{"stun.example.org:3478"}} }, "nat.mode: none uses no STUN server"},
		{"nat static without address", func(s *Spec) { s.NAT.Mode = NATStatic }, "nat.public_address: is required with nat.mode static"},
		{"group bad name", func(s *Spec) {
			s.Nickname, s.Group = "", "G 1"
			s.Registry = &RegistryLink{URL: "http://127.0.0.1:8443", Credential: "t-0123456789abcdef"}
		}, `group: "G 1" is not allowed`},
		{"group without registry", func(s *Spec) { s.Nickname, s.Group = "", "g" }, "registry: is required with a group"},
		{"registry url path", func(s *Spec) {
			s.Registry = &RegistryLink{URL: "https://r.example.org/api", Credential: "t-0123456789abcdef"}
		}, `registry.url: "https://r.example.org/api" is not a registry URL`},
		{"registry url scheme", func(s *Spec) {
			s.Registry = &RegistryLink{URL: "ftp://r.example.org", Credential: "t-0123456789abcdef"}
		}, "registry.url:"},
		{"registry plain http off loopback", func(s *Spec) {
			s.Registry = &RegistryLink{URL: "http://registry.example.org:8080", Credential: "t-0123456789abcdef"}
		}, `registry.url: "http://registry.example.org:8080": plain http would send the node's credential in clear: use https`},
		{"registry plain http on a private address", func(s *Spec) {
			s.Registry = &RegistryLink{URL: "http://10.0.2.102", Credential: "t-0123456789abcdef"}
		}, `registry.url: "http://10.0.2.102": plain http`},
		{"registry ca", func(s *Spec) {
			s.Registry = &RegistryLink{URL: "https://r.example.org", Credential: "t-0123456789abcdef", CA: "not a certificate"}
		}, "registry.ca: holds no PEM certificate"},
		{"registry no token", func(s *Spec) { s.Registry = &RegistryLink{URL: "https://r.example.org"} }, "registry.credential: is required"},
		{"registry token space", func(s *Spec) {
			s.Registry = &RegistryLink{URL: "https://r.example.org", Credential: "a b-0123456789abcdef"}
		}, "registry.credential: has a space"},
		{"local bridge on jvb", func(s *Spec) { s.LocalBridge = true }, "local_bridge: applies to role jms only"},
		{"cert on jvb", func(s *Spec) { s.Cert.Choice = CertOwn }, "cert: applies to role jms only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := bridge()
			c.mutate(&s)
			assertOneError(t, s.Validate(), c.want)
		})
	}
}

func TestValidateRejectsJMS(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Spec)
		want   string
	}{
		{"nickname", func(s *Spec) { s.Nickname = "jvb-1" }, "nickname: applies to role jvb only"},
		{"format", func(s *Spec) { s.Format = FormatLegacy }, "format: applies to role jvb only"},
		{"nat", func(s *Spec) { s.NAT.PublicAddress = "203.0.113.1" }, "nat: applies to role jvb only"},
		{"group", func(s *Spec) { s.Group = "g" }, "group: applies to role jvb only"},
		{"bad cert", func(s *Spec) { s.Cert.Choice = "acme" }, `cert.choice: "acme" is not a certificate choice`},
		{"own relative", func(s *Spec) { s.Cert = Cert{Choice: CertOwn, CertPath: "m.crt", KeyPath: "/k"} }, `cert.cert_path: "m.crt" must be an absolute path`},
		{"le no email", func(s *Spec) { s.Cert = Cert{Choice: CertLetsEncrypt} }, `cert.email: "" is not an e-mail address`},
		{"le bad email", func(s *Spec) { s.Cert = Cert{Choice: CertLetsEncrypt, Email: "ops@localhost"} }, `cert.email: "ops@localhost" is not an e-mail address`},
		{"self-signed with paths", func(s *Spec) { s.Cert = Cert{Choice: CertSelfSigned, Email: "a@b.org"} }, "cert: paths and email apply only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := jms()
			c.mutate(&s)
			assertOneError(t, s.Validate(), c.want)
		})
	}
}

func assertOneError(t *testing.T, err error, want string) {
	t.Helper()
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("want a *multierror.Error containing %q, got %v", want, err)
	}
	if len(me.Errors) != 1 {
		t.Fatalf("want exactly one error containing %q, got %d:\n%v", want, len(me.Errors), err)
	}
	if !strings.Contains(me.Errors[0].Error(), want) {
		t.Errorf("error %q does not contain %q", me.Errors[0], want)
	}
}

// TestValidateReportsAllAtOnce: every bad field is reported in one error, in field order.
func TestValidateReportsAllAtOnce(t *testing.T) {
	s := Spec{Role: RoleJVB, JMSFQDN: "http://x", Secret: "", Nickname: "Bad", Format: "x",
		NAT: NAT{PublicAddress: "nope"}}
	err := s.Validate()
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("want multierror, got %v", err)
	}
	wantPrefixes := []string{"jms_fqdn:", "secret:", "nickname:", "format:", "nat.public_address:"}
	if len(me.Errors) != len(wantPrefixes) {
		t.Fatalf("want %d errors, got %d:\n%v", len(wantPrefixes), len(me.Errors), err)
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(me.Errors[i].Error(), p) {
			t.Errorf("error %d = %q, want prefix %q", i, me.Errors[i], p)
		}
	}
	if !strings.HasPrefix(err.Error(), "invalid node spec (5 problems):\n  * jms_fqdn:") {
		t.Errorf("summary format: %q", err.Error())
	}
}

// TestValidateNeverPrintsSecrets: no message quotes a secret, valid or not.
func TestValidateNeverPrintsSecrets(t *testing.T) {
	for _, secret := range []string{" Sup3rS3cretValue", "Sup3rS3cretValue\n", "Sup3rS3cretValue\xff", strings.Repeat("Sup3rS3cretValue", 20)} {
		s := bridge()
		s.Secret = secret
		s.ExtraShards = []Shard{{ID: "b", JMSFQDN: "meet2.example.org", Secret: secret}}
		err := s.Validate()
		if err == nil {
			t.Fatalf("secret %q accepted", secret)
		}
		if strings.Contains(err.Error(), "Sup3rS3cretValue") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestValidatePending(t *testing.T) {
	s := bridge()
	s.Nickname = ""
	if err := s.ValidatePending(); err != nil {
		t.Errorf("pending spec without nickname: %v", err)
	}
	s.Nickname = "BAD"
	if err := s.ValidatePending(); err == nil {
		t.Error("pending spec with a bad nickname accepted")
	}
}
