package registry

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	reg "github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/httpapi"
)

// startAPI serves a real embedded registry through the real HTTP API on a
// loopback port, for the test's lifetime.
func startAPI(t *testing.T) (url string, store *reg.Registry) {
	t.Helper()
	store, err := reg.Open(context.Background(), filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(store, httpapi.Config{OperatorToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return srv.URL, store
}

// TestPostProcessRemote records through registry_url + registry_token_file.
func TestPostProcessRemote(t *testing.T) {
	url, store := startAPI(t)
	dir := t.TempDir()
	mf := writeManifest(t, dir, jvbManifest)
	var p PostProcessor
	if err := p.Configure(map[string]interface{}{
		"registry_url": url, "registry_token_file": writeToken(t, testToken, 0o600), "manifest_file": mf,
	}); err != nil {
		t.Fatal(err)
	}
	in := &packersdk.MockArtifact{IdValue: "eu-west-1:ami-0123456789abcdef0"}
	ui := &packersdk.MockUi{}
	out, keep, _, err := p.PostProcess(context.Background(), ui, in)
	if err != nil {
		t.Fatalf("PostProcess: %v", err)
	}
	if out != in || !keep {
		t.Fatal("the artifact was not passed on, kept")
	}
	imgs, err := store.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ArtifactID != "eu-west-1:ami-0123456789abcdef0" || imgs[0].OS != "debian-12" {
		t.Fatalf("registry images = %+v", imgs)
	}
	for _, m := range ui.SayMessages {
		if strings.Contains(m.Message, testToken) {
			t.Errorf("token in UI output: %s", m.Message)
		}
	}
}

// TestPostProcessRemoteWrongToken: a token the API refuses fails the build
// with the API's answer, and the token itself is not in the error.
func TestPostProcessRemoteWrongToken(t *testing.T) {
	url, _ := startAPI(t)
	const wrong = "wrong-token-0123456789abcdef"
	var p PostProcessor
	if err := p.Configure(map[string]interface{}{
		"registry_url": url, "registry_token_file": writeToken(t, wrong, 0o600),
		"manifest_file": writeManifest(t, t.TempDir(), jvbManifest),
	}); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{IdValue: "ami-1"})
	if err == nil || !strings.Contains(err.Error(), "record image") {
		t.Fatalf("PostProcess = %v, want a refused record", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatalf("the token is in the error: %v", err)
	}
	t.Logf("error: %v", err)
}
