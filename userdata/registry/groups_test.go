package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// newGroup records group name (jvb bridges of testShard) with a fresh token
// and returns the group's row id and the token.
func newGroup(t *testing.T, r *Registry, name string, maxSize int) (int64, string) {
	t.Helper()
	tok, hash := regapi.NewCredential(regapi.CredentialGroup)
	if _, err := r.RecordGroup(testCtx(t, 10*time.Second), regapi.GroupRequest{Name: name, Shard: testShard, Role: "jvb",
		Format: "modern", NAT: "auto", MaxSize: maxSize, TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	p, err := r.Authenticate(testCtx(t, 10*time.Second), hash)
	if err != nil || p.Kind != regapi.CredentialGroup || p.Group != name {
		t.Fatalf("the new token of %s authenticates as %+v (%v)", name, p, err)
	}
	return p.GroupID, tok
}

func member(instance string) regapi.GroupClaim {
	return regapi.GroupClaim{InstanceID: instance, ClaimKey: "key-of-" + instance + "-0123456789abcdef"}
}

func TestGroupClaimsOncePerInstanceWithAFreshCredential(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	gid, _ := newGroup(t, r, "edge", 3)
	_, h1 := regapi.NewCredential(regapi.CredentialNode)
	a, err := r.ClaimInGroup(ctx, gid, member("i-a"), h1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Shard != testShard || a.Role != "jvb" || a.Nickname != "jvb-001" || a.Group != "edge" || a.InstanceID != "i-a" || a.State != regapi.StateIssued {
		t.Errorf("member: %+v", a)
	}
	if p, err := r.Authenticate(ctx, h1); err != nil || p.Kind != regapi.CredentialNode || p.Node.ID != a.ID {
		t.Errorf("the member's credential authenticates as %+v (%v)", p, err)
	}
	// The same instance and key: the same node, with a new credential that
	// replaces the first.
	_, h2 := regapi.NewCredential(regapi.CredentialNode)
	again, err := r.ClaimInGroup(ctx, gid, member("i-a"), h2)
	if err != nil || again.ID != a.ID || again.Nickname != a.Nickname {
		t.Fatalf("repeated claim: %+v, %v; want node %d", again, err, a.ID)
	}
	if _, err := r.Authenticate(ctx, h1); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("the replaced credential still authenticates: %v", err)
	}
	if p, err := r.Authenticate(ctx, h2); err != nil || p.Node.ID != a.ID {
		t.Errorf("the new credential authenticates as %+v (%v)", p, err)
	}
	// The same instance with another key is refused, and changes nothing.
	other := member("i-a")
	other.ClaimKey = "a-different-claim-key-0123456789"
	_, h3 := regapi.NewCredential(regapi.CredentialNode)
	if _, err := r.ClaimInGroup(ctx, gid, other, h3); !errors.Is(err, regapi.ErrClaimKey) {
		t.Errorf("same instance, other key: %v, want ErrClaimKey", err)
	}
	if _, err := r.Authenticate(ctx, h3); !errors.Is(err, regapi.ErrNotFound) {
		t.Error("a refused claim recorded its credential")
	}
	evs, err := r.Events(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != "issued" || evs[0].Actor != "group:edge" || evs[1].Kind != "credential" || evs[1].Actor != "group:edge" {
		t.Errorf("member history: %+v", evs)
	}
	// A retired member's instance does not come back.
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: a.ID}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, h2); !errors.Is(err, regapi.ErrNotFound) {
		t.Error("a retired node's credential still authenticates")
	}
	if _, err := r.ClaimInGroup(ctx, gid, member("i-a"), h3); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("claim of a retired member's instance: %v, want ErrConflict", err)
	}
}

func TestGroupMaxSizeCountsLiveMembers(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	gid, _ := newGroup(t, r, "small", 2)
	hash := func() string { _, h := regapi.NewCredential(regapi.CredentialNode); return h }
	a, err := r.ClaimInGroup(ctx, gid, member("i-1"), hash())
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent claims share batches: the max size holds inside one too.
	errs := make(chan error, 4)
	for _, inst := range []string{"i-2", "i-3", "i-4", "i-5"} {
		go func() { _, err := r.ClaimInGroup(ctx, gid, member(inst), hash()); errs <- err }()
	}
	full := 0
	for range 4 {
		if err := <-errs; errors.Is(err, regapi.ErrGroupFull) {
			full++
			if !strings.Contains(err.Error(), "group set small --max-size") {
				t.Errorf("a full group's refusal does not say what to do: %v", err)
			}
		} else if err != nil {
			t.Error(err)
		}
	}
	if full != 3 {
		t.Errorf("%d of 4 claims refused as group_full, want 3 (max size 2, one member)", full)
	}
	// Retiring a member frees a seat; raising the max size adds seats.
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: a.ID}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ClaimInGroup(ctx, gid, member("i-6"), hash()); err != nil {
		t.Errorf("claim after a member retired: %v", err)
	}
	if _, err := r.RecordGroup(ctx, regapi.GroupRequest{Name: "small", Shard: testShard, Role: "jvb", Format: "modern", NAT: "auto", MaxSize: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ClaimInGroup(ctx, gid, member("i-7"), hash()); err != nil {
		t.Errorf("claim after raising the max size: %v", err)
	}
	groups, err := r.Groups(ctx)
	if err != nil || len(groups) != 1 || groups[0].Members != 3 || groups[0].MaxSize != 3 || groups[0].Tokens != 1 {
		t.Errorf("groups: %+v (%v)", groups, err)
	}
}

func TestGroupRevocationAndRetirement(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	gid, _ := newGroup(t, r, "edge", 10)
	_, second := regapi.NewCredential(regapi.CredentialGroup)
	g, err := r.RecordGroup(ctx, regapi.GroupRequest{Name: "edge", Shard: testShard, Role: "jvb", Format: "modern", NAT: "auto", TokenHash: second})
	if err != nil || g.Tokens != 2 || g.MaxSize != 10 {
		t.Fatalf("re-issue: %+v, %v (want 2 live tokens, the max size kept)", g, err)
	}
	// The group's shard and role are fixed.
	if _, err := r.RecordGroup(ctx, regapi.GroupRequest{Name: "edge", Shard: "other.example.org", Role: "jvb", Format: "modern"}); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("moving a group to another shard: %v, want ErrConflict", err)
	}
	n, err := r.RevokeGroupTokens(ctx, "edge", true)
	if err != nil || n != 1 {
		t.Fatalf("revoke all but the newest: %d, %v", n, err)
	}
	if p, err := r.Authenticate(ctx, second); err != nil || p.GroupID != gid {
		t.Errorf("the newest token was revoked: %+v %v", p, err)
	}
	_, h := regapi.NewCredential(regapi.CredentialNode)
	m, err := r.ClaimInGroup(ctx, gid, member("i-1"), h)
	if err != nil {
		t.Fatal(err)
	}
	retired, err := r.RetireGroup(ctx, "edge")
	if err != nil || retired.State != regapi.GroupRetired || retired.Tokens != 0 {
		t.Fatalf("retire: %+v, %v", retired, err)
	}
	if _, err := r.Authenticate(ctx, second); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("a retired group's token authenticates: %v", err)
	}
	_, h2 := regapi.NewCredential(regapi.CredentialNode)
	if _, err := r.ClaimInGroup(ctx, gid, member("i-2"), h2); err == nil {
		t.Error("a retired group took a claim")
	}
	// Members keep their own credentials; the name may serve a new group.
	if p, err := r.Authenticate(ctx, h); err != nil || p.Node.ID != m.ID {
		t.Errorf("a member's credential after its group retired: %+v %v", p, err)
	}
	newID, _ := newGroup(t, r, "edge", 1)
	if newID == gid {
		t.Error("the new group reuses the retired one's id")
	}
	groups, _ := r.Groups(ctx)
	if len(groups) != 2 || groups[0].State != regapi.GroupActive || groups[1].State != regapi.GroupRetired {
		t.Errorf("groups: %+v", groups)
	}
	if _, err := r.RetireGroup(ctx, "nope"); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("retire an unknown group: %v", err)
	}
}

func TestGroupEventsNameTheirActor(t *testing.T) {
	r, _ := openTemp(t)
	ctx := regapi.WithActor(testCtx(t, 30*time.Second), regapi.ActorOperator)
	newGroup(t, r, "edge", 5)
	if _, err := r.RetireGroup(context.WithoutCancel(ctx), "edge"); err != nil {
		t.Fatal(err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT kind, actor, detail FROM events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var kind, actor, detail string
		if err := rows.Scan(&kind, &actor, &detail); err != nil {
			t.Fatal(err)
		}
		got = append(got, kind+" "+actor+" "+detail)
	}
	if err := closeRows(rows); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`group operator {"action":"created","format":"modern","group":"edge","max_size":"5","nat":"auto"}`,
		`group operator {"action":"token","group":"edge"}`,
		`group operator {"action":"retired","group":"edge","revoked":"1"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
