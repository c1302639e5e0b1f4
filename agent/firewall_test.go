package agent

import (
	"slices"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// TestFirewallUFW: with firewall = ufw the JMS opens its ports (5222 to
// the bridges' networks only), a second boot adds nothing, ufw is never
// enabled, and its being inactive is said.
func TestFirewallUFW(t *testing.T) {
	m := newJMS(t, jitsi.WebNginx, "0.12")
	m.ufw = &ufwModel{}
	m.setImage(nodeconfig.Image{Version: 1, Role: node.RoleJMS, WebServer: jitsi.WebNginx,
		Firewall: &nodeconfig.Firewall{Tool: "ufw", BridgeNetworks: []string{"10.0.0.0/16", "2001:db8::/32"}}})
	m.configure(jmsSpec(m.regURL))
	if err := m.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, m.log)
	}
	want := []string{
		"allow 80/tcp comment jitsi-node: Jitsi Meet web (HTTP, redirects to HTTPS)",
		"allow 443/tcp comment jitsi-node: Jitsi Meet web (HTTPS)",
		"allow proto tcp from 10.0.0.0/16 to any port 5222 comment jitsi-node: prosody XMPP client port for videobridges",
		"allow proto tcp from 2001:db8::/32 to any port 5222 comment jitsi-node: prosody XMPP client port for videobridges",
		"allow 3478/udp comment jitsi-node: STUN/TURN (coturn)",
		"allow 5349/tcp comment jitsi-node: TURN over TLS (coturn)",
	}
	if !slices.Equal(m.ufw.rules, want) {
		t.Errorf("ufw rules:\n%s\nwant:\n%s", strings.Join(m.ufw.rules, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range m.run.ran() {
		if strings.HasPrefix(c, "ufw enable") || strings.HasPrefix(c, "ufw --force") {
			t.Errorf("the agent ran %q", c)
		}
	}
	log := m.log.String()
	if !strings.Contains(log, "ufw rules added: 80/tcp, 443/tcp, 5222/tcp from 10.0.0.0/16, 5222/tcp from 2001:db8::/32, 3478/udp, 5349/tcp") ||
		!strings.Contains(log, "ufw is not active") || strings.Contains(log, "open to any address") {
		t.Errorf("log:\n%s", log)
	}

	m.run.reset()
	first := len(m.log.String())
	m.ufw.active = true
	if err := m.apply(); err != nil {
		t.Fatal(err)
	}
	if log := m.log.String()[first:]; len(m.ufw.rules) != len(want) || !strings.Contains(log, "ufw already has the rules") || strings.Contains(log, "not active") {
		t.Errorf("second boot: rules %v\n%s", m.ufw.rules, log)
	}
}

// TestFirewallRoles: a bridge opens its media port; a JMS with its own
// bridge too; without bridge networks 5222 is open to any address, and
// the log says so.
func TestFirewallRoles(t *testing.T) {
	n := newNode(t, nat.Unknown)
	ufw := &ufwModel{}
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.Name == jitsi.FirewallUFW {
			return ufw.run(c.Args)
		}
		return nil, nil
	}
	n.write(jitsi.ImageConfig, "version: 1\nrole: jvb\nfirewall:\n  tool: ufw\n", 0o644)
	n.configure(n.withRegistry(bridgeSpec()))
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.log)
	}
	if want := []string{"allow 10000/udp comment jitsi-node: Jitsi Videobridge media"}; !slices.Equal(ufw.rules, want) {
		t.Errorf("bridge rules %v, want %v", ufw.rules, want)
	}

	m := newJMS(t, jitsi.WebApache, "0.12")
	m.ufw = &ufwModel{}
	m.setImage(nodeconfig.Image{Version: 1, Role: node.RoleJMS, WebServer: jitsi.WebApache, Firewall: &nodeconfig.Firewall{Tool: "ufw"}})
	s := jmsSpec(m.regURL)
	s.LocalBridge = true
	m.configure(s)
	if err := m.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, m.log)
	}
	for _, want := range []string{"allow 5222/tcp comment jitsi-node: prosody XMPP client port for videobridges", "allow 10000/udp comment jitsi-node: Jitsi Videobridge media"} {
		if !slices.Contains(m.ufw.rules, want) {
			t.Errorf("JMS rules lack %q: %v", want, m.ufw.rules)
		}
	}
	if !strings.Contains(m.log.String(), "5222/tcp (prosody XMPP client port for videobridges) is open to any address") {
		t.Errorf("no warning about 5222:\n%s", m.log)
	}
}

// TestFirewallWithoutUFW: no ufw on the node: nothing is run, the log says so.
func TestFirewallWithoutUFW(t *testing.T) {
	m := newJMS(t, jitsi.WebNginx, "0.12")
	m.run.missing = map[string]bool{jitsi.FirewallUFW: true}
	m.setImage(nodeconfig.Image{Version: 1, Role: node.RoleJMS, WebServer: jitsi.WebNginx, Firewall: &nodeconfig.Firewall{Tool: "ufw"}})
	m.configure(jmsSpec(m.regURL))
	if err := m.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, m.log)
	}
	for _, c := range m.run.ran() {
		if strings.HasPrefix(c, "ufw") {
			t.Errorf("ran %q without ufw", c)
		}
	}
	if !strings.Contains(m.log.String(), "firewall: ufw is not installed: no rules written") {
		t.Errorf("log:\n%s", m.log)
	}
}

// TestNoFirewallByDefault: an image without firewall settings runs no ufw.
func TestNoFirewallByDefault(t *testing.T) {
	m := newJMS(t, jitsi.WebNginx, "0.12")
	m.ufw = &ufwModel{}
	m.configure(jmsSpec(m.regURL))
	if err := m.apply(); err != nil {
		t.Fatal(err)
	}
	if len(m.ufw.rules) != 0 || strings.Contains(m.log.String(), "firewall") {
		t.Errorf("rules %v, log:\n%s", m.ufw.rules, m.log)
	}
}
