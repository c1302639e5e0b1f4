package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
)

// bakeProgress picks Packer's lines worth a progress line.
var bakeProgress = regexp.MustCompile(`jitsi: |jitsi-registry: |Build '|Waiting for SSH|Connected to SSH|Gracefully halting|[Ee]rror`)

// bakeResult is one role's baked image, or why there is none.
type bakeResult struct {
	image string
	err   error
}

// startBakes bakes the JVB and JMS images with two Packer runs at once (the
// jitsi-registry post-processor records each through the registry's API)
// and returns a channel per role that gets its qcow2 path.
func startBakes(t *testing.T, out, base, jitsiRepo string, api registryAPI, relay []string, repoPort int, key *vm.SSHKey) map[string]<-chan bakeResult {
	t.Helper()
	baseDir := filepath.Join(out, "base-images")
	if err := os.MkdirAll(baseDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "disk.qcow2"), filepath.Join(baseDir, "debian-12.qcow2")); err != nil {
		t.Fatal(err)
	}
	pk := newPackerEnv(t, filepath.Join(out, "packer"))
	netdev := fmt.Sprintf(",restrict=on,guestfwd=tcp:%s:%d-cmd:%s 127.0.0.1:%d", vm.GuestRepoIP, vm.GuestRepoPort, strings.Join(relay, " "), repoPort)
	output := filepath.Join(out, "output")
	t.Cleanup(func() {
		// Baked images are large: kept when the test fails or E2E_KEEP_IMAGES=1
		// (for E2E_REUSE_BAKE), removed otherwise.
		if !t.Failed() && os.Getenv("E2E_KEEP_IMAGES") != "1" {
			_ = os.RemoveAll(output)
		}
	})
	chans := map[string]<-chan bakeResult{}
	for _, role := range []string{"jvb", "jms"} {
		ch := make(chan bakeResult, 1)
		chans[role] = ch
		go func() {
			start := time.Now()
			err := pk.run(t, "build-"+role, 40*time.Minute, bakeProgress, "build", "-color=false", "-timestamp-ui", "-only="+role+".*",
				"-var", "os=debian-12", "-var", "base_image_dir="+baseDir, "-var", "output_dir="+output,
				"-var", "ssh_private_key_file="+key.Private, "-var", "ssh_public_key="+key.Public,
				"-var", "apt_repo_url=http://"+vm.GuestRepoIP+"/jitsi", "-var", "apt_key_file="+filepath.Join(jitsiRepo, "jitsi-key.gpg.key"),
				"-var", "registry_url="+api.url, "-var", "registry_token_file="+api.operatorToken, "-var", "registry_ca_file="+api.ca,
				"-var", "qemu_netdev_extra="+netdev,
				"-var", "cpus=1", "-var", "memory=1024",
				filepath.Join(repoRoot(), "images"))
			image := filepath.Join(output, role+"-"+"debian-12", role+"-debian-12.qcow2")
			if err == nil {
				_, err = os.Stat(image)
			}
			if err == nil {
				progress(t, "bake: %s image in %s", role, time.Since(start).Round(time.Second))
			}
			ch <- bakeResult{image: image, err: err}
		}()
	}
	return chans
}

// awaitBake waits for one role's bake and fails the test if it failed.
func awaitBake(t *testing.T, ch <-chan bakeResult) string {
	t.Helper()
	r := <-ch
	if r.err != nil {
		t.Fatalf("assertion bake: %v", r.err)
	}
	return r.image
}

// reuseBake takes the images of an earlier TestVMCluster output folder
// (E2E_REUSE_BAKE) instead of baking; the registry records no image.
func reuseBake(t *testing.T, prev string) map[string]<-chan bakeResult {
	t.Helper()
	chans := map[string]<-chan bakeResult{}
	for _, role := range []string{"jvb", "jms"} {
		p := filepath.Join(prev, "output", role+"-debian-12", role+"-debian-12.qcow2")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("E2E_REUSE_BAKE: no %s image: %v", role, err)
		}
		ch := make(chan bakeResult, 1)
		ch <- bakeResult{image: p}
		chans[role] = ch
	}
	progress(t, "reusing the images baked in %s", prev)
	return chans
}
