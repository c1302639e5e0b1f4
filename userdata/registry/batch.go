package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"sync"
	"time"
)

// Group commit. One transaction per claim tops out at a few hundred claims a
// second on dqlite (each COMMIT is a Raft round). Instead, one goroutine takes
// the first waiting claim, gathers every claim that arrives within the gather
// window (or is already queued), and runs them all in ONE transaction. Each
// caller is answered only after the COMMIT that holds its claim succeeded.

// claimUnit is one Claim call: its claims succeed or fail together.
type claimUnit struct {
	ctx   context.Context
	reqs  []claim
	actor string // who claims (regapi.ActorFrom)
	nodes []regapi.Node
	err   error
	done  chan struct{}
}

type batcher struct {
	in       chan *claimUnit
	gather   time.Duration
	maxBatch int // claims per transaction
	exec     func([]*claimUnit)

	// demand is how many units the next batch should expect: the previous
	// batch's, plus those that arrived while it was committing (loop
	// goroutine only).
	demand int

	mu      sync.Mutex
	closed  bool
	pending sync.WaitGroup // units submitted and not yet answered
	quit    chan struct{}
	stopped chan struct{}
}

func newBatcher(gather time.Duration, maxBatch int, exec func([]*claimUnit)) *batcher {
	b := &batcher{
		in:       make(chan *claimUnit, 4096),
		gather:   gather,
		maxBatch: min(maxBatch, maxClaimsPerTx), // one INSERT's worth
		exec:     exec,
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go b.loop()
	return b
}

// submit queues u and waits for its answer or for ctx. A caller that gives up
// does not cancel its claim: it may still commit, and claiming again with the
// same claim id returns it.
func (b *batcher) submit(ctx context.Context, u *claimUnit) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return regapi.ErrClosed
	}
	b.pending.Add(1)
	b.mu.Unlock()
	select {
	case b.in <- u:
	case <-ctx.Done():
		b.pending.Done()
		return ctx.Err()
	}
	select {
	case <-u.done:
		return u.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close refuses new claims, lets every queued one finish, and stops the loop.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.pending.Wait()
	close(b.quit)
	<-b.stopped
}

func (b *batcher) loop() {
	defer close(b.stopped)
	var held []*claimUnit // units that could not join the previous batch
	for {
		var first *claimUnit
		if len(held) > 0 {
			first, held = held[0], held[1:]
		} else {
			select {
			case first = <-b.in:
			case <-b.quit:
				return
			}
		}
		batch, rest := b.collect(first, held)
		held = rest
		late := b.run(batch)
		b.demand = len(batch) + len(held) + late
	}
}

// collect gathers a batch starting with first: the held-back units, then what
// is queued or arrives within the gather window, up to maxBatch claims. It
// stops waiting early once the batch has as many units as the demand: the
// callers answered last time are back, with those that came while it
// committed (without these, a caller that once missed a batch would trail
// one batch behind for good), and a lone sequential caller pays no window.
// A unit repeating a claim id already in the batch waits for the next batch,
// where the claim-id lookup answers it with the committed node.
func (b *batcher) collect(first *claimUnit, held []*claimUnit) (batch, rest []*claimUnit) {
	ids := make(map[string]bool)
	size := 0
	add := func(u *claimUnit) bool {
		if size > 0 && size+len(u.reqs) > b.maxBatch {
			return false
		}
		for _, r := range u.reqs {
			if ids[r.ClaimID] {
				return false
			}
		}
		for _, r := range u.reqs {
			ids[r.ClaimID] = true
		}
		size += len(u.reqs)
		batch = append(batch, u)
		return true
	}
	add(first)
	for _, u := range held {
		if !add(u) {
			rest = append(rest, u)
		}
	}
	timer := time.NewTimer(b.gather)
	defer timer.Stop()
	for size < b.maxBatch {
		select {
		case u := <-b.in:
			if !add(u) {
				rest = append(rest, u)
			}
			continue
		default:
		}
		if len(batch) >= b.demand {
			return batch, rest
		}
		select {
		case u := <-b.in:
			if !add(u) {
				rest = append(rest, u)
			}
		case <-timer.C:
			return batch, rest
		}
	}
	return batch, rest
}

// run executes a batch and answers every unit of it. It returns how many
// units arrived while the batch ran: the callers it answers cannot be among
// them yet.
func (b *batcher) run(batch []*claimUnit) (late int) {
	live := batch[:0:0]
	for _, u := range batch {
		if err := u.ctx.Err(); err != nil {
			b.answer(u, nil, err) // its caller is gone; nothing was written
			continue
		}
		live = append(live, u)
	}
	if len(live) > 0 {
		b.exec(live)
	}
	late = len(b.in)
	for _, u := range live {
		b.answer(u, u.nodes, u.err)
	}
	return late
}

func (b *batcher) answer(u *claimUnit, nodes []regapi.Node, err error) {
	u.nodes, u.err = nodes, err
	close(u.done)
	b.pending.Done()
}
