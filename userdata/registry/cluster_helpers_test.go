package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// testCluster is an n-node registry cluster on loopback inside the test
// process; the test stops every node it started.
type testCluster struct {
	t        testing.TB
	dirs     []string
	addrs    []string
	nodes    []*Registry // nil once stopped
	opts     []Option
	nodeOpts [][]Option // per node, e.g. its own certificate
}

// startCluster bootstraps node 0, joins the others to it, and waits until
// they are all voters.
func startCluster(t testing.TB, n int, opts ...Option) *testCluster {
	t.Helper()
	return startClusterWith(t, n, nil, opts...)
}

// startClusterWith is startCluster with options of each node's own.
func startClusterWith(t testing.TB, n int, nodeOpts [][]Option, opts ...Option) *testCluster {
	t.Helper()
	// The nodes share the key of the secret checks, as a cluster's must.
	opts = append([]Option{WithSecretKeyFile(filepath.Join(t.TempDir(), "secret-check.key"))}, opts...)
	c := &testCluster{t: t, opts: opts, nodeOpts: nodeOpts, nodes: make([]*Registry, n)}
	for range n {
		c.dirs = append(c.dirs, t.TempDir())
		addr, err := freeLoopbackAddress()
		if err != nil {
			t.Fatal(err)
		}
		c.addrs = append(c.addrs, addr)
	}
	t.Cleanup(c.stopAll)
	for i := range n {
		o := append(append([]Option{WithAddress(c.addrs[i])}, opts...), c.optsOf(i)...)
		if i > 0 {
			o = append(o, WithJoin(c.addrs[0]))
		}
		r, err := Open(testCtx(t, 30*time.Second), c.dirs[i], o...)
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		c.nodes[i] = r
	}
	c.waitVoters(min(n, 3))
	return c
}

func (c *testCluster) optsOf(i int) []Option {
	if i < len(c.nodeOpts) {
		return c.nodeOpts[i]
	}
	return nil
}

func (c *testCluster) waitVoters(want int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms, err := c.nodes[0].Members(testCtx(c.t, 5*time.Second))
		voters := 0
		for _, m := range ms {
			if m.Role == "voter" {
				voters++
			}
		}
		if err == nil && voters >= want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster has %d voters after 30s (want %d): %v %v", voters, want, ms, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leader returns the index of the current leader.
func (c *testCluster) leader() int {
	c.t.Helper()
	for _, r := range c.nodes {
		if r == nil {
			continue
		}
		ms, err := r.Members(testCtx(c.t, 10*time.Second))
		if err != nil {
			continue
		}
		for _, m := range ms {
			if m.Leader {
				for i, a := range c.addrs {
					if a == m.Address {
						return i
					}
				}
			}
		}
	}
	c.t.Fatal("no leader found")
	return -1
}

// crash stops node i abruptly, as a killed process would: no handover, no
// goodbye to its peers.
func (c *testCluster) crash(i int) {
	r := c.nodes[i]
	c.nodes[i] = nil
	r.closeOnce.Do(func() {
		r.socket.close()
		_ = r.app.Close()
		_ = r.db.Close()
		r.cancel()
		_ = r.lock.unlock()
		go r.batch.close() // nothing is queued on it; just end its goroutine
	})
}

// stopAll closes the running nodes gracefully, all at once (the last ones
// cannot hand over to anybody; Close bounds that).
func (c *testCluster) stopAll() {
	var wg sync.WaitGroup
	for i, r := range c.nodes {
		if r != nil {
			c.nodes[i] = nil
			wg.Go(func() { _ = r.Close() })
		}
	}
	wg.Wait()
}

// restartAll reopens every node on its data directory, concurrently: a node
// alone has no quorum and waits for the others.
func (c *testCluster) restartAll() {
	c.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(c.dirs))
	for i := range c.dirs {
		wg.Go(func() {
			o := append(append([]Option{WithAddress(c.addrs[i])}, c.opts...), c.optsOf(i)...)
			c.nodes[i], errs[i] = Open(testCtx(c.t, 60*time.Second), c.dirs[i], o...)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.t.Fatalf("restart node %d: %v", i, err)
		}
	}
}

// peerCert writes a self-signed cluster certificate shared by every node
// (the simplest set-up) and loads it.
func peerCert(t testing.TB) *PeerTLS {
	t.Helper()
	certFile, keyFile := testutil.SelfSignedCert(t, "registry-test-cluster")
	p, err := LoadPeerTLS("", certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nodeCerts makes a cluster CA and a certificate per node (registry tls
// init) and loads each node's.
func nodeCerts(t testing.TB, n int) []*PeerTLS {
	t.Helper()
	var hosts []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("registry-%d", i))
	}
	out, err := InitClusterTLS(ClusterTLSRequest{Dir: t.TempDir(), Nodes: hosts})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*PeerTLS
	for _, f := range out.NodeFiles {
		p, err := LoadPeerTLS(out.CA, f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// claimUntilAcked retries one claim with the same claim id until it is
// acknowledged, as a well-behaved client does, or ctx ends.
func claimUntilAcked(ctx context.Context, s regapi.Store, req regapi.ClaimRequest, onErr func(error)) (regapi.Node, error) {
	for {
		nodes, err := s.Claim(ctx, req)
		if err == nil {
			return nodes[0], nil
		}
		if ctx.Err() != nil {
			return regapi.Node{}, err
		}
		onErr(err)
		time.Sleep(20 * time.Millisecond)
	}
}
