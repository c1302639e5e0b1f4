package nodeconfig

import (
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// TestImageRoundTrip: Marshal then ParseImage gives the same image, and the
// same image always the same bytes.
func TestImageRoundTrip(t *testing.T) {
	for _, img := range []Image{
		{Version: 1, Role: node.RoleJMS, WebServer: jitsi.WebNginx},
		{Version: 1, Role: node.RoleJMS, WebServer: jitsi.WebApache, Firewall: &Firewall{Tool: "ufw", BridgeNetworks: []string{"10.0.0.0/16", "2001:db8::/32"}}},
		{Version: 1, Role: node.RoleJVB, Firewall: &Firewall{Tool: "ufw"}},
	} {
		a, err := img.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseImage(a)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		b, _ := got.Marshal()
		if string(a) != string(b) {
			t.Errorf("round trip:\n%s\n%s", a, b)
		}
	}
}

// TestImageValidate: every problem at once, each led by its field.
func TestImageValidate(t *testing.T) {
	err := Image{Version: 1, Role: node.RoleJVB, WebServer: "nginx",
		Firewall: &Firewall{Tool: "iptables", BridgeNetworks: []string{"10.0.0.0/8", "not a net", "::ffff:10.0.0.0/104", " 10.0.0.0/8"}}}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`image.yaml: web_server: a jvb image has no web server (got "nginx")`,
		`image.yaml: firewall.tool: "iptables" is not "ufw"`,
		"image.yaml: firewall.bridge_networks: only a JMS opens a port to the bridges",
		`image.yaml: firewall.bridge_networks[1]: "not a net" is not a network in CIDR notation`,
		`image.yaml: firewall.bridge_networks[2]: "::ffff:10.0.0.0/104" must be a plain IPv4 or IPv6 network`,
		`image.yaml: firewall.bridge_networks[3]: " 10.0.0.0/8" is not a network`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := (Image{Version: 1, Role: node.RoleJMS}).Validate(); err == nil || !strings.Contains(err.Error(), "web_server") {
		t.Errorf("a JMS without web server: %v", err)
	}
}
