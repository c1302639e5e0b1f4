package jitsi

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/packertest"
)

func TestMain(m *testing.M) {
	var err error
	if testAgent, err = packertest.AgentBinary(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	packertest.Main(m)
}

// testAgent is a jitsi-node agent built for this machine, the agent_file of
// the tests (the plugin under test may carry none).
var testAgent string

// accSecret is a repository password given in clear in the template (not as
// a sensitive variable, so Packer's own masking cannot hide a leak).
const accSecret = "acc-Secret-7f3b9c1e-pw"

// TestAccProvisionOverSSH runs `packer build` (Packer 1.9.4, the plugin
// loaded from PACKER_PLUGIN_PATH) with two null sources, each an SSH
// connection to a private sshd on 127.0.0.1 that jails the session in a
// throwaway root. The roots have no package manager, so the provisioner runs
// for real up to the point where it must fail, clearly:
//   - "fedora": /etc/os-release names an unsupported OS → the provisioner
//     refuses before uploading anything;
//   - "ubuntu": /etc/os-release claims Ubuntu 18.04 → the provisioner uploads
//     its script, settings, keyring, agent, image config and the repository credentials
//     over SFTP, runs the script's preflight, which finds no apt-get → exit 3;
//     the staging directory (with the credentials) is removed anyway.
//
// The real install needs the Jitsi packages and a VM: the e2e tier bakes it.
func TestAccProvisionOverSSH(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer194)
	key, err := filepath.Abs(fixtureKey)
	if err != nil {
		t.Fatal(err)
	}
	tools := []string{"bash", "cat", "mkdir", "rm", "id", "grep", "sed", "uname"}
	fedora := packertest.NewRoot(t, tools...)
	fedora.WriteFile(t, "/etc/os-release", osReleaseFedora, 0o644)
	ubuntu := packertest.NewRoot(t, tools...)
	ubuntu.WriteFile(t, "/etc/os-release", osReleases["ubuntu 18.04"], 0o644)
	sshFedora := packertest.StartSSHD(t, fedora.Dir)
	sshUbuntu := packertest.StartSSHD(t, ubuntu.Dir)

	env := packertest.NewEnv(t, true)
	env.WriteFile(t, "bake.pkr.hcl", fmt.Sprintf(accTemplate,
		sshFedora.Port, sshFedora.Key, sshUbuntu.Port, sshUbuntu.Key, key, accSecret, testAgent))

	res := env.Run(t, packer, 5*time.Minute, "build", "-color=false", "-parallel-builds=2", "bake.pkr.hcl")
	t.Logf("packer build: exit %d in %s", res.Code, res.Took.Round(time.Millisecond))
	if res.Code == 0 {
		t.Fatalf("packer build succeeded on machines that cannot be baked:\n%s", res.Output)
	}
	wants := []string{
		// fedora: refused from /etc/os-release, nothing uploaded
		"null.fedora: jitsi: baking a jvb image: detecting the operating system",
		"fedora 39 (Fedora Linux 39) is not supported; the jitsi provisioner bakes " + supportedList,
		// ubuntu: uploaded and ran the script's preflight
		"null.ubuntu: jitsi: ubuntu 18.04 (bionic), " + runtime.GOARCH,
		"null.ubuntu: jitsi: step 1/9: preflight",
		"jitsi-provision: error: apt-get not found: ubuntu 18.04 images need Debian's package tools (apt, dpkg, debconf)",
		"run step preflight: exit status 3: this machine cannot be baked (see the jitsi-provision output above)",
	}
	for _, w := range wants {
		if !strings.Contains(res.Output, w) {
			t.Errorf("packer output lacks %q", w)
		}
	}
	if strings.Contains(res.Output, "step 2/9") {
		t.Error("the ubuntu build went on after its preflight failed")
	}
	if _, err := os.Stat(fedora.Path("/tmp/packer-jitsi")); !os.IsNotExist(err) {
		t.Errorf("fedora: staging directory exists (%v): something was uploaded to an unsupported machine", err)
	}
	if _, err := os.Stat(ubuntu.Path("/tmp/packer-jitsi")); !os.IsNotExist(err) {
		t.Errorf("ubuntu: staging directory with the credentials was left behind (%v)", err)
	}
	// sshd's own log: seven SFTP uploads to the ubuntu root (script,
	// settings, keyring, agent, image config, debconf seed, credentials),
	// none to the fedora one.
	if n := strings.Count(sshUbuntu.Log(), "subsystem 'sftp'"); n != 7 {
		t.Errorf("ubuntu: sshd saw %d SFTP sessions, want 7 uploads:\n%s", n, sshUbuntu.Log())
	}
	if n := strings.Count(sshFedora.Log(), "subsystem 'sftp'"); n != 0 {
		t.Errorf("fedora: sshd saw %d SFTP sessions, want none:\n%s", n, sshFedora.Log())
	}
	if strings.Contains(res.Output, accSecret) {
		t.Errorf("the repository password appears in Packer's output")
	}
	if log := env.Log(t); strings.Contains(log, accSecret) {
		t.Errorf("the repository password appears in Packer's log (PACKER_LOG=1)")
	} else if !strings.Contains(log, "packer-plugin-jitsi") {
		t.Errorf("Packer's log does not mention the plugin: was it loaded?")
	}
	for _, m := range []string{"jitsi-manifest-fedora.json", "jitsi-manifest-ubuntu.json"} {
		if _, err := os.Stat(filepath.Join(env.Dir, m)); !os.IsNotExist(err) {
			t.Errorf("%s written by a failed bake", m)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("packer output:\n%s", res.Output)
	}
}

const osReleaseFedora = "NAME=\"Fedora Linux\"\nVERSION=\"39 (Container Image)\"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME=\"Fedora Linux 39\"\n"

const accTemplate = `
source "null" "fedora" {
  ssh_host                 = "127.0.0.1"
  ssh_port                 = %d
  ssh_username             = "root"
  ssh_private_key_file     = %q
  ssh_file_transfer_method = "sftp"
  ssh_timeout              = "30s"
}

source "null" "ubuntu" {
  ssh_host                 = "127.0.0.1"
  ssh_port                 = %d
  ssh_username             = "root"
  ssh_private_key_file     = %q
  ssh_file_transfer_method = "sftp"
  ssh_timeout              = "30s"
}

build {
  sources = ["source.null.fedora", "source.null.ubuntu"]

  provisioner "jitsi" {
    role         = "jvb"
    apt_key_file = %q
    apt_username = "ci"
    apt_password = %q
    # 2020-era: Ubuntu 18.04 runs nothing newer (refused before any upload).
    versions     = { "jitsi-videobridge2" = "2.1-681-g3544ed05-1" }
    agent_file   = %q
  }
}
`
