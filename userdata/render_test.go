package userdata

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const nastySecret = testvectors.NastySecret

// cases cover every role × format, with the options that change the output
// (shared with the e2e JVM tier).
func cases() map[string]node.Spec { return testvectors.Cases() }

func TestGolden(t *testing.T) {
	if *update {
		old, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.yaml"))
		for _, p := range old {
			os.Remove(p)
		}
	}
	for name, s := range cases() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./userdata -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("user-data differs from %s (run with -update after checking the diff)", path)
			}
		})
	}
}

// TestCloudInitSchema runs Debian's cloud-init schema check on every case.
func TestCloudInitSchema(t *testing.T) {
	ci, err := exec.LookPath("cloud-init")
	if err != nil {
		t.Fatalf("cloud-init not found (install the cloud-init package; `make deps` does): %v", err)
	}
	dir := t.TempDir()
	for name, s := range cases() {
		data, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ci, "schema", "--config-file", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
			t.Errorf("%s: cloud-init schema: %v\n%s", name, err, out)
		}
	}
}

// TestCloudInitSchemaCatchesErrors proves the schema check can fail.
func TestCloudInitSchemaCatchesErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := "#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 420\n    defer: maybe\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cloud-init", "schema", "--config-file", path).CombinedOutput(); err == nil {
		t.Errorf("cloud-init accepted an invalid document:\n%s", out)
	}
}

func TestDeterministic(t *testing.T) {
	for name, s := range cases() {
		a, _ := Render(s)
		for i := 0; i < 20; i++ {
			if b, _ := Render(s); !bytes.Equal(a, b) {
				t.Fatalf("%s: render %d differs", name, i)
			}
		}
	}
}

// TestYAMLRoundTrip: the document parses back into the same typed config, so
// every file's content survives YAML quoting byte for byte.
func TestYAMLRoundTrip(t *testing.T) {
	for name, s := range cases() {
		data, _ := Render(s)
		if !bytes.HasPrefix(data, []byte(cloudinit.Header)) {
			t.Fatalf("%s: missing #cloud-config header", name)
		}
		var back cloudinit.Config
		if err := yaml.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want, _ := Build(s); !reflect.DeepEqual(back, want) {
			t.Errorf("%s: YAML round trip changed the document", name)
		}
	}
}

// TestFileModesAndSecrets: only the root-only secrets.yaml holds a secret or
// a credential; the world-readable node.yaml, runcmd and hostname hold none.
func TestFileModesAndSecrets(t *testing.T) {
	for name, s := range cases() {
		c, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		secrets := []string{s.Secret}
		if s.Registry != nil {
			secrets = append(secrets, s.Registry.Credential)
		}
		for _, sh := range s.ExtraShards {
			secrets = append(secrets, sh.Secret)
		}
		if len(c.WriteFiles) != 2 {
			t.Fatalf("%s: %d files, want node.yaml and secrets.yaml only", name, len(c.WriteFiles))
		}
		for _, f := range c.WriteFiles {
			if f.Owner != "" {
				t.Errorf("%s: %s owner %q: the agent's inputs are root's (cloud-init's default)", name, f.Path, f.Owner)
			}
			for _, sec := range secrets {
				if !strings.Contains(f.Content, sec) {
					continue
				}
				if f.Path != jitsi.NodeSecrets || f.Permissions != "0600" {
					t.Errorf("%s: %s (mode %s) holds a secret", name, f.Path, f.Permissions)
				}
			}
		}
		if c.WriteFiles[1].Path != jitsi.NodeSecrets || c.WriteFiles[1].Permissions != "0600" {
			t.Errorf("%s: secrets file %s mode %s", name, c.WriteFiles[1].Path, c.WriteFiles[1].Permissions)
		}
		for _, sec := range secrets {
			for _, line := range c.RunCmd {
				if strings.Contains(line, sec) {
					t.Errorf("%s: runcmd carries a secret", name)
				}
			}
			if strings.Contains(c.Hostname+c.FQDN, sec) {
				t.Errorf("%s: hostname carries a secret", name)
			}
		}
	}
}

// TestOneCommand: user-data runs the agent and nothing else, or fails
// visibly on an image without it.
func TestOneCommand(t *testing.T) {
	c, _ := Build(cases()["jvb-modern"])
	if len(c.RunCmd) != 1 {
		t.Fatalf("runcmd %q", c.RunCmd)
	}
	script := c.RunCmd[0]
	dir := t.TempDir()
	run := func(agent string) (string, error) {
		s := strings.ReplaceAll(script, jitsi.AgentBinary, agent)
		s = strings.ReplaceAll(s, ">/dev/console", ">"+filepath.Join(dir, "console"))
		out, err := exec.Command("sh", "-c", s).CombinedOutput()
		return string(out), err
	}
	out, err := run(filepath.Join(dir, "missing"))
	console, _ := os.ReadFile(filepath.Join(dir, "console"))
	if err == nil || !strings.Contains(out, "this image has no jitsi-node agent") || !strings.Contains(string(console), "bake it with packer-plugin-jitsi >= ") {
		t.Errorf("no agent: %v\nstderr %q\nconsole %q", err, out, console)
	}
	fake := filepath.Join(dir, "agent")
	os.WriteFile(fake, []byte("#!/bin/sh\necho \"ran $*\"\n"), 0o755)
	if out, err := run(fake); err != nil || out != "ran apply\n" {
		t.Errorf("with the agent: %q %v", out, err)
	}
}

// TestUserdataSize: a bridge's user-data stays small (target 2 KiB), and
// every case fits EC2's 16 KiB.
func TestUserdataSize(t *testing.T) {
	for name, s := range cases() {
		data, _ := Render(s)
		limit := 16384
		if s.Role == node.RoleJVB && (s.Registry == nil || s.Registry.CA == "") {
			limit = 2048
		}
		if len(data) > limit {
			t.Errorf("%s: user-data is %d bytes, over %d", name, len(data), limit)
		}
	}
}

func TestRenderRejectsInvalidSpec(t *testing.T) {
	_, err := Render(node.Spec{Role: node.RoleJVB, JMSFQDN: "meet", Secret: "x"})
	if err == nil || !strings.Contains(err.Error(), "jms_fqdn:") || !strings.Contains(err.Error(), "nickname:") {
		t.Errorf("want jms_fqdn and nickname errors, got %v", err)
	}
}

// BenchmarkRender10000Bridges renders user-data for a fleet of 10 000 bridges.
// BenchmarkRender10000Bridges renders the user-data of 10 000 bridges as
// issue does (RenderAll, on every CPU); BenchmarkRender10000BridgesOneCPU
// is the same work on one goroutine.
func BenchmarkRender10000Bridges(b *testing.B) {
	specs := tenThousandBridges()
	b.ReportAllocs()
	var bytesOut int
	for b.Loop() {
		out, err := RenderAll(specs)
		if err != nil {
			b.Fatal(err)
		}
		bytesOut = 0
		for _, d := range out {
			bytesOut += len(d)
		}
	}
	b.ReportMetric(float64(bytesOut)/float64(len(specs)), "bytes/node")
}

func BenchmarkRender10000BridgesOneCPU(b *testing.B) {
	specs := tenThousandBridges()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range specs {
			if _, err := Render(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func tenThousandBridges() []node.Spec {
	specs := make([]node.Spec, 10000)
	for i := range specs {
		specs[i] = node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: nastySecret, Nickname: fmt.Sprintf("jvb-%05d", i+1)}
	}
	return specs
}

// TestRenderAllIsRender: the parallel renderer gives each spec what Render
// gives it, in order, and names the spec that fails.
func TestRenderAllIsRender(t *testing.T) {
	var specs []node.Spec
	for _, s := range cases() {
		specs = append(specs, s)
	}
	out, err := RenderAll(specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		want, _ := Render(s)
		if string(out[i]) != string(want) {
			t.Errorf("spec %d: RenderAll differs from Render", i)
		}
	}
	bad := append(specs, node.Spec{Role: node.RoleJVB})
	if _, err := RenderAll(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("spec %d:", len(bad)-1)) {
		t.Errorf("RenderAll with an invalid spec: %v", err)
	}
}
