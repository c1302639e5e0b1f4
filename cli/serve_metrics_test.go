package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// TestServeMetricsAndFleetPage: `registry serve --metrics-token-file`
// serves /metrics to that token (with this node's Raft state: the leader
// of a one-node cluster) and the fleet page to the operator token; a
// metrics token file that others can read, or that holds the operator
// token, is refused before anything starts.
func TestServeMetricsAndFleetPage(t *testing.T) {
	c := newRegCLI(t)
	opTok := c.file("operator.token", "operator-token-for-the-test-0123\n")
	mTok := c.file("metrics.token", "metrics-token-for-the-test-01234\n")
	open := c.file("open.token", "metrics-token-for-the-test-56789\n")
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	same := c.file("same.token", "operator-token-for-the-test-0123\n")
	base := []string{"registry", "serve", "--data-dir", c.home + "/srv", "--address", freeAddr(t)}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api-address", freeAddr(t), "--operator-token-file", opTok, "--metrics-token-file", open}, "--metrics-token-file: read token: " + open + " is readable by others"},
		{[]string{"--api-address", freeAddr(t), "--operator-token-file", opTok, "--metrics-token-file", same}, "--metrics-token-file holds the operator token"},
		{[]string{"--metrics-token-file", mTok}, "--operator-token-file, --metrics-token-file and --cert are for the API: give --api-address too"},
	} {
		if code, _, errs := c.run(append(base, tc.args...)...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 saying %q", tc.args, code, errs, tc.want)
		}
	}

	api := freeAddr(t)
	log := &testutil.SyncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var o bytes.Buffer
		done <- registryCommand.run(ctx, Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: log, Getenv: func(string) string { return "" }},
			append(base[1:], "--api-address", api, "--operator-token-file", opTok, "--metrics-token-file", mTok))
	}()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("registry serve: %v\n%s", err, log)
			}
		case <-time.After(30 * time.Second):
			t.Error("registry serve did not stop within 30s")
		}
	}()
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+api+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _ := get("/v1/health", ""); status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry serve not ready in 30 s\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	metricsToken := strings.TrimSpace(readFile(t, mTok))
	status, body := get("/metrics", metricsToken)
	if status != 200 || !strings.Contains(body, "\njitsi_registry_raft_leader 1\n") || !strings.Contains(body, `jitsi_registry_raft_members{role="voter"} 1`) {
		t.Errorf("/metrics: %d\n%s", status, body)
	}
	if status, _ := get("/", metricsToken); status != http.StatusSeeOther {
		t.Errorf("the metrics token opened the fleet page: %d", status)
	}
	if status, body := get("/", strings.TrimSpace(readFile(t, opTok))); status != 200 || !strings.Contains(body, "Jitsi registry: fleet") {
		t.Errorf("fleet page with the operator token: %d", status)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
