package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// These are TestVMCluster's checks of what the node agent did on a guest.

// fixtureState is the stand-in bridge's GET /test-fixture/state, read in
// the guest.
func fixtureState(t *testing.T, v *vm.VM) standinState {
	t.Helper()
	out := run(t, v, time.Minute, "curl -fsS http://127.0.0.1:8080/test-fixture/state")
	var st standinState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%s: /test-fixture/state: %v: %q", v.Name(), err, out)
	}
	return st
}

// checkMapping: the bridge advertises the public address its cloud's
// metadata service gave the agent (a static mapping from the guest's
// link-local address), so Jitsi's health check passes.
func checkMapping(t *testing.T, v *vm.VM, local, public string) {
	t.Helper()
	st := fixtureState(t, v)
	found := false
	if st.Harvest != nil {
		for _, m := range st.Harvest.Mappings {
			if m.Kind == "static" && m.Local == local && m.Public == public {
				found = true
			}
		}
	}
	if !found || st.Health != "healthy" {
		t.Errorf("assertion %s: the bridge read mappings %+v (health %q), want static %s → %s from the EC2 metadata", v.Name(), st.Harvest, st.Health, local, public)
		return
	}
	progress(t, "assertion ok: %s advertises %s for %s (health %s; AWS harvester: %s)", v.Name(), public, local, st.Health, st.Harvest.AWS)
	checkMUCClient(t, v, st)
}

// jicocoJoinLine is what jicoco's MucClient logs (through Jitsi's log
// formatter, with its source line) once in a brewery; the Go stand-in's own
// client writes the same words without a source line.
var jicocoJoinLine = regexp.MustCompile(`INFO: \[[0-9]+\] (?:\[[^]]*\] )?MucClient\$MucWrapper\.join#[0-9]+: Joined MUC: \S+`)

// checkMUCClient: the bridge read its config and logged in with Jitsi's
// own libraries (jicoco-mucclient on Smack, in the stand-in's JVM child):
// its state says so and jicoco's own line of the join is in its log.
func checkMUCClient(t *testing.T, v *vm.VM, st standinState) {
	t.Helper()
	line := jicocoJoinLine.FindString(run(t, v, time.Minute, "cat "+jitsi.JVBLogFile))
	if !strings.HasPrefix(st.MUCClient, "jicoco-mucclient ") || line == "" {
		t.Errorf("assertion %s: the bridge logs in with %q and its log has no line of jicoco's join, want jicoco-mucclient's", v.Name(), st.MUCClient)
		return
	}
	progress(t, "assertion ok: %s logged in with %s: %q", v.Name(), st.MUCClient, line)
}

// credentialPattern finds what regapi.NewCredential mints.
var credentialPattern = regexp.MustCompile(`j(?:node|group)_[A-Za-z0-9_-]{43}`)

func credentialIn(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := credentialPattern.Find(b)
	if m == nil {
		t.Fatalf("no credential in %s", path)
	}
	return string(m)
}

// checkCredentialsScoped plays an attacker who read a bridge's user-data
// (from the cloud's metadata service) or broke into a bridge: with an
// issued bridge's credential, a group member's own credential and the
// group's token, every attempt on another node or identity is refused, and
// each may still do its own part.
func checkCredentialsScoped(t *testing.T, api registryAPI, issued, member *vm.VM, nodesDir string) {
	t.Helper()
	issuedCred := credentialIn(t, nodesDir+"/"+issued.Name()+".yaml")
	groupToken := credentialIn(t, nodesDir+"/group.yaml")
	var id struct {
		Credential string `json:"credential"`
		Nickname   string `json:"nickname"`
	}
	if err := json.Unmarshal([]byte(run(t, member, time.Minute, "cat "+jitsi.IdentityState)), &id); err != nil || id.Credential == "" {
		t.Fatalf("%s: %s: %v", member.Name(), jitsi.IdentityState, err)
	}
	if mode := strings.TrimSpace(run(t, member, time.Minute, "stat -c %a "+jitsi.IdentityState)); mode != "600" {
		t.Errorf("assertion %s: %s has mode %s, want 600", member.Name(), jitsi.IdentityState, mode)
	}
	claimKey := make([]byte, 32)
	_, _ = rand.Read(claimKey)
	attempts := []struct {
		what, path, cred string
		body             any
		want             int
	}{
		{"an issued bridge retires the JMS", "/v1/state", issuedCred,
			regapi.StateBody{NodeRef: regapi.NodeRef{Shard: clusterFQDN, Nickname: node.JMSNickname}, State: regapi.StateRetired}, http.StatusForbidden},
		{"a group member fails the issued bridge", "/v1/state", id.Credential,
			regapi.StateBody{NodeRef: regapi.NodeRef{Shard: clusterFQDN, Nickname: issued.Name()}, State: regapi.StateFailed, Reason: "attack"}, http.StatusForbidden},
		{"an issued bridge claims a name", "/v1/claims", issuedCred,
			regapi.ClaimRequest{Shard: clusterFQDN, Role: "jvb", Nickname: "jvb-999"}, http.StatusForbidden},
		{"the group token reports a state", "/v1/state", groupToken,
			regapi.Report{State: regapi.StateRetired}, http.StatusForbidden},
		{"the group token claims a third member of a group of 2", "/v1/claims", groupToken,
			regapi.GroupClaim{InstanceID: "i-attacker", ClaimKey: base64.RawURLEncoding.EncodeToString(claimKey)}, http.StatusConflict},
		{"a group member reports its own state", "/v1/state", id.Credential,
			regapi.Report{State: regapi.StateActive}, http.StatusOK},
	}
	for _, a := range attempts {
		code, body := api.post(t, a.path, a.cred, a.body)
		if code != a.want {
			t.Errorf("assertion credentials: %s: HTTP %d %s, want %d", a.what, code, strings.TrimSpace(body), a.want)
		} else {
			progress(t, "assertion ok: %s → HTTP %d", a.what, code)
		}
	}
}

// checkPackageScriptUndone: a jitsi-videobridge2 package script run again
// (here a dpkg-reconfigure, after the guard comments were removed) appends
// its own shard — HOSTNAME=localhost, a random password and a uuid
// nickname, keys that override jvb.conf — and restarts the bridge; the
// agent's ExecStartPre (`jitsi-node apply --check`) puts the node's config
// back before the bridge starts, and says what it fixed.
func checkPackageScriptUndone(t *testing.T, v *vm.VM, nick string, check *xmppc.Client, brewery string) {
	t.Helper()
	run(t, v, 5*time.Minute, `set -e
props=`+jitsi.JVBProperties+`
sed -i '/^#/d' "$props"
DEBIAN_FRONTEND=noninteractive dpkg-reconfigure -f noninteractive `+jitsi.PkgJVB+`
systemctl is-active --quiet `+jitsi.SvcJVB)
	journal := run(t, v, time.Minute, "journalctl -u "+jitsi.SvcJVB+" --no-pager -o cat | grep 'check:' || true")
	props := run(t, v, time.Minute, "cat "+jitsi.JVBProperties)
	if !strings.Contains(journal, "put back") || strings.Contains(props, "HOSTNAME=localhost") {
		t.Errorf("assertion %s: after the package script's append the check logged %q and sip-communicator.properties is:\n%s", v.Name(), journal, props)
	}
	waitOccupantsFor(t, check, brewery, 2*time.Minute, nick+" back in the brewery under its own name", func(o map[string]xmppc.Occupant) bool {
		_, in := o[nick]
		return in && len(o) >= 2
	})
	st := fixtureState(t, v)
	if len(st.Shards) != 1 || st.Shards[0].Nickname != nick || !st.Shards[0].Joined {
		t.Errorf("assertion %s: after the restart the bridge uses shards %+v, want its own %s", v.Name(), st.Shards, nick)
		return
	}
	progress(t, "assertion ok: %s: the package script's shard was put back on restart (%s)", v.Name(), firstLineOf(journal))
}

// checkDrainWaitsForConference: `jitsi-node drain` on a bridge with a
// conference running reports draining, waits for the conference to end,
// then the bridge leaves the brewery and reports retired.
func checkDrainWaitsForConference(t *testing.T, reg []string, v *vm.VM, nick string, check *xmppc.Client, brewery string) {
	t.Helper()
	const conference = 40 * time.Second
	run(t, v, time.Minute, `curl -fsS -X POST -H 'Content-Type: application/json' -d '{"count":1,"seconds":`+
		strconv.Itoa(int(conference.Seconds()))+`}' http://127.0.0.1:8080/test-fixture/conferences`)
	start := time.Now()
	done := make(chan string, 1)
	go func() {
		out, err := v.Run(t.Context(), jitsi.AgentBinary+" drain --timeout 5m 2>&1")
		if err != nil {
			out += "\n" + err.Error()
		}
		done <- out
	}()
	waitStates(t, reg, map[string]string{nick: "draining"})
	if _, in := check.Occupants(brewery)[nick]; !in && time.Since(start) < conference-5*time.Second {
		t.Errorf("assertion %s: left the brewery while its conference ran", nick)
	}
	var out string
	select {
	case out = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("assertion %s: jitsi-node drain still runs after 5 minutes", nick)
	}
	took := time.Since(start)
	if took < conference-5*time.Second {
		t.Errorf("assertion %s: drain ended after %s with a conference of %s running:\n%s", nick, took.Round(time.Second), conference, out)
	}
	waitOccupantsFor(t, check, brewery, time.Minute, nick+" to leave", func(o map[string]xmppc.Occupant) bool { _, in := o[nick]; return !in })
	progress(t, "assertion ok: %s drained in %s (conference %s): %s", nick, took.Round(time.Second), conference, lastLine(out))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// portOf is the port of a loopback URL.
func portOf(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// measureApply times the agent's whole bridge apply on a guest that is not
// booting any more (first boot shares two host cores with five other TCG
// guests): with the bridge's files and the last apply's record removed,
// `jitsi-node apply` does what first boot does — NAT discovery from the
// metadata service, files from the role model, restart, health, report —
// and prints its own timing, excluding the bridge's start.
func measureApply(t *testing.T, v *vm.VM) {
	t.Helper()
	out := run(t, v, 5*time.Minute, "rm -f "+jitsi.AppliedState+" "+jitsi.JVBConf+" && "+jitsi.AgentBinary+" apply 2>&1")
	re := regexp.MustCompile(`jitsi-node: applied in [^\n]*`)
	line := re.FindString(out)
	if line == "" {
		t.Errorf("assertion %s: apply printed no timing:\n%s", v.Name(), out)
		return
	}
	progress(t, "agent: %s, apply on a settled guest: %s", v.Name(), line)
}
