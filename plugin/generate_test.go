package plugin_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedSpecsUpToDate regenerates each component's HCL2 spec the way
// `go generate` (make generate) does and fails if the committed file
// differs: a Config field added without regenerating would be invisible to
// HCL2 templates. It generates into a copy of the package (a directory
// whose name starts with "_", which ./... skips), never over the committed
// file: `go test ./...` compiles and vets the other packages meanwhile.
func TestGeneratedSpecsUpToDate(t *testing.T) {
	for _, c := range []struct{ dir, src, spec, pkg string }{
		{"provisioner/jitsi", "config.go", "config.hcl2spec.go", "jitsi"},
		{"postprocessor/registry", "post-processor.go", "post-processor.hcl2spec.go", "registry"},
	} {
		t.Run(c.dir, func(t *testing.T) {
			committed, err := os.ReadFile(filepath.Join(c.dir, c.spec))
			if err != nil {
				t.Fatal(err)
			}
			work, err := os.MkdirTemp(".", "_gencheck-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(work) })
			copyPackage(t, c.dir, work, c.spec)
			cmd := exec.Command("go", "tool", "packer-sdc", "mapstructure-to-hcl2", "-type", "Config")
			cmd.Dir = work
			// -tags libsqlite3: load go-sqlite3 against the system SQLite, as every build here does.
			cmd.Env = append(os.Environ(), "GOFILE="+c.src, "GOPACKAGE="+c.pkg, "GOFLAGS=-tags=libsqlite3")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("packer-sdc: %v\n%s", err, out)
			}
			fresh, err := os.ReadFile(filepath.Join(work, c.spec))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fresh, committed) {
				t.Fatalf("%s is stale: run `make generate` (go generate ./...)", filepath.Join(c.dir, c.spec))
			}
		})
	}
}

// copyPackage copies the non-test Go files of dir into dst, leaving out
// the generated file skip.
func copyPackage(t *testing.T, dir, dst, skip string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == skip || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
