package jitsi

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update", false, "rewrite README.md's support matrix from SupportMatrix")

const (
	supportBegin = "<!-- support matrix: generated from userdata/jitsi (SupportedOS, RetiredOS); TestREADMESupportMatrix checks it, -update rewrites it -->\n"
	supportEnd   = "<!-- end of support matrix -->\n"
)

// TestREADMESupportMatrix: README.md's support matrix is SupportMatrix's
// (the docs include it as a generated partial).
func TestREADMESupportMatrix(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	before, rest, ok1 := strings.Cut(readme, supportBegin)
	got, after, ok2 := strings.Cut(rest, supportEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the support matrix markers %q … %q", supportBegin, supportEnd)
	}
	want := SupportMatrix()
	if *updateREADME {
		if err := os.WriteFile(path, []byte(before+supportBegin+want+supportEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("README.md's support matrix is stale: run go test ./userdata/jitsi -run TestREADMESupportMatrix -update\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestSupportMatrixCells: every release has a row saying, per generation,
// tested (and by which tier), untested or refused, as the model says.
func TestSupportMatrixCells(t *testing.T) {
	m := SupportMatrix()
	for _, want := range []string{
		"| Ubuntu 18.04 (bionic) | refused: not built for it (OpenJDK 17/21, prosody 0.12) | **tested**: VM matrix (bridge) | 0.10 |",
		"| Ubuntu 20.04 (focal) | *untested* | *untested* | 0.11 ¹ |",
		"| Debian 12 (bookworm) | **tested**: VM pipeline",
		"| Debian 13 (trixie) | **tested**: VM matrix (bridge) | refused: no OpenJDK 8 or 11 package | 13.0 |",
		"| Debian 10 (buster) | refused | refused | — | no longer baked: ",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("the support matrix lacks %q:\n%s", want, m)
		}
	}
	if n := strings.Count(m, "\n| "); n != len(SupportedOS)+len(RetiredOS)+1 {
		t.Errorf("the support matrix has %d rows, want a header and one per release:\n%s", n, m)
	}
}
