package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
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

// loadShards finds (creating if need be) the shards' rows. A shard whose id
// is remembered is read only when a claim needs its secret check.
func (t *claimTx) loadShards(units []*claimUnit) error {
	var fqdns []string
	needFP := map[string]bool{}
	for _, u := range units {
		for _, q := range u.reqs {
			fqdns = append(fqdns, q.Shard)
			if q.SecretFingerprint != "" {
				needFP[q.Shard] = true
			}
		}
	}
	slices.Sort(fqdns)
	fqdns = slices.Compact(fqdns)
	t.shards = make(map[string]*shardRow, len(fqdns))
	var read []string
	for _, f := range fqdns {
		if id, ok := t.memo.shards[f]; ok && !needFP[f] {
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

// recordedClaims returns the nodes already recorded under the batch's claim
// ids. Trusting that they are new, only group members' claims are looked up
// (a repeated one checks its claim key): the UNIQUE claim_id fails the
// INSERT of any other repeated claim, and the batch runs again looking
// them up.
func (t *claimTx) recordedClaims(units []*claimUnit) (map[string]recorded, error) {
	found := map[string]recorded{}
	var ids []string
	for _, u := range units {
		for _, q := range u.reqs {
			if !t.trust.unrecorded || q.member != nil {
				ids = append(ids, q.ClaimID)
			}
		}
	}
	for chunk := range slices.Chunk(ids, maxRowsPerInsert) {
		var rec recorded
		err := scanNodes(t.ctx, t.c, qRecordedClaims(len(chunk)), anySlice(chunk), func(n regapi.Node) {
			rec.node = n
			found[n.ClaimID] = rec
		}, &rec.groupID, &rec.claimKey, &rec.credential)
		if err != nil {
			return nil, fmt.Errorf("look up claim ids: %w", err)
		}
	}
	return found, nil
}

// admit checks a unit's claims, reserves its explicit nicknames and returns
// the claims that become new rows. Claims already recorded are answered
// from existing (with a new credential when one came). A unitError rejects
// the unit (and undoes its writes).
func (t *claimTx) admit(ui int, u *claimUnit, existing map[string]recorded, answers []regapi.Node) ([]*newNode, error) {
	var fresh []*newNode
	var problems []error
	var renew []renewal // credentials to replace, once the unit is admitted
	fps := map[*shardRow]string{}
	for i, r := range u.reqs {
		if rec, ok := existing[r.ClaimID]; ok {
			if err := checkRepeat(r, rec); err != nil {
				problems = append(problems, err)
				continue
			}
			if r.CredentialHash != "" && r.CredentialHash != rec.credential {
				renew = append(renew, renewal{node: rec.node.ID, hash: r.CredentialHash})
			}
			answers[i] = rec.node
			continue
		}
		if m := r.member; m != nil {
			var ue unitError
			if err := t.takeSeat(m); errors.As(err, &ue) {
				problems = append(problems, ue.err)
				continue
			} else if err != nil {
				return nil, err
			}
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
		fresh = append(fresh, &newNode{unit: ui, idx: i, req: r, shard: s, actor: u.actor})
	}
	if len(problems) > 0 {
		return nil, unitError{errors.Join(problems...)}
	}
	if err := t.reserveExplicit(fresh); err != nil {
		return nil, err
	}
	if err := t.renewCredentials(renew, u.actor); err != nil {
		return nil, err
	}
	for s, fp := range fps {
		if s.fp != fp {
			s.fp, s.fpChanged = fp, true
		}
	}
	return fresh, nil
}

// checkRepeat says whether a claim whose id is already recorded may be
// answered with the recorded node.
func checkRepeat(r claim, rec recorded) error {
	n := rec.node
	m := r.member
	switch {
	case m == nil && rec.groupID != 0:
		return fmt.Errorf("%w: claim id %q belongs to a member of group %s", regapi.ErrConflict, r.ClaimID, n.Group)
	case m == nil && (n.Shard != r.Shard || n.Role != r.Role):
		return fmt.Errorf("%w: claim id %q was already used for a %s node of %s", regapi.ErrInvalid, r.ClaimID, n.Role, n.Shard)
	case m == nil:
		return nil
	case rec.groupID != m.groupID:
		return fmt.Errorf("%w: instance %s is recorded outside group %s", regapi.ErrConflict, r.InstanceID, m.group)
	case rec.claimKey != m.keyHash:
		return fmt.Errorf("%w: instance %s of group %s claimed node %s with another claim key; an instance claims once", regapi.ErrClaimKey, r.InstanceID, m.group, n.Nickname)
	case n.State == regapi.StateRetired:
		return fmt.Errorf("%w: instance %s of group %s had node %s, which was retired; an instance claims once (a new instance has a new id)",
			regapi.ErrConflict, r.InstanceID, m.group, n.Nickname)
	}
	return nil
}

// takeSeat admits one new member of a group: the group must be active and
// below its max size, counting the members this batch admitted before.
func (t *claimTx) takeSeat(m *memberClaim) error {
	g, ok := t.groups[m.groupID]
	if !ok {
		g = &groupSeat{}
		var state string
		if err := t.c.scanRow(t.ctx, qGroupOfClaim, []any{m.groupID}, &state, &g.max); err != nil {
			return fmt.Errorf("read group %s: %w", m.group, err)
		}
		if err := t.c.scanRow(t.ctx, qGroupLiveMembers, []any{m.groupID}, &g.live); err != nil {
			return fmt.Errorf("count members of group %s: %w", m.group, err)
		}
		g.active = state == string(regapi.GroupActive)
		t.groups[m.groupID] = g
	}
	switch {
	case !g.active:
		return unitError{fmt.Errorf("%w: group %s was retired: it takes no claims", regapi.ErrConflict, m.group)}
	case g.live >= g.max:
		return unitError{fmt.Errorf("%w: group %s has %d live members, its max size: retire one, or raise it (packer-plugin-jitsi group set %s --max-size N)",
			regapi.ErrGroupFull, m.group, g.live, m.group)}
	}
	g.live++
	return nil
}

// renewal is a node credential to replace: the node's id and the new
// credential's hash.
type renewal struct {
	node int64
	hash string
}

// renewCredentials replaces the credentials of nodes claimed again, and logs
// that they changed (not what they are).
func (t *claimTx) renewCredentials(rs []renewal, actor string) error {
	evs := make([]event, len(rs))
	for i, r := range rs {
		if _, err := t.c.ExecContext(t.ctx, qSetNodeCredential, r.hash, t.at, actor, r.node); err != nil {
			return fmt.Errorf("renew node credential: %w", err)
		}
		evs[i] = event{node: r.node, kind: "credential", actor: actor}
	}
	return insertEvents(t.ctx, t.c, t.at, evs)
}

// reserveExplicit checks a unit's explicit names against live nodes and this
// batch, and cuts numbered ones out of their free ranges. A savepoint undoes
// the cuts if a later name of the unit is refused.
func (t *claimTx) reserveExplicit(fresh []*newNode) error {
	var explicit []*newNode
	for _, n := range fresh {
		if n.req.Nickname != regapi.AutoNickname {
			explicit = append(explicit, n)
		}
	}
	if len(explicit) == 0 {
		return nil
	}
	if _, err := t.c.ExecContext(t.ctx, qSavepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	mine := map[seriesKey]bool{}
	seriesBefore := maps.Clone(t.series)
	for _, n := range explicit {
		key := seriesKey{n.shard.id, n.req.Nickname}
		if err := t.reserve(n, t.taken[key] || mine[key]); err != nil {
			t.series = seriesBefore // series created since the savepoint are undone too
			if _, rerr := t.c.ExecContext(t.ctx, qRollbackToSavepoint); rerr != nil {
				return fmt.Errorf("rollback to savepoint: %w", rerr)
			}
			if _, rerr := t.c.ExecContext(t.ctx, qReleaseSavepoint); rerr != nil {
				return fmt.Errorf("release savepoint: %w", rerr)
			}
			return err
		}
		mine[key] = true
		n.nickname = n.req.Nickname
	}
	if _, err := t.c.ExecContext(t.ctx, qReleaseSavepoint); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	for k := range mine {
		t.taken[k] = true
	}
	return nil
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
