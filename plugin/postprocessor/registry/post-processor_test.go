package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	reg "github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

func TestConfigureDefaults(t *testing.T) {
	var p PostProcessor
	if err := p.Configure(map[string]interface{}{"registry_dir": t.TempDir(), "packer_build_name": "jvb"}); err != nil {
		t.Fatal(err)
	}
	if p.config.ManifestFile != "jitsi-manifest-jvb.json" || p.config.LockTimeout != 2*time.Minute {
		t.Fatalf("defaults: manifest %q lock %s", p.config.ManifestFile, p.config.LockTimeout)
	}
	if err := p.Configure(map[string]interface{}{"registry_dir": t.TempDir(), "lock_timeout": "30s"}); err != nil || p.config.LockTimeout != 30*time.Second {
		t.Fatalf("lock_timeout 30s: %v, %s", err, p.config.LockTimeout)
	}
}

func TestConfigureErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	token := writeToken(t, testToken, 0o600)
	openToken := writeToken(t, testToken, 0o644)
	shortToken := writeToken(t, "short", 0o600)
	cases := []struct {
		name string
		raw  map[string]interface{}
		want string
	}{
		{"no registry", map[string]interface{}{}, "registry_dir, registry_url: set one"},
		{"both registries", map[string]interface{}{"registry_dir": t.TempDir(), "registry_url": "https://r.example", "registry_token_file": token}, "registry_dir, registry_url: set only one of them"},
		{"url scheme", map[string]interface{}{"registry_url": "ftp://r.example", "registry_token_file": token}, `registry_url: "ftp://r.example" is not an http(s) URL`},
		{"url credentials", map[string]interface{}{"registry_url": "https://u:p@r.example", "registry_token_file": token}, "registry_url: must not carry credentials"},
		{"no token file", map[string]interface{}{"registry_url": "https://r.example"}, "registry_token_file: required with registry_url"},
		{"token world-readable", map[string]interface{}{"registry_url": "https://r.example", "registry_token_file": openToken}, "registry_token_file: read token: " + openToken + " is readable by others (mode 0644)"},
		{"token short", map[string]interface{}{"registry_url": "https://r.example", "registry_token_file": shortToken}, "registry_token_file: read token " + shortToken + ": the token is 5 characters long"},
		{"ca missing", map[string]interface{}{"registry_url": "https://r.example", "registry_token_file": token, "registry_ca_file": "/nonexistent/ca.pem"}, "registry_ca_file: stat /nonexistent/ca.pem: no such file or directory"},
		{"registry is a file", map[string]interface{}{"registry_dir": file}, "registry_dir: " + `"` + file + `" is not a directory`},
		{"artifact id space", map[string]interface{}{"registry_dir": t.TempDir(), "artifact_id": "my image"}, `artifact_id: "my image" must be printable ASCII without spaces`},
		{"lock timeout", map[string]interface{}{"registry_dir": t.TempDir(), "lock_timeout": "-1s"}, "lock_timeout: must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p PostProcessor
			err := p.Configure(tc.raw)
			var me *packersdk.MultiError
			if !errors.As(err, &me) || len(me.Errors) != 1 || !strings.HasPrefix(me.Errors[0].Error(), tc.want) {
				t.Fatalf("Configure = %v, want one error starting %q", err, tc.want)
			}
		})
	}
	var p PostProcessor
	err := p.Configure(map[string]interface{}{"artifact_id": "a b", "lock_timeout": "-1s"})
	var me *packersdk.MultiError
	if !errors.As(err, &me) || len(me.Errors) != 3 {
		t.Fatalf("want 3 errors at once, got %v", err)
	}
}

const testToken = "operator-token-0123456789abcdef"

func writeToken(t *testing.T, tok string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(tok+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeManifest(t *testing.T, dir string, m manifest.Manifest) string {
	t.Helper()
	path := filepath.Join(dir, "jitsi-manifest-jvb.json")
	if err := manifest.Write(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

var jvbManifest = manifest.Manifest{
	BuildName: "jvb", BuilderType: "qemu", Role: "jvb",
	OS:       manifest.OS{ID: "debian", VersionID: "12", Codename: "bookworm"},
	Packages: []manifest.Package{{Name: "jitsi-videobridge2", Version: "2.3-160-g97a1f15f-1", State: "installed"}},
	Arch:     "arm64", AgentVersion: "0.3.0", BuildID: "b-20261129t080000z-0123456789abcdef",
}

// TestPostProcessRecordsImage records into a real embedded dqlite registry
// and reads the image back through a second Open.
func TestPostProcessRecordsImage(t *testing.T) {
	dir := t.TempDir()
	regDir := filepath.Join(dir, "registry")
	mf := writeManifest(t, dir, jvbManifest)
	var p PostProcessor
	if err := p.Configure(map[string]interface{}{"registry_dir": regDir, "manifest_file": mf, "packer_build_name": "jvb"}); err != nil {
		t.Fatal(err)
	}
	in := &packersdk.MockArtifact{BuilderIdValue: "transcend.qemu", IdValue: "VM", FilesValue: []string{"output-jvb/jvb.qcow2"}}
	ui := &packersdk.MockUi{}
	out, keep, force, err := p.PostProcess(context.Background(), ui, in)
	if err != nil {
		t.Fatalf("PostProcess: %v", err)
	}
	if out != in || !keep || force {
		t.Fatalf("PostProcess returned (%v, keep %v, force %v), want the input artifact, kept, not forced", out, keep, force)
	}

	r, err := reg.Open(context.Background(), regDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	imgs, err := r.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want := filepath.Join(wd, "output-jvb/jvb.qcow2")
	if len(imgs) != 1 || imgs[0].ArtifactID != want || imgs[0].Role != "jvb" || imgs[0].OS != "debian-12" ||
		!reflect.DeepEqual(imgs[0].Versions, map[string]string{"jitsi-videobridge2": "2.3-160-g97a1f15f-1"}) {
		t.Fatalf("registry images = %+v, want one jvb debian-12 image %s", imgs, want)
	}
	// The image carries the stamp its nodes send, and what they run.
	if img := imgs[0]; img.BuildID != jvbManifest.BuildID || img.Arch != "arm64" || img.AgentVersion != "0.3.0" || !img.Names(jvbManifest.BuildID) || !img.Names(want) {
		t.Errorf("image record %+v: want build %s, arm64, agent 0.3.0", img, jvbManifest.BuildID)
	}
	said := ""
	for _, m := range ui.SayMessages {
		said += m.Message + "\n"
	}
	if !strings.Contains(said, "jitsi-registry: image "+want+": jvb on debian-12, jitsi-videobridge2 2.3-160-g97a1f15f-1") {
		t.Errorf("UI output:\n%s", said)
	}
}

// fakeRecorder records in memory; it stands in for the registry only where
// the test is about the post-processor's own decisions.
type fakeRecorder struct{ got []regapi.Image }

func (f *fakeRecorder) RecordImage(_ context.Context, img regapi.Image) (regapi.Image, error) {
	f.got = append(f.got, img)
	return img, nil
}
func (f *fakeRecorder) Close() error { return nil }

func TestPostProcessRefuses(t *testing.T) {
	dir := t.TempDir()
	other := jvbManifest
	other.RunUUID = "run-A"
	mf := writeManifest(t, dir, other)
	cases := []struct {
		name     string
		cfg      map[string]interface{}
		artifact packersdk.Artifact
		env      string
		want     string
	}{
		{"no manifest", map[string]interface{}{"manifest_file": filepath.Join(dir, "none.json")}, &packersdk.MockArtifact{IdValue: "eu-west-1:ami-1"}, "",
			"no manifest: run the jitsi provisioner in this build first"},
		{"other run", map[string]interface{}{"manifest_file": mf}, &packersdk.MockArtifact{IdValue: "eu-west-1:ami-1"}, "run-B",
			"it is from another Packer run (run-A, this is run-B)"},
		{"other build", map[string]interface{}{"manifest_file": mf, "packer_build_name": "jms"}, &packersdk.MockArtifact{IdValue: "eu-west-1:ami-1"}, "run-A",
			`it is build "jvb"'s, not "jms"'s`},
		{"no image id", map[string]interface{}{"manifest_file": mf}, &packersdk.MockArtifact{BuilderIdValue: "mitchellh.null", IdValue: "Null", FilesValue: []string{}}, "run-A",
			`artifact_id: the mitchellh.null artifact names no image (id "Null", no files); set artifact_id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PACKER_RUN_UUID", tc.env)
			tc.cfg["registry_dir"] = filepath.Join(dir, "reg")
			var p PostProcessor
			if err := p.Configure(tc.cfg); err != nil {
				t.Fatal(err)
			}
			rec := &fakeRecorder{}
			p.open = func(context.Context, *Config) (imageRecorder, error) { return rec, nil }
			_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, tc.artifact)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PostProcess = %v, want %q", err, tc.want)
			}
			if len(rec.got) != 0 {
				t.Fatalf("recorded %v despite the error", rec.got)
			}
		})
	}
}

func TestArtifactID(t *testing.T) {
	wd, _ := os.Getwd()
	cases := []struct {
		configured string
		a          *packersdk.MockArtifact
		want       string
	}{
		{"", &packersdk.MockArtifact{IdValue: "eu-west-1:ami-0abc"}, "eu-west-1:ami-0abc"},
		{"", &packersdk.MockArtifact{IdValue: "VM", FilesValue: []string{"out/jms.qcow2"}}, filepath.Join(wd, "out/jms.qcow2")},
		{"", &packersdk.MockArtifact{IdValue: "File", FilesValue: []string{"/abs/img"}}, "/abs/img"},
		{"jms-2026-11-25", &packersdk.MockArtifact{IdValue: "VM"}, "jms-2026-11-25"},
	}
	for _, tc := range cases {
		got, err := artifactID(tc.configured, tc.a)
		if err != nil || got != tc.want {
			t.Errorf("artifactID(%q, id %q) = %q, %v; want %q", tc.configured, tc.a.IdValue, got, err, tc.want)
		}
	}
}
