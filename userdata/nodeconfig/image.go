package nodeconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/yamldoc"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// ImageVersion is the image.yaml version this package writes and reads.
const ImageVersion = 1

const imageHeader = "# What packer-plugin-jitsi baked into this image, for every node of it (jitsi-node reads it at each boot)\n"

// Image is /etc/jitsi-node/image.yaml: what the Packer provisioner decided
// for every node of an image. `jitsi-node bake --image-config` checks and
// installs it; every apply reads it. It holds no secret and nothing of one
// node. Field order is file order.
type Image struct {
	Version int       `yaml:"version"`
	Role    node.Role `yaml:"role"`
	// WebServer of a JMS image; empty on a bridge's.
	WebServer jitsi.WebServer `yaml:"web_server,omitempty"`
	// Firewall, when set, makes every boot open the role's ports.
	Firewall *Firewall `yaml:"firewall,omitempty"`
}

// Firewall is which firewall a node opens its role's ports in.
type Firewall struct {
	// Tool is jitsi.FirewallUFW.
	Tool string `yaml:"tool"`
	// BridgeNetworks are the networks (CIDR) a JMS's XMPP port is opened
	// to; empty: any address.
	BridgeNetworks []string `yaml:"bridge_networks,omitempty"`
}

// Marshal renders image.yaml. The same Image always gives the same bytes.
func (i Image) Marshal() ([]byte, error) { return marshal(yamldoc.NewWriter(), imageHeader, i) }

// ParseImage decodes image.yaml strictly and validates it.
func ParseImage(data []byte) (Image, error) {
	var i Image
	if err := decode("image.yaml", data, ImageVersion, &i, func() int { return i.Version }); err != nil {
		return Image{}, err
	}
	if err := i.Validate(); err != nil {
		return Image{}, err
	}
	return i, nil
}

// Validate reports every problem of i at once, each led by its field.
func (i Image) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("image.yaml: "+format, a...)) }
	if i.Version != ImageVersion {
		add("version: %d, want %d", i.Version, ImageVersion)
	}
	switch i.Role {
	case node.RoleJMS:
		if !i.WebServer.Valid() {
			add("web_server: %q is not one of %s", i.WebServer, jitsi.WebServerList())
		}
	case node.RoleJVB:
		if i.WebServer != "" {
			add("web_server: a %s image has no web server (got %q)", i.Role, i.WebServer)
		}
	default:
		add("role: %q is not %q or %q", i.Role, node.RoleJMS, node.RoleJVB)
	}
	if f := i.Firewall; f != nil {
		if f.Tool != jitsi.FirewallUFW {
			add("firewall.tool: %q is not %q", f.Tool, jitsi.FirewallUFW)
		}
		if i.Role != node.RoleJMS && len(f.BridgeNetworks) > 0 {
			add("firewall.bridge_networks: only a JMS opens a port to the bridges")
		}
		for n, cidr := range f.BridgeNetworks {
			if p := NetworkProblem(cidr); p != "" {
				add("firewall.bridge_networks[%d]: %q %s", n, cidr, p)
			}
		}
	}
	return errors.Join(errs...)
}

// NetworkProblem says what is wrong with a network in CIDR notation, or "".
// It must be written as a network (host bits zero), so that what the
// operator wrote is what the firewall allows.
func NetworkProblem(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil || strings.TrimSpace(cidr) != cidr:
		return "is not a network in CIDR notation (like 10.0.0.0/16 or 2001:db8::/32)"
	case p.Addr().Zone() != "" || p.Addr().Is4In6():
		return "must be a plain IPv4 or IPv6 network"
	case p.Masked() != p:
		return fmt.Sprintf("has host bits set: write %s", p.Masked())
	}
	return ""
}
