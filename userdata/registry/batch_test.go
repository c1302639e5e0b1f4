package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"slices"
	"sync"
	"testing"
	"time"
)

// TestBatcherWaitsForCallersThatCameDuringACommit: a caller that arrives
// while a batch commits must be grouped with the callers of that batch when
// they come back, not run alone with everyone else one batch behind it.
func TestBatcherWaitsForCallersThatCameDuringACommit(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	var b *batcher
	late := make(chan error, 1)
	ctx := testCtx(t, 30*time.Second)
	unit := func() *claimUnit {
		req := jvb("")
		req.ClaimID = regapi.NewClaimID()
		return &claimUnit{ctx: ctx, reqs: []claim{{ClaimRequest: req}}, done: make(chan struct{})}
	}
	// The window is long so that only the demand decides when a batch closes.
	b = newBatcher(5*time.Second, 1024, func(units []*claimUnit) {
		mu.Lock()
		sizes = append(sizes, len(units))
		first := len(sizes) == 1
		mu.Unlock()
		if first { // a second caller arrives while the first batch commits
			go func() { late <- b.submit(ctx, unit()) }()
			for len(b.in) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	defer b.close()
	if err := b.submit(ctx, unit()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the first caller takes its time to come back
	start := time.Now()
	if err := b.submit(ctx, unit()); err != nil {
		t.Fatal(err)
	}
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sizes, []int{1, 2}) {
		t.Errorf("batch sizes %v, want [1 2]: the late caller was not grouped with the returning one", sizes)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the second batch waited %s: it should close once both callers are in", waited)
	}
}
