package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// The claim path. Every claim takes this one road:
//
//	Claim ─→ batcher (batch.go): concurrent calls share one transaction
//	      ─→ claimBatch: an attempt trusting memory; whatever memory proved
//	         wrong is read instead, and the batch runs again
//	      ─→ claimTx.run: shards → recorded claim ids → admit (checks,
//	         explicit names) → allocate (auto numbers) → write (INSERT + COMMIT)
//
// A batch's cost is its round trips to the leader plus one Raft commit, so
// the attempt from memory reads nothing the registry already knows (memo.go):
// shard ids and series are remembered, claim ids are not looked up (claim_id
// is UNIQUE: a repeated one fails the INSERT), and when the batch has written
// nothing before its numbers are taken — every claim auto, one series, no
// secret check — the numbers are taken by a compare-and-swap at the
// remembered start of the lowest free range, in the same exec as the INSERT
// and the COMMIT:
//
//	BEGIN IMMEDIATE;
//	UPDATE free_numbers … (the range still starts at the hint and is still the lowest);
//	INSERT INTO nodes … WHERE changes() = 1;
//	COMMIT
//
// That is the whole batch in ONE round trip. Memory can prove wrong in two
// ways, and either way the attempt wrote nothing:
//
//   - the swap changed no row (another node claimed, a number was released):
//     the INSERT wrote nothing and the empty transaction committed. The
//     batch runs again reading the free ranges (errHintStale);
//   - a claim id was already recorded (a client's retry, or a COMMIT that
//     was applied but not acknowledged): the INSERT failed on the UNIQUE
//     index and the transaction was rolled back. The batch runs again
//     looking its claim ids up, and a repeated claim gets its recorded node
//     back (errClaimRecorded).
//
// Each retry trusts memory for less, so a batch takes at most three
// attempts, and in steady state one.

// Claim records nodes and returns them, nicknames assigned, in request order.
// The claims of one call succeed or fail together. Concurrent calls share
// transactions (group commit); each returns only after its commit. A claim id
// seen before returns the node it produced, so a caller that timed out or lost
// its connection retries with the same ids and never gets a second node.
func (r *Registry) Claim(ctx context.Context, reqs ...regapi.ClaimRequest) ([]regapi.Node, error) {
	norm, err := regapi.NormalizeClaims(reqs)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	claims := make([]claim, len(norm))
	for i, q := range norm {
		if q.SecretFingerprint != "" {
			// From here on the claim carries what is stored: the keyed
			// check, never the client's proof.
			q.SecretFingerprint = r.secretKey.check(q.Shard, q.SecretFingerprint)
		}
		claims[i] = claim{ClaimRequest: q}
	}
	nodes, err := r.submit(ctx, claims)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return nodes, nil
}

// submit runs claims as one unit of a batch, under ctx's actor.
func (r *Registry) submit(ctx context.Context, claims []claim) ([]regapi.Node, error) {
	u := &claimUnit{ctx: ctx, reqs: claims, actor: regapi.ActorFrom(ctx), done: make(chan struct{})}
	if err := r.batch.submit(ctx, u); err != nil {
		return nil, err
	}
	return u.nodes, nil
}

// claim is one normalised claim as the claim path carries it.
type claim struct {
	regapi.ClaimRequest
	// member is set for a group member's claim (ClaimInGroup).
	member *memberClaim
}

// memberClaim is what a group member's claim adds: its group and the hash
// of its claim key.
type memberClaim struct {
	groupID int64
	group   string
	keyHash string
}

// execClaims is the batcher's exec: it runs one batch and sets every unit's
// outcome.
func (r *Registry) execClaims(units []*claimUnit) {
	out, err := r.claimBatch(units)
	for i, u := range units {
		if err != nil {
			u.err = err
			continue
		}
		u.nodes, u.err = out[i].nodes, out[i].err
	}
}

// trust says what a claim attempt takes from memory instead of reading it.
type trust struct {
	// hints: take numbers at the remembered lowest free range start.
	hints bool
	// unrecorded: the claim ids are new (a repeated one fails the INSERT),
	// so they are not looked up — except group members', which check
	// their claim key.
	unrecorded bool
}

// An attempt that trusted memory found it wrong, and wrote nothing.
var (
	errHintStale     = errors.New("the remembered lowest free range moved")
	errClaimRecorded = errors.New("a claim id is already recorded")
)

func (r *Registry) claimBatch(units []*claimUnit) ([]unitOutcome, error) {
	tr := trust{hints: true, unrecorded: true}
	for {
		out, err := r.claimAttempt(units, tr)
		switch {
		case errors.Is(err, errHintStale) && tr.hints:
			tr.hints = false
		case errors.Is(err, errClaimRecorded) && tr.unrecorded:
			tr = trust{}
		default:
			if err != nil {
				r.memo.forgetHints() // cheap to relearn; the attempt may have seen them go stale
			}
			return out, err
		}
	}
}

// claimAttempt runs the batch in one write transaction (retried by write
// through leader changes) and, once it committed, teaches the memo.
func (r *Registry) claimAttempt(units []*claimUnit, tr trust) ([]unitOutcome, error) {
	var t *claimTx
	var out []unitOutcome
	err := r.write(r.ctx, func(ctx context.Context, c *tx) error {
		now := r.opts.now()
		t = &claimTx{ctx: ctx, c: c, at: dbTime(now), expires: dbTime(now.Add(PendingExpiry)), trust: tr, memo: &r.memo,
			oneExec: &r.oneExecBatches, series: map[seriesKey]bool{}, taken: map[seriesKey]bool{},
			nextHints: map[seriesKey]int64{}, groups: map[int64]*groupSeat{}}
		var err error
		out, err = t.run(units)
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.missed {
		delete(r.memo.hints, t.take.key)
		return nil, errHintStale
	}
	r.batches.Add(1)
	r.memo.learn(t)
	return out, nil
}

type unitOutcome struct {
	nodes []regapi.Node
	err   error
}

type shardRow struct {
	id        int64
	fqdn, fp  string
	fpChanged bool
	hadFP     bool
}

// newNode is a claim that will become a row.
type newNode struct {
	unit, idx int
	req       claim
	shard     *shardRow
	actor     string
	nickname  string // empty until allocated
}

// claimTx is one attempt at a batch. It may run again after a failed COMMIT,
// so it keeps all its state local; the memo learns from it only after a
// successful COMMIT.
type claimTx struct {
	ctx     context.Context
	c       *tx
	at      string
	expires string // when this batch's pending nodes expire
	trust   trust
	memo    *memo

	shards map[string]*shardRow
	series map[seriesKey]bool // known to exist, or created here
	taken  map[seriesKey]bool // (shard, nickname) claimed by this batch; prefix holds the nickname
	// take is the compare-and-swap that the final exec carries (allocate);
	// missed reports that it changed nothing.
	take    *hintTake
	missed  bool
	oneExec *atomic.Int64 // counts the execs that committed a whole batch
	// nextHints: where each series' lowest free range starts after this
	// batch; 0 for unknown.
	nextHints map[seriesKey]int64
	// groups holds what this batch read of the groups its members claim in.
	groups map[int64]*groupSeat
}

// groupSeat is a group as its members' claims check it: active, and how
// many live members it has against its max size.
type groupSeat struct {
	active    bool
	live, max int
}

// recorded is a node found under a claim id, with what a repeated claim
// checks.
type recorded struct {
	node       regapi.Node
	groupID    int64
	claimKey   string // hash
	credential string // hash
}

// hintTake takes k numbers of a series at the remembered start lo of its
// lowest free range.
type hintTake struct {
	key seriesKey
	lo  int64
	k   int
}

func (t *claimTx) run(units []*claimUnit) ([]unitOutcome, error) {
	if err := t.loadShards(units); err != nil {
		return nil, err
	}
	existing, err := t.recordedClaims(units)
	if err != nil {
		return nil, err
	}
	out := make([]unitOutcome, len(units))
	var fresh []*newNode
	for ui, u := range units {
		out[ui].nodes = make([]regapi.Node, len(u.reqs))
		nodes, err := t.admit(ui, u, existing, out[ui].nodes)
		if err != nil {
			var ue unitError
			if errors.As(err, &ue) {
				out[ui] = unitOutcome{err: ue.err}
				continue
			}
			return nil, err
		}
		fresh = append(fresh, nodes...)
	}
	if err := t.allocate(fresh); err != nil {
		return nil, err
	}
	if err := t.write(fresh, out); err != nil {
		return nil, err
	}
	return out, nil
}

// unitError fails one unit of the batch, not the batch.
type unitError struct{ err error }

func (e unitError) Error() string { return e.err.Error() }
func (e unitError) Unwrap() error { return e.err }

