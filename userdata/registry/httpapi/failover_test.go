package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestClientMovesOnAndPrefersTheLeader gives the client three URLs: a node
// that is down, one that is starting (503), and a serving one. Requests go
// to the serving node — the only one that says it is the leader — and a
// claim that meets the others first moves on at once, keeping its claim id.
func TestClientMovesOnAndPrefersTheLeader(t *testing.T) {
	s := startAPI(t, Config{}, false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	var startingHits atomic.Int64
	gate := NewGate()
	starting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startingHits.Add(1)
		gate.ServeHTTP(w, r)
	}))
	t.Cleanup(starting.Close)

	ctx := testCtx(t, 30*time.Second)
	c, err := regapi.NewClient(strings.Join([]string{down, starting.URL, s.url}, ","), opToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	start := time.Now()
	req := regapi.ClaimRequest{Shard: shard, Role: "jvb", ClaimID: "moves-on-1"}
	nodes, err := c.Claim(ctx, req)
	if err != nil || nodes[0].Nickname != "jvb-001" {
		t.Fatalf("claim: %+v %v", nodes, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the claim took %s: the client waited instead of moving on", took)
	}
	hits := startingHits.Load() // the leader probe
	for range 5 {
		if _, err := c.Nodes(ctx, regapi.Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	if startingHits.Load() != hits {
		t.Errorf("requests went to the starting node after the leader was known")
	}
	// The same claim id through another client that meets the others first
	// returns the same node: no duplicate.
	c2, err := regapi.NewClient(strings.Join([]string{down, starting.URL, s.url}, ","), opToken)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c2.Claim(ctx, req)
	if err != nil || again[0] != nodes[0] {
		t.Errorf("repeated claim: %+v %v, want %+v", again, err, nodes[0])
	}
	// With no node able to answer, the call ends after RetryFor with the
	// last refusal.
	c3, err := regapi.NewClient(down+","+starting.URL, opToken, regapi.WithRetryFor(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = c3.Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb"})
	var ae *regapi.Error
	if !errors.As(err, &ae) && !errors.Is(err, regapi.ErrUnavailable) {
		t.Errorf("no node up: err = %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("no node up: gave up after %s, want about 1s", took)
	}
	if _, err := regapi.NewClient("https://a.example.org,http://b.example.org,ftp://c", opToken); err == nil ||
		!strings.Contains(err.Error(), "http://b.example.org") || !strings.Contains(err.Error(), "ftp://c") {
		t.Errorf("bad URLs in a list: err = %v", err)
	}
}
