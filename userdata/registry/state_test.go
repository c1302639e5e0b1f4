package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const refused = "the JMS refused the bridge's XMPP login (not-authorized): the secret differs from the JMS's"

// TestFailedNodeKeepsNicknameWithReason walks a bridge through failed and
// back, checking the reason in SetState's answer, in Nodes and in the events.
func TestFailedNodeKeepsNicknameWithReason(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 60*time.Second)
	n := claimOne(t, r, jvb(""))
	got, err := r.SetState(ctx, regapi.NodeRef{Shard: testShard, Nickname: n.Nickname}, regapi.StateFailed, refused)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != regapi.StateFailed || got.Reason != refused || got.Nickname != "jvb-001" {
		t.Fatalf("SetState failed answered %+v", got)
	}
	listed, err := r.Nodes(ctx, regapi.Filter{State: regapi.StateFailed})
	if err != nil || len(listed) != 1 || listed[0].Reason != refused || listed[0].ID != n.ID {
		t.Fatalf("Nodes(state failed) = %+v, %v", listed, err)
	}
	// Failed is live: the nickname stays taken, "auto" picks the next one.
	if _, err := r.Claim(ctx, jvb("jvb-001")); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("claim jvb-001 held by a failed node: err = %v, want ErrConflict", err)
	}
	if next := claimOne(t, r, jvb("")); next.Nickname != "jvb-002" {
		t.Errorf("auto next to a failed jvb-001 gave %s, want jvb-002", next.Nickname)
	}
	// The same report again (a retry) changes nothing; another reason is recorded.
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateFailed, refused); err != nil {
		t.Fatal(err)
	}
	again, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateFailed, "prosody unreachable")
	if err != nil || again.Reason != "prosody unreachable" {
		t.Fatalf("failed again with another reason: %+v, %v", again, err)
	}
	// Fixed: back to active, and the reason is cleared.
	if ok, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateActive, ""); err != nil || ok.Reason != "" || ok.State != regapi.StateActive {
		t.Fatalf("failed → active: %+v, %v", ok, err)
	}
	if listed, _ := r.Nodes(ctx, regapi.Filter{Shard: testShard}); listed[0].Reason != "" {
		t.Errorf("after recovery the stored reason is %q", listed[0].Reason)
	}
	// Draining cannot fail; the refusal changes nothing.
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateDraining, "scale-in"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateFailed, refused); !errors.Is(err, regapi.ErrTransition) {
		t.Errorf("draining → failed: err = %v, want ErrTransition", err)
	}
	if listed, _ := r.Nodes(ctx, regapi.Filter{State: regapi.StateDraining}); len(listed) != 1 || listed[0].Reason != "scale-in" {
		t.Errorf("after a refused change: %+v", listed)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateRetired, "drained"); err != nil {
		t.Fatal(err)
	}
	// Retired is final: another reason is not recorded.
	if ret, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateRetired, "other"); err != nil || ret.Reason != "drained" {
		t.Errorf("retired again with another reason: %+v, %v", ret, err)
	}

	evs, err := r.Events(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got2 []string
	for _, e := range evs[1:] {
		var d struct{ From, To, Reason string }
		if e.Kind != "state" || json.Unmarshal([]byte(e.Detail), &d) != nil {
			t.Fatalf("event %+v", e)
		}
		got2 = append(got2, fmt.Sprintf("%s→%s %q", d.From, d.To, d.Reason))
	}
	want := []string{
		fmt.Sprintf("issued→failed %q", refused),
		`failed→failed "prosody unreachable"`,
		`failed→active ""`,
		`active→draining "scale-in"`,
		`draining→retired "drained"`,
	}
	if strings.Join(got2, "\n") != strings.Join(want, "\n") {
		t.Errorf("state events:\n%s\nwant:\n%s", strings.Join(got2, "\n"), strings.Join(want, "\n"))
	}
}

func TestFailedNodeRetiredFreesNickname(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	n := claimOne(t, r, jvb(""))
	for _, s := range []regapi.State{regapi.StateFailed, regapi.StateRetired} {
		if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, s, "x"); err != nil {
			t.Fatalf("→ %s: %v", s, err)
		}
	}
	if again := claimOne(t, r, jvb("")); again.Nickname != "jvb-001" {
		t.Errorf("after retiring the failed jvb-001, auto gave %s", again.Nickname)
	}
}

func TestSetStateRefusesBadReasons(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	n := claimOne(t, r, jvb(""))
	// Exactly MaxReasonBytes of multi-byte text is fine (bytes are counted).
	max := strings.Repeat("é", regapi.MaxReasonBytes/2)
	if got, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateFailed, max); err != nil || got.Reason != max {
		t.Fatalf("reason of %d bytes: %v", len(max), err)
	}
	for _, tc := range []struct {
		name, reason, want string
	}{
		{"too long", strings.Repeat("x", regapi.MaxReasonBytes+1), "reason: is 513 bytes long: at most 512 are allowed"},
		{"newline", "line one\nline two", "reason: has a control or other non-printing character (U+000A) at byte 8"},
		{"terminal escape", "ok \x1b[2J", "(U+001B) at byte 3"},
		{"bidi override", "abc\u202edef", "(U+202E) at byte 3"},
		{"not UTF-8", "bad \xff byte", "reason: is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateActive, tc.reason)
			if !errors.Is(err, regapi.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
	// All problems at once, each led by its field.
	_, err := r.SetState(ctx, regapi.NodeRef{Shard: "Bad", Nickname: "jvb-001"}, "up", "a\tb")
	for _, want := range []string{"shard: ", `state: "up" is not one of pending, issued, active, failed, draining, retired`, "reason: has a control"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
	// Nothing was changed by the refusals.
	if listed, _ := r.Nodes(ctx, regapi.Filter{}); listed[0].State != regapi.StateFailed || listed[0].Reason != max {
		t.Errorf("after refusals the node is %s %q", listed[0].State, listed[0].Reason)
	}
}
