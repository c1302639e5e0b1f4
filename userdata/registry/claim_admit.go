package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// The reading and checking half of a claim batch: the shards, the claim ids
// already recorded, and each unit's admission — its checks (repeated
// claims, secrets, group seats) and explicit nicknames.

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
