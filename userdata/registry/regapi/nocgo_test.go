package regapi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCgo keeps the package linkable into the static node agent: none of
// its dependencies may be go-dqlite, go-sqlite3 or use cgo.
func TestNoCgo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".")
	// With cgo off, a package that needs cgo fails to list or shows as "C".
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, cgo, _ := strings.Cut(line, " ")
		if path == "C" || cgo == "cgo" || strings.Contains(path, "dqlite") || strings.Contains(path, "sqlite3") {
			t.Errorf("regapi depends on %s (%s): the node agent must build with CGO_ENABLED=0", path, line)
		}
	}
}
