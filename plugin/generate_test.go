package plugin_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedSpecsUpToDate regenerates each component's HCL2 spec the way
// `go generate` (make generate) does and fails if the committed file
// differs: a Config field added without regenerating would be invisible to
// HCL2 templates. The committed file is put back either way.
func TestGeneratedSpecsUpToDate(t *testing.T) {
	for _, c := range []struct{ dir, src, spec, pkg string }{
		{"provisioner/jitsi", "config.go", "config.hcl2spec.go", "jitsi"},
		{"postprocessor/registry", "post-processor.go", "post-processor.hcl2spec.go", "registry"},
	} {
		t.Run(c.dir, func(t *testing.T) {
			specPath := filepath.Join(c.dir, c.spec)
			committed, err := os.ReadFile(specPath)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := os.WriteFile(specPath, committed, 0o644); err != nil {
					t.Errorf("restore %s: %v", specPath, err)
				}
			}()
			cmd := exec.Command("go", "tool", "packer-sdc", "mapstructure-to-hcl2", "-type", "Config")
			cmd.Dir = c.dir
			// -tags libsqlite3: load go-sqlite3 against the system SQLite, as every build here does.
			cmd.Env = append(os.Environ(), "GOFILE="+c.src, "GOPACKAGE="+c.pkg, "GOFLAGS=-tags=libsqlite3")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("packer-sdc: %v\n%s", err, out)
			}
			fresh, err := os.ReadFile(specPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fresh, committed) {
				t.Fatalf("%s is stale: run `make generate` (go generate ./...)", specPath)
			}
		})
	}
}
