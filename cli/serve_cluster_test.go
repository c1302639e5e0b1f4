package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// serveCluster is n `registry serve` nodes on 127.0.0.1, each a real
// process (this test binary acting as the CLI) with its API, started and
// stopped by the test by PID — SIGKILL included.
type serveCluster struct {
	t         *testing.T
	root      string
	tlsDir    string // cluster TLS and the APIs' certificate; "" = none (loopback only)
	opToken   string // operator token file
	secretKey string // the cluster's secret-check key file
	extra     []string
	nodes     []*serveNode
}

type serveNode struct {
	dir, addr, api string
	mu             sync.Mutex
	cmd            *exec.Cmd
	log            *testutil.SyncBuffer
	exited         chan struct{}
}

func newServeCluster(t *testing.T, n int, withTLS bool, extra ...string) *serveCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts registry processes")
	}
	c := &serveCluster{t: t, root: t.TempDir(), extra: extra}
	c.opToken = filepath.Join(c.root, "operator.token")
	if err := os.WriteFile(c.opToken, []byte("operator-token-for-the-cluster-test-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every node of a cluster shares the key of the secret checks.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.secretKey = filepath.Join(c.root, "secret-check.key")
	if err := os.WriteFile(c.secretKey, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if withTLS {
		c.tlsDir = filepath.Join(c.root, "tls")
		var out, errb bytes.Buffer
		env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		if code := Main([]string{"registry", "tls", "init", "--dir", c.tlsDir, "--node", "127.0.0.1"}, env); code != 0 {
			t.Fatalf("registry tls init: exit %d: %s", code, errb.String())
		}
	}
	for i := range n {
		c.nodes = append(c.nodes, &serveNode{dir: filepath.Join(c.root, fmt.Sprintf("node%d", i)), addr: freeAddr(t), api: freeAddr(t)})
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for i := range c.nodes {
			wg.Go(func() { c.stop(i) })
		}
		wg.Wait()
		if t.Failed() {
			for i, nd := range c.nodes {
				if nd.log != nil {
					t.Logf("node %d log:\n%s", i, tail(nd.log.String(), 3000))
				}
			}
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// args are node i's flags; join is the address it joins on first start.
func (c *serveCluster) args(i int, join string) []string {
	nd := c.nodes[i]
	a := []string{"registry", "serve", "--data-dir", nd.dir, "--address", nd.addr,
		"--api-address", nd.api, "--operator-token-file", c.opToken, "--secret-key-file", c.secretKey}
	if c.tlsDir != "" {
		crt, key := filepath.Join(c.tlsDir, "127.0.0.1.crt"), filepath.Join(c.tlsDir, "127.0.0.1.key")
		a = append(a, "--cluster-ca", filepath.Join(c.tlsDir, "ca.crt"), "--cluster-cert", crt, "--cluster-key", key, "--cert", crt, "--key", key)
	}
	if join != "" {
		a = append(a, "--join", join)
	}
	return append(a, c.extra...)
}

// startNode starts node i's process (joining node 0 unless it is node 0).
func (c *serveCluster) startNode(i int) {
	c.t.Helper()
	join := ""
	if i > 0 {
		join = c.nodes[0].addr
	}
	c.startWith(i, c.args(i, join))
}

func (c *serveCluster) startWith(i int, args []string) {
	c.t.Helper()
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envAsBinary+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if nd.log == nil {
		nd.log = &testutil.SyncBuffer{}
	}
	cmd.Stdout, cmd.Stderr = nd.log, nd.log
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	nd.cmd, nd.exited = cmd, exited
}

// start starts every node: node 0 first, the others once it serves.
func (c *serveCluster) start() {
	c.t.Helper()
	c.startNode(0)
	c.waitHealth(0, 200, 30*time.Second)
	for i := 1; i < len(c.nodes); i++ {
		c.startNode(i)
	}
	for i := range c.nodes {
		c.waitHealth(i, 200, 30*time.Second)
	}
}

// pid is node i's process id (0 when not running).
func (c *serveCluster) pid(i int) int {
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return 0
	}
	return nd.cmd.Process.Pid
}

// kill SIGKILLs node i by its PID and waits for the process to end.
func (c *serveCluster) kill(i int) {
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.exited
	nd.cmd = nil
}

// stop ends node i with SIGTERM (SIGKILL after 20 s).
func (c *serveCluster) stop(i int) {
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-nd.exited:
	case <-time.After(20 * time.Second):
		_ = nd.cmd.Process.Signal(syscall.SIGKILL)
		<-nd.exited
	}
	nd.cmd = nil
}

func (c *serveCluster) url(i int) string {
	if c.tlsDir != "" {
		return "https://" + c.nodes[i].api
	}
	return "http://" + c.nodes[i].api
}

func (c *serveCluster) urls() string {
	var u []string
	for i := range c.nodes {
		u = append(u, c.url(i))
	}
	return strings.Join(u, ",")
}

// remote is the flags other commands reach the cluster with.
func (c *serveCluster) remote(urls string) []string {
	a := []string{"--registry", urls, "--token-file", c.opToken}
	if c.tlsDir != "" {
		a = append(a, "--registry-ca", filepath.Join(c.tlsDir, "ca.crt"))
	}
	return a
}

func (c *serveCluster) httpClient() *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	if c.tlsDir != "" {
		pem, err := os.ReadFile(filepath.Join(c.tlsDir, "ca.crt"))
		if err != nil {
			c.t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// call sends one request to node i and returns the status, the body and
// how long the answer took.
func (c *serveCluster) call(i int, method, path, token, body string) (int, string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.url(i)+path, strings.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), time.Since(start), nil
}

// waitHealth polls node i's /v1/health until it answers status.
func (c *serveCluster) waitHealth(i, status int, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, body, _, err := c.call(i, "GET", "/v1/health", "", "")
		if err == nil && st == status {
			return body
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d: /v1/health did not answer %d within %s (last: %d %s %v)", i, status, within, st, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leader polls /v1/leader until exactly one running node answers 200.
func (c *serveCluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var leaders []int
		for i := range c.nodes {
			if c.pid(i) == 0 {
				continue
			}
			if st, _, _, err := c.call(i, "GET", "/v1/leader", "", ""); err == nil && st == 200 {
				leaders = append(leaders, i)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no single leader within 20s: %v", leaders)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *serveCluster) operatorToken() string {
	b, err := os.ReadFile(c.opToken)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
