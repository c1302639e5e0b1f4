package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"strings"
	"testing"
	"time"
)

// TestQueryPlansDoNotScan asks SQLite (through dqlite) how it runs every
// statement of the claim and state paths: each must seek an index (SEARCH),
// never walk a table (SCAN), so their cost does not grow with the fleet.
// (Foreign keys are enforced: a shard upsert checks its children by index.)
func TestQueryPlansDoNotScan(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	claimOne(t, r, jvb("")) // tables exist and hold a row
	for _, tc := range []struct {
		name string
		q    string
		args []any
	}{
		{"upsert shards", qUpsertShards(2), []any{"a.example.org", "t", "b.example.org", "t"}},
		{"recorded claims", qRecordedClaims(3), []any{"a", "b", "c"}},
		{"node by credential", qNodeByCredential, []any{"ab"}},
		{"group by token", qGroupByToken, []any{"ab"}},
		{"live group by name", qLiveGroupByName, []any{"g"}},
		{"group of claim", qGroupOfClaim, []any{1}},
		{"group live members", qGroupLiveMembers, []any{1}},
		{"set node credential", qSetNodeCredential, []any{"ab", "t", "operator", 1}},
		{"expired pending", qExpiredPending, []any{"t", 10}},
		{"confirm nodes", qConfirmNodes(2), []any{"t", "operator", 1, 2}},
		{"node states", qNodeStates(2), []any{1, 2}},
		{"live nickname taken", qLiveNicknameTaken, []any{1, "jvb-001"}},
		{"live node by nickname", qLiveNodeByNickname, []any{testShard, "jvb-001"}},
		{"node by id", qNodeByID, []any{1}},
		{"node shard", qNodeShardID, []any{1}},
		{"insert nodes", qInsertNodes(1), []any{"c", 1, "jvb", "jvb-009", "issued", "", "", "t", "t", "operator", nil, nil, nil, nil}},
		{"raise range", qRaiseRange, []any{9, 1, "jvb", 8}},
		{"series exists", qSeriesExists, []any{1, "jvb"}},
		{"lowest ranges", qLowestRanges, []any{1, "jvb", 16}},
		{"range at or below", qRangeAtOrBelow, []any{1, "jvb", 5}},
		{"range at", qRangeAt, []any{1, "jvb", 5}},
		{"delete ranges", qDeleteRanges(2), []any{1, "jvb", 1, 2}},
		{"update state", qUpdateNodeState, []any{"failed", "reason", "t", 1, "operator"}},
		{"shard fingerprint", qSetShardFingerprint, []any{"v1:0000", 1}},
		{"list by shard", mustList(regapi.Filter{Shard: testShard, Limit: 10}), listArgs(regapi.Filter{Shard: testShard, Limit: 10})},
		{"list failed of shard", mustList(regapi.Filter{Shard: testShard, State: regapi.StateFailed, Limit: 10}),
			listArgs(regapi.Filter{Shard: testShard, State: regapi.StateFailed, Limit: 10})},
		{"take from lowest", qTakeFromLowest, []any{16, 1, "jvb"}},
		{"take at hint", qTakeAtHint(seriesKey{1, "jvb"}, 16, 17), nil},
		{"insert nodes if changed", qInsertNodesIfChanged(1), []any{"c", 1, "jvb", "jvb-009", "issued", "", "", "t", "t", "operator", nil, nil, nil, nil}},
	} {
		plan := explain(t, r, ctx, tc.q, tc.args...)
		for _, step := range plan {
			// A VALUES list is no table: "SCAN n CONSTANT ROWS", or the
			// co-routine reading it, "SCAN (subquery-N)".
			if strings.HasPrefix(step, "SCAN") && !strings.Contains(step, "CONSTANT ROW") && !strings.HasPrefix(step, "SCAN (subquery-") {
				t.Errorf("%s scans: %q", tc.name, plan)
			}
		}
		t.Logf("%-22s %q", tc.name, plan)
	}
}

func listArgs(f regapi.Filter) []any { return qListNodes(f)[0].args }

func mustList(f regapi.Filter) string {
	return qListNodes(f)[0].q
}
