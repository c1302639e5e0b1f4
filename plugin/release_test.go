package plugin_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/release"
	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/packertest"
	reg "github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

// releaseVersion is the test release's version: one no other build has, so
// that only this release can satisfy the templates' constraint.
const releaseVersion = "0.99.1"

// requiredPlugins is the packer block of the templates, with a version
// constraint.
func requiredPlugins(constraint string) string {
	return `packer {
  required_plugins {
    jitsi = {
      source  = "` + packertest.PluginSource + `"
      version = "` + constraint + `"
    }
  }
}
`
}

// TestReleaseInstallsOffline makes a release for this machine's platform
// the way `make release` does (internal/release), checks its SHA256SUMS,
// unzips it, and installs it with Packer 1.11.2 as an offline site would,
// in a network namespace without any network: `packer plugins install
// --path`, `packer init` satisfied without a download, `packer plugins
// installed`, then `packer validate` and `packer build` run the installed
// binary's provisioner and post-processor (recording into an embedded
// dqlite registry, so its statically linked libdqlite runs too).
func TestReleaseInstallsOffline(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer1112)
	root, err := packertest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := release.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	out := filepath.Join(t.TempDir(), "release")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var log bytes.Buffer
	results, err := release.Make(ctx, release.Options{
		Root: root, Version: releaseVersion, Platforms: []release.Platform{p}, Out: out,
		Env: packertest.BuildEnv(), Log: &log,
	})
	if err != nil {
		t.Fatalf("make the release: %v\n%s", err, log.String())
	}
	t.Logf("release for %s made in %s: %s, %d bytes", p, time.Since(start).Round(time.Second), results[0].Zip, results[0].ZipBytes)

	sums, err := release.VerifySums(filepath.Join(out, release.SumsName(releaseVersion)))
	if err != nil {
		t.Fatal(err)
	}
	wantZip := release.ZipName(releaseVersion, "x5.0", p)
	if len(sums) != 1 || sums[0].File != wantZip {
		t.Fatalf("SHA256SUMS lists %v, want only %s", sums, wantZip)
	}
	binName := release.BinaryName(releaseVersion, "x5.0", p)
	bin, err := release.ExtractBinary(filepath.Join(out, wantZip), binName, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	env := packertest.NewEnv(t, false)
	env.Offline = true
	inst := env.Run(t, packer, time.Minute, "plugins", "install", "--path", bin, packertest.PluginSource)
	if inst.Code != 0 {
		t.Fatalf("packer plugins install --path: exit %d\n%s", inst.Code, inst.Output)
	}
	installed := filepath.Join(env.PluginDir, filepath.FromSlash(packertest.PluginSource), binName)
	if got, err := os.ReadFile(installed); err != nil {
		t.Fatalf("packer did not install %s: %v\n%s", installed, err, inst.Output)
	} else if want, _ := os.ReadFile(bin); !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the released binary", installed)
	}

	// init is satisfied by the installed release; a constraint only a newer
	// release meets sends it to GitHub, which this namespace cannot reach.
	env.WriteFile(t, "init.pkr.hcl", requiredPlugins(">= "+releaseVersion))
	if r := env.Run(t, packer, time.Minute, "init", "init.pkr.hcl"); r.Code != 0 {
		t.Fatalf("packer init (offline, plugin installed): exit %d\n%s", r.Code, r.Output)
	}
	if err := os.Remove(filepath.Join(env.Dir, "init.pkr.hcl")); err != nil {
		t.Fatal(err)
	}
	newer := env.WriteFile(t, "newer.pkr.hcl", requiredPlugins("> "+releaseVersion))
	if r := env.Run(t, packer, time.Minute, "init", newer); r.Code == 0 ||
		!strings.Contains(r.Output, `Failed getting the "`+packertest.PluginSource+`" plugin`) {
		t.Fatalf("packer init of a newer version than installed, offline: exit %d, want a failed download:\n%s", r.Code, r.Output)
	}
	if err := os.Remove(newer); err != nil {
		t.Fatal(err)
	}
	listed := env.Run(t, packer, time.Minute, "plugins", "installed")
	if listed.Code != 0 || !strings.Contains(listed.Output, installed) {
		t.Fatalf("packer plugins installed: exit %d, want %s listed:\n%s", listed.Code, installed, listed.Output)
	}

	// The installed provisioner's Prepare reports every bad option.
	env.WriteFile(t, "bad.pkr.hcl", requiredPlugins(">= "+releaseVersion)+badTemplate)
	expectBad(t, env.Run(t, packer, time.Minute, "validate", "bad.pkr.hcl"))
	if err := os.Remove(filepath.Join(env.Dir, "bad.pkr.hcl")); err != nil {
		t.Fatal(err)
	}

	buildInstalled(t, env, packer)
}

// buildInstalled runs `packer build` with the installed plugin's
// post-processor recording a `null` build's image into an embedded
// registry, then reads the registry back.
func buildInstalled(t *testing.T, env *packertest.Env, packer string) {
	t.Helper()
	// The manifest the jitsi provisioner writes in a real bake (baking needs
	// a machine with the Jitsi packages: the e2e VM tier does it).
	if err := manifest.Write(filepath.Join(env.Dir, manifest.DefaultFile("rel")), manifest.Manifest{
		BuildName: "rel", BuilderType: "null", Role: "jvb",
		OS:       manifest.OS{ID: "debian", VersionID: "12", Codename: "bookworm"},
		Packages: []manifest.Package{{Name: "jitsi-videobridge2", Version: "2.3-160-g97a1f15f-1", State: "installed"}},
	}); err != nil {
		t.Fatal(err)
	}
	const artifact = "jvb-release-" + releaseVersion
	env.WriteFile(t, "build.pkr.hcl", requiredPlugins(">= "+releaseVersion)+fmt.Sprintf(`
source "null" "rel" {
  communicator = "none"
}

build {
  sources = ["source.null.rel"]
  post-processor "jitsi-registry" {
    registry_dir = "registry"
    artifact_id  = %q
  }
}
`, artifact))
	// Still no network: only the namespace's own loopback, on which the
	// embedded registry listens.
	env.Loopback = true
	r := env.Run(t, packer, 3*time.Minute, "build", "-color=false", "build.pkr.hcl")
	if r.Code != 0 {
		t.Fatalf("packer build with the installed release: exit %d\n%s", r.Code, r.Output)
	}
	if w := "jitsi-registry: image " + artifact + ": jvb on debian-12, jitsi-videobridge2 2.3-160-g97a1f15f-1"; !strings.Contains(r.Output, w) {
		t.Errorf("packer build output lacks %q:\n%s", w, r.Output)
	}
	if log := env.Log(t); !strings.Contains(log, "packer-plugin-jitsi_v"+releaseVersion+"_x5.0_") {
		t.Errorf("packer's log does not show the released binary being started")
	}

	rg, err := reg.Open(context.Background(), filepath.Join(env.Dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	imgs, err := rg.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ArtifactID != artifact || imgs[0].Role != "jvb" {
		t.Fatalf("registry holds %+v, want the image %s", imgs, artifact)
	}
}
