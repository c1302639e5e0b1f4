package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SetState moves a node to state to and records reason as its Reason. A
// retired node frees its nickname (and its number, for "<prefix>-NNN" names)
// for the next claim; a failed node keeps them. Calling it again with the
// node's current state and reason changes nothing (a retry after a lost
// answer); with another reason it records that reason, except on a retired
// node, which is final.
func (r *Registry) SetState(ctx context.Context, ref regapi.NodeRef, to regapi.State, reason string) (regapi.Node, error) {
	return r.ReportState(ctx, ref, to, reason, "")
}

// ReportState is SetState that also records imageID (when not empty) as
// the node's image, in the same transaction: a node's report of the image
// it booted (regapi.Report). A retired node's image is left as it was.
func (r *Registry) ReportState(ctx context.Context, ref regapi.NodeRef, to regapi.State, reason, imageID string) (regapi.Node, error) {
	err := regapi.CheckStateChange(ref, to, reason)
	if err == nil {
		err = regapi.CheckImageID(imageID)
	}
	if err != nil {
		return regapi.Node{}, fmt.Errorf("set state: %w", err)
	}
	if to == regapi.StatePending {
		return regapi.Node{}, fmt.Errorf("set state: %w: state: pending is where issue records a node; a node never goes back to it", regapi.ErrInvalid)
	}
	actor := regapi.ActorFrom(ctx)
	// Resolve a nickname to the node's id once: should a COMMIT fail after
	// being applied, the retry must see the same node (now in state to), not
	// look for a live holder of the name that is no longer there.
	id := ref.ID
	if id == 0 {
		err := r.read(ctx, func(ctx context.Context) error {
			nodes, err := queryNodes(ctx, r.db, qLiveNodeByNickname, ref.Shard, ref.Nickname)
			if err == nil && len(nodes) == 0 {
				return fmt.Errorf("%w: no live node is named %s in shard %s (see `nodes --shard %s`)", regapi.ErrNotFound, ref.Nickname, ref.Shard, ref.Shard)
			}
			if err == nil {
				id = nodes[0].ID
			}
			return err
		})
		if err != nil {
			return regapi.Node{}, fmt.Errorf("set state: %w", err)
		}
	}
	var out regapi.Node
	err = r.write(ctx, func(ctx context.Context, c *tx) error {
		nodes, err := queryNodes(ctx, c, qNodeByID, id)
		if err != nil {
			return fmt.Errorf("read node: %w", err)
		}
		if len(nodes) == 0 {
			return fmt.Errorf("%w: no node has id %d", regapi.ErrNotFound, id)
		}
		n := nodes[0]
		if err := regapi.CheckTransition(n.State, to); err != nil {
			return fmt.Errorf("node %d (%s): %w", n.ID, n.Nickname, err)
		}
		if imageID != "" && imageID != n.ImageID && n.State != regapi.StateRetired {
			if _, err := c.ExecContext(ctx, qSetNodeImage, imageID, n.ID); err != nil {
				return fmt.Errorf("update node image: %w", err)
			}
			n.ImageID = imageID
		}
		if n.State == to && (n.Reason == reason || to == regapi.StateRetired) {
			out = n
			return nil
		}
		now := r.opts.now()
		at := dbTime(now)
		if _, err := c.ExecContext(ctx, qUpdateNodeState, string(to), reason, at, n.ID, actor); err != nil {
			return fmt.Errorf("update node: %w", err)
		}
		var shardID int64
		if err := c.scanRow(ctx, qNodeShardID, []any{n.ID}, &shardID); err != nil {
			return fmt.Errorf("read node shard: %w", err)
		}
		if to == regapi.StateRetired {
			if err := releaseNumber(ctx, c, shardID, n.Nickname); err != nil {
				return err
			}
		}
		// The state event is written by a trigger on nodes.
		n.State, n.Reason, n.Updated = to, reason, mustParseDBTime(at)
		out = n
		return nil
	})
	if err != nil {
		return regapi.Node{}, fmt.Errorf("set state: %w", err)
	}
	return out, nil
}

// releaseNumber returns a retired numbered nickname's number to its series.
func releaseNumber(ctx context.Context, c *tx, shardID int64, nickname string) error {
	prefix, n, ok := parseNumbered(nickname)
	if !ok {
		return nil
	}
	key := seriesKey{shardID, prefix}
	var one int
	err := c.scanRow(ctx, qSeriesExists, []any{shardID, prefix}, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // a series that never existed has every number free
	}
	if err != nil {
		return fmt.Errorf("read nickname series: %w", err)
	}
	below, err := readRanges(ctx, c, qRangeAtOrBelow, shardID, prefix, n)
	if err != nil {
		return err
	}
	above, err := readRanges(ctx, c, qRangeAt, shardID, prefix, n+1)
	if err != nil {
		return err
	}
	var b, a *numRange
	if len(below) > 0 {
		b = &below[0]
	}
	if len(above) > 0 {
		a = &above[0]
	}
	return applyRangeChange(ctx, c, key, planRelease(n, b, a))
}

// RecordImage records a baked image; recording an artifact id again updates it.
func (r *Registry) RecordImage(ctx context.Context, img regapi.Image) (regapi.Image, error) {
	if err := regapi.CheckImage(img); err != nil {
		return regapi.Image{}, fmt.Errorf("record image: %w", err)
	}
	if img.Versions == nil {
		img.Versions = map[string]string{}
	}
	versions, err := json.Marshal(img.Versions) // sorted keys: deterministic
	if err != nil {
		return regapi.Image{}, fmt.Errorf("record image: encode versions: %w", err)
	}
	built := dbTime(img.Built)
	img.Built = mustParseDBTime(built)
	err = r.write(ctx, func(ctx context.Context, c *tx) error {
		at := dbTime(r.opts.now())
		if _, err := c.ExecContext(ctx, qUpsertImage, img.ArtifactID, img.Role, img.OS, string(versions), built, at,
			img.BuildID, img.Arch, img.AgentVersion); err != nil {
			return fmt.Errorf("upsert image: %w", err)
		}
		return insertEvents(ctx, c, at, []event{{kind: "image", actor: regapi.ActorFrom(ctx),
			detail: map[string]string{"artifact_id": img.ArtifactID, "role": img.Role, "os": img.OS, "build_id": img.BuildID}}})
	})
	if err != nil {
		return regapi.Image{}, fmt.Errorf("record image: %w", err)
	}
	return img, nil
}

// Images lists recorded images, oldest build first.
func (r *Registry) Images(ctx context.Context) ([]regapi.Image, error) {
	var out []regapi.Image
	err := r.read(ctx, func(ctx context.Context) error {
		out = nil
		rows, err := r.db.QueryContext(ctx, qListImages)
		if err != nil {
			return err
		}
		for rows.Next() {
			var img regapi.Image
			var versions, built string
			if err := rows.Scan(&img.ArtifactID, &img.Role, &img.OS, &versions, &built, &img.BuildID, &img.Arch, &img.AgentVersion); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal([]byte(versions), &img.Versions); err != nil {
				rows.Close()
				return fmt.Errorf("decode versions of %s: %w", img.ArtifactID, err)
			}
			if img.Built, err = parseDBTime(built); err != nil {
				rows.Close()
				return err
			}
			out = append(out, img)
		}
		return closeRows(rows)
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// Event is one entry of the append-only event log. Actor is who made the
// change (regapi.ActorFrom): operator, node:<id>, group:<name> or registry;
// empty for events of registries before schema version 4.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Events returns a node's event log, oldest first.
func (r *Registry) Events(ctx context.Context, nodeID int64) ([]Event, error) {
	var out []Event
	err := r.read(ctx, func(ctx context.Context) error {
		out = nil
		rows, err := r.db.QueryContext(ctx, qEventsOfNode, nodeID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e Event
			var at string
			if err := rows.Scan(&at, &e.Kind, &e.Actor, &e.Detail); err != nil {
				rows.Close()
				return err
			}
			if e.At, err = parseDBTime(at); err != nil {
				rows.Close()
				return err
			}
			out = append(out, e)
		}
		return closeRows(rows)
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// querier is *sql.DB or *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryNodes runs a query selecting nodeColumns.
func queryNodes(ctx context.Context, q querier, query string, args ...any) ([]regapi.Node, error) {
	var out []regapi.Node
	err := scanNodes(ctx, q, query, args, func(n regapi.Node) { out = append(out, n) })
	return out, err
}

// scanNodes runs a query selecting nodeColumns and then the columns extra
// points to, and calls each with every row.
func scanNodes(ctx context.Context, q querier, query string, args []any, each func(regapi.Node), extra ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n regapi.Node
		var state, created, updated string
		dest := append([]any{&n.ID, &n.ClaimID, &n.Shard, &n.Role, &n.Nickname, &state, &n.Reason,
			&n.ImageID, &n.InstanceID, &n.Group, &created, &updated}, extra...)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		n.State = regapi.State(state)
		if n.Created, err = parseDBTime(created); err == nil {
			n.Updated, err = parseDBTime(updated)
		}
		if err != nil {
			rows.Close()
			return err
		}
		each(n)
	}
	return closeRows(rows)
}

func readRanges(ctx context.Context, q querier, query string, args ...any) ([]numRange, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read free numbers: %w", err)
	}
	var out []numRange
	for rows.Next() {
		var r numRange
		if err := rows.Scan(&r.Lo, &r.Hi); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read free numbers: %w", err)
		}
		out = append(out, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("read free numbers: %w", err)
	}
	return out, nil
}

func applyRangeChange(ctx context.Context, c *tx, key seriesKey, ch rangeChange) error {
	if len(ch.Delete) > 0 {
		args := append([]any{key.shard, key.prefix}, anySlice(ch.Delete)...)
		if _, err := c.ExecContext(ctx, qDeleteRanges(len(ch.Delete)), args...); err != nil {
			return fmt.Errorf("update free numbers: %w", err)
		}
	}
	if r := ch.Raise; r != nil {
		if _, err := c.ExecContext(ctx, qRaiseRange, r.To, key.shard, key.prefix, r.From); err != nil {
			return fmt.Errorf("update free numbers: %w", err)
		}
	}
	if len(ch.Insert) > 0 {
		args := make([]any, 0, 4*len(ch.Insert))
		for _, r := range ch.Insert {
			args = append(args, key.shard, key.prefix, r.Lo, r.Hi)
		}
		if _, err := c.ExecContext(ctx, qInsertRanges(len(ch.Insert)), args...); err != nil {
			return fmt.Errorf("update free numbers: %w", err)
		}
	}
	return nil
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// closeRows closes rows and reports the iteration error, if any.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

func mustParseDBTime(s string) time.Time {
	t, err := parseDBTime(s)
	if err != nil {
		panic(err) // s came from dbTime
	}
	return t
}
