package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
)

// TestVMBaseImage proves the VM tier's footing: the cached base image boots
// under TCG with a NoCloud seed, cloud-init finishes, SSH works through the
// 127.0.0.1 hostfwd, and apt in the guest reaches the partial Debian mirror
// (signed with the base build's throwaway key) through the guestfwd relay.
func TestVMBaseImage(t *testing.T) {
	requireVM(t)
	base := baseImage(t)
	out := outDir(t)
	repo := repoServer(t, base, "")
	key, err := vm.NewSSHKey(out)
	if err != nil {
		t.Fatal(err)
	}
	ud := cloudConfig{
		SSHAuthorizedKeys: []string{key.Public},
		WriteFiles:        []ciFile{{Path: "/var/lib/e2e/marker", Content: "written by cloud-init\n"}},
		RunCmd:            [][]string{{"sh", "-c", "echo e2e-runcmd-ran > /var/lib/e2e/runcmd"}},
	}
	start := time.Now()
	v := bootVM(t, vm.Config{
		Name: "base", Image: filepath.Join(base, "disk.qcow2"), Dir: filepath.Join(out, "base"),
		UserData: ud.render(t), InstanceID: "e2e-base-1", Hostname: "e2e-base",
		SSHKey: key, GuestForwards: []vm.GuestForward{repo.GuestForward()},
	})
	waitBooted(t, v, 6*time.Minute)
	progress(t, "base image: booted to cloud-init done in %s", time.Since(start).Round(time.Second))

	got := run(t, v, time.Minute, "cat /var/lib/e2e/marker /var/lib/e2e/runcmd; hostname")
	for _, want := range []string{"written by cloud-init", "e2e-runcmd-ran", "e2e-base"} {
		if !strings.Contains(got, want) {
			t.Errorf("guest lacks %q in:\n%s", want, got)
		}
	}
	got = run(t, v, 3*time.Minute, "apt-get update -q 2>&1; apt-cache policy prosody")
	if !strings.Contains(got, "http://10.0.2.101/debian bookworm/main") || !strings.Contains(got, "Candidate: 0.12") {
		t.Errorf("apt in the guest did not reach the partial mirror through the guestfwd:\n%s", got)
	}
	if strings.Contains(got, "NO_PUBKEY") || strings.Contains(got, "not signed") {
		t.Errorf("the partial mirror's signature was not accepted:\n%s", got)
	}
	if req, _ := repo.Stats(); req == 0 {
		t.Error("the repository server on 127.0.0.1 saw no request from the guest")
	}
}
