// Tests of the plugin binary as Packer sees it: its describe output, and
// real Packer 1.9.4 and 1.11.2 loading it the way each discovers plugins.
package plugin_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/packertest"
)

func TestMain(m *testing.M) { packertest.Main(m) }

func TestDescribe(t *testing.T) {
	out, err := exec.Command(packertest.PluginBinary(t), "describe").Output()
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var d struct {
		Version        string   `json:"version"`
		SDKVersion     string   `json:"sdk_version"`
		APIVersion     string   `json:"api_version"`
		Builders       []string `json:"builders"`
		PostProcessors []string `json:"post_processors"`
		Provisioners   []string `json:"provisioners"`
		Datasources    []string `json:"datasources"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("describe output is not JSON: %v\n%s", err, out)
	}
	// The default name makes the provisioner "jitsi"; "registry" becomes
	// the post-processor "jitsi-registry".
	if want := []string{"-packer-default-plugin-name-"}; !reflect.DeepEqual(d.Provisioners, want) {
		t.Errorf("provisioners = %v, want %v", d.Provisioners, want)
	}
	if want := []string{"registry"}; !reflect.DeepEqual(d.PostProcessors, want) {
		t.Errorf("post_processors = %v, want %v", d.PostProcessors, want)
	}
	if len(d.Builders) != 0 || len(d.Datasources) != 0 {
		t.Errorf("unexpected builders %v / datasources %v", d.Builders, d.Datasources)
	}
	if d.SDKVersion != "0.6.10" || d.APIVersion != "x5.0" || !strings.HasPrefix(d.Version, "0.") {
		t.Errorf("versions: plugin %q sdk %q api %q", d.Version, d.SDKVersion, d.APIVersion)
	}
}

// validTemplate uses both components; packer validate runs their Prepare.
const validTemplate = `
source "null" "t" {
  communicator = "none"
}

build {
  sources = ["source.null.t"]
  provisioner "jitsi" {
    role         = "jms"
    apt_key_file = %q
    versions     = { "jitsi-meet" = "2.0.9823-1" }
  }
  post-processor "jitsi-registry" {
    registry_dir = "registry-data"
  }
}
`

// badTemplate has three bad options: Packer must show all three messages.
const badTemplate = `
source "null" "t" {
  communicator = "none"
}

build {
  sources = ["source.null.t"]
  provisioner "jitsi" {
    role              = "bridge"
    apt_repo_url      = "ftp://mirror.example/jitsi"
    staging_directory = "relative/dir"
  }
}
`

func keyFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("provisioner/jitsi/test-fixtures/repo-key.asc")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPacker194LoadsBarePlugin: Packer 1.9.4 finds packer-plugin-jitsi in
// PACKER_PLUGIN_PATH, and reports every Prepare error of a bad template.
func TestPacker194LoadsBarePlugin(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer194)
	env := packertest.NewEnv(t, true)
	env.WriteFile(t, "ok.pkr.hcl", fmt.Sprintf(validTemplate, keyFile(t)))
	env.WriteFile(t, "bad.pkr.hcl", badTemplate)

	if r := env.Run(t, packer, time.Minute, "validate", "ok.pkr.hcl"); r.Code != 0 {
		t.Fatalf("packer validate: exit %d\n%s", r.Code, r.Output)
	}
	r := env.Run(t, packer, time.Minute, "validate", "bad.pkr.hcl")
	expectBad(t, r)
}

// TestPacker1112InstallsPlugin: Packer 1.11 ignores bare binaries; `packer
// plugins install --path` installs ours, then required_plugins finds it.
func TestPacker1112InstallsPlugin(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer1112)
	env := packertest.NewEnv(t, true) // the bare copy must be ignored
	tmpl := `packer {
  required_plugins {
    jitsi = {
      source  = "` + packertest.PluginSource + `"
      version = ">= 0.1.0"
    }
  }
}
` + fmt.Sprintf(validTemplate, keyFile(t))
	env.WriteFile(t, "ok.pkr.hcl", tmpl)

	before := env.Run(t, packer, time.Minute, "validate", "ok.pkr.hcl")
	if before.Code == 0 {
		t.Fatalf("packer 1.11 validated before the plugin was installed:\n%s", before.Output)
	}
	if !strings.Contains(before.Output, "Missing plugins") {
		t.Errorf("packer 1.11 without the plugin: want a missing-plugin error, got:\n%s", before.Output)
	}

	inst := env.Run(t, packer, time.Minute, "plugins", "install", "--path", packertest.PluginBinary(t), packertest.PluginSource)
	if inst.Code != 0 {
		t.Fatalf("packer plugins install --path: exit %d\n%s", inst.Code, inst.Output)
	}
	listed := env.Run(t, packer, time.Minute, "plugins", "installed")
	if !strings.Contains(listed.Output, filepath.Join(env.PluginDir, "github.com", "jitsi-packer", "jitsi")) {
		t.Fatalf("packer plugins installed does not list the plugin:\n%s", listed.Output)
	}
	if r := env.Run(t, packer, time.Minute, "validate", "ok.pkr.hcl"); r.Code != 0 {
		t.Fatalf("packer validate after install: exit %d\n%s", r.Code, r.Output)
	}
	env.WriteFile(t, "bad.pkr.hcl", badTemplate)
	expectBad(t, env.Run(t, packer, time.Minute, "validate", "bad.pkr.hcl"))
}

func expectBad(t *testing.T, r packertest.Result) {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("packer validate accepted a bad template:\n%s", r.Output)
	}
	for _, w := range []string{
		`role: "bridge" is not a role; use "jvb" or "jms"`,
		`apt_repo_url: scheme "ftp" is not supported; use https, http or file`,
		`staging_directory: "relative/dir" must be an absolute path`,
	} {
		if !strings.Contains(r.Output, w) {
			t.Errorf("packer validate output lacks %q:\n%s", w, r.Output)
		}
	}
}
