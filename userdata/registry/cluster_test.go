package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterFailover closes the leader of a 3-node cluster abruptly while 16
// goroutines claim through the other two nodes. Every claim is retried with
// its claim id until acknowledged. Afterwards every acknowledged claim is
// recorded with the nickname it was given, no nickname appears twice, no
// number was lost (the nicknames are exactly jvb-001…jvb-N), and writes go on.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	c := startCluster(t, 3, WithWriteTimeout(20*time.Second), logTo(t))
	lead := c.leader()
	var survivors []*Registry
	for i, r := range c.nodes {
		if i != lead {
			survivors = append(survivors, r)
		}
	}
	ctx := testCtx(t, 90*time.Second)
	const claimers, each = 16, 40
	var (
		mu       sync.Mutex
		acked    = map[string]regapi.Node{}
		ackTimes []time.Time
		errCount atomic.Int64
		total    atomic.Int64
		crashed  = make(chan time.Time, 1)
		wg       sync.WaitGroup
	)
	for w := range claimers {
		wg.Go(func() {
			s := survivors[w%len(survivors)]
			for i := range each {
				req := jvb("")
				req.ClaimID = fmt.Sprintf("w%02d-%03d", w, i)
				n, err := claimUntilAcked(ctx, s, req, func(err error) {
					if errCount.Add(1) <= 5 {
						t.Logf("claim %s: %v (retrying)", req.ClaimID, err)
					}
				})
				if err != nil {
					t.Errorf("claim %s never acknowledged: %v", req.ClaimID, err)
					return
				}
				mu.Lock()
				acked[req.ClaimID] = n
				ackTimes = append(ackTimes, time.Now())
				mu.Unlock()
				if total.Add(1) == claimers*each/4 {
					c.crash(lead)
					crashed <- time.Now()
				}
			}
		})
	}
	wg.Wait()
	crashAt := <-crashed

	// Failover time: the longest pause in acknowledgements after the crash.
	slices.SortFunc(ackTimes, func(a, b time.Time) int { return a.Compare(b) })
	gap, prev := time.Duration(0), crashAt
	for _, at := range ackTimes {
		if at.Before(crashAt) {
			continue
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	t.Logf("leader %d crashed after %d claims; longest pause in acknowledgements after it: %s; %d failed attempts retried",
		lead, claimers*each/4, gap.Round(time.Millisecond), errCount.Load())

	nodes, err := survivors[0].Nodes(ctx, regapi.Filter{Shard: testShard})
	if err != nil {
		t.Fatal(err)
	}
	byClaim := map[string]regapi.Node{}
	for _, n := range nodes {
		byClaim[n.ClaimID] = n
	}
	for id, a := range acked {
		if got, ok := byClaim[id]; !ok || got.Nickname != a.Nickname || got.ID != a.ID {
			t.Errorf("acknowledged claim %s (%s, id %d) is recorded as %+v", id, a.Nickname, a.ID, got)
		}
	}
	if got := nicknames(nodes); !slices.Equal(got, series("jvb", claimers*each)) {
		t.Errorf("%d nodes recorded for %d claims; nicknames are not exactly jvb-001…jvb-%03d (duplicate or lost number)",
			len(nodes), claimers*each, claimers*each)
	}
	// Writes resume on the new leader.
	if n := claimOne(t, survivors[1], jvb("")); n.Nickname != fmt.Sprintf("jvb-%03d", claimers*each+1) {
		t.Errorf("claim after failover got %s", n.Nickname)
	}
}

// TestClusterRestartKeepsRows runs a cluster whose peers talk TLS, each
// with its own certificate signed by the cluster CA (registry tls init),
// stops all of its nodes, starts them again, and finds every row.
func TestClusterRestartKeepsRows(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	var nodeOpts [][]Option
	for _, p := range nodeCerts(t, 3) {
		nodeOpts = append(nodeOpts, []Option{WithPeerTLS(p)})
	}
	c := startClusterWith(t, 3, nodeOpts)
	ctx := testCtx(t, 90*time.Second)
	var reqs []regapi.ClaimRequest
	for range 50 {
		reqs = append(reqs, jvb(""))
	}
	before, err := c.nodes[1].Claim(ctx, reqs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.nodes[2].SetState(ctx, regapi.NodeRef{ID: before[7].ID}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	before[7].State = regapi.StateRetired
	start := time.Now()
	c.stopAll()
	t.Logf("stopped 3 nodes in %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	c.restartAll()
	t.Logf("restarted 3 nodes in %s", time.Since(start).Round(time.Millisecond))
	after, err := c.nodes[0].Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("%d nodes after restart, %d before", len(after), len(before))
	}
	for i := range before {
		if after[i].ID != before[i].ID || after[i].Nickname != before[i].Nickname || after[i].State != before[i].State {
			t.Errorf("node %d after restart %+v, before %+v", i, after[i], before[i])
		}
	}
	// The retired name's number comes back first.
	if n := claimOne(t, c.nodes[2], jvb("")); n.Nickname != before[7].Nickname {
		t.Errorf("claim after restart got %s, want the retired %s", n.Nickname, before[7].Nickname)
	}
}

// TestClusterQuorumLossFailsClearlyInBoundedTime stops two of three nodes: the
// survivor cannot write, and says so within its write timeout instead of hanging.
func TestClusterQuorumLossFailsClearlyInBoundedTime(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	const writeTimeout = 2 * time.Second
	c := startCluster(t, 3, WithWriteTimeout(writeTimeout), WithPeerTLS(peerCert(t))) // one self-signed pair shared by all
	claimOne(t, c.nodes[0], jvb(""))
	lead := c.leader()
	survivor := (lead + 1) % 3
	c.crash(lead)
	c.crash((lead + 2) % 3)

	ctx := testCtx(t, 30*time.Second)
	start := time.Now()
	_, err := c.nodes[survivor].Claim(ctx, jvb(""))
	took := time.Since(start)
	if !errors.Is(err, regapi.ErrUnavailable) || !strings.Contains(err.Error(), "majority") {
		t.Fatalf("claim without quorum: err = %v, want ErrUnavailable explaining the lost majority", err)
	}
	if took > writeTimeout+3*time.Second {
		t.Errorf("claim without quorum took %s to fail, want about %s", took, writeTimeout)
	}
	t.Logf("claim without quorum failed after %s: %v", took.Round(time.Millisecond), err)
	start = time.Now()
	if _, err := c.nodes[survivor].Nodes(ctx, regapi.Filter{}); !errors.Is(err, regapi.ErrUnavailable) {
		t.Errorf("list without quorum: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > writeTimeout+3*time.Second {
		t.Errorf("list without quorum took %s", took)
	}
	c.crash(survivor) // a graceful Close would spend its handover timeout looking for a leader
}

// TestTwoTLSClustersOnOneMachine: every cluster's first node has the same
// dqlite id; two of them with cluster TLS run side by side (go-dqlite's
// own TLS mode named their sockets after the id, and the second failed to
// start).
func TestTwoTLSClustersOnOneMachine(t *testing.T) {
	ps := nodeCerts(t, 2)
	for i := range 2 {
		r := openAt(t, t.TempDir(), WithAddress(freeAddr(t)), WithPeerTLS(ps[i]))
		claimOne(t, r, jvb(""))
	}
}
