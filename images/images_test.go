// Tests of the image templates with real Packer: `packer validate` runs every
// component's Prepare (qemu, jitsi, jitsi-registry; amazon-ebs for the cloud
// example) with the plugins installed as `packer init` would, offline.
package images_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/packertest"
)

func TestMain(m *testing.M) { packertest.Main(m) }

var releases = []string{"ubuntu-18.04", "ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04", "debian-11", "debian-12", "debian-13"}

// qemuEnv is a private, offline Packer environment with the jitsi and qemu
// plugins installed for packer's version.
func qemuEnv(t *testing.T, version string) (*packertest.Env, string) {
	t.Helper()
	packer := packertest.RequirePacker(t, version)
	qemu := packertest.RequireQemuPlugin(t)
	env := packertest.NewEnv(t, false)
	env.Offline = true
	switch version {
	case packertest.Packer194:
		// 1.9 has no `plugins install --path`: lay the binaries out as
		// `packer init` does (required_plugins wants a release version).
		bin, v := packertest.PluginRelease(t)
		env.InstallLayout(t, packertest.PluginSource, bin, v)
		env.InstallLayout(t, "github.com/hashicorp/qemu", qemu, packertest.QemuPlugin)
	default:
		for _, p := range [][2]string{{packertest.PluginBinary(t), packertest.PluginSource}, {qemu, "github.com/hashicorp/qemu"}} {
			if r := env.Run(t, packer, time.Minute, "plugins", "install", "--path", p[0], p[1]); r.Code != 0 {
				t.Fatalf("packer plugins install --path %s: exit %d\n%s", p[0], r.Code, r.Output)
			}
		}
	}
	return env, packer
}

func imagesDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// bakeKey makes the SSH key pair the qemu source logs in with.
func bakeKey(t *testing.T) (private, public string) {
	t.Helper()
	private = filepath.Join(t.TempDir(), "bake_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", private).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(private + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return private, strings.TrimSpace(string(pub))
}

// TestValidateQemuTemplates validates images/ (both roles) for every
// release with Packer 1.9.4 and 1.11.2.
func TestValidateQemuTemplates(t *testing.T) {
	for _, version := range []string{packertest.Packer194, packertest.Packer1112} {
		t.Run("packer-"+version, func(t *testing.T) {
			env, packer := qemuEnv(t, version)
			key, pub := bakeKey(t)
			for _, os := range releases {
				r := env.Run(t, packer, time.Minute, "validate",
					"-var", "os="+os, "-var", "ssh_private_key_file="+key, "-var", "ssh_public_key="+pub,
					"-var", `jvb_versions={"jitsi-videobridge2":"2.3-160-g97a1f15f-1"}`,
					imagesDir(t))
				if r.Code != 0 || !strings.Contains(r.Output, "The configuration is valid.") {
					t.Errorf("packer validate -var os=%s: exit %d\n%s", os, r.Code, r.Output)
				}
			}
		})
	}
}

// TestValidateQemuTemplatesRejects: the templates' own checks and the
// components' Prepare reach the user through packer validate.
func TestValidateQemuTemplatesRejects(t *testing.T) {
	env, packer := qemuEnv(t, packertest.Packer1112)
	key, pub := bakeKey(t)
	cases := map[string]struct {
		vars []string
		want string
	}{
		"unsupported os": {[]string{"os=fedora-39"}, "The os variable must be one of ubuntu-18.04"},
		// a JMS version in the JVB image: the jitsi provisioner's Prepare says so
		"wrong role version": {[]string{`jvb_versions={"jicofo":"1.0-1100-1"}`}, `versions: "jicofo" is not part of a jvb image`},
		"bad version":        {[]string{`jms_versions={"jitsi-meet":"latest"}`}, `versions: "jitsi-meet": "latest" is not a Debian version`},
		"no public key":      {[]string{"ssh_public_key="}, "The ssh_public_key variable must be an OpenSSH public key"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"validate", "-var", "ssh_private_key_file=" + key, "-var", "ssh_public_key=" + pub}
			for _, v := range tc.vars {
				args = append(args, "-var", v)
			}
			r := env.Run(t, packer, time.Minute, append(args, imagesDir(t))...)
			if r.Code == 0 || !strings.Contains(r.Output, tc.want) {
				t.Fatalf("packer validate: exit %d, want a failure with %q:\n%s", r.Code, tc.want, r.Output)
			}
		})
	}
}

// TestValidateAWSExample: the amazon-ebs example cannot get its plugin here
// (no GitHub; building packer-plugin-amazon from the proxy is not worth it),
// so it is checked twice: `packer validate -syntax-only` of the file as
// shipped, and a full validate of its sources and builds by Packer 1.9.4's
// bundled amazon plugin (v1.2.1), the `packer {}` block (required_plugins)
// removed from a copy — offline, in a network namespace without interfaces.
func TestValidateAWSExample(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer194)
	src := filepath.Join(imagesDir(t), "aws", "jitsi-aws.pkr.hcl")
	for _, v := range []string{packertest.Packer194, packertest.Packer1112} {
		env := packertest.NewEnv(t, false)
		env.Offline = true
		r := env.Run(t, packertest.RequirePacker(t, v), time.Minute, "validate", "-syntax-only", src)
		if r.Code != 0 {
			t.Errorf("packer %s validate -syntax-only: exit %d\n%s", v, r.Code, r.Output)
		}
	}

	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?ms)^packer \{\n.*?^\}\n`)
	if !block.Match(data) {
		t.Fatal("the example has no packer {} block to strip")
	}
	env := packertest.NewEnv(t, true) // bare jitsi plugin: 1.9.4 loads it without required_plugins
	env.Offline = true
	env.WriteFile(t, "aws.pkr.hcl", block.ReplaceAllString(string(data), ""))
	for _, os := range []string{"ubuntu-18.04", "debian-12"} {
		r := env.Run(t, packer, time.Minute, "validate", "-var", "os="+os, "aws.pkr.hcl")
		if r.Code != 0 || !strings.Contains(r.Output, "The configuration is valid.") {
			t.Errorf("packer validate (bundled amazon) -var os=%s: exit %d\n%s", os, r.Code, r.Output)
		}
	}
}

// TestTemplatesFormatted: `packer fmt -check` leaves every template as is.
func TestTemplatesFormatted(t *testing.T) {
	packer := packertest.RequirePacker(t, packertest.Packer1112)
	env := packertest.NewEnv(t, false)
	r := env.Run(t, packer, time.Minute, "fmt", "-check", "-diff", "-recursive", imagesDir(t))
	if r.Code != 0 {
		t.Fatalf("packer fmt -check: exit %d: run `packer fmt -recursive images/`\n%s", r.Code, r.Output)
	}
}
