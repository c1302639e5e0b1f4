package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/fakecloud"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Test identities: uid/gid of the bridge's user in the scratch root.
const (
	jvbUID, jitsiGID = 64001, 64002
	fqdn             = "meet.example.org"
	shardSecret      = `s3cr#t "shard" = ü`
	nodeCredential   = "jnode_NODE-CREDENTIAL-0123456789abcdef"
	groupToken       = "jgroup_GROUP-TOKEN-0123456789abcdef"
	issuedCredential = "jnode_ISSUED-CREDENTIAL-0123456789abcdef"
)

// fakeRunner records every program run and answers from handlers.
type fakeRunner struct {
	mu      sync.Mutex
	cmds    []system.Cmd
	handler func(c system.Cmd) ([]byte, error)
	missing map[string]bool // LookPath fails for these
	// bridgeStarted runs when jitsi-videobridge2 is (re)started.
	bridgeStarted func()
}

func (r *fakeRunner) Run(ctx context.Context, c system.Cmd) ([]byte, error) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	h, started := r.handler, r.bridgeStarted
	r.mu.Unlock()
	// A restart starts the bridge afresh (it logs its joins); a start of
	// the running unit (is-active answers yes by default) does nothing.
	if started != nil && c.Name == "systemctl" && len(c.Args) > 1 && c.Args[0] == "restart" && c.Args[1] == jitsi.SvcJVB+".service" {
		started()
	}
	if h != nil {
		if out, err := h(c); out != nil || err != nil {
			return out, err
		}
	}
	return defaultAnswer(c)
}

// defaultAnswer is a healthy machine: units exist and are not failed,
// packages are installed, no shutdown is under way.
func defaultAnswer(c system.Cmd) ([]byte, error) {
	switch {
	case c.Name == "systemctl" && len(c.Args) > 0 && c.Args[0] == "is-failed":
		return nil, errors.New("exit status 1")
	case c.Name == "systemctl" && len(c.Args) > 0 && c.Args[0] == "list-unit-files":
		return []byte(c.Args[len(c.Args)-1] + " enabled enabled\n"), nil
	case c.Name == "dpkg-query":
		return []byte("install ok installed"), nil
	}
	return []byte{}, nil
}

func (r *fakeRunner) LookPath(name string) (string, error) {
	if r.missing[name] {
		return "", fmt.Errorf("%s: not found", name)
	}
	return "/usr/bin/" + name, nil
}

// ran lists the commands run, as "name arg…".
func (r *fakeRunner) ran() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.cmds {
		out = append(out, c.String())
	}
	return out
}

func (r *fakeRunner) has(cmd string) bool {
	for _, c := range r.ran() {
		if c == cmd {
			return true
		}
	}
	return false
}

func (r *fakeRunner) reset() {
	r.mu.Lock()
	r.cmds = nil
	r.mu.Unlock()
}

// fakeClock advances only when slept on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.mu.Unlock()
	return nil
}

// fakeBridge is the bridge's private HTTP API.
type fakeBridge struct {
	mu          sync.Mutex
	health      int
	healthBody  string
	drain       int   // status of POST /colibri/drain/enable
	conferences []int // successive answers of /colibri/stats (the last repeats)
	calls       []string
}

func (b *fakeBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, r.Method+" "+r.URL.Path)
	switch r.Method + " " + r.URL.Path {
	case "GET " + jitsi.HealthPath:
		w.WriteHeader(b.health)
		fmt.Fprint(w, b.healthBody)
	case "POST " + jitsi.DrainEnablePath:
		w.WriteHeader(b.drain)
	case "GET " + jitsi.StatsPath:
		n := b.conferences[0]
		if len(b.conferences) > 1 {
			b.conferences = b.conferences[1:]
		}
		json.NewEncoder(w).Encode(map[string]any{"conferences": n, "participants": 2 * n, "drain": true})
	default:
		http.NotFound(w, r)
	}
}

// fakeRegistry follows the registry's node-scope contract (regapi):
// POST /v1/claims with a group token and a GroupClaim answers a
// ClaimResult; POST /v1/state with a node credential and a Report answers
// the node. Status scripts answers before the real one.
type fakeRegistry struct {
	mu      sync.Mutex
	script  []int // statuses to answer claims with first (503, 429, 403, …)
	claims  []regapi.GroupClaim
	reports []regapi.Report
	authz   []string
	node    regapi.Node
	before  func(regapi.GroupClaim) // runs at each claim
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.authz = append(f.authz, tok)
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": regapi.Error{Code: code, Message: msg}})
	}
	switch r.URL.Path {
	case "/v1/claims":
		var gc regapi.GroupClaim
		if err := json.NewDecoder(r.Body).Decode(&gc); err != nil {
			fail(400, "bad_json", err.Error())
			return
		}
		f.claims = append(f.claims, gc)
		if f.before != nil {
			f.before(gc)
		}
		if len(f.script) > 0 {
			st := f.script[0]
			f.script = f.script[1:]
			fail(st, fmt.Sprintf("http_%d", st), fmt.Sprintf("scripted %d: the group is full", st))
			return
		}
		if tok != groupToken {
			fail(401, regapi.CodeUnauthorized, "unknown token")
			return
		}
		f.node = regapi.Node{ID: 7, Shard: fqdn, Role: "jvb", Nickname: "jvb-007", State: regapi.StateIssued, InstanceID: gc.InstanceID}
		json.NewEncoder(w).Encode(regapi.ClaimResult{Node: f.node, Credential: nodeCredential})
	case "/v1/state":
		var rep regapi.Report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			fail(400, "bad_json", err.Error())
			return
		}
		if tok != nodeCredential && tok != issuedCredential {
			fail(403, regapi.CodeForbidden, "a group token cannot report")
			return
		}
		f.reports = append(f.reports, rep)
		n := regapi.Node{ID: 7, Shard: fqdn, Role: "jvb", Nickname: "jvb-007", State: rep.State, Reason: rep.Reason}
		json.NewEncoder(w).Encode(n)
	default:
		fail(404, regapi.CodeNoRoute, "no route")
	}
}

func (f *fakeRegistry) states() []regapi.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []regapi.State
	for _, r := range f.reports {
		out = append(out, r.State)
	}
	return out
}

// node is a scratch node: a root directory, fakes for every side effect.
type testNode struct {
	t    *testing.T
	root string
	run  *fakeRunner
	// bridgeLog is what the fake bridge appends to its log file when it
	// starts; nil: it joins every brewery of the node's config (jicoco's
	// "Joined MUC" lines), as a bridge whose login works does.
	bridgeLog func() string
	clock     *fakeClock
	log       *testutil.SyncBuffer
	bridge    *fakeBridge
	registry  *fakeRegistry
	regURL    string
	bridgeAt  string
	meta      *fakecloud.FakeMetadata
	metaURL   string
	opts      Options
	errs      []error
}

func newNode(t *testing.T, cloud nat.Cloud) *testNode {
	t.Helper()
	n := &testNode{t: t, root: t.TempDir(), run: &fakeRunner{}, log: &testutil.SyncBuffer{},
		clock:    &fakeClock{now: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)},
		bridge:   &fakeBridge{health: 200, drain: 200, conferences: []int{0}},
		registry: &fakeRegistry{},
		meta:     &fakecloud.FakeMetadata{Cloud: cloud, PrivateIP: "10.0.0.7", PublicIP: "203.0.113.7"},
	}
	n.write("/etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\njvb:x:%d:%d::/usr/share/jitsi-videobridge:/bin/bash\n", jvbUID, jitsiGID), 0o644)
	n.write("/etc/group", fmt.Sprintf("root:x:0:\njitsi:x:%d:\n", jitsiGID), 0o644)
	n.write("/var/lib/cloud/data/instance-id", "i-0123456789abcdef0\n", 0o644)
	os.MkdirAll(filepath.Join(n.root, "run/systemd/system"), 0o755)
	for p, c := range fakecloud.DMI(cloud) {
		n.write(p, c, 0o444)
	}
	bs := httptest.NewServer(n.bridge)
	rs := httptest.NewServer(n.registry)
	ms, err := fakecloud.ServeMetadata(n.meta, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close(); rs.Close(); ms.Close() })
	n.bridgeAt, n.regURL, n.metaURL = bs.URL, rs.URL, ms.URL
	n.run.bridgeStarted = func() {
		text := n.joinedLog()
		if n.bridgeLog != nil {
			text = n.bridgeLog()
		}
		f, err := os.OpenFile(filepath.Join(n.root, jitsi.JVBLogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err == nil {
			_, _ = f.WriteString(text)
			f.Close()
		}
	}
	os.MkdirAll(filepath.Join(n.root, filepath.Dir(jitsi.JVBLogFile)), 0o750)
	n.opts = Options{Root: n.root, BridgeAPI: n.bridgeAt, RegistryAttempt: 300 * time.Millisecond, Version: "test",
		NAT: nat.Options{MetadataURL: n.metaURL, STUNTimeout: 300 * time.Millisecond,
			RouteSource: func() (netip.Addr, error) { return netip.MustParseAddr("10.0.0.99"), nil }}}
	return n
}

func (n *testNode) write(p, content string, mode os.FileMode) {
	n.t.Helper()
	full := filepath.Join(n.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), mode); err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNode) read(p string) string {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.root, p))
	if err != nil {
		n.t.Fatal(err)
	}
	return string(b)
}

// joinedLog is what a bridge logs when it joins every brewery of the
// node's config.
func (n *testNode) joinedLog() string {
	data, err := os.ReadFile(filepath.Join(n.root, jitsi.NodeConfig))
	if err != nil {
		return ""
	}
	c, err := nodeconfig.ParseConfig(data)
	if err != nil {
		return ""
	}
	var b strings.Builder
	fqdns := []string{c.JMSFQDN}
	for _, sh := range c.Shards {
		fqdns = append(fqdns, sh.JMSFQDN)
	}
	for _, f := range fqdns {
		fmt.Fprintf(&b, "INFO: [42] MucClient$MucWrapper.join#745: %s%s\n", jitsi.MUCJoined, jitsi.BreweryJID(f))
	}
	return b.String()
}

// configure writes node.yaml and secrets.yaml as cloud-init would.
func (n *testNode) configure(s node.Spec) {
	n.t.Helper()
	c, sec := nodeconfig.FromSpec(s)
	cy, _ := c.Marshal()
	sy, _ := sec.Marshal()
	n.write(jitsi.NodeConfig, string(cy), 0o644)
	n.write(jitsi.NodeSecrets, string(sy), 0o600)
}

func (n *testNode) agent() *Agent {
	return New(n.opts, Deps{Run: n.run, Clock: n.clock, Log: n.log})
}

// apply runs Apply and keeps its error for the secrets check.
func (n *testNode) apply() error {
	err := n.agent().Apply(context.Background())
	n.errs = append(n.errs, err)
	return err
}

func bridgeSpec() node.Spec {
	return node.Spec{Role: node.RoleJVB, JMSFQDN: fqdn, Secret: shardSecret, Nickname: "jvb-001",
		Registry: &node.RegistryLink{URL: "", Credential: issuedCredential}}
}

// withRegistry points s's registry at the node's fake.
func (n *testNode) withRegistry(s node.Spec) node.Spec {
	if s.Registry != nil {
		r := *s.Registry
		r.URL = n.regURL
		s.Registry = &r
	}
	return s
}

// mode returns p's permission bits and owner.
func (n *testNode) stat(p string) (os.FileMode, int, int) {
	n.t.Helper()
	fi, err := os.Stat(filepath.Join(n.root, p))
	if err != nil {
		n.t.Fatal(err)
	}
	uid, gid := ownerOf(fi)
	return fi.Mode().Perm(), uid, gid
}

// assertNoSecrets: no secret in the log, in any program's argv or
// environment, or in any error the agent returned.
func (n *testNode) assertNoSecrets(secrets ...string) {
	n.t.Helper()
	var b bytes.Buffer
	b.WriteString(n.log.String())
	for _, c := range n.run.cmds {
		b.WriteString(c.String() + " " + strings.Join(c.Env, " ") + "\n")
	}
	for _, err := range n.errs {
		if err != nil {
			b.WriteString(err.Error() + "\n")
		}
	}
	for _, s := range secrets {
		if strings.Contains(b.String(), s) {
			n.t.Errorf("secret %q leaked into logs, argv or errors:\n%s", s[:4]+"…", b.String())
		}
	}
}
