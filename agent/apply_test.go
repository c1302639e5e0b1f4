package agent

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestApplyBridge: an issued bridge on EC2 gets the role model's files,
// owned as the package owns them, its NAT mapping from the metadata, the
// AWS harvester, a restart, a health wait, and reports active.
func TestApplyBridge(t *testing.T) {
	n := newNode(t, nat.EC2)
	s := n.withRegistry(bridgeSpec())
	n.configure(s)
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.log)
	}
	want, err := jitsi.BridgeFiles(s, jitsi.Boot{Nickname: "jvb-001", LocalAddress: "10.0.0.7", PublicAddress: "203.0.113.7", AWSHarvester: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range want {
		if got := n.read(f.Path); got != string(f.Content) {
			t.Errorf("%s differs from the role model:\n%s", f.Path, got)
		}
		mode, uid, gid := n.stat(f.Path)
		wantUID, wantGID := 0, 0
		if f.Owner == jitsi.JVBOwner {
			wantUID, wantGID = jvbUID, jitsiGID
		}
		if mode != f.Mode || uid != wantUID || gid != wantGID {
			t.Errorf("%s: mode %o owner %d:%d, want %o %s", f.Path, mode, uid, gid, f.Mode, f.Owner)
		}
	}
	for _, u := range jitsi.AgentUnits() {
		if got := n.read(u.Path); got != string(u.Content) {
			t.Errorf("%s differs from the role model", u.Path)
		}
	}
	for _, cmd := range []string{"systemctl daemon-reload", "systemctl enable --no-reload jitsi-videobridge2.service",
		"systemctl restart jitsi-videobridge2.service", "systemctl enable --no-reload --now " + jitsi.DrainUnit} {
		if !n.run.has(cmd) {
			t.Errorf("did not run %q: %v", cmd, n.run.ran())
		}
	}
	if got := n.registry.states(); !reflect.DeepEqual(got, []regapi.State{regapi.StateActive}) {
		t.Errorf("reports %v, want active", got)
	}
	if !strings.Contains(n.log.String(), "applied in ") || !strings.Contains(n.log.String(), "(+ jitsi-videobridge2 start ") {
		t.Errorf("no timing line:\n%s", n.log)
	}
	if n.read(jitsi.AppliedState) == "" || !strings.Contains(n.read(jitsi.AppliedState), `"public_address": "203.0.113.7"`) {
		t.Errorf("applied state: %s", n.read(jitsi.AppliedState))
	}
	n.assertNoSecrets(shardSecret, issuedCredential)
}

// TestFirstBootOfABakedImageReloadsNothing: on an image `jitsi-node bake`
// prepared (the agent's units and the bridge's drop-in in place), first
// boot changes no unit file, so systemd reloads nothing (seconds on a small
// machine) and units are enabled without a reload.
func TestFirstBootOfABakedImageReloadsNothing(t *testing.T) {
	n := newNode(t, nat.EC2)
	n.write(jitsi.JVBConfigDir+"/jvb.conf", "videobridge {\n}\n", 0o640)
	if err := n.agent().Bake(context.Background(), ""); err != nil {
		t.Fatalf("bake: %v\n%s", err, n.log)
	}
	n.run.reset()
	n.configure(n.withRegistry(bridgeSpec()))
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.log)
	}
	for _, c := range n.run.ran() {
		if strings.Contains(c, "daemon-reload") || strings.HasPrefix(c, "systemctl enable") && !strings.Contains(c, "--no-reload") {
			t.Errorf("first boot of a baked image ran %q: %v", c, n.run.ran())
		}
	}
	if !n.run.has("systemctl restart jitsi-videobridge2.service") {
		t.Errorf("the bridge was not started: %v", n.run.ran())
	}
}

// TestApplyIsIdempotent: a second run writes nothing and restarts nothing.
func TestApplyIsIdempotent(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.configure(n.withRegistry(bridgeSpec()))
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, n.root)
	n.run.reset()
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, n.root); !reflect.DeepEqual(before, after) {
		t.Errorf("the second apply changed files:\n%v", diffSnapshots(before, after))
	}
	for _, c := range n.run.ran() {
		if strings.Contains(c, "restart") || strings.Contains(c, "daemon-reload") {
			t.Errorf("second apply ran %q", c)
		}
	}
	if !n.run.has("systemctl start jitsi-videobridge2.service") {
		t.Errorf("second apply does not make sure the bridge runs: %v", n.run.ran())
	}
	// A changed config does restart.
	s := n.withRegistry(bridgeSpec())
	s.Nickname = "jvb-002"
	n.configure(s)
	n.run.reset()
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if !n.run.has("systemctl restart jitsi-videobridge2.service") {
		t.Errorf("a changed nickname did not restart the bridge: %v", n.run.ran())
	}
}

// TestApplyHealthBound: a bridge that never turns healthy fails after the
// bound, with the bridge's own reason, reported to the registry.
func TestApplyHealthBound(t *testing.T) {
	n := newNode(t, nat.Azure)
	n.bridge.health, n.bridge.healthBody = 500, "No valid IP addresses available for harvesting."
	n.opts.HealthTimeout = time.Minute
	n.configure(n.withRegistry(bridgeSpec()))
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "not healthy") || !strings.Contains(err.Error(), "No valid IP addresses") {
		t.Fatalf("want a health failure, got %v", err)
	}
	if n.clock.slept < time.Minute || n.clock.slept > time.Minute+n.opts.withDefaults().HealthPoll {
		t.Errorf("waited %s for a 1m bound", n.clock.slept)
	}
	f := n.registry.reports
	if len(f) != 1 || f[0].State != regapi.StateFailed || !strings.Contains(f[0].Reason, "No valid IP addresses") {
		t.Errorf("reports %+v", f)
	}
	if !strings.Contains(n.read(jitsi.FailedState), "not healthy") {
		t.Errorf("failed state: %s", n.read(jitsi.FailedState))
	}
}

// TestApplyNotAuthorized: the JMS refusing the login is the failure's
// reason, read from the bridge's log file (where its unit sends its output),
// although the bridge is healthy (health is about addresses) and running.
func TestApplyNotAuthorized(t *testing.T) {
	n := newNode(t, nat.OpenStack)
	n.write(jitsi.JVBLogFile, "INFO: an earlier start's line, not this one's\n", 0o640)
	n.bridgeLog = func() string {
		return "INFO: starting\nSEVERE: [31] MucClient.lambda$getConnectAndLoginCallable$9#627: Failed to login: SASLError using SCRAM-SHA-1: not-authorized\n"
	}
	n.configure(n.withRegistry(bridgeSpec()))
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "refused the bridge's XMPP login (not-authorized)") {
		t.Fatalf("want not-authorized, got %v", err)
	}
	if n.clock.slept != 0 {
		t.Errorf("waited %s although the journal said why at once", n.clock.slept)
	}
	if r := n.registry.reports; len(r) != 1 || r[0].State != regapi.StateFailed || !strings.Contains(r[0].Reason, "not-authorized") {
		t.Errorf("reports %+v", r)
	}
}

func TestApplyNATModes(t *testing.T) {
	t.Run("static with a detected local address", func(t *testing.T) {
		n := newNode(t, nat.Unknown)
		s := bridgeSpec()
		s.Registry = nil
		s.NAT = node.NAT{PublicAddress: "198.51.100.4", STUNServers: []string{"stun.example.org:3478"}}
		n.configure(s)
		if err := n.apply(); err != nil {
			t.Fatal(err)
		}
		conf := n.read(jitsi.JVBConf)
		if !strings.Contains(conf, `local-address = "10.0.0.99", public-address = "198.51.100.4"`) || !strings.Contains(conf, "aws.enabled = false") {
			t.Errorf("jvb.conf:\n%s", conf)
		}
		if len(n.meta.Requests()) != 0 {
			t.Errorf("a static address asked the metadata: %v", n.meta.Requests())
		}
	})
	t.Run("none", func(t *testing.T) {
		n := newNode(t, nat.EC2)
		s := bridgeSpec()
		s.Registry, s.NAT.Mode = nil, node.NATNone
		n.configure(s)
		if err := n.apply(); err != nil {
			t.Fatal(err)
		}
		if conf := n.read(jitsi.JVBConf); strings.Contains(conf, "static-mappings") || !strings.Contains(conf, "require-valid-address = false") {
			t.Errorf("jvb.conf:\n%s", conf)
		}
	})
	t.Run("auto finds nothing", func(t *testing.T) {
		n := newNode(t, nat.OCI) // OCI's metadata has no public address
		s := n.withRegistry(bridgeSpec())
		s.NAT.STUNServers = []string{"127.0.0.1:9"} // nothing answers there
		n.configure(s)
		err := n.apply()
		if err == nil || !strings.Contains(err.Error(), "give the bridge's address when issuing (--public-ip), or --nat none") {
			t.Fatalf("want the fix in the error, got %v", err)
		}
		if n.run.has("systemctl restart jitsi-videobridge2.service") {
			t.Error("the bridge was started without an address")
		}
		if r := n.registry.reports; len(r) != 1 || r[0].State != regapi.StateFailed {
			t.Errorf("reports %+v", r)
		}
	})
	t.Run("auto keeps last boot's mapping", func(t *testing.T) {
		n := newNode(t, nat.EC2)
		n.configure(bridgeSpec0())
		if err := n.apply(); err != nil {
			t.Fatal(err)
		}
		n.meta.PublicIP = ""
		n.opts.NAT.MetadataURL = "http://127.0.0.1:9"
		s := bridgeSpec0()
		s.NAT.STUNServers = []string{"127.0.0.1:9"}
		n.configure(s)
		if err := n.apply(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(n.read(jitsi.JVBConf), `public-address = "203.0.113.7"`) || !strings.Contains(n.log.String(), "keeping last boot's") {
			t.Errorf("last mapping not kept:\n%s", n.log)
		}
	})
}

// bridgeSpec0 is a bridge without a registry.
func bridgeSpec0() node.Spec {
	s := bridgeSpec()
	s.Registry = nil
	return s
}

func TestApplyWithoutSystemdWritesOnly(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.configure(bridgeSpec0())
	if err := n.agent().fs.Remove("/run/systemd/system"); err != nil {
		t.Fatal(err)
	}
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	for _, c := range n.run.ran() {
		if strings.HasPrefix(c, "systemctl") {
			t.Errorf("ran %q without systemd", c)
		}
	}
	if !strings.Contains(n.read(jitsi.JVBConf), `muc_nickname = "jvb-001"`) {
		t.Error("files not written")
	}
}

func TestApplyDrainedBridgeStaysDown(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.configure(bridgeSpec0())
	n.write(jitsi.DrainedState, "drained\n", 0o644)
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if len(n.run.ran()) != 0 {
		t.Errorf("a drained bridge was touched: %v", n.run.ran())
	}
}

func TestApplyRefusesNewerConfig(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.configure(n.withRegistry(bridgeSpec()))
	n.write(jitsi.NodeConfig, "version: 2\nagent_min_version: 0.9.0\nrole: jvb\nnew_field: x\nregistry:\n  url: "+n.regURL+"\n", 0o644)
	err := n.apply()
	want := "node.yaml version 2 is newer than this agent (knows 1): bake the image with packer-plugin-jitsi ≥ 0.9.0"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v", err)
	}
	if r := n.registry.reports; len(r) != 1 || r[0].State != regapi.StateFailed || !strings.Contains(r[0].Reason, want) {
		t.Errorf("reports %+v", r)
	}
}

func TestReasonFitsTheRegistry(t *testing.T) {
	long := strings.Repeat("é", 400) + "\x00\n\u202e"
	r := Reason(long)
	if len(r) > regapi.MaxReasonBytes || strings.ContainsAny(r, "\x00\n\u202e") {
		t.Errorf("reason of %d bytes: %q", len(r), r[len(r)-10:])
	}
	if err := regapi.CheckStateChange(regapi.NodeRef{ID: 1}, regapi.StateFailed, r); err != nil {
		t.Errorf("the registry refuses it: %v", err)
	}
}

func FuzzReason(f *testing.F) {
	f.Add("the JMS refused the bridge's XMPP login (not-authorized)")
	f.Add("\xff\xfe\u202e\n")
	f.Fuzz(func(t *testing.T, s string) {
		if err := regapi.CheckStateChange(regapi.NodeRef{ID: 1}, regapi.StateFailed, Reason(s)); err != nil {
			t.Fatalf("Reason(%q) is refused: %v", s, err)
		}
	})
}

var _ = context.Background

// TestApplyWaitsForTheBrewery: a healthy bridge whose login never completes
// (the JMS unreachable) is not reported active: health is about addresses.
func TestApplyWaitsForTheBrewery(t *testing.T) {
	n := newNode(t, nat.OpenStack)
	n.bridgeLog = func() string { return "INFO: connecting to meet.example.org:5222\n" }
	n.configure(n.withRegistry(bridgeSpec()))
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "healthy but not in jvbbrewery@internal.auth.") {
		t.Fatalf("apply = %v, want the bridge reported not in its brewery", err)
	}
	if r := n.registry.reports; len(r) != 1 || r[0].State != regapi.StateFailed {
		t.Errorf("reports %+v, want failed", r)
	}
	// An earlier start's join does not count for this start.
	n2 := newNode(t, nat.OpenStack)
	n2.configure(n2.withRegistry(bridgeSpec()))
	n2.write(jitsi.JVBLogFile, n2.joinedLog(), 0o640)
	n2.bridgeLog = func() string { return "INFO: connecting\n" }
	if err := n2.apply(); err == nil {
		t.Error("a join logged before this start counted")
	}
}
