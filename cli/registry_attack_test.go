package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// servedRegistry is `registry serve` with its API on loopback, run by the
// test (in-process, with real dqlite and real HTTP) and stopped by it.
type servedRegistry struct {
	url, tokenFile, dataDir string
	log                     *testutil.SyncBuffer // its stderr
	stop                    func()               // stops it (once; also at the test's end)
}

func serveRegistry(t *testing.T, c *regCLI) *servedRegistry {
	t.Helper()
	s := &servedRegistry{tokenFile: c.file("operator.token", "operator-token-for-the-test-0123\n"),
		dataDir: filepath.Join(c.home, "srv"), log: &testutil.SyncBuffer{}}
	raftAddr, apiAddr := freeAddr(t), freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var o bytes.Buffer
		done <- registryCommand.run(ctx, Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: s.log, Getenv: func(string) string { return "" }},
			[]string{"serve", "--data-dir", s.dataDir, "--address", raftAddr, "--api-address", apiAddr, "--operator-token-file", s.tokenFile})
	}()
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("registry serve: %v\n%s", err, s.log.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("registry serve did not stop within 30s")
		}
	}
	t.Cleanup(s.stop)
	s.url = "http://" + apiAddr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("API not up after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// credentialPattern finds what NewCredential mints.
var credentialPattern = regexp.MustCompile(`j(?:node|group)_[A-Za-z0-9_-]{43}`)

// credentialIn reads a user-data file as an attacker who got it (from a
// cloud's metadata service) would: every file it writes, searched for a
// credential.
func credentialIn(t *testing.T, path string) string {
	t.Helper()
	for _, content := range writeFilesOf(t, path) {
		if m := credentialPattern.FindString(content); m != "" {
			return m
		}
	}
	t.Fatalf("no credential in the user-data %s", path)
	return ""
}

// call sends one request with a bearer token and returns the status.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestNodeCredentialsCannotTouchOtherNodes attacks the registry with what a
// bridge holds: its own user-data's node credential, and a group's user-data
// with its group token. Every attempt on another node, another name or
// shard, a batch, a listing or an image is refused with 403, and the
// registry is unchanged afterwards.
func TestNodeCredentialsCannotTouchOtherNodes(t *testing.T) {
	c := newRegCLI(t)
	srv := serveRegistry(t, c)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	out := filepath.Join(c.home, "out")
	remote := []string{"--registry", srv.url, "--token-file", srv.tokenFile}
	issue := func(args ...string) {
		c.must(append(append([]string{"issue", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--node-registry-url", srv.url}, args...), remote...)...)
	}
	issue("--role", "jms", "--out", filepath.Join(out, "jms.yaml"))
	issue("--role", "jvb", "--count", "3", "--out-dir", out)
	c.must(append([]string{"retire", "jvb-003", "--jms-fqdn", regTestFQDN}, remote...)...) // a freed name
	issue("--role", "jvb", "--group", "edge", "--max-size", "5", "--out", filepath.Join(out, "group.yaml"))

	bridge := credentialIn(t, filepath.Join(out, "jvb-001.yaml"))
	group := credentialIn(t, filepath.Join(out, "group.yaml"))
	jmsCred := credentialIn(t, filepath.Join(out, "jms.yaml"))
	if regapi.KindOf(bridge) != regapi.CredentialNode || regapi.KindOf(group) != regapi.CredentialGroup || bridge == jmsCred {
		t.Fatalf("credentials: bridge %s…, group %s…", bridge[:8], group[:8])
	}
	snapshot := func() string {
		var b strings.Builder
		for _, p := range []string{"/v1/nodes", "/v1/groups", "/v1/images"} {
			status, body := call(t, "GET", srv.url+p, "operator-token-for-the-test-0123", "")
			if status != 200 {
				t.Fatalf("GET %s as operator: %d %s", p, status, body)
			}
			b.WriteString(body)
		}
		return b.String()
	}
	before := snapshot()
	var jms regapi.Node
	for _, n := range c.nodes(remote...) {
		if n.Nickname == "jms" {
			jms = n
		}
	}
	claim := func(fields string) string { return `{"shard":"meet.example.org",` + fields + `}` }
	memberOf := `"instance_id":"i-evil","claim_key":"claim-key-of-the-attacker-0123456789"`
	attacks := []struct{ name, method, path, body string }{
		{"retire the JMS by name", "POST", "/v1/state", `{"shard":"meet.example.org","nickname":"jms","state":"retired"}`},
		{"retire the JMS by id", "POST", "/v1/state", `{"id":` + jsonInt(jms.ID) + `,"state":"retired"}`},
		{"fail another bridge", "POST", "/v1/state", `{"shard":"meet.example.org","nickname":"jvb-002","state":"failed","reason":"pwned"}`},
		{"take the JMS identity", "POST", "/v1/claims", claim(`"role":"jms","nickname":"jms"`)},
		{"take a live bridge's name", "POST", "/v1/claims", claim(`"role":"jvb","nickname":"jvb-002"`)},
		{"take a freed name", "POST", "/v1/claims", claim(`"role":"jvb","nickname":"jvb-003"`)},
		{"create a shard", "POST", "/v1/claims", `{"shard":"evil.example.org","role":"jvb"}`},
		{"claim a batch", "POST", "/v1/claims", `{"claims":[` + claim(`"role":"jvb"`) + `,` + claim(`"role":"jvb"`) + `]}`},
		{"pick a name as a member", "POST", "/v1/claims", `{` + memberOf + `,"nickname":"jvb-002"}`},
		{"pick a shard as a member", "POST", "/v1/claims", `{` + memberOf + `,"shard":"evil.example.org"}`},
		{"list nodes", "GET", "/v1/nodes", ""},
		{"record an image", "POST", "/v1/images", `{"artifact_id":"evil","role":"jvb","os":"x","built":"2026-01-01T00:00:00Z"}`},
		{"list groups", "GET", "/v1/groups", ""},
		{"record a group", "POST", "/v1/groups", `{"name":"edge","shard":"meet.example.org","role":"jvb","format":"modern","max_size":100000}`},
		{"retire a group", "POST", "/v1/groups/retire", `{"name":"edge"}`},
		{"confirm nodes", "POST", "/v1/confirm", `{"ids":[1]}`},
	}
	for _, holder := range []struct{ name, token string }{{"bridge credential", bridge}, {"group token", group}} {
		for _, a := range attacks {
			status, body := call(t, a.method, srv.url+a.path, holder.token, a.body)
			if status != http.StatusForbidden || !strings.Contains(body, `"forbidden"`) {
				t.Errorf("%s: %s: %d %s, want 403 forbidden", holder.name, a.name, status, body)
			}
			if strings.Contains(body, holder.token) {
				t.Errorf("%s: %s: the answer shows the credential", holder.name, a.name)
			}
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("the registry changed under the attacks:\nbefore %s\nafter  %s", before, after)
	}

	// What the credentials may do, they do: the bridge reports itself, a
	// member claims once per instance.
	if status, body := call(t, "POST", srv.url+"/v1/state", bridge, `{"state":"active"}`); status != 200 || !strings.Contains(body, `"jvb-001"`) {
		t.Errorf("the bridge reporting itself: %d %s", status, body)
	}
	const key = "claim-key-of-i-0123-0123456789abcdef"
	res, err := regapi.NewClient(srv.url, group)
	if err != nil {
		t.Fatal(err)
	}
	m, err := res.ClaimInGroup(context.Background(), regapi.GroupClaim{InstanceID: "i-0123", ClaimKey: key})
	if err != nil || m.Node.Nickname != "jvb-003" || m.Node.Group != "edge" {
		t.Fatalf("a member's claim: %+v %v", m, err)
	}

	// No credential, token, claim key or secret is in the registry's files
	// or in anything logged or printed.
	srv.stop()
	secrets := map[string]string{"bridge credential": bridge, "JMS credential": jmsCred, "group token": group,
		"member credential": m.Credential, "claim key": key, "JMS secret": regTestSecret, "operator token": "operator-token-for-the-test-0123"}
	err = filepath.WalkDir(srv.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for what, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("registry file %s holds the %s", p, what)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range secrets {
		if strings.Contains(srv.log.String(), s) {
			t.Errorf("the registry's log shows the %s", what)
		}
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
