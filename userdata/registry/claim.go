package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Claim records nodes and returns them, nicknames assigned, in request order.
// The claims of one call succeed or fail together. Concurrent calls share
// transactions (group commit); each returns only after its commit. A claim id
// seen before returns the node it produced, so a caller that timed out or lost
// its connection retries with the same ids and never gets a second node.
func (r *Registry) Claim(ctx context.Context, reqs ...regapi.ClaimRequest) ([]regapi.Node, error) {
	norm, newIDs, err := regapi.NormalizeClaims(reqs)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	u := &claimUnit{ctx: ctx, reqs: norm, newIDs: newIDs, done: make(chan struct{})}
	if err := r.batch.submit(ctx, u); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return u.nodes, nil
}

// execClaims runs one group-commit batch and sets every unit's outcome.
func (r *Registry) execClaims(units []*claimUnit) {
	out, err := r.claimBatch(units)
	if err != nil && len(units) > 1 && !errors.Is(err, regapi.ErrUnavailable) {
		// The batch failed as a whole on something other than availability
		// (it should not): run each unit alone so one bad claim cannot fail
		// the others.
		r.opts.logf("registry: claim batch of %d failed (%v); retrying its claims one call at a time", len(units), err)
		for _, u := range units {
			r.execClaims([]*claimUnit{u})
		}
		return
	}
	for i, u := range units {
		if err != nil {
			u.err = err
			continue
		}
		u.nodes, u.err = out[i].nodes, out[i].err
	}
}

func (r *Registry) claimBatch(units []*claimUnit) ([]unitOutcome, error) {
	if key, lo, ok := r.fastSeries(units); ok {
		out, err := r.claimFast(units, key, lo)
		if !errors.Is(err, errFastMiss) {
			if err != nil {
				clear(r.hints)
			}
			return out, err
		}
		delete(r.hints, key)
	}
	var out []unitOutcome
	var last *claimTx
	err := r.write(r.ctx, func(ctx context.Context, c *tx) error {
		// Claim ids are looked up unless none can be recorded yet: all were
		// generated here and no attempt ran (an attempt may have committed
		// and failed to say so).
		lookup := false
		for _, u := range units {
			lookup = lookup || u.tried || !u.newIDs
			u.tried = true
		}
		last = &claimTx{ctx: ctx, c: c, at: dbTime(r.opts.now()), facts: &r.facts, hints: r.hints, learned: map[seriesKey]int64{}}
		var err error
		out, err = last.run(units, lookup)
		return err
	})
	if err != nil {
		clear(r.hints) // cheap to relearn; a failed batch may have left them stale
		return nil, err
	}
	r.batches.Add(1)
	r.facts.learn(last.shards, last.series)
	for k, lo := range last.learned {
		if lo > 0 {
			r.hints[k] = lo
		} else {
			delete(r.hints, k)
		}
	}
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

type seriesKey struct {
	shard  int64
	prefix string
}

// newNode is a claim that will become a row.
type newNode struct {
	unit, idx int
	req       regapi.ClaimRequest
	shard     *shardRow
	nickname  string // empty until allocated
}

// claimTx is one attempt at a batch; it may run again after a failed COMMIT,
// so it keeps all its state local and starts by looking the claim ids up.
type claimTx struct {
	ctx   context.Context
	c     *tx
	at    string
	facts *facts
	// hints: where each series' lowest free range started after our last
	// commit (read-only here); learned: the same after this batch, 0 for
	// unknown. See takeAtHint.
	hints   map[seriesKey]int64
	learned map[seriesKey]int64
	shards  map[string]*shardRow
	series  map[seriesKey]bool // known to exist
	taken   map[seriesKey]bool // (shard, nickname) claimed by this batch; prefix holds the nickname
}

func (t *claimTx) run(units []*claimUnit, lookup bool) ([]unitOutcome, error) {
	t.series = map[seriesKey]bool{}
	t.taken = map[seriesKey]bool{}
	var fqdns, claimIDs []string
	needFP := map[string]bool{}
	for _, u := range units {
		for _, r := range u.reqs {
			fqdns = append(fqdns, r.Shard)
			claimIDs = append(claimIDs, r.ClaimID)
			if r.SecretFingerprint != "" {
				needFP[r.Shard] = true
			}
		}
	}
	slices.Sort(fqdns)
	fqdns = slices.Compact(fqdns)
	if err := t.loadShards(fqdns, needFP); err != nil {
		return nil, err
	}
	existing := map[string]regapi.Node{}
	if lookup {
		var err error
		if existing, err = t.existingClaims(claimIDs); err != nil {
			return nil, err
		}
	}

	out := make([]unitOutcome, len(units))
	var fresh []*newNode
	for ui, u := range units {
		out[ui].nodes = make([]regapi.Node, len(u.reqs))
		nodes, err := t.admitUnit(ui, u, existing, out[ui].nodes)
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
	if err := t.insert(fresh, out); err != nil {
		return nil, err
	}
	return out, nil
}

// unitError fails one unit of the batch, not the batch.
type unitError struct{ err error }

func (e unitError) Error() string { return e.err.Error() }

// loadShards finds (creating if need be) the shards' rows. A shard whose id
// is known is read only when a claim needs its secret fingerprint.
func (t *claimTx) loadShards(fqdns []string, needFP map[string]bool) error {
	t.shards = make(map[string]*shardRow, len(fqdns))
	var read []string
	for _, f := range fqdns {
		if id, ok := t.facts.shardID(f); ok && !needFP[f] {
			t.shards[f] = &shardRow{id: id, fqdn: f}
			continue
		}
		read = append(read, f)
	}
	for chunk := range slices.Chunk(read, maxRowsPerInsert) {
		args := make([]any, 0, 2*len(chunk))
		for _, f := range chunk {
			args = append(args, f, t.at)
		}
		rows, err := t.c.QueryContext(t.ctx, qUpsertShards(len(chunk)), args...)
		if err != nil {
			return fmt.Errorf("record shards: %w", err)
		}
		for rows.Next() {
			s := &shardRow{}
			if err := rows.Scan(&s.id, &s.fqdn, &s.fp); err != nil {
				rows.Close()
				return fmt.Errorf("record shards: %w", err)
			}
			s.hadFP = s.fp != ""
			t.shards[s.fqdn] = s
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("record shards: %w", err)
		}
	}
	return nil
}

func (t *claimTx) existingClaims(ids []string) (map[string]regapi.Node, error) {
	found := map[string]regapi.Node{}
	for chunk := range slices.Chunk(ids, maxRowsPerInsert) {
		nodes, err := queryNodes(t.ctx, t.c, qNodesByClaimID(len(chunk)), anySlice(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("look up claim ids: %w", err)
		}
		for _, n := range nodes {
			found[n.ClaimID] = n
		}
	}
	return found, nil
}

// admitUnit checks a unit's claims, reserves its explicit nicknames and
// returns the claims that become new rows. Claims already recorded are
// answered from existing. A unitError rejects the unit (and undoes its writes).
func (t *claimTx) admitUnit(ui int, u *claimUnit, existing map[string]regapi.Node, answers []regapi.Node) ([]*newNode, error) {
	var fresh []*newNode
	var problems []error
	fps := map[*shardRow]string{}
	for i, r := range u.reqs {
		if n, ok := existing[r.ClaimID]; ok {
			if n.Shard != r.Shard || n.Role != r.Role {
				problems = append(problems, fmt.Errorf("%w: claim id %q was already used for a %s node of %s", regapi.ErrInvalid, r.ClaimID, n.Role, n.Shard))
			}
			answers[i] = n
			continue
		}
		s := t.shards[r.Shard]
		if r.SecretFingerprint != "" {
			cur, seen := fps[s]
			if !seen {
				cur = s.fp
			}
			switch {
			case cur == "" || cur == r.SecretFingerprint || r.NewSecret && !seen:
				fps[s] = r.SecretFingerprint
			default:
				where := ""
				if len(u.reqs) > 1 {
					where = fmt.Sprintf(" (claims[%d])", i)
				}
				problems = append(problems, fmt.Errorf("%w: %s was issued with a different secret%s; if the JMS's secret changed on purpose, issue with the new secret and --new-secret",
					regapi.ErrSecretMismatch, r.Shard, where))
			}
		}
		fresh = append(fresh, &newNode{unit: ui, idx: i, req: r, shard: s})
	}
	if len(problems) > 0 {
		return nil, unitError{errors.Join(problems...)}
	}

	// Explicit names: check them against live nodes and this batch, and cut
	// numbered ones out of their free ranges. A savepoint undoes the cuts if
	// a later name of the unit is refused.
	var explicit []*newNode
	for _, n := range fresh {
		if n.req.Nickname != regapi.AutoNickname {
			explicit = append(explicit, n)
		}
	}
	if len(explicit) > 0 {
		if _, err := t.c.ExecContext(t.ctx, `SAVEPOINT unit`); err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		mine := map[seriesKey]bool{}
		seriesBefore := maps.Clone(t.series)
		for _, n := range explicit {
			key := seriesKey{n.shard.id, n.req.Nickname}
			if err := t.reserve(n, t.taken[key] || mine[key]); err != nil {
				t.series = seriesBefore // series created since the savepoint are undone too
				if _, rerr := t.c.ExecContext(t.ctx, `ROLLBACK TO unit`); rerr != nil {
					return nil, fmt.Errorf("rollback to savepoint: %w", rerr)
				}
				if _, rerr := t.c.ExecContext(t.ctx, `RELEASE unit`); rerr != nil {
					return nil, fmt.Errorf("release savepoint: %w", rerr)
				}
				return nil, err
			}
			mine[key] = true
			n.nickname = n.req.Nickname
		}
		if _, err := t.c.ExecContext(t.ctx, `RELEASE unit`); err != nil {
			return nil, fmt.Errorf("release savepoint: %w", err)
		}
		for k := range mine {
			t.taken[k] = true
		}
	}
	for s, fp := range fps {
		if s.fp != fp {
			s.fp, s.fpChanged = fp, true
		}
	}
	return fresh, nil
}

// reserve takes an explicit nickname for n, or fails the unit with ErrConflict.
func (t *claimTx) reserve(n *newNode, inBatch bool) error {
	name, shard := n.req.Nickname, n.shard
	if inBatch {
		return unitError{fmt.Errorf("%w: %s in shard %s is claimed twice in this batch", regapi.ErrConflict, name, shard.fqdn)}
	}
	var holder int64
	err := t.c.scanRow(t.ctx, qLiveNicknameTaken, []any{shard.id, name}, &holder)
	switch {
	case err == nil:
		return unitError{fmt.Errorf("%w: %s in shard %s is held by node %d; retire it first or pick another name (or %q)",
			regapi.ErrConflict, name, shard.fqdn, holder, regapi.AutoNickname)}
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("check nickname: %w", err)
	}
	prefix, num, ok := parseNumbered(name)
	if !ok {
		return nil
	}
	key := seriesKey{shard.id, prefix}
	if err := t.ensureSeries(key); err != nil {
		return err
	}
	r, found, err := t.rangeRow(qRangeAtOrBelow, key, num)
	if err != nil {
		return err
	}
	if !found || r.Hi < num {
		// Not free although no live node holds it: the invariant is
		// broken. The UNIQUE index still guards the name; just go on.
		return nil
	}
	return t.applyRange(key, planCut(r, num))
}
