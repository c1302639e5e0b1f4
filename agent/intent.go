package agent

import (
	"io/fs"
	"net/netip"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// The decisions of apply that depend on the node's config alone, as pure
// functions: apply acts on them, and `packer-plugin-jitsi plan` prints them
// before the node boots, so the two cannot tell different stories.

// NATPlan is how apply finds a bridge's NAT mapping (resolveNAT).
type NATPlan struct {
	Mode node.NATMode
	// Public and Local are a static mapping's addresses in canonical form;
	// Local is empty when the node's default-route source address is taken
	// at boot.
	Public, Local string
	// STUN are the servers asked in mode auto when no cloud metadata
	// service knows the public address (the spec's, else Jitsi's default).
	STUN []string
}

// PlanNAT returns how apply resolves the NAT of a bridge with spec s.
func PlanNAT(s node.Spec) NATPlan {
	n := s.WithDefaults().NAT
	p := NATPlan{Mode: n.Mode}
	switch n.Mode {
	case node.NATStatic:
		p.Public = canonical(n.PublicAddress)
		p.Local = canonical(n.LocalAddress)
	case node.NATAuto:
		p.STUN = n.STUNServers
		if len(p.STUN) == 0 {
			p.STUN = jitsi.DefaultSTUNServers
		}
	}
	return p
}

// canonical is a validated address as the bridge's files write it ("" stays "").
func canonical(a string) string {
	ip, err := netip.ParseAddr(a)
	if err != nil {
		return ""
	}
	return ip.Unmap().String()
}

// UnitAction is what apply does with a systemd unit.
type UnitAction string

const (
	// UnitRun: enable, then restart when the node's config or files changed
	// (always on a first boot), else start.
	UnitRun UnitAction = "enable+restart"
	// UnitEnableNow: enable and start (systemctl enable --now).
	UnitEnableNow UnitAction = "enable --now"
	// UnitStop: stop and disable (systemctl disable --now).
	UnitStop UnitAction = "disable --now"
)

// UnitStep is one unit apply handles, in order.
type UnitStep struct {
	Unit   string
	Action UnitAction
	// IfPresent: only when the image has the unit.
	IfPresent bool
}

// BridgeUnitSteps are a bridge's units once its files are written: the
// bridge (apply waits for its health), then the drain on shutdown.
func BridgeUnitSteps() []UnitStep {
	return []UnitStep{
		{Unit: jitsi.SvcJVB + ".service", Action: UnitRun},
		{Unit: jitsi.DrainUnit, Action: UnitEnableNow},
	}
}

// JMSUnitSteps are a JMS's units once its packages are configured:
// prosody first (apply then sets the bridge account's password on the
// running server), the local bridge kept or stopped, then the others —
// jicofo, the image's web server (web), coturn.
func JMSUnitSteps(s node.Spec, web jitsi.WebServer) []UnitStep {
	steps := []UnitStep{{Unit: jitsi.SvcProsody + ".service", Action: UnitRun}}
	if s.LocalBridge {
		steps = append(steps, UnitStep{Unit: jitsi.SvcJVB + ".service", Action: UnitRun})
	} else {
		steps = append(steps, UnitStep{Unit: jitsi.SvcJVB + ".service", Action: UnitStop, IfPresent: true})
	}
	for _, svc := range jitsi.JMSServices(web) {
		if svc != jitsi.SvcProsody {
			steps = append(steps, UnitStep{Unit: svc + ".service", Action: UnitRun, IfPresent: true})
		}
	}
	return steps
}

// StateFile is one of the agent's own records under jitsi.StateDir.
type StateFile struct {
	Path string
	Mode fs.FileMode
	// What it holds.
	What string
	// When it is written, if not on every apply.
	When string
}

// Modes of the agent's records: root-only for anything that holds a
// credential or key (and for the lock).
const (
	stateModePublic fs.FileMode = 0o644
	stateModeSecret fs.FileMode = 0o600
)

// StateFiles are the records a successful apply of spec s leaves.
func StateFiles(s node.Spec) []StateFile {
	out := []StateFile{
		{Path: jitsi.LockFile, Mode: stateModeSecret, What: "keeps two agent runs apart"},
		{Path: jitsi.RanState, Mode: stateModePublic, What: "first boot ran: " + jitsi.AgentUnit + " applies at every later boot"},
	}
	if s.Role == node.RoleJVB && s.Group != "" {
		out = append(out,
			StateFile{Path: jitsi.ClaimKeyState, Mode: stateModeSecret, What: "this instance's claim key, made before the first claim"},
			StateFile{Path: jitsi.IdentityState, Mode: stateModeSecret, What: "the claimed nickname and the node's own registry credential"})
	}
	if s.Role == node.RoleJMS {
		out = append(out, StateFile{Path: jitsi.SnakeoilState, Mode: stateModePublic, What: "the self-signed certificate was renewed",
			When: "once, when the image has " + jitsi.SnakeoilRenew[0]},
			StateFile{Path: jitsi.TurnSecretState, Mode: stateModeSecret, What: "the node's TURN secret (prosody's external_service_secret, coturn's static-auth-secret)",
				When: "made at first boot"})
	}
	return append(out, StateFile{Path: jitsi.AppliedState, Mode: stateModePublic, What: "what was applied (nickname, NAT mapping, config digest; no secret)"})
}
