package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// These check the matrix's choices without VMs (part of `make test`).

func TestParseMatrix(t *testing.T) {
	const commit = "0000000b5f0e6a8e2c1c9d7f00000000000000aa" // 0x0000000b = 11; 11 mod 5 = 1
	cases := []struct {
		spec, commit string
		want         []string
		why          string
		err          string
	}{
		{spec: "all", want: []string{"debian-12/jvb", "ubuntu-18.04/jvb", "ubuntu-22.04/jvb", "ubuntu-24.04/jvb", "debian-11/jvb", "debian-13/jvb", "ubuntu-24.04/jms"}, why: "matrix: all 7 rows"},
		{spec: "ci", commit: commit, want: []string{"debian-12/jvb", "ubuntu-22.04/jvb"},
			why: "matrix: CI subset debian-12 + ubuntu-22.04 (commit 0000000: 0x0000000b mod 5 = 1); make e2e-matrix runs all six"},
		{spec: "ci", commit: "ffffffff", want: []string{"debian-12/jvb", "ubuntu-18.04/jvb"}}, // 4294967295 mod 5 = 0
		{spec: "ubuntu-24.04/jms, ubuntu-18.04,debian-12/jvb", want: []string{"debian-12/jvb", "ubuntu-18.04/jvb", "ubuntu-24.04/jms"}, why: "matrix: ubuntu-24.04/jms, ubuntu-18.04,debian-12/jvb"},
		{spec: "ci", commit: "", err: "set E2E_COMMIT"},
		{spec: "ubuntu-20.04", err: `"ubuntu-20.04" is not a base image OS`},
		{spec: "debian-12/jibri,debian-12,debian-12", err: `role "jibri"`},
		{spec: "debian-12,debian-12", err: "given twice"},
		{spec: " , ", err: `"": "" is not a base image OS`},
	}
	for _, tc := range cases {
		got, why, err := parseMatrix(tc.spec, tc.commit)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseMatrix(%q) = %v, %v; want an error with %q", tc.spec, got, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseMatrix(%q): %v", tc.spec, err)
			continue
		}
		var names []string
		for _, e := range got {
			names = append(names, e.String())
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("parseMatrix(%q) = %v, want %v", tc.spec, names, tc.want)
		}
		if tc.why != "" && why != tc.why {
			t.Errorf("parseMatrix(%q) says %q, want %q", tc.spec, why, tc.why)
		}
	}
}

// TestCIPicksEveryOS: over commits, CI's second OS takes every other OS.
func TestCIPicksEveryOS(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []string{"00000000", "00000001", "00000002", "00000003", "00000004"} {
		o, _, err := ciPick(c + "deadbeef")
		if err != nil {
			t.Fatal(err)
		}
		seen[o] = true
	}
	if len(seen) != len(baseOSes)-1 || seen[ciOS] {
		t.Errorf("five consecutive commits picked %v, want every OS but %s", seen, ciOS)
	}
}

// TestMatrixChoicesFollowTheRoleModel: every base image OS is a release the
// provisioner bakes and says is tested; each row installs a generation the
// role model says the release runs, in the format of that generation; a
// release no tier boots says it is untested.
func TestMatrixChoicesFollowTheRoleModel(t *testing.T) {
	all, _, err := parseMatrix("all", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		id, ver, _ := strings.Cut(e.OS, "-")
		o, ok := jitsi.LookupOS(id, ver)
		if !ok {
			t.Errorf("%s: not in jitsi.SupportedOS", e)
			continue
		}
		g, _ := jitsi.ImageGeneration(e.Versions())
		if o.Tested[g] == "" {
			t.Errorf("%s: the matrix boots %s Jitsi on it but jitsi.SupportedOS says that is untested", e, g)
		}
		if !o.Runs(g) {
			t.Errorf("%s: the matrix installs %s Jitsi, which the role model says %s cannot run", e, g, o)
		}
		if (g == jitsi.Legacy) != e.Legacy() || (e.Format() == "legacy") != (g == jitsi.Legacy) {
			t.Errorf("%s: generation %s with format %s", e, g, e.Format())
		}
		if err := jitsi.CheckImage(o, "jvb", e.Versions()); err != nil {
			t.Errorf("%s: the provisioner would refuse the matrix's image: %v", e, err)
		}
	}
	for _, o := range jitsi.SupportedOS {
		name := o.ID + "-" + o.VersionID
		booted := slices.ContainsFunc(baseOSes, func(b baseOS) bool { return b.Name == name })
		if !booted && len(o.Tested) > 0 {
			t.Errorf("%s: jitsi.SupportedOS says %q but the e2e tier has no base image of it", o, o.Tested)
		}
	}
}

// TestLegacyJVBIsTheFixtureRepositorys: the pinned legacy version is the
// one build-fixture-repo.sh builds.
func TestLegacyJVBIsTheFixtureRepositorys(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "e2e", "scripts", "build-fixture-repo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^readonly VERSION_JVB_LEGACY=(\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != legacyJVB {
		t.Fatalf("build-fixture-repo.sh builds legacy jitsi-videobridge2 %q, the matrix pins %q", m, legacyJVB)
	}
	if g, _ := jitsi.BridgeGeneration(legacyJVB); g != jitsi.Legacy {
		t.Errorf("the role model takes %s for %s", legacyJVB, g)
	}
}

func TestWriteMatrix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "matrix.json")
	rows := []matrixRow{
		{OS: "debian-12", Role: "jvb", Result: resultPass, BakeS: 151, BootS: 95},
		{OS: "ubuntu-18.04", Role: "jvb", Result: resultNotRun, Reason: "Ubuntu archive unreachable"},
		{OS: "debian-13", Role: "jvb", Result: resultFail, BakeS: 140, Reason: "first boot: cloud-init ended \"error\""},
	}
	table, err := writeMatrix(path, rows)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back[1]["result"] != "not run" || back[0]["bake_s"] != 151.0 || back[2]["reason"] == "" {
		t.Errorf("matrix.json = %s", b)
	}
	for _, k := range []string{"os", "role", "result", "bake_s", "boot_s", "reason"} {
		if _, ok := back[0][k]; !ok {
			t.Errorf("matrix.json rows lack %q: %s", k, b)
		}
	}
	for _, w := range []string{"OS            ROLE  RESULT   BAKE   BOOT   REASON", "debian-12     jvb   pass     2m31s  1m35s", "ubuntu-18.04  jvb   not run  -      -      Ubuntu archive unreachable"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}
}
