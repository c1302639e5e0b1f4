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

// The writing half of a claim batch: numbers for auto nicknames, the rows,
// the event log.

// allocate gives every auto claim the lowest free numbers of its series.
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
	for _, key := range order {
		nodes := bySeries[key]
		if err := t.ensureSeries(key); err != nil {
			return err
		}
		first, ok, err := t.takeAtHint(key, len(nodes))
		if err == nil && !ok {
			first, ok, err = t.takeFromLowest(key, len(nodes))
		}
		if err != nil {
			return err
		}
		if ok {
			for i, n := range nodes {
				n.nickname = formatNickname(key.prefix, first+int64(i))
			}
			t.learned[key] = first + int64(len(nodes))
			continue
		}
		t.learned[key] = 0
		ranges, err := t.rangeRows(qLowestRanges, key.shard, key.prefix, len(nodes))
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

// insert writes the new rows, last in the transaction: in the common case
// (up to maxRowsPerInsert rows) with the COMMIT in the same round trip.
func (t *claimTx) insert(fresh []*newNode, out []unitOutcome) error {
	at, err := parseDBTime(t.at)
	if err != nil {
		return err
	}
	if err := t.recordFingerprints(); err != nil {
		return err
	}
	answer := func(n *newNode, id int64) { out[n.unit].nodes[n.idx] = n.issued(id, at) }
	if len(fresh) == 0 {
		return nil
	}
	if len(fresh) <= maxRowsPerInsert {
		// SQLite numbers the rows of a multi-row INSERT consecutively, one
		// above the table's highest rowid (we hold the write lock), so the
		// last id tells them all.
		res, err := t.c.execAndCommit(t.ctx, qInsertNodes(len(fresh)), t.nodeArgs(fresh)...)
		if err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
		last, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
		for i, n := range fresh {
			answer(n, last-int64(len(fresh)-1-i))
		}
		return nil
	}
	for chunk := range slices.Chunk(fresh, maxRowsPerInsert) {
		byClaim := make(map[string]*newNode, len(chunk))
		for _, n := range chunk {
			byClaim[n.req.ClaimID] = n
		}
		rows, err := t.c.QueryContext(t.ctx, qInsertNodes(len(chunk))+qReturningIDs, t.nodeArgs(chunk)...)
		if err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
		got := 0
		for rows.Next() {
			var id int64
			var claimID string
			if err := rows.Scan(&id, &claimID); err != nil {
				rows.Close()
				return fmt.Errorf("insert nodes: %w", err)
			}
			n := byClaim[claimID]
			if n == nil {
				rows.Close()
				return fmt.Errorf("insert nodes: unexpected claim id %q returned", claimID)
			}
			answer(n, id)
			got++
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
		if got != len(chunk) {
			return fmt.Errorf("insert nodes: %d ids returned for %d rows", got, len(chunk))
		}
	}
	return nil
}

// issued is the node n became: row id, issued at at.
func (n *newNode) issued(id int64, at time.Time) regapi.Node {
	return regapi.Node{ID: id, ClaimID: n.req.ClaimID, Shard: n.shard.fqdn, Role: n.req.Role, Nickname: n.nickname,
		State: regapi.StateIssued, ImageID: n.req.ImageID, InstanceID: n.req.InstanceID, Created: at, Updated: at}
}

func (t *claimTx) nodeArgs(nodes []*newNode) []any {
	args := make([]any, 0, len(nodes)*nodeInsertColumnCount)
	for _, n := range nodes {
		args = append(args, n.req.ClaimID, n.shard.id, n.req.Role, n.nickname, string(regapi.StateIssued),
			n.req.ImageID, n.req.InstanceID, t.at, t.at)
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

// takeAtHint is takeFromLowest without reading first: a compare-and-swap on
// the range the hint says is the lowest. The UPDATE checks, under the write
// lock, that the range still starts there, is still the lowest and holds more
// than k numbers; no row changed means the hint was stale (another node
// claimed, a number was released) and the caller reads instead. As the
// batch's first exec it also carries BEGIN: one round trip for the lot.
func (t *claimTx) takeAtHint(key seriesKey, k int) (first int64, ok bool, err error) {
	lo, known := t.hints[key]
	if !known {
		return 0, false, nil
	}
	res, err := t.c.ExecContext(t.ctx, qTakeAtHint, k, key.shard, key.prefix, lo)
	if err != nil {
		return 0, false, fmt.Errorf("take free numbers: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, false, fmt.Errorf("take free numbers: %w", err)
	}
	return lo, n == 1, nil
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
	if t.series[key] || t.facts.seriesExists(key) {
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

func (t *claimTx) rangeRows(q string, args ...any) ([]numRange, error) {
	return readRanges(t.ctx, t.c, q, args...)
}

func (t *claimTx) applyRange(key seriesKey, ch rangeChange) error {
	return applyRangeChange(t.ctx, t.c, key, ch)
}

// event is one row of the append-only event log.
type event struct {
	shard, node int64
	kind        string
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
			args = append(args, at, e.kind, nullID(e.shard), nullID(e.node), detail)
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
