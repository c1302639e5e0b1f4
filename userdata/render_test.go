package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/scripts"
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
		if want := Build(s); !reflect.DeepEqual(back, want) {
			t.Errorf("%s: YAML round trip changed the document", name)
		}
	}
}

// TestFileModesAndSecrets: files with a secret are never world-readable, are
// owned as the packages own them, and the secret is nowhere but in them.
func TestFileModesAndSecrets(t *testing.T) {
	for name, s := range cases() {
		c := Build(s)
		secrets := []string{s.Secret}
		if s.Registry != nil {
			secrets = append(secrets, s.Registry.Credential)
		}
		for _, sh := range s.ExtraShards {
			secrets = append(secrets, sh.Secret)
		}
		for _, f := range c.WriteFiles {
			if len(f.Permissions) != 4 {
				t.Errorf("%s: %s: permissions %q are not 4 octal digits", name, f.Path, f.Permissions)
			}
			hasSecret := false
			for _, sec := range secrets {
				hasSecret = hasSecret || strings.Contains(f.Content, sec)
			}
			if hasSecret && f.Permissions[3] != '0' {
				t.Errorf("%s: %s holds the secret with mode %s (world-accessible)", name, f.Path, f.Permissions)
			}
			if strings.HasPrefix(f.Path, jitsi.JVBConfigDir) && (f.Owner != jitsi.JVBOwner || !f.Defer) {
				t.Errorf("%s: %s owner %q defer %v, want %s deferred", name, f.Path, f.Owner, f.Defer, jitsi.JVBOwner)
			}
			if f.Path == jitsi.Applier && f.Permissions != "0755" {
				t.Errorf("%s: applier mode %s", name, f.Permissions)
			}
		}
		for _, sec := range secrets {
			for _, argv := range c.RunCmd {
				if strings.Contains(strings.Join(argv, " "), sec) {
					t.Errorf("%s: runcmd carries a secret", name)
				}
			}
			if strings.Contains(c.Hostname+c.FQDN, sec) {
				t.Errorf("%s: hostname carries a secret", name)
			}
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
func BenchmarkRender10000Bridges(b *testing.B) {
	s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: nastySecret}
	b.ReportAllocs()
	var bytesOut int
	for b.Loop() {
		bytesOut = 0
		for i := 1; i <= 10000; i++ {
			s.Nickname = fmt.Sprintf("jvb-%05d", i)
			data, err := Render(s)
			if err != nil {
				b.Fatal(err)
			}
			bytesOut += len(data)
		}
	}
	b.ReportMetric(float64(bytesOut)/10000, "bytes/node")
}

// TestFitsCloudLimitsAndApplierDecodes: EC2 takes at most 16 KiB of
// user-data, and the compressed applier must decode to the embedded script.
func TestFitsCloudLimitsAndApplierDecodes(t *testing.T) {
	for name, s := range cases() {
		data, _ := Render(s)
		if len(data) > 16384 {
			t.Errorf("%s: user-data is %d bytes, over EC2's 16384", name, len(data))
		}
		for _, f := range Build(s).WriteFiles {
			if f.Path != jitsi.Applier {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(f.Content)
			if err != nil || f.Encoding != cloudinit.EncodingGzipBase64 {
				t.Fatalf("%s: applier encoding %q: %v", name, f.Encoding, err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(got, scripts.NodeApplier) {
				t.Errorf("%s: applier does not decode to the embedded script (%v)", name, err)
			}
		}
	}
}
