package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

func TestIssueGeneratesAStrongSecretAndRefusesWeakOnes(t *testing.T) {
	c := newRegCLI(t)
	gen := filepath.Join(c.home, "secrets", "jvb.secret")
	jms := filepath.Join(c.home, "jms.yaml")
	_, _, errs := c.run("issue", "--role", "jms", "--jms-fqdn", regTestFQDN, "--generate-secret", gen, "--out", jms)
	fi, err := os.Stat(gen)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--generate-secret %s: %v %v (%s), want mode 0600", gen, fi, err, errs)
	}
	raw, _ := os.ReadFile(gen)
	secret := strings.TrimSuffix(string(raw), "\n")
	if len(secret) != node.GeneratedSecretLen || node.SecretBits(secret) < 128 || strings.Trim(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Errorf("generated secret of %d characters, %.0f bits, or not letters and digits", len(secret), node.SecretBits(secret))
	}
	if strings.Contains(errs, secret) {
		t.Error("the generated secret was printed")
	}
	if ud, _ := os.ReadFile(jms); !strings.Contains(string(ud), secret) {
		t.Error("the JMS's user-data does not carry the generated secret")
	}
	// The file is never replaced, and nothing is recorded then.
	code, _, errs := c.run("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--generate-secret", gen, "--out", filepath.Join(c.home, "x.yaml"))
	if code != 2 || !strings.Contains(errs, "the file exists") {
		t.Errorf("--generate-secret onto an existing file: exit %d, %s", code, errs)
	}
	if after, _ := os.ReadFile(gen); string(after) != string(raw) {
		t.Error("the secret file was replaced")
	}
	if len(c.nodes()) != 1 {
		t.Error("a refused run recorded a node")
	}
	// The bridges use it with --secret-file.
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", gen, "--out", filepath.Join(c.home, "jvb.yaml"))

	weak := c.file("weak.secret", "s3cret\n")
	code, _, errs = c.run("issue", "--role", "jvb", "--jms-fqdn", "weak.example.org", "--secret-file", weak, "--out", filepath.Join(c.home, "w.yaml"))
	if code != 2 || !strings.Contains(errs, "too weak") || !strings.Contains(errs, "the only thing between the internet and the JMS's XMPP server") ||
		!strings.Contains(errs, "--allow-weak-secret") || strings.Contains(errs, "s3cret") {
		t.Errorf("a weak secret: exit %d, %s", code, errs)
	}
	code, _, errs = c.run("userdata", "--role", "jvb", "--jms-fqdn", "weak.example.org", "--secret-file", weak, "--nickname", "jvb-001")
	if code != 2 || !strings.Contains(errs, "too weak") {
		t.Errorf("userdata with a weak secret: exit %d, %s", code, errs)
	}
	c.must("issue", "--role", "jvb", "--jms-fqdn", "weak.example.org", "--secret-file", weak, "--allow-weak-secret", "--out", filepath.Join(c.home, "w.yaml"))
	code, _, errs = c.run("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", gen, "--generate-secret", filepath.Join(c.home, "g2"))
	if code != 2 || !strings.Contains(errs, "exclude each other") {
		t.Errorf("--generate-secret with --secret-file: exit %d, %s", code, errs)
	}
}
