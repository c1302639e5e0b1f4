package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"fmt"
	"strings"
	"testing"
	"time"
)

// TestFleetCountsUseTheirIndex: the counts of active, failed, draining and
// retired nodes walk nodes_counts (no sort of the table), and a claim
// writes nothing to it: claims insert pending or issued rows, which the
// partial index leaves out.
func TestFleetCountsUseTheirIndex(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	claimOne(t, r, jvb(""))
	plan := explain(t, r, ctx, qFleetCounts)
	if !strings.Contains(strings.Join(plan, "\n"), "USING COVERING INDEX nodes_counts") {
		t.Errorf("fleet counts do not walk nodes_counts:\n%s", strings.Join(plan, "\n"))
	}
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM nodes INDEXED BY nodes_counts WHERE `+stateCounted).Scan(&n); err != nil || n != 0 {
		t.Errorf("an issued node is in nodes_counts: %d (%v)", n, err)
	}
}

// TestFleetAggregates: Fleet's counts equal a tally of the listing, in
// every state; Attention lists failed, draining and stale-image nodes a
// page at a time; LiveNodes lists a shard's live nodes of a role.
func TestFleetAggregates(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 60*time.Second)
	for _, img := range []regapi.Image{
		{ArtifactID: "ami-old", BuildID: "b-old", Role: "jvb", OS: "debian-12", Arch: "amd64", Built: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{ArtifactID: "ami-new", Role: "jvb", OS: "debian-12", Arch: "amd64", Built: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := r.RecordImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	var reqs []regapi.ClaimRequest
	for i := range 60 {
		reqs = append(reqs, regapi.ClaimRequest{Shard: []string{testShard, "other.example.org"}[i%2], Role: "jvb",
			ImageID: []string{"ami-old", "b-old", "ami-new"}[i%3]})
	}
	nodes, err := r.Claim(ctx, reqs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		st := []regapi.State{regapi.StateActive, regapi.StateFailed, regapi.StateDraining, regapi.StateRetired, regapi.StateIssued}[i%5]
		if st == regapi.StateIssued {
			continue
		}
		if st == regapi.StateDraining {
			if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateActive, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, st, "why "+string(st)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := r.Fleet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := r.Nodes(ctx, regapi.Filter{})
	want, got := map[string]int{}, map[string]int{}
	for _, n := range all {
		want[fmt.Sprint(n.Shard, n.Role, n.State, n.ImageID)]++
	}
	for _, c := range f.Counts {
		got[fmt.Sprint(c.Shard, c.Role, c.State, c.ImageID)] += c.Nodes
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts\n got %v\nwant %v", got, want)
	}
	if len(f.Shards) != 2 || f.Shards[0].FQDN != testShard || len(f.Images) != 2 {
		t.Errorf("shards %+v images %d", f.Shards, len(f.Images))
	}
	// Attention: failed or draining first, then live nodes on the old
	// image (either id), each by id, a page at a time.
	var wantIDs []int64
	for _, stale := range []bool{false, true} {
		for _, n := range all {
			problem := n.State == regapi.StateFailed || n.State == regapi.StateDraining
			onOld := n.ImageID == "ami-old" || n.ImageID == "b-old"
			live := n.State != regapi.StateRetired && n.State != regapi.StatePending
			if live && n.Shard == testShard && (!stale && problem || stale && !problem && onOld) {
				wantIDs = append(wantIDs, n.ID)
			}
		}
	}
	var gotIDs []int64
	for _, stale := range []bool{false, true} {
		for after := int64(0); ; {
			page, err := r.Attention(ctx, regapi.AttentionQuery{Shard: testShard, Stale: stale, StaleImages: []string{"ami-old", "b-old"}, AfterID: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page {
				gotIDs = append(gotIDs, n.ID)
			}
			if len(page) < 7 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	if fmt.Sprint(gotIDs) != fmt.Sprint(wantIDs) {
		t.Errorf("attention ids\n got %v\nwant %v", gotIDs, wantIDs)
	}
	live, err := r.LiveNodes(ctx, "other.example.org", "jvb")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range live {
		if n.Shard != "other.example.org" || n.State == regapi.StateRetired {
			t.Errorf("live nodes hold %+v", n)
		}
	}
	if len(live) != 24 { // 30 of the shard, 6 retired
		t.Errorf("%d live nodes of other.example.org, want 24", len(live))
	}
}
