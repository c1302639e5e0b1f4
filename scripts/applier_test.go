package scripts_test

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/httpapi"
)

const (
	operatorToken = "operator-token-0123456789abcdef012345"
	fqdn          = "meet.example.org"
)

// groupToken is the token of group bridges-eu in every registryAPI.
var groupToken, groupTokenHash = regapi.NewCredential(regapi.CredentialGroup)

// registryAPI is a real embedded dqlite registry behind the real HTTP API on
// 127.0.0.1, with group bridges-eu (groupToken), stopped when the test ends.
func registryAPI(t *testing.T) (regapi.Store, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := registry.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RecordGroup(ctx, regapi.GroupRequest{Name: "bridges-eu", Shard: fqdn, Role: "jvb", Format: "modern",
		TokenHash: groupTokenHash}); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(store, httpapi.Config{OperatorToken: operatorToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return store, srv.URL
}

// nodeDir writes the node-side files of a group bridge exactly as its
// user-data would (jitsi.NodeFiles), into a scratch directory.
func nodeDir(t *testing.T, url, token string) string {
	t.Helper()
	return specDir(t, node.Spec{Role: node.RoleJVB, JMSFQDN: fqdn, Secret: "s3cret", Group: "bridges-eu",
		Registry: &node.RegistryLink{URL: url, Credential: token}})
}

// specDir writes the node-side files of s into a scratch directory.
func specDir(t *testing.T, s node.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range jitsi.NodeFiles(s) {
		if strings.HasPrefix(f.Path, jitsi.NodeDir+"/") {
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f.Path)), f.Content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// applier runs a snippet of bash with the applier's functions loaded and the
// node's settings sourced, as on a node.
func applier(t *testing.T, dir, state, instanceID, snippet string, env ...string) (string, string, error) {
	t.Helper()
	script := `set -euo pipefail
source node/jitsi-node-apply
source "$JITSI_NODE_DIR/node.env"
instance_id() { printf '%s' "$TEST_INSTANCE_ID"; }
` + snippet
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "JITSI_NODE_DIR="+dir, "JITSI_NODE_STATE_DIR="+state, "TEST_INSTANCE_ID="+instanceID)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if os.Getenv("APPLIER_TRACE") != "" {
		cmd.Stderr = io.MultiWriter(&errb, os.Stderr)
		cmd.Env = append(cmd.Env, "SHELLOPTS=xtrace")
	}
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func liveNode(t *testing.T, store regapi.Store, nickname string) regapi.Node {
	t.Helper()
	nodes, err := store.Nodes(context.Background(), regapi.Filter{Shard: fqdn})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Nickname == nickname && n.State != regapi.StateRetired {
			return n
		}
	}
	t.Fatalf("no live node %s in %v", nickname, nodes)
	return regapi.Node{}
}

// TestGroupBridgeClaimsThroughTheAPI: the applier's claim, as a group bridge
// runs it at first boot, against the real registry.
func TestGroupBridgeClaimsThroughTheAPI(t *testing.T) {
	store, url := registryAPI(t)
	dir := nodeDir(t, url, groupToken)
	claim := `claim_nickname; printf '%s' "$JITSI_NODE_NICKNAME"`

	stateA := t.TempDir()
	nick, stderr, err := applier(t, dir, stateA, "i-aaa", claim)
	if err != nil || nick != "jvb-001" {
		t.Fatalf("first bridge: %q, %v\n%s", nick, err, stderr)
	}
	if n := liveNode(t, store, "jvb-001"); n.InstanceID != "i-aaa" || n.State != regapi.StateIssued {
		t.Errorf("registry row: %+v", n)
	}
	if nick, _, _ := applier(t, dir, t.TempDir(), "i-bbb", claim); nick != "jvb-002" {
		t.Errorf("second bridge got %q, want jvb-002", nick)
	}
	// A retried claim (same instance and claim key, the answer lost) gets
	// the same name back; the same instance with another key gets none.
	if err := os.Remove(filepath.Join(stateA, "nickname")); err != nil {
		t.Fatal(err)
	}
	if nick, stderr, _ := applier(t, dir, stateA, "i-aaa", claim); nick != "jvb-001" {
		t.Errorf("repeated claim of i-aaa got %q, want jvb-001\n%s", nick, stderr)
	}
	if nick, stderr, err := applier(t, dir, t.TempDir(), "i-aaa", claim); err == nil || nick != "" || !strings.Contains(stderr, "HTTP 409") {
		t.Errorf("i-aaa claiming again with a new claim key: %q, %v\n%s", nick, err, stderr)
	}
	// A second run on the node does not claim again.
	if nick, _, _ := applier(t, dir, stateA, "i-other", claim); nick != "jvb-001" {
		t.Errorf("second run got %q, want the saved jvb-001", nick)
	}
	if nodes, _ := store.Nodes(context.Background(), regapi.Filter{Shard: fqdn}); len(nodes) != 2 {
		t.Errorf("want 2 nodes, got %d", len(nodes))
	}

	// The bridge reports itself active.
	if _, stderr, err := applier(t, dir, stateA, "i-aaa", `claim_nickname; report_state active`); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	if n := liveNode(t, store, "jvb-001"); n.State != regapi.StateActive {
		t.Errorf("after report: state %s", n.State)
	}
	if strings.Contains(stderr, groupToken) || strings.Contains(stderr, "jnode_") {
		t.Error("a credential appears in the applier's output")
	}
	for _, f := range []string{"registry-auth", "claim-key"} {
		if fi, err := os.Stat(filepath.Join(stateA, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s on the node: %v %v, want mode 0600", f, fi, err)
		}
	}

	// die reports the failure with its reason, cut to what the registry takes.
	long := strings.Repeat("x", 900)
	_, stderr, err = applier(t, dir, stateA, "i-aaa", `claim_nickname; die "the JMS refused the bridge's XMPP login (not-authorized): ü `+long+`"`)
	if err == nil {
		t.Fatal("die exited 0")
	}
	n := liveNode(t, store, "jvb-001")
	if n.State != regapi.StateFailed || !strings.HasPrefix(n.Reason, "the JMS refused the bridge's XMPP login (not-authorized)") || len(n.Reason) > 400 {
		t.Errorf("after die: state %s reason %q\n%s", n.State, n.Reason, stderr)
	}
}

// TestJMSReportsItsState: a JMS issued with a registry link reports its
// state under the name it was recorded with.
func TestJMSReportsItsState(t *testing.T) {
	store, url := registryAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, hash := regapi.NewCredential(regapi.CredentialNode)
	if _, err := store.Claim(ctx, regapi.ClaimRequest{Shard: fqdn, Role: string(node.RoleJMS), Nickname: node.JMSNickname, CredentialHash: hash}); err != nil {
		t.Fatal(err)
	}
	dir := specDir(t, node.Spec{Role: node.RoleJMS, JMSFQDN: fqdn, Secret: "s3cret",
		Registry: &node.RegistryLink{URL: url, Credential: cred}})
	if _, stderr, err := applier(t, dir, t.TempDir(), "i-jms", `report_state active`); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	if n := liveNode(t, store, node.JMSNickname); n.State != regapi.StateActive || n.Role != string(node.RoleJMS) {
		t.Errorf("after the JMS's report: %+v", n)
	}
}

func TestGroupBridgeNeverInventsANickname(t *testing.T) {
	_, url := registryAPI(t)
	t.Run("wrong token", func(t *testing.T) {
		dir := nodeDir(t, url, "wrong-token-0123456789abcdef0123456789")
		state := t.TempDir()
		_, stderr, err := applier(t, dir, state, "i-ccc", `claim_nickname`)
		if err == nil || !strings.Contains(stderr, "registry refused the claim (HTTP 401)") {
			t.Errorf("want a refusal, got %v\n%s", err, stderr)
		}
		if _, err := os.Stat(filepath.Join(state, "nickname")); err == nil {
			t.Error("a nickname was saved")
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(nil)
		dead := srv.URL
		srv.Close() // nothing listens there any more
		dir := nodeDir(t, dead, groupToken)
		state := t.TempDir()
		start := time.Now()
		_, stderr, err := applier(t, dir, state, "i-ddd", `claim_nickname`, "JITSI_NODE_CLAIM_TIMEOUT=3")
		if err == nil || !strings.Contains(stderr, "unreachable for 3s: no nickname claimed, bridge not started") {
			t.Errorf("want a bounded failure, got %v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "retrying in 2s") {
			t.Errorf("no retry seen:\n%s", stderr)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("took %s", d)
		}
		failed, _ := os.ReadFile(filepath.Join(state, "failed"))
		if !strings.Contains(string(failed), "no nickname claimed") {
			t.Errorf("failure not recorded on the node: %q", failed)
		}
	})
}
