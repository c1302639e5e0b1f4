package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
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

// guestRegistryIP is where guests see the registry API (a guestfwd from
// its port 80 to the `registry serve` the test runs on 127.0.0.1).
const guestRegistryIP = "10.0.2.102"

// registryAPI is a `registry serve` run by the test.
type registryAPI struct {
	url, operatorToken string
	ca                 string // the CA of the API's certificate (PEM file)
	port               int
}

// startRegistry runs `packer-plugin-jitsi registry serve` on dataDir with its
// API on 127.0.0.1 over HTTPS — nodes reach it off loopback, at
// https://10.0.2.102:80, so its certificate (from `registry tls init`)
// names both — and stops it by PID at the end.
func startRegistry(t *testing.T, out, dataDir string) registryAPI {
	t.Helper()
	port, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The bakes' post-processor made dataDir an embedded registry, whose node
	// keeps the address it was given for life: serve it there.
	raftAddr := ""
	if b, err := os.ReadFile(filepath.Join(dataDir, "raft-address")); err == nil {
		raftAddr = strings.TrimSpace(string(b))
	} else {
		p, err := vm.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		raftAddr = fmt.Sprintf("127.0.0.1:%d", p)
	}
	tlsDir := filepath.Join(out, "registry-tls")
	if _, err := os.Stat(tlsDir); os.IsNotExist(err) {
		cli(t, "registry", "tls", "init", "--dir", tlsDir, "--node", "127.0.0.1", "--api-name", guestRegistryIP)
	}
	api := registryAPI{url: fmt.Sprintf("https://127.0.0.1:%d", port), port: port, ca: filepath.Join(tlsDir, "ca.crt"),
		operatorToken: writeSecret(t, filepath.Join(out, "operator.token"), randomToken(t))}
	logf, err := os.Create(filepath.Join(out, "registry-serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pluginBin(t), "registry", "serve", "--data-dir", dataDir,
		"--address", raftAddr, "--api-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--operator-token-file", api.operatorToken,
		"--cert", filepath.Join(tlsDir, "127.0.0.1.crt"), "--key", filepath.Join(tlsDir, "127.0.0.1.key"))
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
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("registry serve exited: see %s", filepath.Join(out, "registry-serve.log"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry serve: no API on %s after a minute (log %s)", api.url, filepath.Join(out, "registry-serve.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	progress(t, "registry: serving %s on %s (API %s)", dataDir, raftAddr, api.url)
	return api
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
