package regapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Failover across the registry's nodes. A Client given several URLs sends
// every request to one node first: the Raft leader when a node says it is
// (GET /v1/leader answers 200 there only), so that claims from all callers
// share the leader's group commit. A connection error or a 503 (no leader
// yet, starting, stopping) sends the request on to the next URL at once;
// only when every URL failed does the client wait (backoff) before the next
// round. Requests are idempotent — a claim keeps its claim ids whichever
// node answers — so a request that reached a node before it died cannot be
// applied twice. After moving on, the client looks for the leader again in
// the background.
const (
	// dialTimeout bounds a TCP connect: a node whose host vanished (no
	// RST) costs this much before the next URL is tried.
	dialTimeout = 2 * time.Second
	// answerTimeout bounds the wait for an answer's headers. A server
	// answers within its request timeout (10 s at most by default), 503
	// included; a node frozen beyond that is given up.
	answerTimeout = 30 * time.Second
	// leaderProbeTimeout bounds one round of GET /v1/leader.
	leaderProbeTimeout = 2 * time.Second
	// leaderSearchFor bounds the background search for a new leader after
	// a failover (an election takes about a second).
	leaderSearchFor = 5 * time.Second
)

// route is which node requests go to first.
type route struct {
	n         int
	first     atomic.Int32
	initOnce  sync.Once
	searching atomic.Bool
}

func (r *route) init(n int) { r.n = n }

// do sends one request, moving on to the next node after a connection error
// or a 503, until ctx ends or RetryFor passes.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.retryFor)
	defer cancel()
	n := len(c.nodes)
	if n > 1 {
		c.route.initOnce.Do(func() { c.findLeader(ctx) })
	}
	backoff, maxBackoff := 100*time.Millisecond, 2*time.Second
	if n > 1 {
		maxBackoff = time.Second // a round already tried every node
	}
	var last error
	for {
		first := int(c.route.first.Load())
		for k := range n {
			i := (first + k) % n
			err := c.once(ctx, i, method, path, q, body, out)
			if !moveOn(err) {
				if k > 0 {
					c.route.first.Store(int32(i))
					c.searchLeader()
				}
				return err
			}
			last = err
			if ctx.Err() != nil {
				return giveUp(last)
			}
		}
		select {
		case <-ctx.Done():
			return giveUp(last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// moveOn reports whether err means "this node cannot answer now": a
// connection error, or a 503 (no leader, starting, stopping).
func moveOn(err error) bool {
	if err == nil {
		return false
	}
	var ae *Error
	return !errors.As(err, &ae) || ae.Status == http.StatusServiceUnavailable
}

func giveUp(last error) error {
	var ae *Error
	if errors.As(last, &ae) {
		return last
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, last)
}

// findLeader asks every node GET /v1/leader at once and sends requests to
// the one that answers 200 from now on. It reports whether one did.
func (c *Client) findLeader(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, leaderProbeTimeout)
	defer cancel()
	found := make(chan int, len(c.nodes))
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Go(func() {
			var h Health
			if c.once(ctx, i, http.MethodGet, "/v1/leader", nil, nil, &h) == nil {
				found <- i
			}
		})
	}
	go func() { wg.Wait(); close(found) }()
	i, ok := <-found
	if ok {
		c.route.first.Store(int32(i))
		cancel() // the others need not finish
	}
	return ok
}

// searchLeader looks for the leader in the background after a failover,
// for a few seconds (an election may still be under way); one search at a
// time.
func (c *Client) searchLeader() {
	if !c.route.searching.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.route.searching.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), leaderSearchFor)
		defer cancel()
		for !c.findLeader(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}
