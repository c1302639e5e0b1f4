// Package agent is what the node agent (cmd/jitsi-node) does: apply a
// node's config at boot, check a videobridge's files before each start,
// drain a bridge on scale-in or shutdown, and prepare an image at bake. Its
// side effects go through agent/system and agent/nat, so every path runs in
// tests against a scratch root, fake programs and fake services on loopback.
package agent

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// Options are the agent's settings; zero values take the defaults noted.
type Options struct {
	// Root is the node's root directory ("/"); tests use a scratch one.
	Root string
	// BridgeAPI is the bridge's private HTTP server (jitsi.BridgeAPI).
	BridgeAPI string
	// ClaimTimeout bounds a group bridge's claim retries (jitsi.ClaimTimeout).
	ClaimTimeout time.Duration
	// ClaimBackoff is the first wait between claim attempts (2 s), doubled
	// up to ClaimBackoffMax (30 s).
	ClaimBackoff, ClaimBackoffMax time.Duration
	// RegistryAttempt bounds one registry call, its own retries included (10 s).
	RegistryAttempt time.Duration
	// HealthTimeout bounds the wait for the bridge's health (jitsi.HealthTimeout).
	HealthTimeout time.Duration
	// Poll is the interval of health and drain polls (2 s, 10 s for drain).
	HealthPoll, DrainPoll time.Duration
	// DrainTimeout bounds a drain (jitsi.DrainTimeout).
	DrainTimeout time.Duration
	// NAT tunes the discovery of the public address.
	NAT nat.Options
	// Version is the agent's version, recorded in the applied state.
	Version string
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if o.BridgeAPI == "" {
		o.BridgeAPI = jitsi.BridgeAPI
	}
	def(&o.ClaimTimeout, jitsi.ClaimTimeout)
	def(&o.ClaimBackoff, 2*time.Second)
	def(&o.ClaimBackoffMax, 30*time.Second)
	def(&o.RegistryAttempt, 10*time.Second)
	def(&o.HealthTimeout, jitsi.HealthTimeout)
	def(&o.HealthPoll, 2*time.Second)
	def(&o.DrainPoll, 10*time.Second)
	def(&o.DrainTimeout, jitsi.DrainTimeout)
	o.NAT.Root = o.Root
	return o
}

// Deps are the agent's side effects; nil ones take the real machine's.
type Deps struct {
	Run   system.Runner
	Clock system.Clock
	// Log receives the agent's messages (stderr: the journal and
	// cloud-init's log keep them). Every known secret is redacted.
	Log io.Writer
	// HTTP talks to the bridge's private API.
	HTTP *http.Client
	// DiscoverNAT finds the public address (nat.Discover).
	DiscoverNAT func(context.Context, nat.Options, []string) (nat.Result, error)
}

// Agent runs the agent's commands on one node.
type Agent struct {
	opts  Options
	fs    system.FS
	run   system.Runner
	sd    system.Systemd
	clock system.Clock
	http  *http.Client
	log   *logger
	nat   func(context.Context, nat.Options, []string) (nat.Result, error)
}

// New returns an agent for the node under opts.Root.
func New(opts Options, deps Deps) *Agent {
	opts = opts.withDefaults()
	a := &Agent{opts: opts, fs: system.NewFS(opts.Root), run: deps.Run, clock: deps.Clock, http: deps.HTTP, nat: deps.DiscoverNAT}
	if a.run == nil {
		a.run = system.ExecRunner{}
	}
	if a.clock == nil {
		a.clock = system.RealClock{}
	}
	if a.http == nil {
		a.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	if a.nat == nil {
		a.nat = nat.Discover
	}
	a.log = newLogger(deps.Log)
	a.sd = system.Systemd{Run: a.run, FS: a.fs}
	return a
}
