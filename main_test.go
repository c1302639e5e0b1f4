package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// TestMain lets the test binary act as packer-plugin-jitsi itself, so the
// tests below run the real binary end to end (flags, stdin, exit codes).
func TestMain(m *testing.M) {
	if os.Getenv("PACKER_PLUGIN_JITSI_AS_BINARY") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes the binary with args and stdin in dir.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PACKER_PLUGIN_JITSI_AS_BINARY=1", "XDG_DATA_HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

const cliSecret = `Cli$ecret "x" #1`

func secretFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(cliSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserdataBridge(t *testing.T) {
	r := run(t, "", "userdata", "--role", "jvb", "--jms-fqdn", "meet.example.org", "--secret-file", secretFile(t), "--nickname", "jvb-001")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var c cloudinit.Config
	if !strings.HasPrefix(r.stdout, "#cloud-config\n") || yaml.Unmarshal([]byte(r.stdout), &c) != nil {
		t.Fatalf("stdout is not cloud-config:\n%s", r.stdout)
	}
	if c.Hostname != "jvb-001" {
		t.Errorf("hostname %q", c.Hostname)
	}
	var secrets string
	for _, f := range c.WriteFiles {
		if f.Path == jitsi.NodeSecrets {
			secrets = f.Content
		}
	}
	sec, err := nodeconfig.ParseSecrets([]byte(secrets))
	if err != nil || sec.ShardSecrets["shard"] != cliSecret {
		t.Errorf("secret (trailing newline removed) not in secrets.yaml (%v):\n%s", err, r.stdout)
	}
	if strings.Contains(r.stderr, cliSecret) {
		t.Error("secret on stderr")
	}
}

func TestUserdataJMSFromStdinToFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "jms.yaml")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, cliSecret+"\n", "userdata", "--role", "jms", "--jms-fqdn", "meet.example.org", "--secret-file", "-", "--out", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("--out mode %o, want 600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), "fqdn: meet.example.org") {
		t.Errorf("unexpected output:\n%s", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("temporary files left beside --out: %v", entries)
	}
}

func TestUserdataBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte(" "+cliSecret+"\n"), 0o600)
	r := run(t, "", "userdata", "--role", "jvb", "--jms-fqdn", "https://meet.example.org", "--secret-file", bad, "--nickname", "JVB", "--stun", "nope")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	for _, want := range []string{"4 problems", "jms_fqdn:", "secret: starts or ends with white space", "nickname:", "nat.stun_servers[0]:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" || strings.Contains(r.stderr, strings.TrimSpace(cliSecret)) {
		t.Errorf("stdout %q; stderr must not show the secret: %s", r.stdout, r.stderr)
	}
}

func TestUserdataUsageErrors(t *testing.T) {
	r := run(t, "", "userdata", "--role", "jvb", "--jms-fqdn", "meet.example.org", "--secret-file", secretFile(t),
		"--nickname", "jvb-001", "--node-registry-url", "https://registry.example.org")
	if r.code != 2 || !strings.Contains(r.stderr, `use "packer-plugin-jitsi issue"`) {
		t.Errorf("userdata with a registry: exit %d, stderr %q; want 2 and a pointer to issue", r.code, r.stderr)
	}
	r = run(t, "", "userdata", "--role", "jvb", "--jms-fqdn", "meet.example.org", "--secret-file", secretFile(t),
		"--nickname", "jvb-001", "--nat", "none", "--public-ip", "203.0.113.1")
	if r.code != 2 || !strings.Contains(r.stderr, "nat.mode: none writes no mapping") {
		t.Errorf("--nat none with --public-ip: exit %d, stderr %q", r.code, r.stderr)
	}
	for name, args := range map[string][]string{
		"no secret file":  {"userdata", "--role", "jms", "--jms-fqdn", "meet.example.org"},
		"missing file":    {"userdata", "--role", "jms", "--jms-fqdn", "meet.example.org", "--secret-file", "/nonexistent/secret"},
		"unknown flag":    {"userdata", "--secret", "x"},
		"stray argument":  {"userdata", "extra"},
		"unknown command": {"frobnicate"},
	} {
		if r := run(t, "", args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%s: exit %d, stderr %q; want 2 and a message", name, r.code, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	r := run(t, "", "userdata", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "-secret-file") {
		t.Errorf("userdata --help: exit %d\n%s", r.code, r.stdout)
	}
	r = run(t, "", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "userdata") {
		t.Errorf("--help: exit %d\n%s", r.code, r.stdout)
	}
}

// TestDescribe: run as Packer does, the binary describes the plugin set.
func TestDescribe(t *testing.T) {
	r := run(t, "", "describe")
	var d struct {
		Version    string `json:"version"`
		APIVersion string `json:"api_version"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &d) != nil || d.Version == "" || d.APIVersion == "" {
		t.Errorf("describe: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
