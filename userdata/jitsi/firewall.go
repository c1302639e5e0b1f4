package jitsi

import (
	"fmt"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Port is one port a node of a role serves on the network.
type Port struct {
	Number int
	Proto  string // "tcp" or "udp"
	// What the port carries, as the firewall rule's comment says it.
	What string
	// BridgesOnly: only the cluster's videobridges need it (prosody's
	// client port on a JMS); everything else is for clients anywhere.
	BridgesOnly bool
}

// String is "NUMBER/PROTO", the way ufw and the README name a port.
func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Proto) }

// JVBMediaPort is the bridge's single UDP port for every participant's media.
const JVBMediaPort = 10000

// RolePorts are the ports a node of role r opens to the network, in the
// order the README lists them. A JMS running its own bridge (localBridge)
// also carries media. The bridge's private HTTP server (health, stats,
// drain on 8080) binds to 127.0.0.1 and is never opened.
func RolePorts(r node.Role, localBridge bool) []Port {
	media := Port{Number: JVBMediaPort, Proto: "udp", What: "Jitsi Videobridge media"}
	switch r {
	case node.RoleJMS:
		ports := []Port{
			{Number: 80, Proto: "tcp", What: "Jitsi Meet web (HTTP, redirects to HTTPS)"},
			{Number: 443, Proto: "tcp", What: "Jitsi Meet web (HTTPS)"},
			{Number: XMPPPort, Proto: "tcp", What: "prosody XMPP client port for videobridges", BridgesOnly: true},
			{Number: TurnPort, Proto: "udp", What: "STUN/TURN (coturn)"},
			{Number: TurnsPort, Proto: "tcp", What: "TURN over TLS (coturn)"},
		}
		if localBridge {
			ports = append(ports, media)
		}
		return ports
	case node.RoleJVB:
		return []Port{media}
	}
	return nil
}

// Firewalls the node agent can write rules for.
const (
	// FirewallUFW is Ubuntu's and Debian's ufw: `ufw allow` rules, added
	// whether ufw is enabled or not (it is not enabled by the agent).
	FirewallUFW = "ufw"
	// UFWCommentPrefix starts the comment of every rule the agent adds.
	UFWCommentPrefix = "jitsi-node: "
)
