package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"testing"
	"time"
)

// A batch sent as one exec (claim.go: the attempt from memory with a
// compare-and-swap take) must give exactly the answers of an attempt that
// reads everything: these tests make memory stale in each way it can and
// check that the batch is then answered correctly and nothing was written
// twice.

func TestOneExecBatchTakesOverAfterTheFirstBatch(t *testing.T) {
	r, _ := openTemp(t)
	for i, want := range series("jvb", 5) {
		if got := claimOne(t, r, jvb("")).Nickname; got != want {
			t.Fatalf("claim %d: %s, want %s", i+1, got, want)
		}
	}
	// The first claim creates the shard and its series and learns the hint;
	// the next four need one exec each.
	if got := r.oneExecBatches.Load(); got != 4 {
		t.Errorf("%d one-round-trip batches, want 4", got)
	}
}

func TestOneExecBatchMissesOnStaleHintAndTakesTheLowest(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	for range 3 {
		claimOne(t, r, jvb(""))
	}
	// Retiring jvb-001 puts a free range below the remembered one: the
	// compare-and-swap must fail rather than hand out jvb-004.
	if _, err := r.SetState(ctx, regapi.NodeRef{Shard: testShard, Nickname: "jvb-001"}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	before := r.oneExecBatches.Load()
	if got := claimOne(t, r, jvb("")).Nickname; got != "jvb-001" {
		t.Fatalf("after retiring jvb-001, auto gave %s", got)
	}
	if r.oneExecBatches.Load() != before {
		t.Error("the stale hint was taken: the compare-and-swap did not miss")
	}
	// The general path relearns the hint, and the claim after it is fast again.
	for _, want := range []string{"jvb-004", "jvb-005"} {
		if got := claimOne(t, r, jvb("")).Nickname; got != want {
			t.Fatalf("next auto gave %s, want %s", got, want)
		}
	}
	if r.oneExecBatches.Load() != before+1 {
		t.Errorf("%d one-round-trip commits after relearning, want 1", r.oneExecBatches.Load()-before)
	}
	// A number cut out by an explicit name makes the hint stale as well.
	claimOne(t, r, jvb("jvb-006"))
	if got := claimOne(t, r, jvb("")).Nickname; got != "jvb-007" {
		t.Fatalf("after an explicit jvb-006, auto gave %s, want jvb-007", got)
	}
}

func TestOneExecBatchRepeatedClaimIDReturnsTheRecordedNode(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	claimOne(t, r, jvb("")) // learn the hint
	req := jvb("")
	req.ClaimID = "i-0123456789abcdef0"
	first := claimOne(t, r, req)
	before := r.oneExecBatches.Load()
	again := claimOne(t, r, req) // the UNIQUE claim_id fails the one exec
	if again != first {
		t.Fatalf("repeated claim id: got %+v, want %+v", again, first)
	}
	if r.oneExecBatches.Load() != before {
		t.Error("a repeated claim id was answered by a one-exec batch")
	}
	// The failed exec was rolled back whole: the next number is not skipped.
	if got := claimOne(t, r, jvb("")).Nickname; got != "jvb-003" {
		t.Errorf("next auto gave %s, want jvb-003", got)
	}
	all, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Errorf("%d rows, want 3", len(all))
	}
}

func TestQTakeAtHintQuotesThePrefix(t *testing.T) {
	got := qTakeAtHint(seriesKey{shard: 7, prefix: "o'brien"}, 16, 42)
	want := `UPDATE free_numbers SET lo = lo + 16 WHERE shard_id = 7 AND prefix = 'o''brien' AND lo = 42 AND hi - lo + 1 > 16` +
		` AND NOT EXISTS (SELECT 1 FROM free_numbers WHERE shard_id = 7 AND prefix = 'o''brien' AND lo < 42)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
