package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
)

// TestVMBaseImage proves the VM tier's footing on every base image OS (or
// those E2E_OS names), one VM at a time: the image boots by itself (GRUB
// from its MBR) under TCG with a NoCloud seed, cloud-init finishes, SSH works
// through the 127.0.0.1 hostfwd as the release's default user, the kernel and
// cloud-init running are the release's, and apt in the guest installs from the
// partial mirror (signed with the build's throwaway key) through the guestfwd
// relay.
func TestVMBaseImage(t *testing.T) {
	requireVM(t)
	for _, o := range selectedOSes(t) {
		t.Run(o.Name, func(t *testing.T) { testBaseImage(t, o) })
	}
}

func testBaseImage(t *testing.T, o baseOS) {
	base := baseImageOf(t, o)
	f := base.Facts
	out := outDir(t)
	repo := repoServer(t, base.Dir, "")
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
		Name: "base-" + o.Name, Image: base.Disk(), Dir: filepath.Join(out, "base"),
		UserData: ud.render(t), InstanceID: "e2e-base-1", Hostname: "e2e-base",
		SSHKey: key, SSHUser: f["default_user"], GuestForwards: []vm.GuestForward{repo.GuestForward()},
	})
	waitBooted(t, v, 10*time.Minute)
	progress(t, "base image %s: booted to cloud-init done in %s", o.Name, time.Since(start).Round(time.Second))

	got := run(t, v, time.Minute, "cat /var/lib/e2e/marker /var/lib/e2e/runcmd; hostname")
	for _, want := range []string{"written by cloud-init", "e2e-runcmd-ran", "e2e-base"} {
		if !strings.Contains(got, want) {
			t.Errorf("guest lacks %q in:\n%s", want, got)
		}
	}

	// The release, its kernel and bootloader.
	got = run(t, v, time.Minute, ". /etc/os-release; echo \"os=$ID-$VERSION_ID\"; echo \"kernel=$(uname -r)\"; cat /proc/cmdline")
	if want := "os=" + o.Name + "\n"; !strings.Contains(got, want) {
		t.Errorf("/etc/os-release: want %q in:\n%s", want, got)
	}
	if want := "kernel=" + f["kernel"] + "\n"; !strings.Contains(got, want) || !strings.HasSuffix(f["kernel"], o.KernelFlavour) {
		t.Errorf("kernel: want the release's %s (%s, flavour %s) in:\n%s", f["kernel"], f["kernel_package"], o.KernelFlavour, got)
	}
	if !strings.Contains(got, "BOOT_IMAGE=") || !strings.Contains(got, "root=LABEL=e2e-root") {
		t.Errorf("the kernel was not started by the image's GRUB (no BOOT_IMAGE= and root=LABEL=e2e-root):\n%s", got)
	}

	// The release's cloud-init: the version running is the package the
	// build took from the release's archive.
	got = strings.TrimSpace(run(t, v, time.Minute, "cloud-init --version 2>&1"))
	upstream, _, _ := strings.Cut(f["cloud_init"], "-")
	fields := strings.Fields(got)
	if len(fields) == 0 || !strings.HasPrefix(fields[len(fields)-1], upstream) {
		t.Errorf("cloud-init --version: %q, want the package's %s (%s)", got, upstream, f["cloud_init"])
	}
	if o.CloudInit != "" && !strings.HasPrefix(upstream, o.CloudInit) {
		t.Errorf("cloud-init %s in the image, but %s's archive holds %s", f["cloud_init"], o.Name, o.CloudInit)
	}
	progress(t, "base image %s: kernel %s, cloud-init %s, %s", o.Name, f["kernel"], got, f["bootloader"])

	// apt through the guestfwd to the partial mirror: an index of the
	// release's components, and a package the image lacks installed.
	got = run(t, v, 5*time.Minute, strings.Join([]string{
		"apt-get update -q 2>&1",
		"apt-cache policy prosody",
		"if dpkg-query -W -f '${Status}\\n' uuid-runtime 2>/dev/null | grep -q 'ok installed'; then echo uuid-runtime-was-installed; fi",
		"DEBIAN_FRONTEND=noninteractive apt-get install -y -q uuid-runtime 2>&1",
		"uuidgen",
	}, "\n"))
	source := fmt.Sprintf("http://10.0.2.101/%s %s/%s", f["mirror"], f["suite"], o.ProsodyComponent)
	if !strings.Contains(got, source) || strings.Contains(got, "Candidate: (none)") {
		t.Errorf("apt in the guest did not find prosody at %s through the guestfwd:\n%s", source, got)
	}
	if strings.Contains(got, "NO_PUBKEY") || strings.Contains(got, "not signed") {
		t.Errorf("the partial mirror's signature was not accepted:\n%s", got)
	}
	if strings.Contains(got, "uuid-runtime-was-installed") {
		t.Error("uuid-runtime is already in the image: the apt install proves nothing")
	}
	if req, _ := repo.Stats(); req == 0 {
		t.Error("the repository server on 127.0.0.1 saw no request from the guest")
	}
}

// TestBaseImageScriptArgs checks build-base-image.sh's answers that build
// nothing (it needs root): an unknown OS is bad usage (exit 2), and an Ubuntu
// archive that does not answer is "NOT RUN" (exit 4, the line on stdout).
func TestBaseImageScriptArgs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("build-base-image.sh runs as root")
	}
	for _, c := range []string{"debootstrap", "qemu-img", "dpkg-scanpackages", "wget"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not found (make deps e2e)", c)
		}
	}
	script := filepath.Join(repoRoot(), "e2e", "scripts", "build-base-image.sh")
	for _, tc := range []struct {
		name, arg, url string
		code           int
		stdout         string
	}{
		{name: "unknown OS", arg: "ubuntu-20.04", code: 2},
		// Port 9 (discard) on loopback: nothing listens there.
		{name: "archive unreachable", arg: "ubuntu-24.04", url: "http://127.0.0.1:9/ubuntu", code: notRunExit, stdout: "NOT RUN: Ubuntu archive unreachable\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(script, tc.arg)
			// An empty cache: a built image must not answer for the probe.
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "E2E_UBUNTU_URL="+tc.url)
			var stdout strings.Builder
			cmd.Stdout = &stdout
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || stdout.String() != tc.stdout {
				t.Errorf("build-base-image.sh %s: exit %d, stdout %q; want exit %d, stdout %q", tc.arg, code, stdout.String(), tc.code, tc.stdout)
			}
		})
	}
}
