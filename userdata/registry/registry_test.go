package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClaimAutoPicksLowestFreeAndReusesRetired(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	var got []string
	for range 3 {
		got = append(got, claimOne(t, r, jvb("")).Nickname)
	}
	if !slices.Equal(got, series("jvb", 3)) {
		t.Fatalf("auto nicknames = %v, want %v", got, series("jvb", 3))
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{Shard: testShard, Nickname: "jvb-002"}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	if n := claimOne(t, r, jvb(regapi.AutoNickname)).Nickname; n != "jvb-002" {
		t.Errorf("after retiring jvb-002, auto gave %s, want jvb-002", n)
	}
	// A numbered name picked by hand is cut out of the series.
	if n := claimOne(t, r, jvb("jvb-005")).Nickname; n != "jvb-005" {
		t.Fatalf("explicit claim gave %s", n)
	}
	want := []string{"jvb-004", "jvb-006"}
	for _, w := range want {
		if n := claimOne(t, r, jvb("")).Nickname; n != w {
			t.Errorf("auto gave %s, want %s", n, w)
		}
	}
	// Other shards and roles have series of their own.
	other := claimOne(t, r, regapi.ClaimRequest{Shard: "other.example.org", Role: "jvb"})
	jms := claimOne(t, r, regapi.ClaimRequest{Shard: testShard, Role: "jms"})
	if other.Nickname != "jvb-001" || jms.Nickname != "jms-001" {
		t.Errorf("other shard / role got %s / %s, want jvb-001 / jms-001", other.Nickname, jms.Nickname)
	}
}

func TestClaimExplicitNicknameConflicts(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	a := claimOne(t, r, jvb("bridge-a"))
	_, err := r.Claim(ctx, jvb("bridge-a"))
	if !errors.Is(err, regapi.ErrConflict) || !strings.Contains(err.Error(), "bridge-a") {
		t.Fatalf("second claim of bridge-a: err = %v, want ErrConflict naming it", err)
	}
	claimOne(t, r, jvb("")) // jvb-001
	if _, err := r.Claim(ctx, jvb("jvb-001")); !errors.Is(err, regapi.ErrConflict) {
		t.Fatalf("explicit claim of an auto-issued name: err = %v, want ErrConflict", err)
	}
	// Retiring frees the name for an explicit claim too.
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: a.ID}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	if n := claimOne(t, r, jvb("bridge-a")); n.ID == a.ID {
		t.Error("re-claim returned the retired node")
	}
	// Names in one call are checked against each other.
	if _, err := r.Claim(ctx, jvb("twin"), jvb("twin")); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("two claims of one name in a call: err = %v, want ErrConflict", err)
	}
}

func TestClaimIsAllOrNothing(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	claimOne(t, r, jvb("taken"))
	_, err := r.Claim(ctx, jvb(""), jvb(""), jvb("jvb-009"), jvb("taken"))
	if !errors.Is(err, regapi.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	nodes, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 {
		t.Fatalf("a failed call left %d nodes, want only the first one: %v", len(nodes), nicknames(nodes))
	}
	// Nothing of the failed call was consumed: not the numbers, not jvb-009.
	got, err := r.Claim(ctx, jvb(""), jvb(""), jvb("jvb-009"))
	if err != nil {
		t.Fatal(err)
	}
	if names := nicknames(got); !slices.Equal(names, []string{"jvb-001", "jvb-002", "jvb-009"}) {
		t.Errorf("nicknames = %v, want jvb-001 jvb-002 jvb-009", names)
	}
}

func TestClaimIsIdempotentOnClaimID(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	req := jvb("")
	req.ClaimID = "i-0123456789abcdef"
	req.InstanceID = "i-0123456789abcdef"
	first := claimOne(t, r, req)
	again := claimOne(t, r, req)
	if first != again {
		t.Errorf("claim retried with the same id returned %+v, first %+v", again, first)
	}
	if n := claimOne(t, r, jvb("")); n.Nickname != "jvb-002" {
		t.Errorf("next claim got %s: the retry must not have used a number", n.Nickname)
	}
	req.Shard = "other.example.org"
	if _, err := r.Claim(ctx, req); !errors.Is(err, regapi.ErrInvalid) {
		t.Errorf("claim id reused for another shard: err = %v, want ErrInvalid", err)
	}
}

func TestSecretFingerprintChecksAndNeverStoresSecret(t *testing.T) {
	r, dir := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	const secret = "correct-horse-battery-staple-4711"
	fp := regapi.Fingerprint(testShard, secret)
	req := jvb("")
	req.SecretFingerprint = fp
	claimOne(t, r, req)
	claimOne(t, r, req)
	wrong := jvb("")
	wrong.SecretFingerprint = regapi.Fingerprint(testShard, "another-secret")
	_, err := r.Claim(ctx, wrong)
	if !errors.Is(err, regapi.ErrSecretMismatch) || !strings.Contains(err.Error(), "--new-secret") {
		t.Fatalf("claim with another secret: err = %v, want ErrSecretMismatch with a hint", err)
	}
	wrong.NewSecret = true
	claimOne(t, r, wrong)
	wrong.NewSecret = false
	claimOne(t, r, wrong) // the new secret is the shard's now
	if _, err := r.Claim(ctx, req); !errors.Is(err, regapi.ErrSecretMismatch) {
		t.Errorf("old secret after the change: err = %v, want ErrSecretMismatch", err)
	}
	// What is stored is the keyed check: not the proof, and nothing a
	// guesser could recompute from a guess without the key.
	var stored string
	if err := r.db.QueryRowContext(ctx, `SELECT secret_fp FROM shards`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != r.secretKey.check(testShard, wrong.SecretFingerprint) || strings.Contains(stored, strings.TrimPrefix(wrong.SecretFingerprint, "v2:")) {
		t.Errorf("stored %q: want the keyed check of the proof", stored)
	}
	keyHex, err := os.ReadFile(filepath.Join(dir, secretKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // flush everything to disk
		t.Fatal(err)
	}
	// No file of the database holds a secret, a proof or the key.
	err = filepath.WalkDir(filepath.Join(dir, "dqlite"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range []string{secret, "another-secret", strings.TrimPrefix(fp, "v2:"), strings.TrimPrefix(wrong.SecretFingerprint, "v2:"),
			strings.TrimSpace(string(keyHex))} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %.12s…", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSetStateLifecycleAndEvents(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	n := claimOne(t, r, jvb(""))
	for _, s := range []regapi.State{regapi.StateActive, regapi.StateActive, regapi.StateDraining, regapi.StateActive, regapi.StateDraining, regapi.StateRetired} {
		got, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, s, "")
		if err != nil {
			t.Fatalf("→ %s: %v", s, err)
		}
		if got.State != s {
			t.Fatalf("→ %s: node is %s", s, got.State)
		}
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateActive, ""); !errors.Is(err, regapi.ErrTransition) {
		t.Errorf("retired → active: err = %v, want ErrTransition", err)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: 999}, regapi.StateActive, ""); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("unknown id: err = %v, want ErrNotFound", err)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{Shard: testShard, Nickname: "jvb-001"}, regapi.StateActive, ""); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("retired nickname: err = %v, want ErrNotFound", err)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: n.ID}, "gone", ""); !errors.Is(err, regapi.ErrInvalid) {
		t.Errorf("bad state: err = %v, want ErrInvalid", err)
	}
	evs, err := r.Events(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+" "+e.Detail)
	}
	// Five changes (the repeated active is a no-op) after the issue event.
	if len(evs) != 6 || evs[0].Kind != "issued" || !strings.Contains(evs[5].Detail, `"to":"retired"`) {
		t.Errorf("events = %q", kinds)
	}
	// The log is append-only, enforced by the database.
	if _, err := r.db.ExecContext(ctx, `UPDATE events SET kind = 'x'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE events: err = %v, want append-only refusal", err)
	}
	if _, err := r.db.ExecContext(ctx, `DELETE FROM events`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE events: err = %v, want append-only refusal", err)
	}
}

func TestNodesFiltersAndPages(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	if _, err := r.Claim(ctx, jvb(""), jvb(""), jvb(""), regapi.ClaimRequest{Shard: testShard, Role: "jms", Nickname: "jms"},
		regapi.ClaimRequest{Shard: "b.example.org", Role: "jvb"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetState(ctx, regapi.NodeRef{Shard: testShard, Nickname: "jvb-002"}, regapi.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    regapi.Filter
		want []string
	}{
		{regapi.Filter{}, []string{"jms", "jvb-001", "jvb-001", "jvb-002", "jvb-003"}},
		{regapi.Filter{Shard: "b.example.org"}, []string{"jvb-001"}},
		{regapi.Filter{State: regapi.StateActive}, []string{"jvb-002"}},
		{regapi.Filter{Shard: testShard, Role: "jms"}, []string{"jms"}},
		{regapi.Filter{Limit: 2}, []string{"jvb-001", "jvb-002"}},
		{regapi.Filter{AfterID: 2, Limit: 2}, []string{"jms", "jvb-003"}},
	} {
		got, err := r.Nodes(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if names := nicknames(got); !slices.Equal(names, tc.want) {
			t.Errorf("Nodes(%+v) = %v, want %v", tc.f, names, tc.want)
		}
	}
	if _, err := r.Nodes(ctx, regapi.Filter{State: "up"}); !errors.Is(err, regapi.ErrInvalid) {
		t.Errorf("bad state filter: err = %v, want ErrInvalid", err)
	}
}

func TestRecordImage(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 30*time.Second)
	built := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	img := regapi.Image{ArtifactID: "jvb-debian-12.qcow2", Role: "jvb", OS: "debian-12", Versions: map[string]string{"jitsi-videobridge2": "2.3-1"}, Built: built}
	if _, err := r.RecordImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	img.Versions["jitsi-videobridge2"] = "2.3-2"
	if _, err := r.RecordImage(ctx, img); err != nil { // same artifact: updated, not duplicated
		t.Fatal(err)
	}
	imgs, err := r.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Versions["jitsi-videobridge2"] != "2.3-2" || !imgs[0].Built.Equal(built) {
		t.Errorf("images = %+v", imgs)
	}
	if _, err := r.RecordImage(ctx, regapi.Image{Role: "web"}); !errors.Is(err, regapi.ErrInvalid) ||
		!strings.Contains(err.Error(), "artifact_id") || !strings.Contains(err.Error(), "os") || !strings.Contains(err.Error(), "built") {
		t.Errorf("bad image: err = %v, want ErrInvalid naming every field", err)
	}
}

func TestRestartKeepsRowsAndAddress(t *testing.T) {
	dir := t.TempDir()
	r := openAt(t, dir)
	addr := r.Address()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("embedded address %s is not on loopback", addr)
	}
	first := claimOne(t, r, jvb(""))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openAt(t, dir)
	if r.Address() != addr {
		t.Errorf("address after restart %s, before %s", r.Address(), addr)
	}
	nodes, err := r.Nodes(testCtx(t, 10*time.Second), regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0] != first {
		t.Errorf("after restart: %+v, want %+v", nodes, first)
	}
	if _, err := Open(testCtx(t, 10*time.Second), dir, WithAddress("127.0.0.1:1"), WithLockTimeout(time.Second)); err == nil {
		t.Error("open with an address other than the saved one succeeded")
	}
}

func TestLockTimeoutIsBoundedAndClear(t *testing.T) {
	_, dir := openTemp(t) // holds the lock until the test ends
	start := time.Now()
	var notices []string
	_, err := Open(testCtx(t, 10*time.Second), dir, WithLockTimeout(300*time.Millisecond),
		WithLockNotice(func(m string) { notices = append(notices, m) }))
	if len(notices) != 1 || !strings.Contains(notices[0], "waiting up to 300ms") {
		t.Errorf("lock notices = %q, want one saying how long it waits", notices)
	}
	if !errors.Is(err, regapi.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("gave up after %s, want about 300ms", took)
	}
	if !strings.Contains(err.Error(), "process ") || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("error does not name the holder and the way out: %v", err)
	}
}

// TestConcurrentClaimsAreDistinctAndGrouped claims from many goroutines at
// once: no nickname twice, no gap, and far fewer transactions than claims.
func TestConcurrentClaimsAreDistinctAndGrouped(t *testing.T) {
	r, _ := openTemp(t)
	ctx := testCtx(t, 60*time.Second)
	const workers, each = 16, 25
	all := claimConcurrently(t, ctx, r, workers, each)
	if got := nicknames(all); !slices.Equal(got, series("jvb", workers*each)) {
		t.Fatalf("nicknames are not exactly jvb-001…jvb-%03d: %d claims, first %v", workers*each, len(got), got[:min(5, len(got))])
	}
	if b := r.batches.Load(); b >= workers*each/2 {
		t.Errorf("%d claims took %d transactions: group commit is not grouping", workers*each, b)
	} else {
		t.Logf("%d claims in %d transactions", workers*each, b)
	}
}
