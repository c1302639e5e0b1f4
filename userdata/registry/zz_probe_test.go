package registry

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestZZProbeStatements(t *testing.T) {
	c := startCluster(t, 3)
	r := c.nodes[c.leader()]
	var mu sync.Mutex
	counts := map[string]int{}
	ProbeStmt = func(s string) { mu.Lock(); counts[strings.Join(strings.Fields(s), " ")]++; mu.Unlock() }
	defer func() { ProbeStmt = nil }()
	ctx := testCtx(t, time.Minute)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				if _, err := r.Claim(ctx, jvb("")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("batches %d", r.batches.Load())
	for k, v := range counts {
		t.Logf("%5d %s", v, k)
	}
}
