package main

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{[]string{"version"}, 0, "jitsi-node 0.", ""},
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"apply", "--help"}, 0, "jitsi-node apply --check", ""},
		{nil, 2, "", "Usage: jitsi-node"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"drain", "--timeout", "soon"}, 2, "", "invalid value"},
		{[]string{"bake", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"apply", "--root", empty}, 1, "", "no /etc/jitsi-node/node.yaml: this node was not booted with packer-plugin-jitsi user-data"},
		{[]string{"apply", "--check", "--root", empty}, 0, "", "nothing to check"},
	} {
		code, out, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.errIn) {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", c.args, code, out, errs)
		}
	}
	if _, out, _ := runCLI("apply", "--help"); strings.Contains(out, "--root") || strings.Contains(out, "metadata-url") {
		t.Errorf("--help shows the test-only flags:\n%s", out)
	}
}

// TestNoCgo keeps the agent a static binary: its import graph reaches
// neither go-dqlite, go-sqlite3 nor any package using cgo.
func TestNoCgo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, cgo, _ := strings.Cut(line, " ")
		n++
		if path == "C" || cgo == "cgo" || strings.Contains(path, "dqlite") || strings.Contains(path, "sqlite3") ||
			strings.Contains(path, "packer-plugin-sdk/") && !strings.HasSuffix(path, "packer-plugin-sdk/version") {
			t.Errorf("the agent depends on %s: it must build with CGO_ENABLED=0 and stay small", line)
		}
	}
	if n < 10 {
		t.Errorf("go list found %d packages: the check checks nothing", n)
	}
}

// TestStaticBinary builds the agent as `make build` does and checks the
// result has no program interpreter (no dynamic loader, no libc): one file
// that runs on every target release.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	bin := filepath.Join(t.TempDir(), "jitsi-node")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the agent is dynamically linked (%v)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the agent links %v", libs)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "jitsi-node ") {
		t.Errorf("the built agent: %q %v", out, err)
	}
	if fi, _ := os.Stat(bin); fi != nil {
		t.Logf("agent binary: %d bytes", fi.Size())
	}
}
