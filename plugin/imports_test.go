package plugin_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestComponentsImportOnlySharedPackages keeps the Packer components apart,
// as the official plugins are: a component imports the SDK, the standard
// library and the project's shared packages (plugin/manifest, userdata/…,
// internal/…, version), never another component.
func TestComponentsImportOnlySharedPackages(t *testing.T) {
	const module = "github.com/jitsi-packer/packer-plugin-jitsi/"
	components := []string{"plugin/provisioner/jitsi", "plugin/postprocessor/registry"}
	for _, c := range components {
		out, err := exec.Command("go", "list", "-tags", "libsqlite3", "-f", `{{join .Imports "\n"}}`, "../"+c).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", c, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			rel, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			for _, other := range append(components, "plugin/packertest", "cli") {
				if rel == other || strings.HasPrefix(rel, other+"/") {
					t.Errorf("%s imports %s: components share code through plugin/manifest or userdata/, not through each other", c, rel)
				}
			}
		}
	}
}
