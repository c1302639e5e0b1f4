package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// cluster is n `registry serve` processes on 127.0.0.1 with cluster TLS and
// HTTPS APIs, started and stopped by this harness by PID.
type cluster struct {
	bin, root, tlsDir, opToken string
	secretKey                  string
	nodes                      []*node
	hc                         *http.Client
}

type node struct {
	dir, addr, api string
	cmd            *exec.Cmd
	exited         chan struct{}
	log            *os.File
}

func newCluster(bin, root string, n int) (*cluster, error) {
	c := &cluster{bin: bin, root: root, tlsDir: filepath.Join(root, "tls"), opToken: filepath.Join(root, "operator.token")}
	if err := os.WriteFile(c.opToken, []byte(randomToken()+"\n"), 0o600); err != nil {
		return nil, err
	}
	// Every node of a cluster shares the key of the secret checks.
	c.secretKey = filepath.Join(root, "secret-check.key")
	if err := os.WriteFile(c.secretKey, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		return nil, err
	}
	out, err := exec.Command(bin, "registry", "tls", "init", "--dir", c.tlsDir, "--node", "127.0.0.1").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("registry tls init: %w: %s", err, out)
	}
	pem, err := os.ReadFile(filepath.Join(c.tlsDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
	for i := range n {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		api, err := freeAddr()
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, &node{dir: filepath.Join(root, fmt.Sprintf("node%d", i)), addr: addr, api: api})
	}
	return c, nil
}

// start runs node i (joining node 0 on its first start).
func (c *cluster) start(i int) error {
	nd := c.nodes[i]
	crt, key := filepath.Join(c.tlsDir, "127.0.0.1.crt"), filepath.Join(c.tlsDir, "127.0.0.1.key")
	args := []string{"registry", "serve", "--data-dir", nd.dir, "--address", nd.addr, "--api-address", nd.api,
		"--operator-token-file", c.opToken, "--secret-key-file", c.secretKey, "--cluster-ca", filepath.Join(c.tlsDir, "ca.crt"),
		"--cluster-cert", crt, "--cluster-key", key, "--cert", crt, "--key", key}
	if i > 0 {
		args = append(args, "--join", c.nodes[0].addr)
	}
	if nd.log == nil {
		f, err := os.OpenFile(filepath.Join(c.root, fmt.Sprintf("node%d.log", i)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		nd.log = f
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = nd.log, nd.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %d: %w", i, err)
	}
	nd.cmd, nd.exited = cmd, make(chan struct{})
	go func(ch chan struct{}) { _ = cmd.Wait(); close(ch) }(nd.exited)
	return nil
}

// kill SIGKILLs node i by PID and waits for the process to end.
func (c *cluster) kill(i int) {
	nd := c.nodes[i]
	if nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.exited
	nd.cmd = nil
}

// stopAll ends every node with SIGTERM, SIGKILL after 20 s.
func (c *cluster) stopAll() {
	for _, nd := range c.nodes {
		if nd.cmd != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, nd := range c.nodes {
		if nd.cmd == nil {
			continue
		}
		select {
		case <-nd.exited:
		case <-time.After(20 * time.Second):
			_ = nd.cmd.Process.Signal(syscall.SIGKILL)
			<-nd.exited
		}
		nd.cmd = nil
		if nd.log != nil {
			nd.log.Close()
		}
	}
}

func (c *cluster) url(i int) string { return "https://" + c.nodes[i].api }

func (c *cluster) urls() string {
	var u []string
	for i := range c.nodes {
		u = append(u, c.url(i))
	}
	return strings.Join(u, ",")
}

// get returns the status of GET path on node i and how long it took.
func (c *cluster) get(ctx context.Context, i int, path string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(i)+path, nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	took := time.Since(start)
	if err != nil {
		return 0, took, err
	}
	resp.Body.Close()
	return resp.StatusCode, took, nil
}

// waitReady polls node i's /v1/health until it answers 200.
func (c *cluster) waitReady(i int, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		if st, _, _ := c.get(ctx, i, "/v1/health"); st == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d not ready within %s (log %s)", i, within, c.nodes[i].log.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leader returns the node that answers 200 to /v1/leader.
func (c *cluster) leader(within time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		for i, nd := range c.nodes {
			if nd.cmd == nil {
				continue
			}
			if st, _, _ := c.get(ctx, i, "/v1/leader"); st == http.StatusOK {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("no leader within %s", within)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// health reads node i's /v1/health.
func (c *cluster) health(ctx context.Context, i int, h *regapi.Health) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(i)+"/v1/health", nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(h)
}

// index is the node whose Raft address is addr (-1: none).
func (c *cluster) index(addr string) int {
	for i, nd := range c.nodes {
		if nd.addr == addr {
			return i
		}
	}
	return -1
}
