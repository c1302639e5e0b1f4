package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

const (
	regTestSecret = "the-jvb-secret-4711-xyz"
	regTestFQDN   = "meet.example.org"
)

// regCLI runs the CLI in-process with HOME and XDG_DATA_HOME in a temporary
// directory: the embedded registry lands there.
type regCLI struct {
	t    *testing.T
	home string
}

func newRegCLI(t *testing.T) *regCLI {
	return &regCLI{t: t, home: t.TempDir()}
}

func (c *regCLI) env(stdout, stderr *bytes.Buffer) Env {
	return Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: func(k string) string {
		switch k {
		case "HOME":
			return c.home
		case "XDG_DATA_HOME":
			return filepath.Join(c.home, "data")
		}
		return ""
	}}
}

func (c *regCLI) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, c.env(&out, &errb))
	return code, out.String(), errb.String()
}

// must runs a command that has to succeed.
func (c *regCLI) must(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d\n%s", args, code, errs)
	}
	return out
}

func (c *regCLI) file(name, content string) string {
	c.t.Helper()
	p := filepath.Join(c.home, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *regCLI) nodes(args ...string) []regapi.Node {
	c.t.Helper()
	var nodes []regapi.Node
	out := c.must(append([]string{"nodes", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		c.t.Fatalf("nodes --json: %v\n%s", err, out)
	}
	return nodes
}

func nicks(nodes []regapi.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Nickname)
	}
	slices.Sort(out)
	return out
}

func TestIssueListRetireOnTheEmbeddedRegistry(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	dir := filepath.Join(c.home, "nodes")
	// --out into a directory that does not exist yet: it is created.
	jmsOut := filepath.Join(c.home, "jms", "user-data.yaml")
	c.must("issue", "--role", "jms", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--out", jmsOut)
	if st, err := os.Stat(jmsOut); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("--out %s: %v %v", jmsOut, st, err)
	}
	out := c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "3", "--out-dir", dir, "--json")
	var issued []regapi.Node
	if err := json.Unmarshal([]byte(out), &issued); err != nil || len(issued) != 3 {
		t.Fatalf("issue --json: %v\n%s", err, out)
	}
	for _, name := range []string{"jvb-001", "jvb-002", "jvb-003"} {
		p := filepath.Join(dir, name+".yaml")
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 0600 (it holds the secret)", p, st.Mode().Perm())
		}
		data, _ := os.ReadFile(p)
		if !bytes.Contains(data, []byte("hostname: "+name)) {
			t.Errorf("%s is not %s's user-data", p, name)
		}
	}
	if got := nicks(c.nodes("--role", "jvb")); !slices.Equal(got, []string{"jvb-001", "jvb-002", "jvb-003"}) {
		t.Errorf("nodes = %v", got)
	}
	if out := c.must("retire", "jvb-002", "--jms-fqdn", regTestFQDN); !strings.Contains(out, "retired jvb jvb-002") {
		t.Errorf("retire said %q", out)
	}
	// The retired name is handed out again; the user-data goes to stdout.
	code, ud, errs := c.run("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret)
	if code != 0 || !strings.Contains(ud, "hostname: jvb-002") || !strings.Contains(errs, "issued jvb jvb-002") {
		t.Errorf("re-issue: exit %d, stderr %q", code, errs)
	}
	table := c.must("nodes", "--shard", regTestFQDN, "--state", "retired")
	if !strings.Contains(table, "NICKNAME") || !strings.Contains(table, "jvb-002") || strings.Contains(table, "jvb-001") {
		t.Errorf("nodes table:\n%s", table)
	}
	// The secret is in the user-data files only: not in the registry, not
	// in what the CLI prints.
	_ = filepath.WalkDir(filepath.Join(c.home, "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(regTestSecret)) {
				t.Errorf("registry file %s holds the secret", p)
			}
		}
		return nil
	})
	if strings.Contains(table+out, regTestSecret) {
		t.Error("the CLI printed the secret")
	}
}

func TestIssueRefusesBadInputWithExitCode2(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	other := c.file("other.secret", "another-secret-0815-abc\n")
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--out", filepath.Join(c.home, "a.yaml"))
	c.must("issue", "--role", "jms", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--out", filepath.Join(c.home, "jms.yaml"))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nickname taken", []string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--nickname", "jvb-001"}, "jvb-001 in shard meet.example.org is held by node 1"},
		{"second JMS", []string{"issue", "--role", "jms", "--jms-fqdn", regTestFQDN, "--secret-file", secret}, "retire jms --jms-fqdn meet.example.org"},
		{"other secret", []string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", other}, "--new-secret"},
		{"bad fqdn", []string{"issue", "--role", "jvb", "--jms-fqdn", "Meet", "--secret-file", secret}, "jms_fqdn"},
		{"count without out-dir", []string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "2"}, "--out-dir"},
		{"count with a name", []string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "2", "--nickname", "x", "--out-dir", c.home}, "a name is for one node"},
		{"retire unknown", []string{"retire", "jvb-009", "--jms-fqdn", regTestFQDN}, "no live node is named jvb-009"},
		{"retire without fqdn", []string{"retire", "jvb-001"}, "--jms-fqdn is required"},
		{"bad state filter", []string{"nodes", "--state", "up"}, "state"},
		{"registry without token", []string{"nodes", "--registry", "https://registry.example.org"}, "--token-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := c.run(tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tc.want)
			}
			if strings.Contains(errs, regTestSecret) {
				t.Error("an error message shows the secret")
			}
		})
	}
	// Nothing of the refused runs was recorded.
	if got := nicks(c.nodes()); !slices.Equal(got, []string{"jms", "jvb-001"}) {
		t.Errorf("after refusals the registry holds %v", got)
	}
	// A deliberate secret change is accepted with --new-secret.
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", other, "--new-secret", "--out", filepath.Join(c.home, "b.yaml"))
}

// TestParallelIssueRunsShareTheDataDir runs several CLI invocations at once
// on one data directory: they queue on its lock and all get distinct names.
func TestParallelIssueRunsShareTheDataDir(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			out := filepath.Join(c.home, fmt.Sprintf("n%d.yaml", i))
			if code, _, errs := c.run("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--out", out); code != 0 {
				t.Errorf("run %d: exit %d: %s", i, code, errs)
			}
		})
	}
	wg.Wait()
	if got := nicks(c.nodes()); !slices.Equal(got, []string{"jvb-001", "jvb-002", "jvb-003", "jvb-004"}) {
		t.Errorf("parallel runs got %v", got)
	}
}

// TestRegistryServeAndRemoteCommands runs `registry serve` with its API on
// loopback and drives it with --registry; cancelling stops it.
func TestRegistryServeAndRemoteCommands(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	token := c.file("operator.token", "operator-token-for-the-test-0123\n")
	raftAddr, apiAddr := freeAddr(t), freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	var out, errb testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		var o, e bytes.Buffer
		err := registryCommand.run(ctx, c.env(&o, &e), []string{"serve", "--data-dir", filepath.Join(c.home, "srv"),
			"--address", raftAddr, "--api-address", apiAddr, "--operator-token-file", token})
		out.Write(o.Bytes())
		errb.Write(e.Bytes())
		done <- err
	}()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("registry serve: %v\n%s", err, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("registry serve did not stop within 30s")
		}
	})
	url := "http://" + apiAddr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API not up after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	remote := []string{"--registry", url, "--token-file", token}
	c.must(append([]string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "2",
		"--out-dir", filepath.Join(c.home, "remote")}, remote...)...)
	if got := nicks(c.nodes(remote...)); !slices.Equal(got, []string{"jvb-001", "jvb-002"}) {
		t.Errorf("remote nodes = %v", got)
	}
	c.must(append([]string{"retire", "jvb-001", "--jms-fqdn", regTestFQDN}, remote...)...)
	if got := nicks(c.nodes(append([]string{"--state", "retired"}, remote...)...)); !slices.Equal(got, []string{"jvb-001"}) {
		t.Errorf("remote retired = %v", got)
	}
	resp, err := http.Get(url + "/v1/leader")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("single node /v1/leader: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestRegistryServeRefusesBadFlagsBeforeStarting(t *testing.T) {
	c := newRegCLI(t)
	token := c.file("op.token", "operator-token-for-the-test-0123\n")
	code, _, errs := c.run("registry", "serve", "--address", "nohost", "--api-address", "10.1.2.3:8443",
		"--operator-token-file", token, "--cert", "api.crt")
	if code != 2 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"--address \"nohost\"", "--cert and --key go together"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	code, _, errs = c.run("registry", "serve", "--address", "127.0.0.1:1", "--api-address", "10.1.2.3:8443", "--operator-token-file", token)
	if code != 2 || !strings.Contains(errs, "in clear") {
		t.Errorf("plain HTTP API off loopback: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(c.home, "data")); err == nil {
		t.Error("a refused serve created the data directory")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestIssueRollsBackWhenUserDataCannotBeWritten: the nodes are recorded
// first; when their user-data cannot all be written, the files written are
// removed and the nodes retired (their names free again), with the reason.
func TestIssueRollsBackWhenUserDataCannotBeWritten(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	dir := filepath.Join(c.home, "nodes")
	if err := os.MkdirAll(filepath.Join(dir, "jvb-002.yaml"), 0o700); err != nil { // in the way of the second file
		t.Fatal(err)
	}
	code, _, errs := c.run("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "2", "--out-dir", dir)
	if code != 1 || !strings.Contains(errs, "jvb-002.yaml") {
		t.Fatalf("exit %d, stderr %q: want 1 naming jvb-002.yaml", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "jvb-001.yaml")); !os.IsNotExist(err) {
		t.Errorf("jvb-001.yaml was left behind: %v", err)
	}
	for _, n := range c.nodes("--shard", regTestFQDN) {
		if n.State != regapi.StateRetired || n.Reason != issueRolledBack {
			t.Errorf("%s: %s %q, want retired with %q", n.Nickname, n.State, n.Reason, issueRolledBack)
		}
	}
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--out", filepath.Join(c.home, "again.yaml"))
	if got := nicks(c.nodes("--state", "issued")); !slices.Equal(got, []string{"jvb-001"}) {
		t.Errorf("after the rollback, issue gave %v, want jvb-001 again", got)
	}
}
