package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pending nodes: all-or-none across a crash.
//
// `issue` records its nodes as pending (ClaimRequest.Pending), writes their
// user-data to temporary files, renames them into place, then confirms the
// nodes (Confirm: pending → issued). So no node is issued without its
// user-data on disk. A run killed half-way leaves pending nodes: the next
// issue into the same place finishes or undoes its work (cli), and a
// pending node nobody confirmed expires after PendingExpiry — the registry
// retires it (actor "registry") and its name is free again.

// PendingExpiry is how long a pending node holds its name unconfirmed.
const PendingExpiry = 10 * time.Minute

// reapEvery is how often an open registry retires expired pending nodes.
const reapEvery = time.Minute

// reapedReason is the reason recorded for a pending node that expired.
var reapedReason = fmt.Sprintf("pending for %s: the issue that recorded it never confirmed its user-data (interrupted); its name is free again", PendingExpiry)

// Confirm implements regapi.Store: pending → issued, all or none.
func (r *Registry) Confirm(ctx context.Context, ids ...int64) ([]regapi.Node, error) {
	if err := checkIDs(ids); err != nil {
		return nil, fmt.Errorf("confirm nodes: %w", err)
	}
	actor := regapi.ActorFrom(ctx)
	var out []regapi.Node
	err := r.write(ctx, func(ctx context.Context, c *tx) error {
		states := map[int64]string{}
		names := map[int64]string{}
		for chunk := range slices.Chunk(ids, maxRowsPerInsert) {
			rows, err := c.QueryContext(ctx, qNodeStates(len(chunk)), anySlice(chunk)...)
			if err != nil {
				return fmt.Errorf("read nodes: %w", err)
			}
			for rows.Next() {
				var id int64
				var state, name string
				if err := rows.Scan(&id, &state, &name); err != nil {
					rows.Close()
					return fmt.Errorf("read nodes: %w", err)
				}
				states[id], names[id] = state, name
			}
			if err := closeRows(rows); err != nil {
				return fmt.Errorf("read nodes: %w", err)
			}
		}
		var missing, gone []string
		for _, id := range ids {
			switch states[id] {
			case "":
				missing = append(missing, fmt.Sprint(id))
			case string(regapi.StateRetired):
				gone = append(gone, fmt.Sprintf("%d (%s)", id, names[id]))
			}
		}
		switch {
		case len(missing) > 0:
			return fmt.Errorf("%w: no node has id %s", regapi.ErrNotFound, strings.Join(missing, ", "))
		case len(gone) > 0:
			return fmt.Errorf("%w: node %s was retired before its issue was confirmed (a pending node expires after %s): issue again",
				regapi.ErrTransition, strings.Join(gone, ", "), PendingExpiry)
		}
		at := dbTime(r.opts.now())
		for chunk := range slices.Chunk(ids, maxRowsPerInsert) {
			if _, err := c.ExecContext(ctx, qConfirmNodes(len(chunk)), append([]any{at, actor}, anySlice(chunk)...)...); err != nil {
				return fmt.Errorf("confirm nodes: %w", err)
			}
		}
		out = out[:0]
		for chunk := range slices.Chunk(ids, maxRowsPerInsert) {
			nodes, err := queryNodes(ctx, c, qNodesByID(len(chunk)), anySlice(chunk)...)
			if err != nil {
				return fmt.Errorf("read nodes: %w", err)
			}
			out = append(out, nodes...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("confirm nodes: %w", err)
	}
	return out, nil
}

// checkIDs validates a list of node ids.
func checkIDs(ids []int64) error {
	if len(ids) == 0 || len(ids) > regapi.MaxClaimsPerRequest {
		return fmt.Errorf("%w: ids: give 1 to %d node ids (got %d)", regapi.ErrInvalid, regapi.MaxClaimsPerRequest, len(ids))
	}
	seen := make(map[int64]bool, len(ids))
	for i, id := range ids {
		if id <= 0 || seen[id] {
			return fmt.Errorf("%w: ids[%d]: %d is not a node id, or repeats one", regapi.ErrInvalid, i, id)
		}
		seen[id] = true
	}
	return nil
}

// ReapExpired retires the pending nodes whose expiry passed, freeing their
// names, and returns how many it retired. An open registry runs it on its
// own (reapLoop: at once, then every minute).
func (r *Registry) ReapExpired(ctx context.Context) (int, error) {
	const perRound = 500
	total := 0
	for {
		var ids []int64
		now := dbTime(r.opts.now())
		// Read first, on any connection: most rounds find nothing and then
		// take no write lock.
		err := r.read(ctx, func(ctx context.Context) error {
			ids = ids[:0]
			rows, err := r.db.QueryContext(ctx, qExpiredPending, now, perRound)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			return closeRows(rows)
		})
		if err != nil || len(ids) == 0 {
			if err != nil {
				err = fmt.Errorf("reap expired pending nodes: %w", err)
			}
			return total, err
		}
		n := 0
		err = r.write(ctx, func(ctx context.Context, c *tx) error {
			n = 0
			for _, id := range ids {
				done, err := retireIfExpired(ctx, c, id, now)
				if err != nil {
					return err
				}
				if done {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("reap expired pending nodes: %w", err)
		}
		total += n
		if len(ids) < perRound {
			return total, nil
		}
	}
}

// retireIfExpired retires node id if it is still pending and expired at now.
func retireIfExpired(ctx context.Context, c *tx, id int64, now string) (bool, error) {
	nodes, err := queryNodes(ctx, c, qNodeByID, id)
	if err != nil {
		return false, fmt.Errorf("read node: %w", err)
	}
	var expires string
	if len(nodes) == 0 || nodes[0].State != regapi.StatePending {
		return false, nil
	}
	if err := c.scanRow(ctx, qNodeExpiry, []any{id}, &expires); err != nil || expires > now {
		return false, err
	}
	if _, err := c.ExecContext(ctx, qUpdateNodeState, string(regapi.StateRetired), reapedReason, now, id, regapi.ActorRegistry); err != nil {
		return false, fmt.Errorf("retire expired node: %w", err)
	}
	var shardID int64
	if err := c.scanRow(ctx, qNodeShardID, []any{id}, &shardID); err != nil {
		return false, fmt.Errorf("read node shard: %w", err)
	}
	return true, releaseNumber(ctx, c, shardID, nodes[0].Nickname)
}

// reapLoop runs ReapExpired until the registry closes.
func (r *Registry) reapLoop() {
	defer close(r.reaped)
	tick := time.NewTicker(reapEvery)
	defer tick.Stop()
	for {
		if n, err := r.ReapExpired(r.ctx); err != nil && r.ctx.Err() == nil {
			r.opts.logf("registry: %v", err)
		} else if n > 0 {
			r.opts.logf("registry: retired %d pending node(s) whose issue never confirmed them", n)
		}
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		}
	}
}
