package agent

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// drained is a node applied, ready to drain.
func drainedNode(t *testing.T) *testNode {
	n := newNode(t, nat.GCE)
	n.configure(n.withRegistry(bridgeSpec()))
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	n.run.reset()
	n.registry.reports = nil
	n.clock.slept = 0
	return n
}

func (n *testNode) drain(timeout time.Duration, onShutdown bool) error {
	err := n.agent().Drain(context.Background(), timeout, onShutdown)
	n.errs = append(n.errs, err)
	return err
}

// TestDrainWaitsForConferences: REST drain, then a wait while conferences
// run, then the bridge leaves and the node is retired.
func TestDrainWaitsForConferences(t *testing.T) {
	n := drainedNode(t)
	n.bridge.conferences = []int{3, 2, 1, 0}
	if err := n.drain(0, false); err != nil {
		t.Fatal(err)
	}
	if got := n.registry.states(); !reflect.DeepEqual(got, []regapi.State{regapi.StateDraining, regapi.StateRetired}) {
		t.Errorf("reports %v, want draining then retired", got)
	}
	if n.bridge.calls[len(n.bridge.calls)-5] != "POST "+jitsi.DrainEnablePath {
		t.Errorf("bridge calls %v", n.bridge.calls)
	}
	if n.clock.slept != 3*10*time.Second {
		t.Errorf("waited %s, want 3 polls of 10 s", n.clock.slept)
	}
	if !n.run.has("systemctl disable --now jitsi-videobridge2.service") || n.read(jitsi.DrainedState) == "" {
		t.Errorf("the bridge did not leave: %v", n.run.ran())
	}
	// The next boot leaves it down.
	n.run.reset()
	if err := n.apply(); err != nil || len(n.run.ran()) != 0 {
		t.Errorf("apply after a drain: %v %v", err, n.run.ran())
	}
	n.assertNoSecrets(shardSecret, issuedCredential)
}

// TestDrainIsBounded: conferences that never end hold the drain for the
// bound only.
func TestDrainIsBounded(t *testing.T) {
	n := drainedNode(t)
	n.bridge.conferences = []int{1}
	if err := n.drain(5*time.Minute, false); err != nil {
		t.Fatal(err)
	}
	if n.clock.slept > 5*time.Minute || n.clock.slept < 4*time.Minute {
		t.Errorf("waited %s for a 5m bound", n.clock.slept)
	}
	if !strings.Contains(n.log.String(), "still running at the end of the drain bound") || !n.run.has("systemctl disable --now jitsi-videobridge2.service") {
		t.Errorf("log:\n%s", n.log)
	}
}

// TestDrainFallbacks: without the REST drain (bridges before 2022-01) the
// package's graceful_shutdown.sh runs when it and jq are there; else the
// conference count alone is waited on.
func TestDrainFallbacks(t *testing.T) {
	t.Run("graceful_shutdown.sh", func(t *testing.T) {
		n := drainedNode(t)
		n.bridge.drain = 404
		n.write(jitsi.GracefulShutdownScript, "#!/bin/sh\n", 0o755)
		if err := n.drain(0, false); err != nil {
			t.Fatal(err)
		}
		if !n.run.has(n.root + jitsi.GracefulShutdownScript) {
			t.Errorf("the script did not run: %v", n.run.ran())
		}
		for _, c := range n.bridge.calls {
			if c == "GET "+jitsi.StatsPath {
				t.Error("the script's wait was followed by another wait")
			}
		}
	})
	t.Run("no jq", func(t *testing.T) {
		n := drainedNode(t)
		n.bridge.drain = 404
		n.bridge.conferences = []int{1, 0}
		n.write(jitsi.GracefulShutdownScript, "#!/bin/sh\n", 0o755)
		n.run.missing = map[string]bool{"jq": true}
		if err := n.drain(0, false); err != nil {
			t.Fatal(err)
		}
		if n.run.has(n.root+jitsi.GracefulShutdownScript) || n.clock.slept != 10*time.Second {
			t.Errorf("ran %v, slept %s: want the conference wait", n.run.ran(), n.clock.slept)
		}
	})
	t.Run("script fails", func(t *testing.T) {
		n := drainedNode(t)
		n.bridge.drain = 404
		n.bridge.conferences = []int{2, 0}
		n.write(jitsi.GracefulShutdownScript, "#!/bin/sh\n", 0o755)
		n.run.handler = func(c system.Cmd) ([]byte, error) {
			if strings.HasSuffix(c.Name, "graceful_shutdown.sh") {
				return []byte{}, errString("Invalid HTTP status for shutdown request: 403")
			}
			return nil, nil
		}
		if err := n.drain(0, false); err != nil {
			t.Fatal(err)
		}
		if n.clock.slept != 10*time.Second {
			t.Errorf("slept %s: a failed script must fall back to the conference wait", n.clock.slept)
		}
	})
}

// TestDrainOnShutdown: a reboot only drains (the node comes back active);
// a poweroff (the cloud terminating the instance) retires it. systemd
// stops the bridge itself.
func TestDrainOnShutdown(t *testing.T) {
	for _, c := range []struct {
		jobs string
		want []regapi.State
	}{
		{"123 reboot.target start waiting\n124 systemd-reboot.service start waiting\n", []regapi.State{regapi.StateDraining}},
		{"7 kexec.target start waiting\n", []regapi.State{regapi.StateDraining}},
		{"123 poweroff.target start waiting\n", []regapi.State{regapi.StateDraining, regapi.StateRetired}},
	} {
		n := drainedNode(t)
		n.run.handler = func(cmd system.Cmd) ([]byte, error) {
			if cmd.Name == "systemctl" && cmd.Args[0] == "list-jobs" {
				return []byte(c.jobs), nil
			}
			return nil, nil
		}
		if err := n.drain(0, true); err != nil {
			t.Fatal(err)
		}
		if got := n.registry.states(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: reports %v, want %v", c.jobs, got, c.want)
		}
		for _, r := range n.run.ran() {
			if strings.Contains(r, "jitsi-videobridge2") {
				t.Errorf("%q: ran %q: systemd stops the bridge on shutdown", c.jobs, r)
			}
		}
	}
}

func TestDrainBridgeDown(t *testing.T) {
	n := drainedNode(t)
	n.opts.BridgeAPI = "http://127.0.0.1:9"
	if err := n.drain(0, false); err != nil {
		t.Fatal(err)
	}
	if n.clock.slept != 0 || !reflect.DeepEqual(n.registry.states(), []regapi.State{regapi.StateDraining, regapi.StateRetired}) {
		t.Errorf("slept %s, reports %v", n.clock.slept, n.registry.states())
	}
}

type errString string

func (e errString) Error() string { return string(e) }
