package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The writing half of a claim batch: numbers for auto nicknames, then the
// rows and the COMMIT in one exec.

// allocate gives every auto claim the lowest free numbers of its series.
//
// When the transaction has sent nothing yet (no read, no write: every claim
// auto, one series, nothing to check) and the memo holds the series' hint,
// the numbers are taken by the compare-and-swap that write sends with the
// INSERT: the whole batch is then one exec. Otherwise each series is taken
// here, inside the transaction: in one statement when its lowest free range
// holds more than the batch needs, else by reading the lowest ranges.
func (t *claimTx) allocate(fresh []*newNode) error {
	var order []seriesKey
	bySeries := map[seriesKey][]*newNode{}
	for _, n := range fresh {
		if n.nickname != "" {
			continue
		}
		key := seriesKey{n.shard.id, n.req.Role}
		if _, ok := bySeries[key]; !ok {
			order = append(order, key)
		}
		bySeries[key] = append(bySeries[key], n)
	}
	if len(order) == 1 && t.trust.hints && !t.c.begun {
		key := order[0]
		if lo, ok := t.memo.hints[key]; ok {
			nodes := bySeries[key]
			t.take = &hintTake{key: key, lo: lo, k: len(nodes)}
			for i, n := range nodes {
				n.nickname = formatNickname(key.prefix, lo+int64(i))
			}
			return nil
		}
	}
	for _, key := range order {
		nodes := bySeries[key]
		if err := t.ensureSeries(key); err != nil {
			return err
		}
		first, ok, err := t.takeFromLowest(key, len(nodes))
		if err != nil {
			return err
		}
		if ok {
			for i, n := range nodes {
				n.nickname = formatNickname(key.prefix, first+int64(i))
			}
			t.nextHints[key] = first + int64(len(nodes))
			continue
		}
		t.nextHints[key] = 0
		ranges, err := readRanges(t.ctx, t.c, qLowestRanges, key.shard, key.prefix, len(nodes))
		if err != nil {
			return err
		}
		nums, ch, err := planTake(ranges, len(nodes))
		if err != nil {
			return fmt.Errorf("allocate %s nicknames in %s: %w", key.prefix, nodes[0].shard.fqdn, err)
		}
		if err := t.applyRange(key, ch); err != nil {
			return err
		}
		for i, n := range nodes {
			n.nickname = formatNickname(key.prefix, nums[i])
		}
	}
	return nil
}

// write records the shards' new secret checks, then sends the new rows and
// the COMMIT in one exec (with the compare-and-swap take in front, when
// allocate chose it). SQLite numbers the rows of a multi-row INSERT
// consecutively, one above the table's highest rowid (we hold the write
// lock), so the last id tells them all.
func (t *claimTx) write(fresh []*newNode, out []unitOutcome) error {
	if err := t.recordFingerprints(); err != nil {
		return err
	}
	if len(fresh) == 0 {
		return nil // the transaction, if any, is committed by txOnce
	}
	if len(fresh) > maxClaimsPerTx {
		return fmt.Errorf("insert nodes: %d claims in one transaction, at most %d", len(fresh), maxClaimsPerTx)
	}
	q := qInsertNodes(len(fresh))
	if tk := t.take; tk != nil {
		q = qTakeAtHint(tk.key, tk.k, tk.lo) + "; " + qInsertNodesIfChanged(len(fresh))
	}
	res, err := t.c.execAndCommit(t.ctx, q, t.nodeArgs(fresh)...)
	if err != nil {
		if t.trust.unrecorded && isConstraint(err) {
			// A claim id recorded before (or, should the free ranges ever
			// disagree with the rows, a live name): rolled back whole.
			return fmt.Errorf("insert nodes: %w: %w", errClaimRecorded, err)
		}
		return fmt.Errorf("insert nodes: %w", err)
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert nodes: %w", err)
	}
	if t.take != nil && inserted == 0 {
		// The swap missed: the empty transaction committed, nothing was
		// written. Not an error of the attempt, so the connection is kept.
		t.missed = true
		return nil
	}
	if inserted != int64(len(fresh)) {
		return fmt.Errorf("insert nodes: %d rows inserted for %d claims", inserted, len(fresh))
	}
	last, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert nodes: %w", err)
	}
	at, err := parseDBTime(t.at)
	if err != nil {
		return err
	}
	for i, n := range fresh {
		out[n.unit].nodes[n.idx] = n.recorded(last-int64(len(fresh)-1-i), at)
	}
	if tk := t.take; tk != nil {
		t.nextHints[tk.key] = tk.lo + int64(tk.k)
		t.oneExec.Add(1)
	}
	return nil
}

// state is the state n is recorded in.
func (n *newNode) state() regapi.State {
	if n.req.Pending {
		return regapi.StatePending
	}
	return regapi.StateIssued
}

// recorded is the node n became: row id, recorded at at.
func (n *newNode) recorded(id int64, at time.Time) regapi.Node {
	nd := regapi.Node{ID: id, ClaimID: n.req.ClaimID, Shard: n.shard.fqdn, Role: n.req.Role, Nickname: n.nickname,
		State: n.state(), ImageID: n.req.ImageID, InstanceID: n.req.InstanceID, Created: at, Updated: at}
	if n.req.member != nil {
		nd.Group = n.req.member.group
	}
	return nd
}

// nodeArgs are the values of nodeInsertColumns for nodes.
func (t *claimTx) nodeArgs(nodes []*newNode) []any {
	args := make([]any, 0, len(nodes)*nodeInsertColumnCount)
	for _, n := range nodes {
		var group, keyHash, credential, expires any // NULL unless set
		if m := n.req.member; m != nil {
			group, keyHash = m.groupID, m.keyHash
		}
		if n.req.CredentialHash != "" {
			credential = n.req.CredentialHash
		}
		if n.req.Pending {
			expires = t.expires
		}
		args = append(args, n.req.ClaimID, n.shard.id, n.req.Role, n.nickname, string(n.state()),
			n.req.ImageID, n.req.InstanceID, t.at, t.at, n.actor, group, credential, keyHash, expires)
	}
	return args
}

// recordFingerprints stores the shards' new secret fingerprints and logs it.
func (t *claimTx) recordFingerprints() error {
	var evs []event
	for _, s := range t.shards {
		if !s.fpChanged {
			continue
		}
		if _, err := t.c.ExecContext(t.ctx, qSetShardFingerprint, s.fp, s.id); err != nil {
			return fmt.Errorf("record secret fingerprint: %w", err)
		}
		kind := "secret-recorded"
		if s.hadFP {
			kind = "secret-changed"
		}
		evs = append(evs, event{shard: s.id, kind: kind})
	}
	slices.SortFunc(evs, func(a, b event) int { return int(a.shard - b.shard) }) // deterministic order
	return insertEvents(t.ctx, t.c, t.at, evs)
}

// takeFromLowest takes k numbers in one statement when the lowest free range
// holds more than k (planTake's common case); ok is false otherwise.
func (t *claimTx) takeFromLowest(key seriesKey, k int) (first int64, ok bool, err error) {
	err = t.c.scanRow(t.ctx, qTakeFromLowest, []any{k, key.shard, key.prefix}, &first)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("take free numbers: %w", err)
	}
	return first, true, nil
}

// ensureSeries creates a series with all its numbers free on first use.
func (t *claimTx) ensureSeries(key seriesKey) error {
	if t.series[key] || t.memo.series[key] {
		return nil
	}
	var one int
	err := t.c.scanRow(t.ctx, qSeriesExists, []any{key.shard, key.prefix}, &one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := t.c.ExecContext(t.ctx, qInsertSeries, key.shard, key.prefix); err != nil {
			return fmt.Errorf("create nickname series: %w", err)
		}
		if err := t.applyRange(key, rangeChange{Insert: []numRange{{Lo: 1, Hi: MaxNumber}}}); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("read nickname series: %w", err)
	}
	t.series[key] = true
	return nil
}

func (t *claimTx) rangeRow(q string, key seriesKey, n int64) (numRange, bool, error) {
	var r numRange
	err := t.c.scanRow(t.ctx, q, []any{key.shard, key.prefix, n}, &r.Lo, &r.Hi)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read free numbers: %w", err)
	}
	return r, true, nil
}

func (t *claimTx) applyRange(key seriesKey, ch rangeChange) error {
	return applyRangeChange(t.ctx, t.c, key, ch)
}

// event is one row of the append-only event log.
type event struct {
	shard, node int64
	kind, actor string
	detail      map[string]string
}

func insertEvents(ctx context.Context, c *tx, at string, evs []event) error {
	for chunk := range slices.Chunk(evs, maxRowsPerInsert) {
		args := make([]any, 0, len(chunk)*eventInsertColumnCount)
		for _, e := range chunk {
			detail := ""
			if len(e.detail) > 0 {
				b, err := json.Marshal(e.detail)
				if err != nil {
					return fmt.Errorf("encode event: %w", err)
				}
				detail = string(b)
			}
			args = append(args, at, e.kind, nullID(e.shard), nullID(e.node), e.actor, detail)
		}
		if _, err := c.ExecContext(ctx, qInsertEvents(len(chunk)), args...); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
