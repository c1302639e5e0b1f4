package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// issuedNodes reads `issue --json` output: the nicknames, in order.
func issuedNodes(t *testing.T, out string) []string {
	t.Helper()
	var nodes []struct {
		Nickname string `json:"nickname"`
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		var one struct {
			Nickname string `json:"nickname"`
		}
		if err1 := json.Unmarshal([]byte(out), &one); err1 != nil || one.Nickname == "" {
			t.Fatalf("issue --json printed %q: %v", out, err)
		}
		return []string{one.Nickname}
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Nickname)
	}
	return names
}

// nodeStates reads `nodes --json`: nickname → state.
func nodeStates(t *testing.T, out string) map[string]string {
	t.Helper()
	var nodes []struct {
		Nickname string `json:"nickname"`
		State    string `json:"state"`
		Updated  string `json:"updated"`
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		t.Fatalf("nodes --json printed %q: %v", out, err)
	}
	states := map[string]string{}
	for _, n := range nodes {
		// A retired nickname can be issued again: the latest row wins.
		if states[n.Nickname] == "" || n.State != "retired" {
			states[n.Nickname] = n.State
		}
	}
	return states
}

// registryAPI is a `registry serve` run by the test: its API on 127.0.0.1
// over HTTPS with a certificate the test made for the addresses the API is
// reached at (guests reach it through a guestfwd at guestIP:443).
type registryAPI struct {
	url, operatorToken, ca string
	guestURL               string
	port                   int
}

// startRegistry runs `packer-plugin-jitsi registry serve` on a fresh data
// directory and stops it by PID at the end.
func startRegistry(t *testing.T, out, guestIP string) registryAPI {
	t.Helper()
	port, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	raftPort, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cert, key := testutil.SelfSignedCertFor(t, "registry.e2e.test", 12*time.Hour, "127.0.0.1", guestIP)
	api := registryAPI{url: fmt.Sprintf("https://127.0.0.1:%d", port), port: port, ca: cert, guestURL: "https://" + guestIP,
		operatorToken: writeSecret(t, filepath.Join(out, "operator.token"), randomToken(t))}
	logf, err := os.Create(filepath.Join(out, "registry-serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(out, "registry")
	cmd := exec.Command(pluginBin(t), "registry", "serve", "--data-dir", dataDir,
		"--address", fmt.Sprintf("127.0.0.1:%d", raftPort), "--api-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--cert", cert, "--key", key, "--operator-token-file", api.operatorToken)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start registry serve: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, cert)}}}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(api.url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("registry serve exited: see %s", filepath.Join(out, "registry-serve.log"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry serve: no healthy API on %s after a minute (log %s)", api.url, filepath.Join(out, "registry-serve.log"))
		}
		time.Sleep(300 * time.Millisecond)
	}
	progress(t, "registry: serving %s (API %s, guests %s)", dataDir, api.url, api.guestURL)
	return api
}

// flags are the CLI flags that reach the registry as its operator.
func (a registryAPI) flags() []string {
	return []string{"--registry", a.url, "--token-file", a.operatorToken, "--registry-ca", a.ca}
}

// post sends a JSON body to the API with a bearer credential and returns
// the status code and body: how the tests play a node (or an attacker).
func (a registryAPI) post(t *testing.T, path, credential string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, a.url+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, a.ca)}}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(out)
}

func certPool(t *testing.T, pemFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(pemFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", pemFile)
	}
	return pool
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitStates polls `nodes --json` until every named node is in its wanted
// state (bounded) and returns the last states seen.
func waitStates(t *testing.T, reg []string, want map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		states := nodeStates(t, cli(t, append([]string{"nodes", "--shard", clusterFQDN, "--json"}, reg...)...))
		var wrong []string
		for n, w := range want {
			if states[n] != w {
				wrong = append(wrong, fmt.Sprintf("%s is %q, want %q", n, states[n], w))
			}
		}
		if len(wrong) == 0 {
			progress(t, "assertion ok: registry states %v", want)
			return states
		}
		if time.Now().After(deadline) {
			sort.Strings(wrong)
			t.Fatalf("assertion registry states: %s (all: %v)", strings.Join(wrong, "; "), states)
		}
		time.Sleep(3 * time.Second)
	}
}

// registryNodes lists the cluster's nodes as `nodes --json` prints them.
func registryNodes(t *testing.T, reg []string) []regapi.Node {
	t.Helper()
	var nodes []regapi.Node
	if err := json.Unmarshal([]byte(cli(t, append([]string{"nodes", "--shard", clusterFQDN, "--json"}, reg...)...)), &nodes); err != nil {
		t.Fatalf("nodes --json: %v", err)
	}
	return nodes
}

// nodeNamed is the live node of the cluster's shard with that nickname.
func nodeNamed(t *testing.T, reg []string, nickname string) regapi.Node {
	t.Helper()
	for _, nd := range registryNodes(t, reg) {
		if nd.Nickname == nickname && nd.State != "retired" {
			return nd
		}
	}
	t.Fatalf("no live node %s in the registry", nickname)
	return regapi.Node{}
}
