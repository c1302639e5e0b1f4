package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"fmt"
	"sort"
	"strings"
)

// Listings: a page of nodes in one of regapi.Sorts. CROSS JOIN fixes the
// join order (SQLite keeps the left table outside): the walk of the order's
// index is the outer loop, and each row's shard a lookup. Each order walks an
// index from the page's cursor (a keyset seek) and checks the filters on
// the way, so listing a whole selection walks the index once, page by page,
// and never sorts the fleet. Claims write none of the indexes used only
// here (see nodes_by_state); nickname order merges the shards' own index.
//
//	id, created  the rowid (ids are given in creation order)
//	state        nodes_by_state for the states a claim never writes, the
//	             rowid for pending and issued; state by state, by name
//	shard        the shards by name (their UNIQUE index), then nodes_nickname
//	nickname     nodes_nickname of each shard, merged (reads a page per shard)

// stateIndexed is the WHERE of nodes_by_state: the states no claim writes.
const stateIndexed = `state NOT IN ('pending', 'issued')`

func stateIsIndexed(s regapi.State) bool { return s != regapi.StatePending && s != regapi.StateIssued }

// listQuery is one statement of a page of nodes; its last argument is the LIMIT.
type listQuery struct {
	q    string
	args []any
}

// listFilters are f's conditions but the state (an access path here).
func listFilters(f regapi.Filter) ([]string, []any) {
	var where []string
	var args []any
	cond := func(c string, a any) { where, args = append(where, c), append(args, a) }
	if f.Shard != "" {
		cond(`s.jms_fqdn = ?`, f.Shard)
	}
	if f.Role != "" {
		cond(`n.role = ?`, f.Role)
	}
	if f.Group != "" {
		cond(`n.group_id IN (SELECT id FROM groups WHERE name = ?)`, f.Group)
	}
	if f.ImageID != "" {
		cond(`n.image_id = ?`, f.ImageID)
	}
	return where, args
}

// qPage builds one statement: from (with its index choice), conditions,
// order, limit.
func qPage(f regapi.Filter, from string, extra []string, extraArgs []any, order string) listQuery {
	where, args := listFilters(f)
	where, args = append(where, extra...), append(args, extraArgs...)
	q := nodeColumns + from + ` LEFT JOIN groups g ON g.id = n.group_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return listQuery{q + ` ORDER BY ` + order + ` LIMIT ?`, append(args, f.Limit)}
}

// byState is the access path to one state's nodes in id order. The state
// is a validated enum, written into the SQL so that SQLite can see that
// the partial index holds it.
func byState(st regapi.State) (from string, cond string) {
	lit := sqlQuote(string(st))
	if stateIsIndexed(st) {
		return ` FROM nodes n INDEXED BY nodes_by_state CROSS JOIN shards s ON s.id = n.shard_id`,
			`n.state = ` + lit + ` AND n.` + stateIndexed
	}
	return ` FROM nodes n NOT INDEXED CROSS JOIN shards s ON s.id = n.shard_id`, `n.state = ` + lit
}

// qListNodes is a page of f (checked; Limit > 0) in every order but
// nickname's: statements to run in turn until the page is full.
func qListNodes(f regapi.Filter) []listQuery {
	order := f.SortOrDefault()
	var k regapi.Keyset
	started := f.After != ""
	if started {
		k, _ = regapi.DecodeCursor(order, f.After) // CheckFilter decoded it
	} else if f.AfterID > 0 {
		k.ID, started = f.AfterID, true
	}
	switch order {
	case regapi.SortState:
		var out []listQuery
		for _, st := range statesByName(f.State) {
			if started && string(st) < k.Text {
				continue
			}
			after := int64(0)
			if started && string(st) == k.Text {
				after = k.ID
			}
			from, cond := byState(st)
			out = append(out, qPage(f, from, []string{cond, `n.id > ?`}, []any{after}, `n.id`))
		}
		return out
	case regapi.SortShard:
		// CROSS JOIN keeps the shards (by name) the outer loop.
		from := ` FROM shards s CROSS JOIN nodes n INDEXED BY nodes_nickname ON n.shard_id = s.id`
		var extra []string
		var args []any
		if f.State != "" {
			extra, args = []string{`n.state = ?`}, []any{string(f.State)}
		}
		if !started {
			return []listQuery{qPage(f, from, extra, args, `s.jms_fqdn, n.nickname, n.released`)}
		}
		return []listQuery{
			qPage(f, from, append(extra, `s.jms_fqdn = ?`, `(n.nickname, n.released) > (?, ?)`), append(args, k.Text, k.Nickname, k.Released),
				`s.jms_fqdn, n.nickname, n.released`),
			qPage(f, from, append(extra, `s.jms_fqdn > ?`), append(args, k.Text), `s.jms_fqdn, n.nickname, n.released`),
		}
	}
	// id and created: the rowid, or a state's access path.
	from, extra := ` FROM nodes n NOT INDEXED CROSS JOIN shards s ON s.id = n.shard_id`, []string(nil)
	if f.State != "" {
		var cond string
		from, cond = byState(f.State)
		extra = append(extra, cond)
	}
	return []listQuery{qPage(f, from, append(extra, `n.id > ?`), []any{k.ID}, `n.id`)}
}

// statesByName are the states in the order of their names (only want's).
func statesByName(want regapi.State) []regapi.State {
	var out []regapi.State
	for _, st := range regapi.States {
		if want == "" || st == want {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

const qShardsByName = `SELECT id, jms_fqdn FROM shards ORDER BY jms_fqdn`

// qNicknamesOfShard is a page of one shard's nodes in nickname order
// (nodes_nickname), after the cursor: a shard before the cursor's shard
// starts after its nickname, the cursor's shard after its nickname and
// released, a later shard at its nickname.
func qNicknamesOfShard(f regapi.Filter, shardID int64, fqdn string, k regapi.Keyset, started bool) listQuery {
	from := ` FROM nodes n INDEXED BY nodes_nickname CROSS JOIN shards s ON s.id = n.shard_id`
	extra, args := []string{`n.shard_id = ?`}, []any{shardID}
	if f.State != "" {
		extra, args = append(extra, `n.state = ?`), append(args, string(f.State))
	}
	switch {
	case !started:
	case fqdn < k.Shard:
		extra, args = append(extra, `n.nickname > ?`), append(args, k.Text)
	case fqdn == k.Shard:
		extra, args = append(extra, `(n.nickname, n.released) > (?, ?)`), append(args, k.Text, k.Released)
	default:
		extra, args = append(extra, `n.nickname >= ?`), append(args, k.Text)
	}
	return qPage(f, from, extra, args, `n.nickname, n.released`)
}

// Nodes lists the nodes matching f in f's order (by id by default): one
// page of f.Limit when it is set (see regapi.ForEachNode), else all.
func (r *Registry) Nodes(ctx context.Context, f regapi.Filter) ([]regapi.Node, error) {
	if err := regapi.CheckFilter(f); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	if f.Limit == 0 {
		var all []regapi.Node
		err := regapi.ForEachNode(ctx, r, f, func(page []regapi.Node) error {
			all = append(all, page...)
			return nil
		})
		return all, err
	}
	var out []regapi.Node
	err := r.read(ctx, func(ctx context.Context) error {
		var err error
		if f.SortOrDefault() == regapi.SortNickname {
			out, err = r.nicknamePage(ctx, f)
			return err
		}
		out = nil
		for _, lq := range qListNodes(f) {
			if len(out) >= f.Limit {
				break
			}
			lq.args[len(lq.args)-1] = f.Limit - len(out)
			if err := scanNodes(ctx, r.db, lq.q, lq.args, func(n regapi.Node) { out = append(out, n) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}

// nicknamePage merges a page from each shard's nickname index, keeping at
// most two pages in memory.
func (r *Registry) nicknamePage(ctx context.Context, f regapi.Filter) ([]regapi.Node, error) {
	var k regapi.Keyset
	started := f.After != ""
	if started {
		k, _ = regapi.DecodeCursor(regapi.SortNickname, f.After)
	}
	type shard struct {
		id   int64
		fqdn string
	}
	var shards []shard
	rows, err := r.db.QueryContext(ctx, qShardsByName)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s shard
		if err := rows.Scan(&s.id, &s.fqdn); err != nil {
			rows.Close()
			return nil, err
		}
		if f.Shard == "" || s.fqdn == f.Shard {
			shards = append(shards, s)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	var page []regapi.Node
	for _, s := range shards {
		lq := qNicknamesOfShard(f, s.id, s.fqdn, k, started)
		var more []regapi.Node
		if err := scanNodes(ctx, r.db, lq.q, lq.args, func(n regapi.Node) { more = append(more, n) }); err != nil {
			return nil, err
		}
		page = append(page, more...)
		sort.Slice(page, func(i, j int) bool { return nicknameLess(page[i], page[j]) })
		page = page[:min(len(page), f.Limit)]
	}
	return page, nil
}

// nicknameLess is SortNickname's order: nickname, shard, live before retired.
func nicknameLess(a, b regapi.Node) bool {
	if a.Nickname != b.Nickname {
		return a.Nickname < b.Nickname
	}
	if a.Shard != b.Shard {
		return a.Shard < b.Shard
	}
	return released(a) < released(b)
}

func released(n regapi.Node) int64 {
	if n.State == regapi.StateRetired {
		return n.ID
	}
	return 0
}
