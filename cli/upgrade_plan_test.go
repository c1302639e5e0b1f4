package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/upgrade"
)

// TestUpgradePlan: four bridges issued from an old image into the embedded
// registry, one of them failed; a newer image recorded. upgrade-plan
// replaces the failed one first, then one active bridge at a time (keep
// all but one), the same in text and --json; bad input exits 2.
func TestUpgradePlan(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "4",
		"--image-id", "ami-old", "--out-dir", filepath.Join(c.home, "nodes"))
	func() { // the CLI is not running: the test may open the embedded registry
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := registry.Open(ctx, filepath.Join(c.home, "data", "packer-plugin-jitsi", "registry"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		built := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for _, img := range []regapi.Image{
			{ArtifactID: "ami-old", Role: "jvb", OS: "debian-12", Arch: "amd64", Versions: map[string]string{"jitsi-videobridge2": "2.3-100"}, Built: built},
			{ArtifactID: "ami-new", BuildID: "b-new", Role: "jvb", OS: "debian-12", Arch: "amd64", Versions: map[string]string{"jitsi-videobridge2": "2.3-174"}, Built: built.AddDate(0, 0, 7)},
		} {
			if _, err := r.RecordImage(ctx, img); err != nil {
				t.Fatal(err)
			}
		}
		for nick, st := range map[string]regapi.State{"jvb-001": regapi.StateActive, "jvb-002": regapi.StateActive, "jvb-003": regapi.StateActive, "jvb-004": regapi.StateFailed} {
			if _, err := r.SetState(ctx, regapi.NodeRef{Shard: regTestFQDN, Nickname: nick}, st, ""); err != nil {
				t.Fatal(err)
			}
		}
	}()

	text := c.must("upgrade-plan", "--shard", regTestFQDN)
	for _, want := range []string{
		"Upgrade plan for shard " + regTestFQDN + " (jvb): 4 live bridge(s), 3 active; keep 2 active at every step",
		"up to date 0, to replace 4",
		"Wave 1: issued nodes, 1 bridge(s), no capacity lost",
		"jvb-004  failed",
		"Wave 2: issued nodes, 1 bridge(s), 2 active while it drains",
		"Wave 4: issued nodes",
		"ami-old 2.3-100 (debian-12 amd64, 2026-11-01)  → ami-new 2.3-174 (debian-12 amd64, 2026-11-08)  bridge version changes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	var p upgrade.Plan
	if err := json.Unmarshal([]byte(c.must("upgrade-plan", "--shard", regTestFQDN, "--keep", "1", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.Keep != 1 || p.Stale != 4 || len(p.Waves) != 3 || !p.Waves[0].Free || len(p.Waves[1].Steps) != 2 || p.Waves[1].ActiveDuring != 1 {
		t.Errorf("--keep 1 --json: %+v", p)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"upgrade-plan"}, "--shard: give the JMS FQDN"},
		{[]string{"upgrade-plan", "--shard", regTestFQDN, "--keep", "-3"}, `invalid value "-3" for flag -keep`},
		{[]string{"upgrade-plan", "--shard", regTestFQDN, "--keep", "9"}, "keep 9: shard " + regTestFQDN + " has only 3 active jvb bridge(s): give at most 3"},
	} {
		if code, _, errs := c.run(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 saying %q", tc.args, code, errs, tc.want)
		}
	}
}
