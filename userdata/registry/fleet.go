package registry

import (
	"context"
	"fmt"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Fleet returns the fleet in aggregate: shards, groups, images, and node
// counts by shard, role, state and image. Its cost grows with the nodes
// table only through one GROUP BY scan.
func (r *Registry) Fleet(ctx context.Context) (regapi.Fleet, error) {
	var f regapi.Fleet
	err := r.read(ctx, func(ctx context.Context) error {
		f = regapi.Fleet{}
		rows, err := r.db.QueryContext(ctx, qListShards)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s regapi.Shard
			var created string
			if err := rows.Scan(&s.FQDN, &created); err != nil {
				rows.Close()
				return err
			}
			if s.Created, err = parseDBTime(created); err != nil {
				rows.Close()
				return err
			}
			f.Shards = append(f.Shards, s)
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		if rows, err = r.db.QueryContext(ctx, qFleetCounts); err != nil {
			return err
		}
		for rows.Next() {
			var c regapi.FleetCount
			var state string
			if err := rows.Scan(&c.Shard, &c.Role, &state, &c.ImageID, &c.Nodes); err != nil {
				rows.Close()
				return err
			}
			c.State = regapi.State(state)
			f.Counts = append(f.Counts, c)
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		f.Groups, _, err = queryGroups(ctx, r.db, qListGroups)
		return err
	})
	if err != nil {
		return regapi.Fleet{}, fmt.Errorf("read fleet: %w", err)
	}
	if f.Images, err = r.Images(ctx); err != nil {
		return regapi.Fleet{}, fmt.Errorf("read fleet: %w", err)
	}
	return f, nil
}

// Attention lists a page of the live nodes that need an operator (see
// regapi.AttentionQuery), ordered by id.
func (r *Registry) Attention(ctx context.Context, q regapi.AttentionQuery) ([]regapi.Node, error) {
	if q.Limit <= 0 || q.Limit > regapi.MaxPageSize {
		q.Limit = regapi.MaxPageSize
	}
	args := []any{q.AfterID}
	if q.Stale {
		args = append(args, anySlice(q.StaleImages)...)
	}
	if q.Shard != "" {
		args = append(args, q.Shard)
	}
	args = append(args, q.Limit)
	var out []regapi.Node
	err := r.read(ctx, func(ctx context.Context) error {
		var err error
		out, err = queryNodes(ctx, r.db, qAttention(q.Stale, len(q.StaleImages), q.Shard != ""), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes that need attention: %w", err)
	}
	return out, nil
}

// LiveNodes lists a shard's live nodes of a role, ordered by id.
func (r *Registry) LiveNodes(ctx context.Context, shard, role string) ([]regapi.Node, error) {
	var out []regapi.Node
	err := r.read(ctx, func(ctx context.Context) error {
		var err error
		out, err = queryNodes(ctx, r.db, qLiveNodesOfShard, shard, role)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list live nodes of %s: %w", shard, err)
	}
	return out, nil
}
