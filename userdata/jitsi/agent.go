package jitsi

import (
	"fmt"
	"time"
)

// The node agent (cmd/jitsi-node): where it is installed, what user-data
// hands it, and what it keeps between runs.
const (
	// AgentBinary is where the bake installs the agent; user-data runs it.
	AgentBinary = "/usr/local/sbin/jitsi-node"

	// ImageStampFile is the image's identity (regapi.ImageStamp), written
	// by the jitsi provisioner after `jitsi-node bake` (which empties
	// NodeDir and StateDir, so it lives apart from both); the agent sends
	// its build id to the registry as the node's image_id. Root 0644.
	ImageStampFile = "/usr/share/jitsi-node/image.json"

	// NodeDir holds what user-data hands to the agent.
	NodeDir = "/etc/jitsi-node"
	// NodeConfig is the node's typed, versioned config (no secret), root 0644.
	NodeConfig = NodeDir + "/node.yaml"
	// NodeSecrets holds the shard secrets and the registry credential, root 0600.
	NodeSecrets = NodeDir + "/secrets.yaml"
	// ImageConfig is what the bake decided for every node of the image
	// (web server, firewall), root 0644; `jitsi-node bake` writes it.
	ImageConfig = NodeDir + "/image.yaml"

	// StateDir is the agent's state, kept across boots.
	StateDir = "/var/lib/jitsi-node"
	// AppliedState records what the last apply found and wrote (no secret):
	// `apply --check` rewrites the bridge's files from it.
	AppliedState = StateDir + "/applied"
	// RanState marks an instance whose first boot ran apply (through
	// cloud-init): from then on jitsi-node.service applies at every boot,
	// so a node whose first apply failed tries again after a reboot.
	RanState = StateDir + "/apply-ran"
	// FailedState holds the reason of the last failed apply.
	FailedState = StateDir + "/failed"
	// DrainedState marks a bridge drained by hand: later boots leave it down.
	DrainedState = StateDir + "/drained"
	// ClaimKeyState is a group bridge's claim key, made before its first
	// claim attempt (root 0600).
	ClaimKeyState = StateDir + "/claim-key"
	// IdentityState is a group bridge's claimed identity and its own
	// registry credential (root 0600).
	IdentityState = StateDir + "/identity"
	// SnakeoilState marks a JMS whose self-signed certificate was renewed.
	SnakeoilState = StateDir + "/snakeoil-renewed"
	// LockFile serialises agent runs that change the node.
	LockFile = StateDir + "/lock"
)

// systemd units and drop-ins the agent owns.
const (
	SystemdDir = "/etc/systemd/system"
	// AgentUnit applies the node's config on every boot after the first.
	AgentUnit = "jitsi-node.service"
	// DrainUnit drains a bridge when the machine shuts down (ExecStop).
	DrainUnit = "jitsi-node-drain.service"
	// JVBDropIn makes every jitsi-videobridge2 start re-check its config.
	JVBDropIn = SystemdDir + "/" + SvcJVB + ".service.d/jitsi-node.conf"
	// WantsDir is where `systemctl enable` links units of multi-user.target.
	WantsDir = SystemdDir + "/multi-user.target.wants"
)

// Bounds of the agent's waits (each has a flag).
const (
	// DrainTimeout bounds a drain, as Jitsi's production does.
	DrainTimeout = time.Hour
	// ClaimTimeout bounds a group bridge's claim retries.
	ClaimTimeout = 30 * time.Minute
	// HealthTimeout bounds the wait for a restarted bridge's health.
	HealthTimeout = 3 * time.Minute
)

// DefaultSTUNServers are asked for a bridge's public address when no cloud
// metadata service knows it (the jitsi-videobridge2 package's default).
var DefaultSTUNServers = []string{"meet-jit-si-turnrelay.jitsi.net:443"}

// AgentDepends are the Debian packages the agent needs beyond its static
// binary: the CA certificates of an https registry.
var AgentDepends = []string{"ca-certificates"}

// unitHeader starts every unit file the agent writes.
const unitHeader = "# Written by the jitsi-node agent (packer-plugin-jitsi); it rewrites this file.\n"

// AgentUnits are the agent's own systemd units.
func AgentUnits() []File {
	unit := func(name, text string) File {
		return File{Path: SystemdDir + "/" + name, Owner: RootOwner, Mode: modePublic, Content: []byte(unitHeader + text)}
	}
	return []File{
		// First boot: cloud-init's runcmd (cloud-final) runs apply once,
		// which leaves RanState; from then on this unit runs it, before
		// cloud-final, on every boot.
		unit(AgentUnit, fmt.Sprintf(`[Unit]
Description=Jitsi node agent: apply this node's configuration
Wants=network-online.target
After=network-online.target cloud-config.service
Before=cloud-final.service
ConditionPathExists=%s

[Service]
Type=oneshot
ExecStart=%s apply
TimeoutStartSec=%s

[Install]
WantedBy=multi-user.target
`, RanState, AgentBinary, systemdDuration(ClaimTimeout+2*HealthTimeout+5*time.Minute))),
		// Stopped before jitsi-videobridge2 (After=, reversed at stop),
		// while the network is still up: ExecStop drains the bridge. A
		// reboot only reports draining, so the node comes back active.
		unit(DrainUnit, fmt.Sprintf(`[Unit]
Description=Jitsi node agent: drain this videobridge before it stops
Wants=network-online.target
After=network-online.target %s.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=%s drain --on-shutdown --timeout %s
TimeoutStopSec=%s

[Install]
WantedBy=multi-user.target
`, SvcJVB, AgentBinary, flagDuration(DrainTimeout), systemdDuration(DrainTimeout+5*time.Minute))),
	}
}

// JVBDropInFile runs `apply --check` before every start of the bridge. "+"
// runs it as root (the unit's User= is jvb): it reads the root-only
// secrets. It is the same on every node, so the bake installs it already:
// a first boot then changes no unit file and needs no daemon-reload.
func JVBDropInFile() File {
	return File{Path: JVBDropIn, Owner: RootOwner, Mode: modePublic,
		Content: []byte(unitHeader + "[Service]\nExecStartPre=+" + AgentBinary + " apply --check\n")}
}

// systemdDuration writes d in minutes, as systemd reads it ("65min").
func systemdDuration(d time.Duration) string {
	return fmt.Sprintf("%dmin", int(d.Minutes()))
}

// flagDuration writes d in minutes, as Go's flag package reads it ("60m").
func flagDuration(d time.Duration) string { return fmt.Sprintf("%dm", int(d.Minutes())) }

// AgentUnitEnabled is the link `systemctl enable` makes for unit.
func AgentUnitEnabled(unit string) (link, target string) {
	return WantsDir + "/" + unit, SystemdDir + "/" + unit
}
