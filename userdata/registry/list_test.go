package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestListPagesWalkTheirSortsIndex: every page of every order, with every
// filter, walks an index (or the rowid) from the cursor and never sorts: a
// page costs the same with 100 or 100 000 nodes, and listing a whole
// selection walks the index once.
func TestListPagesWalkTheirSortsIndex(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	claimOne(t, r, jvb(""))
	last := regapi.Node{ID: 7, Nickname: "jvb-007", Shard: testShard, State: regapi.StateActive, Created: time.Unix(1e9, 0)}
	filters := map[string]regapi.Filter{
		"all": {}, "shard": {Shard: testShard}, "failed": {State: regapi.StateFailed}, "issued": {State: regapi.StateIssued},
		"shard+state+role": {Shard: testShard, State: regapi.StateActive, Role: "jvb"},
		"group":            {Group: "g"}, "image": {ImageID: "img"},
	}
	for _, s := range regapi.Sorts {
		for fname, f := range filters {
			for _, after := range []string{"", regapi.CursorAfter(s, last)} {
				f.Sort, f.After, f.Limit = s, after, 10
				var qs []listQuery
				if s == regapi.SortNickname {
					k, _ := regapi.DecodeCursor(s, after)
					for _, fq := range []string{"a.example.org", testShard, "z.example.org"} {
						qs = append(qs, qNicknamesOfShard(f, 1, fq, k, after != ""))
					}
				} else {
					qs = qListNodes(f)
				}
				for i, lq := range qs {
					name := fmt.Sprintf("sort %s, %s, after %t, #%d", s, fname, after != "", i)
					plan := explain(t, r, ctx, lq.q, lq.args...)
					joined := strings.Join(plan, " | ")
					if strings.Contains(joined, "TEMP B-TREE") {
						t.Errorf("%s sorts: %s", name, joined)
					}
					for _, step := range plan {
						if strings.HasPrefix(step, "SCAN") && !strings.Contains(step, "INDEX") && step != "SCAN n" {
							t.Errorf("%s scans a table: %s", name, joined)
						}
					}
					if strings.Contains(lq.q, "nodes_by_state") && !strings.Contains(joined, "nodes_by_state") {
						t.Errorf("%s does not use the state index: %s", name, joined)
					}
					t.Logf("%-40s %s", name, joined)
				}
			}
		}
	}
}

// TestClaimsDoNotWriteTheListingIndex: the state index holds no pending or
// issued node, so a claim leaves it alone.
func TestClaimsDoNotWriteTheListingIndex(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	for range 3 {
		claimOne(t, r, jvb(""))
	}
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM nodes INDEXED BY nodes_by_state WHERE `+stateIndexed).Scan(&n); err != nil || n != 0 {
		t.Errorf("the state index holds %d rows after claims (%v)", n, err)
	}
}

// explain is SQLite's plan of q with args, a step a line.
func explain(t *testing.T, r *Registry, ctx context.Context, q string, args ...any) []string {
	t.Helper()
	rows, err := r.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := closeRows(rows); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestListPagesMatchASortOfAll pages through a mixed fleet (three shards,
// every state, retired nicknames given again, a group, images) in every
// order with every filter, seven nodes a page, and compares with all nodes
// sorted and filtered here: no node lost, none twice, in order.
func TestListPagesMatchASortOfAll(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 2*time.Minute)
	gid, _ := newGroup(t, r, "asg", 50)
	for i, shard := range []string{"c.example.org", testShard, "b.example.org"} {
		var reqs []regapi.ClaimRequest
		for j := 0; j < 20+10*i; j++ {
			req := regapi.ClaimRequest{Shard: shard, Role: "jvb", Nickname: regapi.AutoNickname}
			if j%3 == 0 {
				req.ImageID = "img-1"
			}
			reqs = append(reqs, req)
		}
		nodes, err := r.Claim(ctx, reqs...)
		if err != nil {
			t.Fatal(err)
		}
		for j, n := range nodes {
			to := []regapi.State{regapi.StateActive, regapi.StateFailed, regapi.StateRetired, regapi.StateIssued}[j%4]
			if to != regapi.StateIssued {
				if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, to, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Retired names are given again: several rows per nickname.
		if _, err := r.Claim(ctx, reqs[:5]...); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		_, hash := regapi.NewCredential(regapi.CredentialNode)
		if _, err := r.ClaimInGroup(ctx, gid, member(fmt.Sprintf("i-%d", i)), hash); err != nil {
			t.Fatal(err)
		}
	}
	all, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	filters := []regapi.Filter{{}, {Shard: testShard}, {State: regapi.StateRetired}, {Shard: "b.example.org", State: regapi.StateActive},
		{Group: "asg"}, {ImageID: "img-1"}, {Role: "jms"}, {Shard: "nowhere.example.org"}}
	for _, s := range regapi.Sorts {
		for _, f := range filters {
			want := sortedSelection(all, s, f)
			var got []regapi.Node
			f.Sort, f.Limit = s, 7
			for {
				page, err := r.Nodes(ctx, f)
				if err != nil {
					t.Fatalf("sort %s filter %+v: %v", s, f, err)
				}
				got = append(got, page...)
				if len(page) < f.Limit {
					break
				}
				f.After = regapi.CursorAfter(s, page[len(page)-1])
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
				t.Errorf("sort %s filter %+v:\n got %v\nwant %v", s, f, ids(got), ids(want))
			}
		}
	}
}

func ids(nodes []regapi.Node) []int64 {
	out := make([]int64, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

// sortedSelection is what a listing must give, computed in memory.
func sortedSelection(all []regapi.Node, s regapi.Sort, f regapi.Filter) []regapi.Node {
	var out []regapi.Node
	for _, n := range all {
		if (f.Shard == "" || n.Shard == f.Shard) && (f.State == "" || n.State == f.State) && (f.Role == "" || n.Role == f.Role) &&
			(f.Group == "" || n.Group == f.Group) && (f.ImageID == "" || n.ImageID == f.ImageID) {
			out = append(out, n)
		}
	}
	less := map[regapi.Sort]func(a, b regapi.Node) bool{
		regapi.SortID:       func(a, b regapi.Node) bool { return a.ID < b.ID },
		regapi.SortNickname: nicknameLess,
		regapi.SortCreated:  func(a, b regapi.Node) bool { return a.ID < b.ID },
		regapi.SortState:    func(a, b regapi.Node) bool { return a.State < b.State || a.State == b.State && a.ID < b.ID },
		regapi.SortShard: func(a, b regapi.Node) bool {
			if a.Shard != b.Shard {
				return a.Shard < b.Shard
			}
			if a.Nickname != b.Nickname {
				return a.Nickname < b.Nickname
			}
			return released(a) < released(b)
		},
	}[s]
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}
