package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// Autoscaling groups and the credentials that name who holds them (see
// regapi's group.go and credential.go). The registry stores hashes only.

// RecordGroup implements regapi.Store.
func (r *Registry) RecordGroup(ctx context.Context, req regapi.GroupRequest) (regapi.Group, error) {
	if err := regapi.CheckGroupRequest(req); err != nil {
		return regapi.Group{}, fmt.Errorf("record group: %w", err)
	}
	actor := regapi.ActorFrom(ctx)
	var out regapi.Group
	err := r.write(ctx, func(ctx context.Context, c *tx) error {
		at := dbTime(r.opts.now())
		var shardID int64
		var fqdn, fp string
		if err := c.scanRow(ctx, qUpsertShards(1), []any{req.Shard, at}, &shardID, &fqdn, &fp); err != nil {
			return fmt.Errorf("record shard: %w", err)
		}
		g, id, err := liveGroup(ctx, c, req.Name)
		var ev map[string]string
		switch {
		case errors.Is(err, regapi.ErrNotFound):
			maxSize := req.MaxSize
			if maxSize == 0 {
				maxSize = regapi.DefaultGroupMaxSize
			}
			res, err := c.ExecContext(ctx, qInsertGroup, req.Name, shardID, req.Role, req.Format, req.NAT, maxSize, at, at)
			if err != nil {
				return fmt.Errorf("create group: %w", err)
			}
			if id, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("create group: %w", err)
			}
			ev = map[string]string{"action": "created", "max_size": strconv.Itoa(maxSize)}
		case err != nil:
			return err
		case g.Shard != req.Shard || g.Role != req.Role:
			return fmt.Errorf("%w: group %s serves the %s nodes of %s, for good: retire it first (packer-plugin-jitsi group retire %s) to use its name for %s nodes of %s",
				regapi.ErrConflict, req.Name, g.Role, g.Shard, req.Name, req.Role, req.Shard)
		default:
			maxSize := req.MaxSize
			if maxSize == 0 {
				maxSize = g.MaxSize
			}
			if g.Format != req.Format || g.NAT != req.NAT || g.MaxSize != maxSize {
				if _, err := c.ExecContext(ctx, qUpdateGroup, req.Format, req.NAT, maxSize, at, id); err != nil {
					return fmt.Errorf("update group: %w", err)
				}
				ev = map[string]string{"action": "updated", "max_size": strconv.Itoa(maxSize)}
			}
		}
		evs := []event{}
		if ev != nil {
			ev["group"], ev["format"], ev["nat"] = req.Name, req.Format, req.NAT
			evs = append(evs, event{shard: shardID, kind: "group", actor: actor, detail: ev})
		}
		if req.TokenHash != "" {
			if _, err := c.ExecContext(ctx, qInsertGroupToken, req.TokenHash, id, at); err != nil {
				return fmt.Errorf("record group token: %w", err)
			}
			evs = append(evs, event{shard: shardID, kind: "group", actor: actor, detail: map[string]string{"group": req.Name, "action": "token"}})
		}
		if err := insertEvents(ctx, c, at, evs); err != nil {
			return err
		}
		out, err = groupByID(ctx, c, id)
		return err
	})
	if err != nil {
		return regapi.Group{}, fmt.Errorf("record group: %w", err)
	}
	return out, nil
}

// Groups implements regapi.Store.
func (r *Registry) Groups(ctx context.Context) ([]regapi.Group, error) {
	var out []regapi.Group
	err := r.read(ctx, func(ctx context.Context) error {
		var err error
		out, _, err = queryGroups(ctx, r.db, qListGroups)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out, nil
}

// RetireGroup implements regapi.Store.
func (r *Registry) RetireGroup(ctx context.Context, name string) (regapi.Group, error) {
	if err := regapi.CheckGroupName(name); err != nil {
		return regapi.Group{}, fmt.Errorf("retire group: %w", err)
	}
	actor := regapi.ActorFrom(ctx)
	var out regapi.Group
	err := r.write(ctx, func(ctx context.Context, c *tx) error {
		_, id, err := liveGroup(ctx, c, name)
		if err != nil {
			return err
		}
		at := dbTime(r.opts.now())
		revoked, err := revokeTokens(ctx, c, id, at, false)
		if err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, qRetireGroup, at, id); err != nil {
			return fmt.Errorf("retire group: %w", err)
		}
		if out, err = groupByID(ctx, c, id); err != nil {
			return err
		}
		return insertEvents(ctx, c, at, []event{{kind: "group", actor: actor,
			detail: map[string]string{"group": name, "action": "retired", "revoked": strconv.Itoa(revoked)}}})
	})
	if err != nil {
		return regapi.Group{}, fmt.Errorf("retire group: %w", err)
	}
	return out, nil
}

// RevokeGroupTokens implements regapi.Store.
func (r *Registry) RevokeGroupTokens(ctx context.Context, name string, keepNewest bool) (int, error) {
	if err := regapi.CheckGroupName(name); err != nil {
		return 0, fmt.Errorf("revoke group tokens: %w", err)
	}
	actor := regapi.ActorFrom(ctx)
	revoked := 0
	err := r.write(ctx, func(ctx context.Context, c *tx) error {
		_, id, err := liveGroup(ctx, c, name)
		if err != nil {
			return err
		}
		at := dbTime(r.opts.now())
		if revoked, err = revokeTokens(ctx, c, id, at, keepNewest); err != nil {
			return err
		}
		return insertEvents(ctx, c, at, []event{{kind: "group", actor: actor,
			detail: map[string]string{"group": name, "action": "revoked", "revoked": strconv.Itoa(revoked)}}})
	})
	if err != nil {
		return 0, fmt.Errorf("revoke group tokens: %w", err)
	}
	return revoked, nil
}

// revokeTokens revokes group id's live tokens, all or all but the newest.
func revokeTokens(ctx context.Context, c *tx, id int64, at string, keepNewest bool) (int, error) {
	var newest sql.NullInt64
	if err := c.scanRow(ctx, qNewestGroupToken, []any{id}, &newest); err != nil {
		return 0, fmt.Errorf("read group tokens: %w", err)
	}
	if !newest.Valid {
		return 0, nil
	}
	upTo := newest.Int64
	if keepNewest {
		upTo--
	}
	res, err := c.ExecContext(ctx, qRevokeGroupTokens, at, id, upTo)
	if err != nil {
		return 0, fmt.Errorf("revoke group tokens: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Authenticate returns who holds the credential whose hash is given: a live
// node (its own credential) or an active group (a live token). Unknown,
// revoked and retired credentials are ErrNotFound. Only the hash is looked
// up, so neither the credential nor its hash needs to reach a log.
func (r *Registry) Authenticate(ctx context.Context, hash string) (regapi.Principal, error) {
	if !regapi.ValidHash(hash) {
		return regapi.Principal{}, fmt.Errorf("authenticate: %w: not a credential hash", regapi.ErrInvalid)
	}
	var p regapi.Principal
	err := r.read(ctx, func(ctx context.Context) error {
		nodes, err := queryNodes(ctx, r.db, qNodeByCredential, hash)
		if err != nil {
			return err
		}
		if len(nodes) == 1 {
			p = regapi.Principal{Kind: regapi.CredentialNode, Node: nodes[0]}
			return nil
		}
		err = r.db.QueryRowContext(ctx, qGroupByToken, hash).Scan(&p.GroupID, &p.Group)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: unknown, revoked or retired credential", regapi.ErrNotFound)
		}
		p.Kind = regapi.CredentialGroup
		return err
	})
	if err != nil {
		return regapi.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// ClaimInGroup claims an identity for a member of group groupID (from its
// authenticated token): shard and role come from the group's record, the
// nickname is the lowest free one, the claim id is the group's and the
// instance's, and credentialHash is recorded as the node's own credential.
// A repeat with the same instance id and claim key returns the same node
// with credentialHash as its new credential; another claim key is refused
// (ErrClaimKey); a full group is refused (ErrGroupFull). The event log names
// the group as the actor.
func (r *Registry) ClaimInGroup(ctx context.Context, groupID int64, gc regapi.GroupClaim, credentialHash string) (regapi.Node, error) {
	if err := regapi.CheckGroupClaim(gc); err != nil {
		return regapi.Node{}, fmt.Errorf("claim in group: %w", err)
	}
	if !regapi.ValidHash(credentialHash) {
		return regapi.Node{}, fmt.Errorf("claim in group: %w: credential_hash is not a credential hash", regapi.ErrInvalid)
	}
	var g regapi.Group
	err := r.read(ctx, func(ctx context.Context) error {
		groups, _, err := queryGroups(ctx, r.db, qGroupByID, groupID)
		if err == nil && len(groups) == 0 {
			err = fmt.Errorf("%w: no group has id %d", regapi.ErrNotFound, groupID)
		}
		if err == nil {
			g = groups[0]
		}
		return err
	})
	if err != nil {
		return regapi.Node{}, fmt.Errorf("claim in group: %w", err)
	}
	if g.State != regapi.GroupActive {
		return regapi.Node{}, fmt.Errorf("claim in group: %w: group %s was retired: it takes no claims", regapi.ErrConflict, g.Name)
	}
	c := claim{
		ClaimRequest: regapi.ClaimRequest{ClaimID: memberClaimID(groupID, gc.InstanceID), Shard: g.Shard, Role: g.Role,
			Nickname: regapi.AutoNickname, ImageID: gc.ImageID, InstanceID: gc.InstanceID, CredentialHash: credentialHash},
		member: &memberClaim{groupID: groupID, group: g.Name, keyHash: regapi.HashCredential(gc.ClaimKey)},
	}
	nodes, err := r.submit(regapi.WithActor(ctx, regapi.GroupActor(g.Name)), []claim{c})
	if err != nil {
		return regapi.Node{}, fmt.Errorf("claim in group: %w", err)
	}
	return nodes[0], nil
}

// memberClaimID is the claim id of a group member: one per group and
// instance, so an instance claims once.
func memberClaimID(groupID int64, instanceID string) string {
	return "g" + strconv.FormatInt(groupID, 10) + ":" + instanceID
}

// liveGroup reads the active group named name and its row id.
func liveGroup(ctx context.Context, q querier, name string) (regapi.Group, int64, error) {
	groups, ids, err := queryGroups(ctx, q, qLiveGroupByName, name)
	if err != nil {
		return regapi.Group{}, 0, fmt.Errorf("read group: %w", err)
	}
	if len(groups) == 0 {
		return regapi.Group{}, 0, fmt.Errorf("%w: no live group is named %s (see packer-plugin-jitsi group list)", regapi.ErrNotFound, name)
	}
	return groups[0], ids[0], nil
}

func groupByID(ctx context.Context, q querier, id int64) (regapi.Group, error) {
	groups, _, err := queryGroups(ctx, q, qGroupByID, id)
	if err != nil || len(groups) == 0 {
		return regapi.Group{}, fmt.Errorf("read group %d: %w", id, errors.Join(err, sql.ErrNoRows))
	}
	return groups[0], nil
}

// queryGroups runs a query selecting groupColumns.
func queryGroups(ctx context.Context, q querier, query string, args ...any) ([]regapi.Group, []int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	var out []regapi.Group
	var ids []int64
	for rows.Next() {
		var g regapi.Group
		var id int64
		var state, created, updated string
		if err := rows.Scan(&id, &g.Name, &g.Shard, &g.Role, &g.Format, &g.NAT, &g.MaxSize, &state, &created, &updated,
			&g.Members, &g.Tokens); err != nil {
			rows.Close()
			return nil, nil, err
		}
		g.State = regapi.GroupState(state)
		if g.Created, err = parseDBTime(created); err == nil {
			g.Updated, err = parseDBTime(updated)
		}
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		out, ids = append(out, g), append(ids, id)
	}
	return out, ids, closeRows(rows)
}
