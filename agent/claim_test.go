package agent

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

func groupSpec(url string) node.Spec {
	return node.Spec{Role: node.RoleJVB, JMSFQDN: fqdn, Secret: shardSecret, Group: "bridges-eu",
		Registry: &node.RegistryLink{URL: url, Credential: groupToken}}
}

// TestClaimRetriesAndKeepsItsKey: a busy or failing registry is retried
// with the same claim key, saved root-only before the first attempt; the
// claimed nickname reaches jvb.conf literally, the node's own credential is
// kept root-only and used for the report.
func TestClaimRetriesAndKeepsItsKey(t *testing.T) {
	n := newNode(t, nat.GCE)
	// 503 is also retried inside regapi.Client (within one attempt).
	n.registry.script = []int{429, 502, 500, 503}
	var keyOnDisk []string
	n.registry.before = func(gc regapi.GroupClaim) {
		var k claimKey
		data, err := os.ReadFile(filepath.Join(n.root, jitsi.ClaimKeyState))
		if err == nil && json.Unmarshal(data, &k) == nil {
			keyOnDisk = append(keyOnDisk, k.Key)
		}
	}
	n.configure(groupSpec(n.regURL))
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.log)
	}
	claims := n.registry.claims
	if len(claims) != 5 {
		t.Fatalf("%d claim requests, want 5", len(claims))
	}
	for i, c := range claims {
		if c.ClaimKey != claims[0].ClaimKey || c.InstanceID != "i-0123456789abcdef0" || len(c.ClaimKey) < 40 {
			t.Errorf("attempt %d: %+v: every attempt must carry the same key and instance", i, c)
		}
		if i >= len(keyOnDisk) || keyOnDisk[i] != c.ClaimKey {
			t.Errorf("attempt %d: the claim key was not on disk before it", i)
		}
	}
	// Capped exponential backoff: 2 s, 4 s, 8 s.
	if n.clock.slept != 14*time.Second {
		t.Errorf("slept %s between attempts, want 2+4+8 s", n.clock.slept)
	}
	for _, p := range []string{jitsi.ClaimKeyState, jitsi.IdentityState} {
		if mode, uid, _ := n.stat(p); mode != 0o600 || uid != 0 {
			t.Errorf("%s: mode %o uid %d, want root 0600", p, mode, uid)
		}
	}
	if !strings.Contains(n.read(jitsi.IdentityState), nodeCredential) {
		t.Error("the node credential is not kept")
	}
	if !strings.Contains(n.read(jitsi.JVBConf), `muc_nickname = "jvb-007"`) || strings.Contains(n.read(jitsi.JVBConf), "${") {
		t.Errorf("jvb.conf does not carry the claimed nickname literally:\n%s", n.read(jitsi.JVBConf))
	}
	if !n.run.has("hostnamectl set-hostname jvb-007") {
		t.Errorf("hostname not set: %v", n.run.ran())
	}
	authz := n.registry.authz
	if authz[len(authz)-1] != nodeCredential || !reflect.DeepEqual(n.registry.states(), []regapi.State{regapi.StateActive}) {
		t.Errorf("reported %v with %q…, want active with the node's credential", n.registry.states(), authz[len(authz)-1][:8])
	}
	n.assertNoSecrets(shardSecret, groupToken, nodeCredential, claims[0].ClaimKey)

	// Later boots use the saved identity: no new claim.
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if len(n.registry.claims) != 5 {
		t.Errorf("a later boot claimed again")
	}
}

// TestClaimAnswerLost: the identity was never saved (the answer was lost);
// the next run claims again with the same key, so the registry can give the
// same node back.
func TestClaimAnswerLost(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.configure(groupSpec(n.regURL))
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(n.root, jitsi.IdentityState))
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	c := n.registry.claims
	if len(c) != 2 || c[0].ClaimKey != c[1].ClaimKey {
		t.Errorf("claims %+v: the retry must reuse the key", c)
	}
	// A new instance (a copied disk) makes a new key and a new claim.
	n.write("/var/lib/cloud/data/instance-id", "i-another\n", 0o644)
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if c := n.registry.claims; len(c) != 3 || c[2].ClaimKey == c[0].ClaimKey || c[2].InstanceID != "i-another" {
		t.Errorf("claims after an instance change: %+v", c)
	}
}

// TestClaimUnreachableNeverInventsAName: with no registry the bridge stays
// down after the bound, with a reason, and no nickname anywhere.
func TestClaimUnreachableNeverInventsAName(t *testing.T) {
	n := newNode(t, nat.GCE)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	n.opts.ClaimTimeout = 2 * time.Minute
	n.configure(groupSpec(dead))
	start := time.Now()
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "unreachable for 2m0s") || !strings.Contains(err.Error(), "no nickname claimed, bridge not started") {
		t.Fatalf("want a bounded failure, got %v", err)
	}
	if n.clock.slept > 2*time.Minute || n.clock.slept < time.Minute {
		t.Errorf("slept %s for a 2m bound", n.clock.slept)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %s of real time", time.Since(start))
	}
	for _, p := range []string{jitsi.IdentityState, jitsi.JVBConf, jitsi.AppliedState} {
		if _, err := os.Stat(filepath.Join(n.root, p)); err == nil {
			t.Errorf("%s exists after a failed claim", p)
		}
	}
	if _, err := os.Stat(filepath.Join(n.root, jitsi.ClaimKeyState)); err != nil {
		t.Error("the claim key must survive for the next attempt")
	}
	for _, c := range n.run.ran() {
		if strings.Contains(c, "jitsi-videobridge2") {
			t.Errorf("the bridge was touched: %s", c)
		}
	}
	if !strings.Contains(n.read(jitsi.FailedState), "no nickname claimed") {
		t.Errorf("failed state: %s", n.read(jitsi.FailedState))
	}
}

// TestClaimRefusedFailsAtOnce: a 4xx other than 429 is final.
func TestClaimRefusedFailsAtOnce(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.registry.script = []int{403}
	n.configure(groupSpec(n.regURL))
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "registry refused the claim of group bridges-eu") || !strings.Contains(err.Error(), "the group is full") {
		t.Fatalf("got %v", err)
	}
	if len(n.registry.claims) != 1 || n.clock.slept != 0 {
		t.Errorf("%d attempts, slept %s: a refusal is not retried", len(n.registry.claims), n.clock.slept)
	}
	if len(n.registry.reports) != 0 {
		t.Error("a group token reported a state")
	}
	n.assertNoSecrets(shardSecret, groupToken)
}

// TestClaimFallsBackToCloudInitQuery: without cloud-init's file the id
// comes from `cloud-init query instance_id`.
func TestClaimFallsBackToCloudInitQuery(t *testing.T) {
	n := newNode(t, nat.GCE)
	os.Remove(filepath.Join(n.root, "var/lib/cloud/data/instance-id"))
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.Name == "cloud-init" {
			return []byte("1234567890\n"), nil
		}
		return nil, nil
	}
	n.configure(groupSpec(n.regURL))
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if c := n.registry.claims; len(c) != 1 || c[0].InstanceID != "1234567890" {
		t.Errorf("claims %+v", c)
	}
}

// TestImageStampSentWithClaimAndReports: the build id of the image's stamp
// (written by the jitsi provisioner at bake) goes with a group bridge's
// claim and with every report, so the registry links the node to its
// image; an issued bridge sends it with its reports. A broken stamp sends
// nothing and says why; no stamp (an image baked before stamps) sends
// nothing.
func TestImageStampSentWithClaimAndReports(t *testing.T) {
	const buildID = "b-20261129t080000z-0123456789abcdef"
	stamp, _ := json.Marshal(regapi.ImageStamp{BuildID: buildID, Role: "jvb", OS: "debian-12", Arch: "amd64", AgentVersion: "test"})

	n := newNode(t, nat.GCE)
	n.write(jitsi.ImageStampFile, string(stamp), 0o644)
	n.configure(groupSpec(n.regURL))
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.log)
	}
	if c := n.registry.claims; len(c) != 1 || c[0].ImageID != buildID {
		t.Errorf("claims %+v: want image_id %s", c, buildID)
	}
	if r := n.registry.reports; len(r) != 1 || r[0].ImageID != buildID || r[0].State != regapi.StateActive {
		t.Errorf("reports %+v: want active with image_id %s", r, buildID)
	}

	issued := newNode(t, nat.GCE)
	issued.write(jitsi.ImageStampFile, string(stamp), 0o644)
	issued.configure(issued.withRegistry(bridgeSpec()))
	if err := issued.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, issued.log)
	}
	if r := issued.registry.reports; len(r) != 1 || r[0].ImageID != buildID {
		t.Errorf("issued bridge's reports %+v: want image_id %s", r, buildID)
	}

	broken := newNode(t, nat.GCE)
	broken.write(jitsi.ImageStampFile, `{"build_id": "has a space"}`, 0o644)
	broken.configure(groupSpec(broken.regURL))
	if err := broken.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, broken.log)
	}
	if c := broken.registry.claims; len(c) != 1 || c[0].ImageID != "" {
		t.Errorf("claims %+v with a broken stamp: want no image_id", c)
	}
	if !strings.Contains(broken.log.String(), jitsi.ImageStampFile+": image stamp: invalid request: build_id: has a space") {
		t.Errorf("a broken stamp is not logged:\n%s", broken.log)
	}

	none := newNode(t, nat.GCE)
	none.configure(groupSpec(none.regURL))
	if err := none.apply(); err != nil {
		t.Fatal(err)
	}
	if c, r := none.registry.claims, none.registry.reports; len(c) != 1 || c[0].ImageID != "" || len(r) != 1 || r[0].ImageID != "" {
		t.Errorf("without a stamp: claims %+v reports %+v, want no image_id", c, r)
	}
}
