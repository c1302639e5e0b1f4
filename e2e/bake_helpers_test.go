package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
)

// bakeProgress picks Packer's lines worth a progress line.
var bakeProgress = regexp.MustCompile(`jitsi: |jitsi-registry: |Build '|Waiting for SSH|Connected to SSH|Gracefully halting|[Ee]rror`)

// bakeResult is one role's baked image, or why there is none.
type bakeResult struct {
	image string
	took  time.Duration
	err   error
}

// bakeJob is one Packer bake of a role image (images/) on a base image.
type bakeJob struct {
	Role, OS string
	Base     string // the base image's cache directory (disk.qcow2, mirror/)
	// RepoPort is the repository server (the base image's mirror and the
	// stand-in Jitsi repository) the bake's guest reaches at 10.0.2.101.
	RepoPort int
	// Versions are the role's exact Jitsi versions (jvb_versions or
	// jms_versions); empty: the repository's newest.
	Versions map[string]string
	// Vars are more of images/' variables ("name=value"); Label names the
	// bake in progress lines when one role and OS are baked several ways.
	Vars  []string
	Label string
}

// baker bakes role images with one private Packer environment and the
// plugin; the jitsi-registry post-processor records each image through the
// registry's API. Baked images are removed at the end of the test binary
// when the test that baked them passed (E2E_KEEP_IMAGES=1 keeps them), so
// a later test of the same run may boot them.
type baker struct {
	pk        *packerEnv
	baseDir   string // base_image_dir: one <os>.qcow2 link per base image
	output    string // output_dir
	jitsiRepo string
	api       registryAPI
	relay     []string
	key       *vm.SSHKey
	mu        sync.Mutex
}

func newBaker(t *testing.T, out, jitsiRepo string, api registryAPI, relay []string, key *vm.SSHKey) *baker {
	t.Helper()
	b := &baker{
		pk: newPackerEnv(t, filepath.Join(out, "packer")), baseDir: filepath.Join(out, "base-images"),
		output: filepath.Join(out, "output"), jitsiRepo: jitsiRepo, api: api, relay: relay, key: key,
	}
	if err := os.MkdirAll(b.baseDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Baked images are large: kept when the test fails or E2E_KEEP_IMAGES=1
		// (for E2E_REUSE_BAKE), removed otherwise.
		if !t.Failed() && os.Getenv("E2E_KEEP_IMAGES") != "1" {
			removeAtExit(b.output)
		}
	})
	return b
}

// bake runs `packer build images/` for one role on one OS and returns the
// image's path and the bake's duration. It does not touch t's failure
// state, so goroutines may call it.
func (b *baker) bake(t *testing.T, j bakeJob) (string, time.Duration, error) {
	b.mu.Lock()
	link := filepath.Join(b.baseDir, j.OS+".qcow2")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(filepath.Join(j.Base, "disk.qcow2"), link); err != nil {
			b.mu.Unlock()
			return "", 0, fmt.Errorf("bake %s on %s: %w", j.Role, j.OS, err)
		}
	}
	b.mu.Unlock()
	netdev := fmt.Sprintf(",restrict=on,guestfwd=tcp:%s:%d-cmd:%s 127.0.0.1:%d", vm.GuestRepoIP, vm.GuestRepoPort, strings.Join(b.relay, " "), j.RepoPort)
	start := time.Now()
	name := j.Role + "-" + j.OS
	args := []string{"build", "-color=false", "-timestamp-ui", "-only=" + j.Role + ".*",
		"-var", "os=" + j.OS, "-var", "base_image_dir=" + b.baseDir, "-var", "output_dir=" + b.output,
		"-var", "ssh_private_key_file=" + b.key.Private, "-var", "ssh_public_key=" + b.key.Public,
		"-var", "apt_repo_url=http://" + vm.GuestRepoIP + "/jitsi", "-var", "apt_key_file=" + filepath.Join(b.jitsiRepo, "jitsi-key.gpg.key"),
		"-var", "registry_url=" + b.api.url, "-var", "registry_token_file=" + b.api.operatorToken, "-var", "registry_ca_file=" + b.api.ca,
		"-var", "qemu_netdev_extra=" + netdev,
		"-var", j.Role + "_versions=" + hclMap(j.Versions),
		"-var", "cpus=1", "-var", "memory=1024"}
	for _, kv := range j.Vars {
		args = append(args, "-var", kv)
	}
	label := name
	if j.Label != "" {
		label += " (" + j.Label + ")"
	}
	err := b.pk.run(t, "build-"+name, 40*time.Minute, bakeProgress, append(args, filepath.Join(repoRoot(), "images"))...)
	took := time.Since(start)
	image := filepath.Join(b.output, name, name+".qcow2")
	if err == nil {
		_, err = os.Stat(image)
	}
	if err != nil {
		return "", took, err
	}
	progress(t, "bake: %s image in %s", label, took.Round(time.Second))
	return image, took, nil
}

// hclMap is m as an HCL object for a -var value, keys sorted.
func hclMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q = %q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// startBakes bakes the JVB and JMS images on Debian 12 with two Packer runs
// at once and returns a channel per role that gets its qcow2 path.
func startBakes(t *testing.T, out, base, jitsiRepo string, api registryAPI, relay []string, repoPort int, key *vm.SSHKey) map[string]<-chan bakeResult {
	t.Helper()
	b := newBaker(t, out, jitsiRepo, api, relay, key)
	chans := map[string]<-chan bakeResult{}
	for _, role := range []string{"jvb", "jms"} {
		ch := make(chan bakeResult, 1)
		chans[role] = ch
		go func() {
			image, took, err := b.bake(t, bakeJob{Role: role, OS: "debian-12", Base: base, RepoPort: repoPort})
			ch <- bakeResult{image: image, took: took, err: err}
		}()
	}
	return chans
}

// awaitBake waits for one role's bake and fails the test if it failed.
func awaitBake(t *testing.T, ch <-chan bakeResult) bakeResult {
	t.Helper()
	r := <-ch
	if r.err != nil {
		t.Fatalf("assertion bake: %v", r.err)
	}
	return r
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

// clusterImages are the Debian 12 images TestVMCluster baked in this run:
// the matrix boots them instead of baking the same images again.
var clusterImages struct {
	sync.Mutex
	baked map[string]bakeResult // role → image
}

func shareClusterImages(jvb, jms bakeResult) {
	clusterImages.Lock()
	defer clusterImages.Unlock()
	clusterImages.baked = map[string]bakeResult{"jvb": jvb, "jms": jms}
}

// clusterImage is TestVMCluster's image of role, if it baked one in this run
// and the file is still there.
func clusterImage(role string) (bakeResult, bool) {
	clusterImages.Lock()
	defer clusterImages.Unlock()
	r, ok := clusterImages.baked[role]
	if !ok || r.err != nil {
		return bakeResult{}, false
	}
	if _, err := os.Stat(r.image); err != nil {
		return bakeResult{}, false
	}
	return r, true
}
