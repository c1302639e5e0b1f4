package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/packertest"
	reg "github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

func TestMain(m *testing.M) { packertest.Main(m) }

// TestAccRecordsBuild runs `packer build` (Packer 1.9.4, plugin from
// PACKER_PLUGIN_PATH) with the `file` builder standing in for an image
// builder, and the post-processor recording its artifact in a real embedded
// registry. The manifest is the one the provisioner would have written: a
// real provisioner run needs the Jitsi packages (the e2e tier does it).
func TestAccRecordsBuild(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer194)
	env := packertest.NewEnv(t, true)
	if err := manifest.Write(filepath.Join(env.Dir, "jitsi-manifest-jms.json"), manifest.Manifest{
		BuildName: "jms", BuilderType: "file", Role: "jms",
		OS: manifest.OS{ID: "ubuntu", VersionID: "18.04", Codename: "bionic"},
		Packages: []manifest.Package{
			{Name: "jicofo", Version: "1.0-1100-1", State: "cached"},
			{Name: "jitsi-meet", Version: "2.0.9823-1", State: "cached"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	env.WriteFile(t, "build.pkr.hcl", `
source "file" "jms" {
  content = "stand-in for a disk image"
  target  = "jms.img"
}

build {
  sources = ["source.file.jms"]
  post-processor "jitsi-registry" {
    registry_dir = "registry"
  }
}
`)
	res := env.Run(t, packer, 3*time.Minute, "build", "-color=false", "build.pkr.hcl")
	t.Logf("packer build: exit %d in %s", res.Code, res.Took.Round(time.Millisecond))
	if res.Code != 0 {
		t.Fatalf("packer build: exit %d\n%s", res.Code, res.Output)
	}
	img := filepath.Join(env.Dir, "jms.img")
	for _, w := range []string{
		"jitsi-registry: recording image " + img + " in registry",
		"jitsi-registry: image " + img + ": jms on ubuntu-18.04, jicofo 1.0-1100-1, jitsi-meet 2.0.9823-1",
		// the input artifact is passed on unchanged
		"--> file.jms: Stored file: jms.img",
	} {
		if !strings.Contains(res.Output, w) {
			t.Errorf("packer output lacks %q\n%s", w, res.Output)
		}
	}

	r, err := reg.Open(context.Background(), filepath.Join(env.Dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	imgs, err := r.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ArtifactID != img || imgs[0].Role != "jms" || imgs[0].Versions["jitsi-meet"] != "2.0.9823-1" {
		t.Fatalf("registry holds %+v, want the jms image %s", imgs, img)
	}
}

// TestAccRecordsBuildRemote: the same through a registry's HTTP API (real
// API and registry, served by the test on a loopback port); the operator
// token must appear in neither Packer's output nor its log.
func TestAccRecordsBuildRemote(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer194)
	url, store := startAPI(t)
	env := packertest.NewEnv(t, true)
	if err := manifest.Write(filepath.Join(env.Dir, "jitsi-manifest-jvb.json"), jvbManifest); err != nil {
		t.Fatal(err)
	}
	token := writeToken(t, testToken, 0o600)
	env.WriteFile(t, "build.pkr.hcl", fmt.Sprintf(`
source "file" "jvb" {
  content = "stand-in for a disk image"
  target  = "jvb.img"
}

build {
  sources = ["source.file.jvb"]
  post-processor "jitsi-registry" {
    registry_url        = %q
    registry_token_file = %q
    artifact_id         = "jvb-debian-12-test"
  }
}
`, url, token))
	res := env.Run(t, packer, 3*time.Minute, "build", "-color=false", "build.pkr.hcl")
	if res.Code != 0 {
		t.Fatalf("packer build: exit %d\n%s", res.Code, res.Output)
	}
	if !strings.Contains(res.Output, "jitsi-registry: image jvb-debian-12-test: jvb on debian-12, jitsi-videobridge2 2.3-160-g97a1f15f-1") {
		t.Errorf("packer output:\n%s", res.Output)
	}
	if strings.Contains(res.Output, testToken) || strings.Contains(env.Log(t), testToken) {
		t.Error("the registry token appears in Packer's output or log")
	}
	imgs, err := store.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ArtifactID != "jvb-debian-12-test" {
		t.Fatalf("registry holds %+v", imgs)
	}
}
