package release

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// cProgram calls into libdqlite so that the linker keeps it.
const cProgram = `
#include <dqlite.h>
int main(void) { dqlite_node *n; return dqlite_node_create(1, "127.0.0.1:9001", "/nonexistent", &n) == 0; }
`

// linkC compiles and links program with ldflags, with this machine's gcc.
func linkC(t *testing.T, program string, ldflags ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	if err := os.WriteFile(src, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "p")
	args := append([]string{src, "-o", bin}, ldflags...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func host() Platform { return Platform{runtime.GOOS, runtime.GOARCH} }

// TestCheckELF with real binaries linked here: libdqlite static (as the
// Makefile's CGO_LDFLAGS do) passes; libdqlite dynamic, the wrong
// architecture and a static binary fail, each naming why.
func TestCheckELF(t *testing.T) {
	if _, ok := targets[host()]; !ok {
		t.Skipf("no release target for this machine (%s)", host())
	}
	good := linkC(t, cProgram, "-Wl,-Bstatic", "-ldqlite", "-Wl,-Bdynamic", "-luv", "-llz4", "-lsqlite3")
	info, err := CheckELF(good, host())
	if err != nil {
		t.Fatalf("CheckELF of a program with libdqlite linked statically: %v", err)
	}
	if !contains(info.Needed, "libc.so.6") || contains(info.Needed, "libdqlite.so.0") || info.Glibc == "" {
		t.Errorf("CheckELF info = %+v", info)
	}

	dynamic := linkC(t, cProgram, "-ldqlite")
	if _, err := CheckELF(dynamic, host()); err == nil || !strings.Contains(err.Error(), "it needs libdqlite.so.0") {
		t.Errorf("CheckELF of a program needing libdqlite.so.0: %v", err)
	}

	other := Platform{"linux", "arm64"}
	if host().Arch == "arm64" {
		other = Platform{"linux", "amd64"}
	}
	if _, err := CheckELF(good, other); err == nil || !strings.Contains(err.Error(), "want an executable for "+other.String()) {
		t.Errorf("CheckELF for %s of a %s program: %v", other, host(), err)
	}

	static := linkC(t, "int main(void) { return 0; }\n", "-static")
	if _, err := CheckELF(static, host()); err == nil || !strings.Contains(err.Error(), "interpreter") {
		t.Errorf("CheckELF of a static program: %v", err)
	}
	if _, err := CheckELF([]byte("#!/bin/sh\n"), host()); err == nil {
		t.Error("CheckELF of a script = nil error")
	}
}

func TestNewestGlibc(t *testing.T) {
	needs := []elf.DynamicVersionNeed{
		{Name: "libc.so.6", Needs: []elf.DynamicVersionDep{{Dep: "GLIBC_2.2.5"}, {Dep: "GLIBC_2.34"}, {Dep: "GLIBC_2.9"}}},
		{Name: "libm.so.6", Needs: []elf.DynamicVersionDep{{Dep: "GLIBC_2.29"}, {Dep: "GLIBC_PRIVATE"}}},
	}
	if got := newestGlibc(needs); got != "2.34" {
		t.Errorf("newestGlibc = %q, want 2.34", got)
	}
}

// TestPreflight reports every problem before anything is built.
func TestPreflight(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Make(context.Background(), Options{
		Root:      t.TempDir(),
		Version:   "v1.2",
		Platforms: []Platform{host(), host()},
		Out:       out,
		Env:       []string{"PATH=" + os.Getenv("PATH")},
	})
	if err == nil {
		t.Fatal("Make accepted bad options")
	}
	for _, w := range []string{`version "v1.2"`, "no go.mod", "holds notes.txt", "CGO_LDFLAGS is not set", "given twice"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Make error lacks %q:\n%v", w, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "notes.txt")); err != nil {
		t.Errorf("Make touched the refused directory: %v", err)
	}
}

func TestCheckAgents(t *testing.T) {
	err := CheckAgents([]byte("a plugin binary without agents"))
	if err == nil || !strings.Contains(err.Error(), "amd64") || !strings.Contains(err.Error(), "arm64") {
		t.Errorf("CheckAgents of a binary without agents: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
