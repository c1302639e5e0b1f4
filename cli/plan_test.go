package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/plan"
)

// TestPlanCommand: plan of a file and of stdin, --json, two files, bad input.
func TestPlanCommand(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", "a-strong-secret-for-the-plan-0123456789\n")
	one := filepath.Join(c.home, "jvb-001.yaml")
	two := filepath.Join(c.home, "jvb-002.yaml")
	c.must("userdata", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--nickname", "jvb-001", "--out", one)
	c.must("userdata", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--nickname", "jvb-002",
		"--public-ip", "203.0.113.7", "--out", two)

	out := c.must("plan", one)
	for _, want := range []string{"First boot of jvb jvb-001", "muc_nickname = jvb-001", "password = ***", "jitsi-videobridge2.service: enable+restart"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "a-strong-secret") {
		t.Fatalf("plan shows the secret:\n%s", out)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(c.must("plan", "--json", one)), &p); err != nil || p.Node.Nickname != "jvb-001" || len(p.Files) == 0 {
		t.Errorf("plan --json: %v %+v", err, p.Node)
	}
	data, _ := os.ReadFile(one)
	var so, se strings.Builder
	code := Main([]string{"plan", "-"}, Env{Stdin: strings.NewReader(string(data)), Stdout: &so, Stderr: &se, Getenv: func(string) string { return "" }})
	if code != 0 || !strings.Contains(so.String(), "from stdin") {
		t.Errorf("plan -: exit %d\n%s%s", code, so.String(), se.String())
	}

	diff := c.must("plan", one, two)
	for _, want := range []string{"~ node nickname: jvb-001 → jvb-002", "~ nat mode: auto → static", "public-address\":\"203.0.113.7"} {
		if !strings.Contains(diff, want) {
			t.Errorf("plan OLD NEW lacks %q:\n%s", want, diff)
		}
	}
	if d := c.must("plan", one, one); !strings.Contains(d, "no difference") {
		t.Errorf("plan X X: %s", d)
	}

	junk := c.file("junk.yaml", "#cloud-config\nruncmd: [reboot]\n")
	for _, args := range [][]string{{"plan"}, {"plan", junk}, {"plan", "a", "b", "c"}, {"plan", "/nonexistent.yaml"}} {
		if code, _, stderr := c.run(args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q: want 2 and a message", args, code, stderr)
		}
	}
}

// TestIssueDryRun: validates, renders and prints the plan; records
// nothing, writes no file (not even --generate-secret's).
func TestIssueDryRun(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", "a-strong-secret-for-the-plan-0123456789\n")
	outDir := filepath.Join(c.home, "nodes")
	out := c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "3", "--dry-run")
	if !strings.Contains(out, "issue --dry-run") || !strings.Contains(out, "lowest free jvb-NNN") || !strings.Contains(out, "muc_nickname = jvb-001") {
		t.Errorf("dry run:\n%s", out)
	}
	js := c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--group", "asg",
		"--node-registry-url", "https://registry.example.org:8443", "--generate-secret", filepath.Join(c.home, "new.secret"), "--dry-run", "--json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(js), &p); err != nil || p.Registry == nil || p.Registry.Claim != "group" {
		t.Errorf("group dry run --json: %v\n%s", err, js)
	}
	if _, err := os.Stat(filepath.Join(c.home, "new.secret")); err == nil {
		t.Error("--dry-run wrote --generate-secret's file")
	}
	if _, err := os.Stat(outDir); err == nil {
		t.Error("--dry-run made the output directory")
	}
	if nodes := c.nodes(); len(nodes) != 0 {
		t.Errorf("--dry-run recorded %d nodes", len(nodes))
	}
	if code, _, stderr := c.run("issue", "--role", "jvb", "--jms-fqdn", "https://bad", "--secret-file", secret, "--dry-run"); code != 2 || !strings.Contains(stderr, "jms_fqdn") {
		t.Errorf("bad spec with --dry-run: exit %d %s", code, stderr)
	}
}
