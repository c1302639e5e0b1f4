package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func pendingJVB() regapi.ClaimRequest {
	q := jvb("")
	q.Pending = true
	return q
}

func TestPendingNodesAreConfirmedAllOrNone(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	nodes, err := r.Claim(ctx, pendingJVB(), pendingJVB(), pendingJVB())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.State != regapi.StatePending {
			t.Fatalf("claimed %+v, want pending", n)
		}
	}
	// A pending node holds its name.
	if _, err := r.Claim(ctx, jvb("jvb-002")); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("claiming a pending node's name: %v, want ErrConflict", err)
	}
	confirmed, err := r.Confirm(ctx, nodes[0].ID, nodes[1].ID)
	if err != nil || len(confirmed) != 2 || confirmed[0].State != regapi.StateIssued || confirmed[1].State != regapi.StateIssued {
		t.Fatalf("confirm: %+v, %v", confirmed, err)
	}
	// Confirming again changes nothing; a node past issued stays where it is.
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: nodes[0].ID}, regapi.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	again, err := r.Confirm(ctx, nodes[0].ID, nodes[1].ID, nodes[2].ID)
	if err != nil || again[0].State != regapi.StateActive || again[1].State != regapi.StateIssued || again[2].State != regapi.StateIssued {
		t.Errorf("confirm again: %+v, %v", again, err)
	}
	if _, err := r.Confirm(ctx, nodes[0].ID, 999); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("confirm an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: nodes[1].ID}, regapi.StatePending, ""); !errors.Is(err, regapi.ErrInvalid) {
		t.Errorf("set state pending: %v, want ErrInvalid", err)
	}
	evs, err := r.Events(ctx, nodes[1].ID)
	if err != nil || len(evs) != 2 || !strings.Contains(evs[1].Detail, `"from":"pending","to":"issued"`) {
		t.Errorf("history of a confirmed node: %+v, %v", evs, err)
	}
}

func TestExpiredPendingNodesFreeTheirNames(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	r, _ := openTemp(t, WithClock(clk.Now))
	ctx := testCtx(t, 30*time.Second)
	stale, err := r.Claim(ctx, pendingJVB(), pendingJVB())
	if err != nil {
		t.Fatal(err)
	}
	clk.add(PendingExpiry / 2)
	younger := claimOne(t, r, pendingJVB()) // jvb-003
	booted := stale[1]
	// A node whose user-data got out before the run died may boot and
	// report: it is then no longer pending and does not expire.
	if _, err := r.SetState(regapi.WithActor(ctx, regapi.NodeActor(booted.ID)), regapi.NodeRef{ID: booted.ID}, regapi.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReapExpired(ctx); err != nil || n != 0 {
		t.Fatalf("reap before expiry: %d, %v", n, err)
	}
	clk.add(PendingExpiry/2 + time.Second)
	if n, err := r.ReapExpired(ctx); err != nil || n != 1 {
		t.Fatalf("reap after expiry: %d, %v; want the one unconfirmed node", n, err)
	}
	all, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if all[0].State != regapi.StateRetired || !strings.Contains(all[0].Reason, "never confirmed") ||
		all[1].State != regapi.StateActive || all[2].State != regapi.StatePending {
		t.Errorf("after reaping: %+v", all)
	}
	evs, _ := r.Events(ctx, all[0].ID)
	if len(evs) != 2 || evs[1].Actor != regapi.ActorRegistry {
		t.Errorf("history of the expired node: %+v", evs)
	}
	if _, err := r.Confirm(ctx, stale[0].ID); !errors.Is(err, regapi.ErrTransition) || !strings.Contains(err.Error(), "issue again") {
		t.Errorf("confirming an expired node: %v, want ErrTransition", err)
	}
	if got := claimOne(t, r, jvb("")).Nickname; got != stale[0].Nickname {
		t.Errorf("after expiry, auto gave %s, want the freed %s", got, stale[0].Nickname)
	}
	if _, err := r.Confirm(ctx, younger.ID); err != nil {
		t.Errorf("confirming the younger pending node: %v", err)
	}
}
