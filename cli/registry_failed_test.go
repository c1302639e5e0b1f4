package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

// TestNodesShowsWhyANodeFailed: a bridge reported failed with a long reason
// (as its first boot would, over the API); `nodes` shows the reason shortened
// in the table and whole in --json, `--state failed` selects it, and
// `retire` records its own reason.
func TestNodesShowsWhyANodeFailed(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "2",
		"--out-dir", filepath.Join(c.home, "nodes"))
	const reason = "the JMS refused the bridge's XMPP login (not-authorized): the secret differs from the JMS's; " +
		"check /etc/jitsi/videobridge/sip-communicator.properties"
	func() { // the CLI is not running: the test may open the embedded registry
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := registry.Open(ctx, filepath.Join(c.home, "data", "packer-plugin-jitsi", "registry"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.SetState(ctx, regapi.NodeRef{Shard: regTestFQDN, Nickname: "jvb-001"}, regapi.StateFailed, reason); err != nil {
			t.Fatal(err)
		}
	}()

	table := c.must("nodes")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "REASON") {
		t.Fatalf("nodes table:\n%s", table)
	}
	short := shorten(reason, maxReasonColumn)
	if !strings.Contains(lines[1], "jvb-001") || !strings.Contains(lines[1], "failed") ||
		!strings.HasSuffix(lines[1], short) || !strings.HasSuffix(short, "…") || strings.Contains(table, reason) {
		t.Errorf("failed node's row %q: want the reason cut to %q", lines[1], short)
	}
	if !strings.Contains(lines[2], "jvb-002") || !strings.HasSuffix(lines[2], " -") {
		t.Errorf("issued node's row %q: want no reason (-)", lines[2])
	}
	if failed := c.must("nodes", "--state", "failed"); !strings.Contains(failed, "jvb-001") || strings.Contains(failed, "jvb-002") {
		t.Errorf("nodes --state failed:\n%s", failed)
	}
	got := c.nodes("--state", "failed")
	if len(got) != 1 || got[0].Nickname != "jvb-001" || got[0].Reason != reason {
		t.Errorf("nodes --state failed --json = %+v, want jvb-001 with the whole reason", got)
	}

	// A failed node keeps its nickname until the operator retires it.
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--out", filepath.Join(c.home, "n3.yaml"))
	c.must("retire", "jvb-001", "--jms-fqdn", regTestFQDN)
	retired := c.nodes("--state", "retired")
	if len(retired) != 1 || retired[0].Nickname != "jvb-001" || retired[0].Reason != retiredByOperator {
		t.Errorf("after retire: %+v", retired)
	}
	if names := nicks(c.nodes("--state", "issued")); !slices.Equal(names, []string{"jvb-002", "jvb-003"}) {
		t.Errorf("issued nodes = %v (a failed node's name must not be handed out)", names)
	}
}

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"cut here please", 9, "cut here…"},
		{"ééééééé", 4, "ééé…"}, // characters, not bytes
	} {
		if got := shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
