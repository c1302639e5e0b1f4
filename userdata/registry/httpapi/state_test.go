package httpapi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestAPINodeReportsFailedWithReason: a bridge (its own credential) reports
// failed with its reason; the operator sees the reason in the listing; the
// node later recovers. Bad reasons and unknown fields are refused.
func TestAPINodeReportsFailedWithReason(t *testing.T) {
	s := startAPI(t, Config{}, false)
	ctx := testCtx(t, 60*time.Second)
	claimed := s.member(t, s.group(t, "edge", 5), "i-0fail")
	nodeToken := claimed.Credential
	op, node := s.client(t, opToken), s.client(t, nodeToken)
	const reason = "the JMS refused the bridge's XMPP login (not-authorized): the secret differs from the JMS's"
	ref := regapi.NodeRef{Shard: shard, Nickname: claimed.Node.Nickname}
	n, err := node.SetState(ctx, ref, regapi.StateFailed, reason)
	if err != nil || n.State != regapi.StateFailed || n.Reason != reason {
		t.Fatalf("report failed: %+v %v", n, err)
	}
	failed, err := op.Nodes(ctx, regapi.Filter{State: regapi.StateFailed})
	if err != nil || len(failed) != 1 || failed[0].Reason != reason || failed[0].Nickname != "jvb-001" {
		t.Fatalf("list failed: %+v %v", failed, err)
	}
	events, err := s.reg.Events(ctx, n.ID)
	if err != nil || len(events) != 2 || !strings.Contains(events[1].Detail, `"reason":"the JMS refused the bridge's XMPP login`) ||
		events[1].Actor != regapi.NodeActor(n.ID) {
		t.Errorf("events: %+v %v", events, err)
	}

	// Raw bodies as the shell applier sends them ("reason" with every state, empty with active).
	for _, tc := range []struct {
		name, body string
		status     int
		code, want string
	}{
		{"reason too long", `{"shard":"meet.example.org","nickname":"jvb-001","state":"failed","reason":"` + strings.Repeat("x", regapi.MaxReasonBytes+1) + `"}`,
			400, "invalid", "reason: is 513 bytes long"},
		{"reason with a newline", `{"shard":"meet.example.org","nickname":"jvb-001","state":"failed","reason":"a\nb"}`,
			400, "invalid", "reason: has a control"},
		{"misspelt field", `{"shard":"meet.example.org","nickname":"jvb-001","state":"failed","reasons":"x"}`,
			400, "bad_json", `unknown field "reasons"`},
		{"recovered", `{"shard":"meet.example.org","nickname":"jvb-001","state":"active","reason":""}`, 200, "", ""},
		{"draining", `{"shard":"meet.example.org","nickname":"jvb-001","state":"draining"}`, 200, "", ""},
		{"draining cannot fail", `{"shard":"meet.example.org","nickname":"jvb-001","state":"failed","reason":"x"}`,
			409, "transition", "from draining a node may go to active or retired only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, e := s.raw(t, "POST", "/v1/state", nodeToken, tc.body)
			if status != tc.status {
				t.Fatalf("status %d (%+v), want %d", status, e, tc.status)
			}
			if tc.code != "" && (e == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.want)) {
				t.Errorf("error %+v, want code %s saying %q", e, tc.code, tc.want)
			}
		})
	}
	got, err := op.Nodes(ctx, regapi.Filter{Shard: shard})
	if err != nil || len(got) != 1 || got[0].State != regapi.StateDraining || got[0].Reason != "" {
		t.Errorf("after recovery and drain: %+v %v", got, err)
	}
	// The client maps the refusal back to the registry's error.
	if _, err := node.SetState(ctx, ref, regapi.StateFailed, "x"); !errors.Is(err, regapi.ErrTransition) {
		t.Errorf("client draining → failed: err = %v, want ErrTransition", err)
	}
	if _, err := node.SetState(ctx, ref, regapi.StateRetired, "bad\x1b[0m"); !errors.Is(err, regapi.ErrInvalid) {
		t.Errorf("client with an escape in the reason: err = %v, want ErrInvalid", err)
	}
}
