package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/outsider"
)

const testShard = "meet.example.org"

// testCtx is a context bounded well under the package's time budget.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// openTemp opens an embedded registry in a fresh directory, closed by the test.
func openTemp(t testing.TB, opts ...Option) (*Registry, string) {
	t.Helper()
	dir := t.TempDir()
	return openAt(t, dir, opts...), dir
}

func openAt(t testing.TB, dir string, opts ...Option) *Registry {
	t.Helper()
	r, err := Open(testCtx(t, 30*time.Second), dir, opts...)
	if err != nil {
		t.Fatalf("open registry in %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func claimOne(t testing.TB, s regapi.Store, req regapi.ClaimRequest) regapi.Node {
	t.Helper()
	nodes, err := s.Claim(testCtx(t, 20*time.Second), req)
	if err != nil {
		t.Fatalf("claim %+v: %v", req, err)
	}
	if len(nodes) != 1 {
		t.Fatalf("claim returned %d nodes, want 1", len(nodes))
	}
	return nodes[0]
}

func jvb(nickname string) regapi.ClaimRequest {
	return regapi.ClaimRequest{Shard: testShard, Role: "jvb", Nickname: nickname}
}

// nicknames returns the sorted nicknames of nodes.
func nicknames(nodes []regapi.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Nickname
	}
	sort.Strings(out)
	return out
}

// series returns prefix-001 … prefix-n.
func series(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i+1)
	}
	return out
}

// logTo sends registry notes to the test log (visible with -v or on failure).
func logTo(t testing.TB) Option {
	return WithLogf(func(format string, a ...any) { t.Logf(format, a...) })
}

func TestMain(m *testing.M) {
	// The parallel-process test re-executes this binary as a CLI-like child.
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(childMain(dir))
	}
	// Security tests run this binary as an outsider attacking a registry.
	if os.Getenv(outsider.EnvPlan) != "" {
		os.Exit(outsider.Main())
	}
	os.Exit(m.Run())
}

// claimConcurrently has workers goroutines each claim `each` bridges with an
// auto nickname, one claim per call, and returns every node acknowledged.
func claimConcurrently(t *testing.T, ctx context.Context, r *Registry, workers, each int) []regapi.Node {
	t.Helper()
	var mu sync.Mutex
	var got []regapi.Node
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				nodes, err := r.Claim(ctx, jvb(""))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, nodes...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return got
}
