package regapi

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckTransition checks every (from, to) pair against the lifecycle
// written out by hand, so a change to the transitions table shows here.
func TestCheckTransition(t *testing.T) {
	allowed := map[string]bool{
		"pending→issued": true, "pending→active": true, "pending→failed": true, "pending→draining": true, "pending→retired": true,
		"issued→active": true, "issued→failed": true, "issued→draining": true, "issued→retired": true,
		"active→failed": true, "active→draining": true, "active→retired": true,
		"failed→active": true, "failed→draining": true, "failed→retired": true,
		"draining→active": true, "draining→retired": true,
	}
	for _, from := range States {
		for _, to := range States {
			key := string(from) + "→" + string(to)
			err := CheckTransition(from, to)
			switch {
			case from == to && err != nil:
				t.Errorf("%s: staying put refused: %v", key, err)
			case from == to:
			case allowed[key] && err != nil:
				t.Errorf("%s: refused: %v", key, err)
			case !allowed[key] && !errors.Is(err, ErrTransition):
				t.Errorf("%s: err = %v, want ErrTransition", key, err)
			}
		}
	}
	// Refusals say where the node may go instead.
	for _, tc := range []struct {
		from, to State
		want     string
	}{
		{StateDraining, StateFailed, "draining → failed: from draining a node may go to active or retired only"},
		{StateFailed, StateIssued, "failed → issued: from failed a node may go to active, draining or retired only"},
		{StateActive, StateIssued, "from active a node may go to failed, draining or retired only"},
		{StateRetired, StateFailed, "retired (final)"},
	} {
		if err := CheckTransition(tc.from, tc.to); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: err = %v, want it to say %q", tc.from, tc.to, err, tc.want)
		}
	}
}

func TestNormalizeClaims(t *testing.T) {
	out, err := NormalizeClaims([]ClaimRequest{{Shard: "meet.example.org", Role: "jvb"}})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Nickname != AutoNickname || !strings.HasPrefix(out[0].ClaimID, "c-") {
		t.Errorf("defaults not filled in: %+v", out[0])
	}
	if given, _ := NormalizeClaims([]ClaimRequest{{Shard: "meet.example.org", Role: "jvb", ClaimID: "given"}}); given[0].ClaimID != "given" {
		t.Errorf("a given claim id was replaced: %q", given[0].ClaimID)
	}
	_, err = NormalizeClaims([]ClaimRequest{
		{Shard: "Meet.Example.org", Role: "jvb", Nickname: "JVB 1", ClaimID: "a b"},
		{Shard: "", Role: "web", ClaimID: "x", SecretFingerprint: "sha:1"},
		{Shard: "meet.example.org", Role: "jvb", ClaimID: "x", NewSecret: true},
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		"claims[0].shard:", "claims[0].nickname:", "claims[0].claim_id:", "claims[1].shard: is required",
		`claims[1].role: "web" is not a role`, "claims[1].secret_fingerprint:", "claims[2].claim_id:", "claims[2].new_secret:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := Fingerprint("meet.example.org", "s3cret")
	if !ValidFingerprint(a) {
		t.Fatalf("Fingerprint gave %q, which validFingerprint refuses", a)
	}
	if a != Fingerprint("meet.example.org", "s3cret") {
		t.Error("Fingerprint is not deterministic")
	}
	if strings.Contains(a, "s3cret") || len(a) != len("v2:")+64 {
		t.Errorf("proof %q must be 256 bits, nothing of the secret", a)
	}
	// Salted per shard: one secret gives each shard its own proof.
	seen := map[string]bool{}
	for _, s := range []string{"a.example.org", "b.example.org", "c.example.org", "d.example.org"} {
		seen[Fingerprint(s, "s3cret")] = true
	}
	if len(seen) != 4 {
		t.Errorf("proofs of one secret over 4 shards take only %d values: salt not applied?", len(seen))
	}
	if Fingerprint("meet.example.org", "other") == a {
		t.Error("different secrets give the same proof")
	}
	if ValidFingerprint("v1:3f2a") {
		t.Error("a v1 fingerprint is still accepted")
	}
}
