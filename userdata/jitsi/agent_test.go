package jitsi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// unitKeys reads a unit file's Key=Value lines (section names dropped).
func unitKeys(t *testing.T, content []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range strings.Split(string(content), "\n") {
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is not Key=Value", line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

func TestAgentUnits(t *testing.T) {
	units := map[string]map[string][]string{}
	for _, f := range AgentUnits() {
		if f.Owner != RootOwner || f.Mode != 0o644 || filepath.Dir(f.Path) != SystemdDir {
			t.Errorf("%s: %s %o", f.Path, f.Owner, f.Mode)
		}
		units[filepath.Base(f.Path)] = unitKeys(t, f.Content)
	}
	apply := units[AgentUnit]
	for k, want := range map[string]string{
		"Type": "oneshot", "ExecStart": AgentBinary + " apply", "ConditionPathExists": RanState,
		"Before": "cloud-final.service", "After": "network-online.target cloud-config.service", "WantedBy": "multi-user.target",
	} {
		if got := strings.Join(apply[k], " "); got != want {
			t.Errorf("%s %s=%q, want %q", AgentUnit, k, got, want)
		}
	}
	drain := units[DrainUnit]
	for k, want := range map[string]string{
		"Type": "oneshot", "RemainAfterExit": "yes", "ExecStart": "/bin/true",
		"ExecStop": AgentBinary + " drain --on-shutdown --timeout 60m", "After": "network-online.target " + SvcJVB + ".service",
	} {
		if got := strings.Join(drain[k], " "); got != want {
			t.Errorf("%s %s=%q, want %q", DrainUnit, k, got, want)
		}
	}
	stop, err := time.ParseDuration(strings.TrimSuffix(strings.Join(drain["TimeoutStopSec"], ""), "in"))
	if err != nil || stop <= DrainTimeout {
		t.Errorf("TimeoutStopSec %v (%v) must exceed the drain bound %v", drain["TimeoutStopSec"], err, DrainTimeout)
	}
	start, err := time.ParseDuration(strings.TrimSuffix(strings.Join(apply["TimeoutStartSec"], ""), "in"))
	if err != nil || start <= ClaimTimeout+HealthTimeout {
		t.Errorf("TimeoutStartSec %v (%v) must exceed the claim and health bounds", apply["TimeoutStartSec"], err)
	}
}

// TestUnitsVerify runs systemd's own unit checker where the host has it.
func TestUnitsVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	var paths []string
	for _, f := range AgentUnits() {
		// The agent is not installed here: point ExecStart/Stop at /bin/true.
		content := strings.ReplaceAll(string(f.Content), AgentBinary, "/bin/true")
		p := filepath.Join(dir, filepath.Base(f.Path))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		// Units this host lacks (cloud-init's, the bridge's) are not errors of ours.
		if strings.Contains(line, "jitsi-node") && !strings.Contains(line, "not found") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	_ = err
}

func TestJVBDropInRunsCheckAsRoot(t *testing.T) {
	files, err := BridgeFiles(node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s"}, Boot{Nickname: "jvb-1"})
	if err != nil {
		t.Fatal(err)
	}
	last := files[len(files)-1]
	if last.Path != JVBDropIn || last.Owner != RootOwner {
		t.Fatalf("last file %s %s, want the drop-in", last.Path, last.Owner)
	}
	if got := unitKeys(t, last.Content)["ExecStartPre"]; len(got) != 1 || got[0] != "+"+AgentBinary+" apply --check" {
		t.Errorf("ExecStartPre = %q: the check must run as root (+) before every start", got)
	}
}

func TestBootCheck(t *testing.T) {
	for name, c := range map[string]struct {
		b    Boot
		want string
	}{
		"ok":             {Boot{Nickname: "jvb-1", LocalAddress: "10.0.0.1", PublicAddress: "203.0.113.1"}, ""},
		"no mapping":     {Boot{Nickname: "jvb-1"}, ""},
		"no nickname":    {Boot{}, "nickname is required"},
		"bad nickname":   {Boot{Nickname: "J 1"}, "nickname \"J 1\" is not allowed"},
		"half mapping":   {Boot{Nickname: "jvb-1", PublicAddress: "203.0.113.1"}, "needs both addresses"},
		"not an address": {Boot{Nickname: "jvb-1", LocalAddress: "10.0.0.1", PublicAddress: "x\"}"}, "is not an IP address"},
	} {
		err := c.b.Check()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// TestPostinstGuards: the grep of the 2020–2025 jitsi-videobridge2 postinst
// finds its keys in both formats, so it appends nothing.
func TestPostinstGuards(t *testing.T) {
	for _, format := range []node.Format{node.FormatModern, node.FormatLegacy} {
		s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s", ShardID: "mine", Format: format}
		files, _ := BridgeFiles(s, Boot{Nickname: "jvb-1"})
		props := string(files[1].Content)
		for _, key := range []string{"org.jitsi.videobridge.xmpp.user.shard.MUC_JIDS", "org.ice4j.ice.harvest.STUN_MAPPING_HARVESTER_ADDRESSES"} {
			if !strings.Contains(props, key) {
				t.Errorf("%s: the postinst's grep for %s would fail and append its defaults", format, key)
			}
		}
		got, err := readback.JavaProperties(props)
		if err != nil {
			t.Fatal(err)
		}
		for k := range got {
			if strings.HasPrefix(k, LegacyXMPPKeyPrefix+"shard.") {
				t.Errorf("%s: the guard is a key, not a comment: %s", format, k)
			}
		}
	}
}

func FuzzBridgeBoot(f *testing.F) {
	f.Add("jvb-1", "10.0.0.1", "203.0.113.7", true)
	f.Add("a", "::1", "2001:db8::1", false)
	f.Add("x\"}", "1.2.3.4", "${x}", false)
	f.Add("jvb-1", "::0", "0000:aa::0%0", false) // a zone and a non-canonical form once slipped through
	f.Fuzz(func(t *testing.T, nick, local, public string, aws bool) {
		b := Boot{Nickname: nick, LocalAddress: local, PublicAddress: public, AWSHarvester: aws}
		s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s"}
		files, err := BridgeFiles(s, b)
		if err != nil {
			return
		}
		h, err := readback.HOCON(string(files[0].Content))
		if err != nil {
			t.Fatalf("jvb.conf does not parse: %v", err)
		}
		if v, _ := readback.Lookup(h, "videobridge", "apis", "xmpp-client", "configs", "shard", "muc_nickname"); v != nick {
			t.Fatalf("muc_nickname %q, want %q", v, nick)
		}
		m, _ := readback.Lookup(h, "ice4j", "harvest", "mapping", "static-mappings")
		if list, _ := m.([]any); public != "" && (len(list) != 1 || list[0].(map[string]any)["public-address"] != public ||
			list[0].(map[string]any)["local-address"] != local) {
			t.Fatalf("static-mappings %v, want %s → %s", m, local, public)
		}
		s.Format = node.FormatLegacy
		files, _ = BridgeFiles(s, b)
		p, err := readback.JavaProperties(string(files[1].Content))
		if err != nil || p[propNATPublicAddress] != public || p[propNATLocalAddress] != local || p[LegacyXMPPKeyPrefix+"shard.MUC_NICKNAME"] != nick {
			t.Fatalf("properties %v (%v)", p, err)
		}
	})
}
