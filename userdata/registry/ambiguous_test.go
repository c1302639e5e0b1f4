package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"database/sql/driver"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestAmbiguousCommitIsNotRedone makes COMMITs that were applied report a lost
// connection, as when the leader dies right after applying one. The retry must
// find the claims by id: same nodes returned, no number used twice or lost.
func TestAmbiguousCommitIsNotRedone(t *testing.T) {
	r, _ := openTemp(t)
	var faults, oneExecFaults atomic.Int64
	var oneExecSeen int64
	r.faultAfterCommit = func() error {
		// Commits run one at a time, on the batcher's goroutine.
		oneExec := r.oneExecBatches.Load() != oneExecSeen
		oneExecSeen = r.oneExecBatches.Load()
		if faults.Add(1)%3 == 1 { // every third commit "fails" after applying
			if oneExec {
				oneExecFaults.Add(1)
			}
			return driver.ErrBadConn
		}
		return nil
	}
	ctx := testCtx(t, 60*time.Second)
	const workers, each = 16, 10
	got := claimConcurrently(t, ctx, r, workers, each)
	if faults.Load() < 4 {
		t.Fatalf("only %d commits: the fault was hardly exercised", faults.Load())
	}
	if oneExecFaults.Load() == 0 {
		t.Fatal("no one-exec commit was made ambiguous: that path was not exercised")
	}
	if names := nicknames(got); !slices.Equal(names, series("jvb", workers*each)) {
		t.Fatalf("answers are not exactly jvb-001…jvb-%03d: %v", workers*each, names)
	}
	stored, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]regapi.Node{}
	for _, n := range stored {
		byID[n.ID] = n
	}
	if len(stored) != workers*each {
		t.Errorf("%d rows for %d claims", len(stored), workers*each)
	}
	for _, n := range got {
		if byID[n.ID] != n {
			t.Errorf("answered %+v, stored %+v", n, byID[n.ID])
		}
	}
	// A retire whose commit "fails" after applying: the retry is a no-op.
	n, err := r.SetState(ctx, regapi.NodeRef{Shard: testShard, Nickname: "jvb-003"}, regapi.StateRetired, "")
	if err != nil || n.State != regapi.StateRetired {
		t.Fatalf("retire through an ambiguous commit: %+v, %v", n, err)
	}
	r.faultAfterCommit = nil
	if next := claimOne(t, r, jvb("")); next.Nickname != "jvb-003" {
		t.Errorf("after the retire, auto gave %s, want jvb-003 (released exactly once)", next.Nickname)
	}
	if next := claimOne(t, r, jvb("")); next.Nickname != series("jvb", workers*each+1)[workers*each] {
		t.Errorf("next auto gave %s", next.Nickname)
	}
}
