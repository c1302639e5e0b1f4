package jitsi

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// TestRoleBakeByWebServer: nginx (the default) caches jitsi-meet-turnserver
// and installs nginx first; Apache installs Apache and coturn first and
// caches no TURN package; a bridge has no web server.
func TestRoleBakeByWebServer(t *testing.T) {
	for _, tc := range []struct {
		w                       WebServer
		before, disable, cached []string
	}{
		{"", []string{"nginx"}, []string{"prosody", "nginx", "coturn"}, []string{PkgMeetTurn}},
		{WebNginx, []string{"nginx"}, []string{"prosody", "nginx", "coturn"}, []string{PkgMeetTurn}},
		{WebApache, []string{"apache2", "coturn"}, []string{"prosody", "apache2", "coturn"}, nil},
	} {
		b, ok := RoleBake(node.RoleJMS, tc.w)
		if !ok || !slices.Equal(b.Before, tc.before) || !slices.Equal(b.Disable, tc.disable) || len(b.Install) != 0 {
			t.Errorf("%q: %+v", tc.w, b)
		}
		if got := slices.Contains(b.Cached, PkgMeetTurn); got != (tc.cached != nil) {
			t.Errorf("%q caches %v", tc.w, b.Cached)
		}
		for _, p := range b.Packages() {
			if !IsRepoPackage(p) {
				t.Errorf("%q: %s is not one of RepoPackages", tc.w, p)
			}
		}
	}
	if _, ok := RoleBake(node.RoleJMS, "lighttpd"); ok {
		t.Error("lighttpd accepted")
	}
	if _, ok := RoleBake(node.RoleJVB, WebNginx); ok {
		t.Error("a bridge with a web server accepted")
	}
	if b, ok := RoleBake(node.RoleJVB, ""); !ok || !slices.Equal(b.Install, []string{PkgJVB}) {
		t.Errorf("jvb: %+v", b)
	}
	if got := JMSServices(WebApache); !slices.Equal(got, []string{"prosody", "jicofo", "apache2", "coturn"}) {
		t.Errorf("apache services %v", got)
	}
	if got := JMSPackages(WebNginx); !slices.Equal(got, []string{PkgMeetProsody, PkgJicofo, PkgMeet, PkgMeetTurn}) {
		t.Errorf("nginx packages %v", got)
	}
}

// TestTurnFiles: coturn's config holds the secret, the FQDN as realm,
// Jitsi's ports and marker lines and no other secret-bearing file than
// the key and itself (group turnserver only).
func TestTurnFiles(t *testing.T) {
	const secret = "Abcdefghij0123456789KLMNOPqrstuv"
	files, err := TurnFiles("meet.example.org", secret, []byte("CRT"), []byte("KEY"))
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	conf := string(byPath[TurnServerConfig].Content)
	lines := strings.Split(conf, "\n")
	if lines[0] != turnConfigMarker || !slices.Contains(lines, turnRelayMarker) {
		t.Errorf("markers missing:\n%s", conf)
	}
	for _, want := range []string{"use-auth-secret", "static-auth-secret=" + secret, "realm=meet.example.org", "listening-port=3478",
		"tls-listening-port=5349", "no-tcp", "cert=/etc/coturn/certs/meet.example.org.crt", "pkey=/etc/coturn/certs/meet.example.org.key",
		"denied-peer-ip=172.16.0.0-172.31.255.255", "denied-peer-ip=::1", "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255",
		"denied-peer-ip=fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		if !slices.Contains(lines, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, secret) != 1 {
		t.Error("the secret appears more than once")
	}
	for p, want := range map[string]string{TurnServerConfig: "0640", CoturnCertDir + "/meet.example.org.key": "0640", CoturnCertDir + "/meet.example.org.crt": "0644"} {
		f, ok := byPath[p]
		if !ok || f.Owner != TurnOwner || f.Mode.Perm().String() != map[string]string{"0640": "-rw-r-----", "0644": "-rw-r--r--"}[want] {
			t.Errorf("%s: %+v", p, f)
		}
	}
	for _, bad := range []string{"short", "has space in it 0123456789", `quote"0123456789abcdef`} {
		if _, err := TurnFiles("meet.example.org", bad, nil, nil); err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("secret %q: %v", bad, err)
		}
	}
	if _, err := TurnFiles("meet.example.org\nrealm=x", secret, nil, nil); err == nil {
		t.Error("a bad FQDN was accepted")
	}
}

func TestPrefixRange(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0-10.255.255.255", "100.64.0.0/10": "100.64.0.0-100.127.255.255",
		"198.18.0.0/15": "198.18.0.0-198.19.255.255", "::1/128": "::1", "2001::/23": "2001::-2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
	} {
		if got := prefixRange(netip.MustParsePrefix(in)); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	for _, p := range deniedPeers {
		if pr := netip.MustParsePrefix(p); pr.Masked() != pr {
			t.Errorf("%s is not a network", p)
		}
	}
}

// TestRolePorts: what each role opens; 8080 never.
func TestRolePorts(t *testing.T) {
	names := func(ps []Port) (out []string) {
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	if got := names(RolePorts(node.RoleJMS, false)); !slices.Equal(got, []string{"80/tcp", "443/tcp", "5222/tcp", "3478/udp", "5349/tcp"}) {
		t.Errorf("jms %v", got)
	}
	if got := names(RolePorts(node.RoleJMS, true)); got[len(got)-1] != "10000/udp" {
		t.Errorf("jms with a local bridge %v", got)
	}
	if got := names(RolePorts(node.RoleJVB, false)); !slices.Equal(got, []string{"10000/udp"}) {
		t.Errorf("jvb %v", got)
	}
	for _, p := range RolePorts(node.RoleJMS, true) {
		if p.BridgesOnly != (p.Number == XMPPPort) {
			t.Errorf("%s bridges only: %v", p, p.BridgesOnly)
		}
	}
}
