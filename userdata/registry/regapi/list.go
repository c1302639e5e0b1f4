package regapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Listing nodes page by page, in one of a few orders. Every order is
// total and a page is a keyset seek (After) in an index: the registry never
// sorts or holds the fleet, and neither does a client.

// Sort is an order of Nodes.
type Sort string

// The orders of Nodes. Each ends with what makes it total.
const (
	// SortID (the default): by id, i.e. in issue order.
	SortID Sort = "id"
	// SortNickname: by nickname, then the JMS's FQDN, the live node before
	// retired ones (oldest first).
	SortNickname Sort = "nickname"
	// SortCreated: in the order the nodes were created — which is id order:
	// the registry gives ids in creation order, while the times it records
	// come from the leader's clock and may step back when leadership moves.
	SortCreated Sort = "created"
	// SortState: by state (its name), then id.
	SortState Sort = "state"
	// SortShard: by the JMS's FQDN, then nickname, the live node before
	// retired ones (oldest first).
	SortShard Sort = "shard"
)

// Sorts lists the orders.
var Sorts = []Sort{SortID, SortNickname, SortCreated, SortState, SortShard}

// DefaultPageSize is how many nodes ForEachNode asks for at a time unless
// told otherwise (the HTTP API's most).
const DefaultPageSize = MaxPageSize

// cursor is where a page ends in its order: the sort key of its last node.
type cursor struct {
	Sort     Sort   `json:"s"`
	ID       int64  `json:"i"`
	Text     string `json:"t,omitempty"` // nickname, state, shard
	Nickname string `json:"n,omitempty"` // SortShard
	Shard    string `json:"h,omitempty"` // SortNickname
	Released int64  `json:"r,omitempty"` // SortShard, SortNickname: 0 for a live node, else its id
}

// CursorAfter returns the cursor (Filter.After) of the page that follows
// node n in order s.
func CursorAfter(s Sort, n Node) string {
	c := cursor{Sort: s, ID: n.ID}
	if n.State == StateRetired {
		c.Released = n.ID
	}
	switch s {
	case SortNickname:
		c.Text, c.Shard = n.Nickname, n.Shard
	case SortState:
		c.Text = string(n.State)
	case SortShard:
		c.Text, c.Nickname = n.Shard, n.Nickname
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Keyset is a decoded Filter.After, for the store.
type Keyset struct {
	ID       int64
	Text     string
	Nickname string
	Shard    string
	Released int64
}

// DecodeCursor reads Filter.After for order s.
func DecodeCursor(s Sort, after string) (Keyset, error) {
	raw, err := base64.RawURLEncoding.DecodeString(after)
	var c cursor
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil || c.ID < 0 {
		return Keyset{}, fmt.Errorf("%w: after: not a cursor of this registry (take next from the previous page)", ErrInvalid)
	}
	if c.Sort != s {
		return Keyset{}, fmt.Errorf("%w: after: a cursor of sort %q used with sort %q", ErrInvalid, c.Sort, s)
	}
	return Keyset{ID: c.ID, Text: c.Text, Nickname: c.Nickname, Shard: c.Shard, Released: c.Released}, nil
}

// SortOrDefault is f.Sort, or SortID.
func (f Filter) SortOrDefault() Sort {
	if f.Sort == "" {
		return SortID
	}
	return f.Sort
}

// nodesQueryKeys are the query parameters of GET /v1/nodes.
var nodesQueryKeys = []string{"shard", "state", "role", "group", "image", "sort", "after", "after_id", "limit"}

// Query is f as GET /v1/nodes parameters.
func (f Filter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"shard": f.Shard, "state": string(f.State), "role": f.Role, "group": f.Group,
		"image": f.ImageID, "sort": string(f.Sort), "after": f.After} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.AfterID > 0 {
		q.Set("after_id", strconv.FormatInt(f.AfterID, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(min(f.Limit, MaxPageSize)))
	}
	return q
}

// ParseNodesQuery reads GET /v1/nodes parameters into a checked Filter
// whose Limit is at most MaxPageSize (and MaxPageSize when not given).
func ParseNodesQuery(q url.Values) (Filter, error) {
	f := Filter{Shard: q.Get("shard"), State: State(q.Get("state")), Role: q.Get("role"), Group: q.Get("group"),
		ImageID: q.Get("image"), Sort: Sort(q.Get("sort")), After: q.Get("after"), Limit: MaxPageSize}
	for k := range q {
		known := false
		for _, n := range nodesQueryKeys {
			known = known || k == n
		}
		if !known {
			return f, fmt.Errorf("%w: query: unknown parameter %q (use %s)", ErrInvalid, k, strings.Join(nodesQueryKeys, ", "))
		}
	}
	if v := q.Get("after_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, fmt.Errorf("%w: query: after_id=%q is not a non-negative integer", ErrInvalid, v)
		}
		f.AfterID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return f, fmt.Errorf("%w: query: limit=%q: want 1 to %d", ErrInvalid, v, MaxPageSize)
		}
		f.Limit = n
	}
	return f, CheckFilter(f)
}

// NodesPageOf is the answer to a page request f: the nodes, and where the
// next page starts when this one is full.
func NodesPageOf(f Filter, nodes []Node) NodesPage {
	out := NodesPage{Nodes: nodes}
	if out.Nodes == nil {
		out.Nodes = []Node{}
	}
	if f.Limit > 0 && len(nodes) == f.Limit {
		last := nodes[len(nodes)-1]
		out.Next = CursorAfter(f.SortOrDefault(), last)
		if f.SortOrDefault() == SortID {
			out.NextAfterID = last.ID
		}
	}
	return out
}

// Pager is a store's one-page listing: Registry.Nodes, Client.Nodes.
type Pager interface {
	Nodes(ctx context.Context, f Filter) ([]Node, error)
}

// ForEachNode calls each with every node matching f, in f's order, asking
// the store for one page at a time — f.Limit nodes, DefaultPageSize when
// 0 — so memory does not grow with the fleet. It starts after f.After (or
// f.AfterID). A store that answers less than a full page has no more.
func ForEachNode(ctx context.Context, store Pager, f Filter, each func([]Node) error) error {
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	s := f.SortOrDefault()
	for {
		page, err := store.Nodes(ctx, f)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := each(page); err != nil {
				return err
			}
		}
		if len(page) < f.Limit {
			return nil
		}
		f.After, f.AfterID = CursorAfter(s, page[len(page)-1]), 0
	}
}
