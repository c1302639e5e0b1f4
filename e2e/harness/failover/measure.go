package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

const shard = "meet.example.org"

// ack is one acknowledged claim.
type ack struct {
	claimID string
	node    regapi.Node
	at      time.Time     // when the answer arrived
	latency time.Duration // from the claim's first attempt to its answer
}

// claimers run n goroutines that claim one bridge at a time, each claim
// retried with its claim id until acknowledged, as a well-behaved client
// does; they stop between claims once stop is closed.
type claimers struct {
	mu     sync.Mutex
	acks   []ack
	errors atomic.Int64
	wg     sync.WaitGroup
}

func startClaimers(ctx context.Context, c regapi.Store, n int, prefix string, stop <-chan struct{}) *claimers {
	cl := &claimers{}
	for w := range n {
		cl.wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-w%02d-%06d", prefix, w, seq)
				first := time.Now()
				for {
					nodes, err := c.Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb", ClaimID: id})
					if err == nil {
						now := time.Now()
						cl.mu.Lock()
						cl.acks = append(cl.acks, ack{claimID: id, node: nodes[0], at: now, latency: now.Sub(first)})
						cl.mu.Unlock()
						break
					}
					cl.errors.Add(1)
					if ctx.Err() != nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	return cl
}

func (cl *claimers) wait() []ack {
	cl.wg.Wait()
	slices.SortFunc(cl.acks, func(a, b ack) int { return a.at.Compare(b.at) })
	return cl.acks
}

// longestPause is the longest time without an acknowledgement between from
// (a SIGKILL) and to: from the kill to the first ack, then between acks. No
// ack at all in the window counts as the whole window.
func longestPause(acks []ack, from, to time.Time) time.Duration {
	gap, prev, seen := time.Duration(0), from, false
	for _, a := range acks {
		if a.at.Before(from) {
			continue
		}
		if a.at.After(to) {
			break
		}
		gap, prev, seen = max(gap, a.at.Sub(prev)), a.at, true
	}
	if !seen {
		return to.Sub(from)
	}
	return gap
}

// percentile of sorted durations (p in 0..100).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// verify checks the registry against the acknowledgements: every acked
// claim recorded as acked (lost otherwise), no live nickname twice.
func verify(ctx context.Context, c regapi.Store, acks []ack) (duplicates, lost, unacked int, err error) {
	nodes, err := c.Nodes(ctx, regapi.Filter{Shard: shard})
	if err != nil {
		return 0, 0, 0, err
	}
	byClaim := map[string]regapi.Node{}
	names := map[string]int{}
	for _, n := range nodes {
		byClaim[n.ClaimID] = n
		if n.State != regapi.StateRetired {
			names[n.Nickname]++
		}
	}
	for _, k := range names {
		if k > 1 {
			duplicates += k - 1
		}
	}
	acked := map[string]bool{}
	for _, a := range acks {
		acked[a.claimID] = true
		if got, ok := byClaim[a.claimID]; !ok || got.ID != a.node.ID || got.Nickname != a.node.Nickname {
			lost++
		}
	}
	for id := range byClaim {
		if !acked[id] {
			unacked++
		}
	}
	return duplicates, lost, unacked, nil
}

func randomToken() string { return randomHex(24) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
