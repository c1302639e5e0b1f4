package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

const (
	opToken = "operator-token-0123456789abcdef"
	shard   = "meet.example.org"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// apiServer is a real embedded registry behind the API on a loopback port,
// stopped by the test.
type apiServer struct {
	url   string
	reg   *registry.Registry
	certF string // PEM of the server certificate when TLS
}

func startAPI(t *testing.T, cfg Config, tlsOn bool) *apiServer {
	t.Helper()
	reg, err := registry.Open(testCtx(t, 30*time.Second), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	if cfg.OperatorToken == "" {
		cfg.OperatorToken = opToken
	}
	h, err := New(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &apiServer{url: "http://" + ln.Addr().String(), reg: reg}
	var certF, keyF string
	if tlsOn {
		certF, keyF = selfSigned(t)
		s.url, s.certF = "https://"+ln.Addr().String(), certF
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, certF, keyF) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

func (s *apiServer) client(t *testing.T, token string, opts ...regapi.ClientOption) *regapi.Client {
	t.Helper()
	c, err := regapi.NewClient(s.url, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// raw sends a request as is and returns status, headers and the decoded error body.
func (s *apiServer) raw(t *testing.T, method, path, token, body string) (int, http.Header, *regapi.Error) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t, 20*time.Second), method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(data), opToken) || token != "" && strings.Contains(string(data), token) {
		t.Errorf("%s %s: a token appears in the answer: %s", method, path, data)
	}
	var eb struct {
		Error *regapi.Error `json:"error"`
	}
	_ = json.Unmarshal(data, &eb)
	return resp.StatusCode, resp.Header, eb.Error
}

// group records group name (bridges of shard) with a new token, as `issue
// --group` does, and returns the token.
func (s *apiServer) group(t *testing.T, name string, maxSize int) string {
	t.Helper()
	tok, hash := regapi.NewCredential(regapi.CredentialGroup)
	if _, err := s.client(t, opToken).RecordGroup(testCtx(t, 10*time.Second), regapi.GroupRequest{Name: name, Shard: shard, Role: "jvb",
		Format: "modern", NAT: "auto", MaxSize: maxSize, TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// member claims an identity in a group as a booting bridge does, and
// returns it with the node's own credential.
func (s *apiServer) member(t *testing.T, groupToken, instance string) regapi.ClaimResult {
	t.Helper()
	res, err := s.client(t, groupToken).ClaimInGroup(testCtx(t, 10*time.Second), regapi.GroupClaim{InstanceID: instance, ClaimKey: claimKey(instance)})
	if err != nil {
		t.Fatalf("claim in group as %s: %v", instance, err)
	}
	return res
}

func claimKey(instance string) string { return "claim-key-of-" + instance + "-0123456789abcdef" }

func TestAPIClaimsStatesListsAndImages(t *testing.T) {
	s := startAPI(t, Config{}, false)
	ctx := testCtx(t, 60*time.Second)
	op := s.client(t, opToken)
	groupToken := s.group(t, "edge", 10)

	// A booting bridge claims with its group's token; a retry (lost
	// answer) returns the same identity with a new credential.
	first := s.member(t, groupToken, "i-0abc")
	again := s.member(t, groupToken, "i-0abc")
	if first.Node.Nickname != "jvb-001" || first.Node.Group != "edge" || again.Node.ID != first.Node.ID ||
		regapi.KindOf(first.Credential) != regapi.CredentialNode || again.Credential == first.Credential {
		t.Fatalf("claim %+v, retry %+v", first, again)
	}
	batch, err := op.Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb"}, regapi.ClaimRequest{Shard: shard, Role: "jvb", Nickname: "edge-1"})
	if err != nil {
		t.Fatal(err)
	}
	if batch[0].Nickname != "jvb-002" || batch[1].Nickname != "edge-1" {
		t.Errorf("batch gave %s, %s", batch[0].Nickname, batch[1].Nickname)
	}
	if _, err := op.Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb", Nickname: "edge-1"}); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("taken nickname over the API: err = %v, want ErrConflict", err)
	}
	// The node reports with its own (latest) credential; the first one was replaced.
	if _, err := s.client(t, first.Credential, regapi.WithRetryFor(time.Second)).Report(ctx, regapi.StateActive, ""); err == nil {
		t.Error("a replaced credential still reports")
	}
	n, err := s.client(t, again.Credential).Report(ctx, regapi.StateActive, "")
	if err != nil || n.State != regapi.StateActive || n.ID != first.Node.ID {
		t.Fatalf("report active: %+v %v", n, err)
	}
	if _, err := op.SetState(ctx, regapi.NodeRef{Shard: shard, Nickname: "jvb-002"}, regapi.StateRetired, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := op.SetState(ctx, regapi.NodeRef{ID: 999}, regapi.StateActive, ""); !errors.Is(err, regapi.ErrNotFound) {
		t.Errorf("unknown node: err = %v, want ErrNotFound", err)
	}
	all, err := op.Nodes(ctx, regapi.Filter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("list: %d nodes, %v", len(all), err)
	}
	retired, err := op.Nodes(ctx, regapi.Filter{State: regapi.StateRetired})
	if err != nil || len(retired) != 1 || retired[0].Nickname != "jvb-002" {
		t.Errorf("list retired: %+v %v", retired, err)
	}
	page, err := op.Nodes(ctx, regapi.Filter{Limit: 2})
	if err != nil || len(page) != 2 {
		t.Errorf("list with limit 2: %d nodes, %v", len(page), err)
	}
	img := regapi.Image{ArtifactID: "jvb.qcow2", Role: "jvb", OS: "debian-12", Versions: map[string]string{"jitsi-videobridge2": "2.3"}, Built: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := op.RecordImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	imgs, err := op.Images(ctx)
	if err != nil || len(imgs) != 1 || imgs[0].Versions["jitsi-videobridge2"] != "2.3" {
		t.Errorf("images: %+v %v", imgs, err)
	}
	// Pending nodes and groups over the API.
	pend, err := op.Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb", Pending: true})
	if err != nil || pend[0].State != regapi.StatePending {
		t.Fatalf("pending claim: %+v %v", pend, err)
	}
	if got, err := op.Confirm(ctx, pend[0].ID); err != nil || got[0].State != regapi.StateIssued {
		t.Errorf("confirm: %+v %v", got, err)
	}
	groups, err := op.Groups(ctx)
	if err != nil || len(groups) != 1 || groups[0].Members != 1 || groups[0].Tokens != 1 {
		t.Errorf("groups: %+v %v", groups, err)
	}
	if n, err := op.RevokeGroupTokens(ctx, "edge", true); err != nil || n != 0 {
		t.Errorf("revoke all but the newest of one token: %d %v", n, err)
	}
	if g, err := op.RetireGroup(ctx, "edge"); err != nil || g.State != regapi.GroupRetired {
		t.Errorf("retire group: %+v %v", g, err)
	}
	if _, err := s.client(t, groupToken, regapi.WithRetryFor(time.Second)).ClaimInGroup(ctx, regapi.GroupClaim{InstanceID: "i-new", ClaimKey: claimKey("i-new")}); err == nil {
		t.Error("a retired group's token claimed")
	}
}

func TestAPIAuthorization(t *testing.T) {
	s := startAPI(t, Config{}, false)
	groupToken := s.group(t, "edge", 2)
	nodeCred := s.member(t, groupToken, "i-1").Credential
	claim := `{"shard":"meet.example.org","role":"jvb"}`
	member := func(i string) string { return `{"instance_id":"` + i + `","claim_key":"` + claimKey(i) + `"}` }
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "POST", "/v1/claims", "", claim, 401, "unauthorized"},
		{"wrong token", "POST", "/v1/claims", "not-the-token-0123456789", claim, 401, "unauthorized"},
		{"operator token prefix", "POST", "/v1/claims", opToken[:len(opToken)-1], claim, 401, "unauthorized"},
		{"group token's hash as token", "POST", "/v1/claims", regapi.HashCredential(groupToken), member("i-9"), 401, "unauthorized"},
		{"group token lists", "GET", "/v1/nodes", groupToken, "", 403, "forbidden"},
		{"group token reports", "POST", "/v1/state", groupToken, `{"id":1,"state":"retired"}`, 403, "forbidden"},
		{"group token names a shard", "POST", "/v1/claims", groupToken, claim, 403, "forbidden"},
		{"group token claims a batch", "POST", "/v1/claims", groupToken, `{"claims":[` + claim + `]}`, 403, "forbidden"},
		{"group token picks a name", "POST", "/v1/claims", groupToken, `{"instance_id":"i-2","claim_key":"` + claimKey("i-2") + `","nickname":"jms"}`, 403, "forbidden"},
		{"group token without claim key", "POST", "/v1/claims", groupToken, `{"instance_id":"i-2"}`, 400, "invalid"},
		{"group token claims", "POST", "/v1/claims", groupToken, member("i-2"), 200, ""},
		{"group full", "POST", "/v1/claims", groupToken, member("i-3"), 409, "group_full"},
		{"same instance, other key", "POST", "/v1/claims", groupToken, `{"instance_id":"i-1","claim_key":"another-claim-key-0123456789"}`, 409, "claim_key_mismatch"},
		{"node lists", "GET", "/v1/nodes", nodeCred, "", 403, "forbidden"},
		{"node records an image", "POST", "/v1/images", nodeCred, `{}`, 403, "forbidden"},
		{"node claims", "POST", "/v1/claims", nodeCred, claim, 403, "forbidden"},
		{"node reports another node", "POST", "/v1/state", nodeCred, `{"id":2,"state":"retired"}`, 403, "forbidden"},
		{"node reports issued", "POST", "/v1/state", nodeCred, `{"state":"issued"}`, 403, "forbidden"},
		{"node reports itself", "POST", "/v1/state", nodeCred, `{"state":"active"}`, 200, ""},
		{"node names itself", "POST", "/v1/state", nodeCred, `{"shard":"meet.example.org","nickname":"jvb-001","state":"active"}`, 200, ""},
		{"operator claim key", "POST", "/v1/claims", opToken, member("i-4"), 400, "invalid"},
		{"operator lists", "GET", "/v1/nodes", opToken, "", 200, ""},
		{"health needs no token", "GET", "/v1/health", "", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, e := s.raw(t, tc.method, tc.path, tc.token, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%+v)", status, tc.status, e)
			}
			if tc.code != "" && (e == nil || e.Code != tc.code || e.Message == "") {
				t.Errorf("error body %+v, want code %q with a message", e, tc.code)
			}
			if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
}

func TestAPIRefusesBadInput(t *testing.T) {
	s := startAPI(t, Config{MaxBodyBytes: 1024}, false)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"broken JSON", "POST", "/v1/claims", `{"shard": "meet.example.org",`, 400, "bad_json", "invalid JSON"},
		{"not JSON", "POST", "/v1/claims", `shard=meet`, 400, "bad_json", "at byte"},
		{"unknown field", "POST", "/v1/claims", `{"shard":"meet.example.org","role":"jvb","secret":"x"}`, 400, "bad_json", `unknown field "secret"`},
		{"wrong type", "POST", "/v1/state", `{"id":"seven","state":"active"}`, 400, "bad_json", `field "id"`},
		{"empty body", "POST", "/v1/claims", ``, 400, "bad_json", "empty"},
		{"two values", "POST", "/v1/claims", `{"shard":"meet.example.org","role":"jvb"} {}`, 400, "bad_json", "more than one"},
		{"oversized body", "POST", "/v1/claims", `{"shard":"` + strings.Repeat("a", 2048) + `"}`, 413, "too_large", "1024 bytes"},
		{"invalid claim", "POST", "/v1/claims", `{"shard":"Meet","role":"web"}`, 400, "invalid", "role"},
		{"both forms", "POST", "/v1/claims", `{"shard":"meet.example.org","claims":[]}`, 400, "bad_json", "not both"},
		{"bad state", "POST", "/v1/state", `{"id":1,"state":"up"}`, 400, "invalid", "state"},
		{"bad query", "GET", "/v1/nodes?limit=0", ``, 400, "invalid", "limit"},
		{"unknown query", "GET", "/v1/nodes?shards=x", ``, 400, "invalid", `unknown parameter "shards"`},
		{"wrong method", "DELETE", "/v1/nodes", ``, 405, "method_not_allowed", "GET"},
		{"no such endpoint", "GET", "/v2/nodes", ``, 404, "no_route", "/v2/nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, e := s.raw(t, tc.method, tc.path, opToken, tc.body)
			if status != tc.status || e == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("got %d %+v, want %d %s containing %q", status, e, tc.status, tc.code, tc.msg)
			}
			if status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestAPIOverTLS(t *testing.T) {
	s := startAPI(t, Config{}, true)
	ctx := testCtx(t, 30*time.Second)
	nodes, err := s.client(t, opToken, regapi.WithCAFile(s.certF)).Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb"})
	if err != nil || nodes[0].Nickname != "jvb-001" {
		t.Fatalf("claim over TLS: %+v %v", nodes, err)
	}
	_, err = s.client(t, opToken, regapi.WithRetryFor(time.Second)).Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb"})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("client without the CA: err = %v, want a certificate error", err)
	}
}

func TestAPILeaderAndHealthChecks(t *testing.T) {
	var h atomic.Value
	h.Store(regapi.Health{Status: regapi.HealthReady, Leader: true})
	s := startAPI(t, Config{Health: func(context.Context) regapi.Health { return h.Load().(regapi.Health) }}, false)
	for _, tc := range []struct {
		health          regapi.Health
		leader, health2 int
	}{
		{regapi.Health{Status: regapi.HealthReady, Leader: true}, 200, 200},
		{regapi.Health{Status: regapi.HealthReady, Leader: false}, 503, 200},
		{regapi.Health{Status: regapi.HealthNoQuorum}, 503, 503},
	} {
		h.Store(tc.health)
		if status, _, _ := s.raw(t, "GET", "/v1/leader", "", ""); status != tc.leader {
			t.Errorf("%+v: /v1/leader status %d, want %d", tc.health, status, tc.leader)
		}
		if status, _, _ := s.raw(t, "GET", "/v1/health", "", ""); status != tc.health2 {
			t.Errorf("%+v: /v1/health status %d, want %d", tc.health, status, tc.health2)
		}
	}
	if status, hdr, _ := s.raw(t, "POST", "/v1/health", "", ""); status != 405 || hdr.Get("Allow") != "GET" {
		t.Errorf("POST /v1/health: %d %v", status, hdr)
	}
}

// TestGateAnswersStartingAtOnce: before the registry is open, every request
// gets 503 at once — "starting" from the health checks, code "starting"
// from the others — then the real API once opened, and 503 "stopping" after.
func TestGateAnswersStartingAtOnce(t *testing.T) {
	reg, err := registry.Open(testCtx(t, 30*time.Second), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	api, err := New(reg, Config{OperatorToken: opToken})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGate()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		t.Helper()
		start := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if took := time.Since(start); took > time.Second {
			t.Errorf("GET %s took %s", path, took)
		}
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/v1/health", "/v1/leader"} {
		if st, body := get(path); st != 503 || !strings.Contains(body, `"status": "starting"`) {
			t.Errorf("starting: GET %s = %d %s", path, st, body)
		}
	}
	if st, body := get("/v1/nodes"); st != 503 || !strings.Contains(body, `"code": "starting"`) {
		t.Errorf("starting: GET /v1/nodes = %d %s", st, body)
	}
	g.Open(api)
	if st, body := get("/v1/health"); st != 200 || !strings.Contains(body, `"status": "ready"`) {
		t.Errorf("open: GET /v1/health = %d %s", st, body)
	}
	g.Close()
	if st, body := get("/v1/health"); st != 503 || !strings.Contains(body, `"status": "stopping"`) {
		t.Errorf("closed: GET /v1/health = %d %s", st, body)
	}
}

// TestClientRetriesUntilServerListens starts the client before the server:
// the claim is retried through "connection refused" and succeeds once.
func TestClientRetriesUntilServerListens(t *testing.T) {
	reg, err := registry.Open(testCtx(t, 30*time.Second), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	h, err := New(reg, Config{OperatorToken: opToken})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens for now
	c, err := regapi.NewClient("http://"+addr, opToken, regapi.WithRetryFor(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			done <- err
			return
		}
		done <- Serve(ctx, ln, h, "", "")
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	nodes, err := c.Claim(testCtx(t, 30*time.Second), regapi.ClaimRequest{Shard: shard, Role: "jvb"})
	if err != nil || len(nodes) != 1 {
		t.Fatalf("claim: %v", err)
	}
	all, err := c.Nodes(testCtx(t, 10*time.Second), regapi.Filter{})
	if err != nil || len(all) != 1 {
		t.Errorf("one claim retried gave %d nodes (%v)", len(all), err)
	}
}

func TestNewClientAndTokensAreChecked(t *testing.T) {
	if _, err := regapi.NewClient("http://registry.example.org", opToken); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("plain http to a remote host: err = %v", err)
	}
	if _, err := regapi.NewClient("ftp://x", opToken); err == nil {
		t.Error("ftp URL accepted")
	}
	if _, err := regapi.NewClient("https://registry.example.org", "short"); err == nil {
		t.Error("short token accepted")
	}
	if _, err := New(nil, Config{OperatorToken: "short"}); err == nil {
		t.Error("short operator token accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	if err := os.WriteFile(p, []byte(opToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := regapi.LoadToken(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable token file: err = %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := regapi.LoadToken(p); err != nil || tok != opToken {
		t.Errorf("LoadToken = %q, %v", tok, err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	return testutil.SelfSignedCert(t, "registry-test")
}
