package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/prosodytest"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// standinBin is the stand-in bridge, built once by TestMain.
var standinBin string

// buildStandin compiles e2e/fixture/jvb-standin as the .deb ships it (static).
func buildStandin(dir string) (string, error) {
	out := filepath.Join(dir, "jvb-standin")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./fixture/jvb-standin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the stand-in bridge: %v\n%s", err, b)
	}
	return out, nil
}

// bridgeProc is one running stand-in bridge.
type bridgeProc struct {
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	http string // base URL of its private API
	done chan struct{}
	err  error
}

// startBridge runs the stand-in on confDir, its API on a free loopback port,
// with extra arguments after its own (e.g. --era, JVB_OPTS words); the
// test's end stops it by PID. Unless args say otherwise, the bridge takes
// 10.0.2.15 as its only address (a qemu guest's, private), so its health
// depends on the mappings of its config, not on the test machine's network.
func startBridge(t *testing.T, confDir string, args ...string) *bridgeProc {
	t.Helper()
	return startBridgeEnv(t, confDir, nil, args...)
}

// startBridgeEnv is startBridge with env added to the bridge's environment
// (the unit's EnvironmentFile settings, e.g. JAVA_SYS_PROPS).
func startBridgeEnv(t *testing.T, confDir string, env []string, args ...string) *bridgeProc {
	t.Helper()
	addr := freeAddr(t)
	b := &bridgeProc{out: &testutil.SyncBuffer{}, http: "http://" + addr, done: make(chan struct{})}
	argv := []string{"--config-dir", confDir, "--http-addr", addr, "--connect-timeout", "20s", "--aws-metadata-url", "http://127.0.0.1:9"}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--test-local-addresses") }) {
		argv = append(argv, "--test-local-addresses", "10.0.2.15")
	}
	b.cmd = exec.Command(standinBin, append(argv, args...)...)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.Env = append(os.Environ(), env...)
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start the stand-in bridge: %v", err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-b.done:
			case <-time.After(10 * time.Second):
				_ = b.cmd.Process.Kill()
				<-b.done
			}
		}
		if t.Failed() {
			t.Logf("stand-in bridge output (%s):\n%s", confDir, b.out.String())
		}
	})
	return b
}

// waitExit waits for the bridge to end and returns its exit code.
func (b *bridgeProc) waitExit(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(limit):
		t.Fatalf("the stand-in bridge still runs after %s\n%s", limit, b.out.String())
	}
	var ee *exec.ExitError
	if errors.As(b.err, &ee) {
		return ee.ExitCode()
	}
	if b.err != nil {
		t.Fatalf("wait for the stand-in bridge: %v", b.err)
	}
	return 0
}

// post sends a JSON body to the bridge's private API.
func (b *bridgeProc) post(t *testing.T, path, body string) int {
	t.Helper()
	resp, err := http.Post(b.http+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// state reads the stand-in's GET /test-fixture/state.
func (b *bridgeProc) state(t *testing.T) standinState {
	t.Helper()
	resp, err := http.Get(b.http + "/test-fixture/state")
	if err != nil {
		t.Fatalf("GET /test-fixture/state: %v", err)
	}
	defer resp.Body.Close()
	var st standinState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("GET /test-fixture/state: %v", err)
	}
	return st
}

// standinState is the part of GET /test-fixture/state the tests read.
type standinState struct {
	Era       string `json:"era"`
	MUCClient string `json:"muc_client"`
	REST      bool   `json:"rest"`
	Drain     bool   `json:"drain_endpoint"`
	Shards    []struct {
		ID       string `json:"id"`
		Nickname string `json:"nickname"`
		Joined   bool   `json:"joined"`
	} `json:"shards"`
	Ignored []string `json:"ignored"`
	Harvest *struct {
		Mappings []struct {
			Kind, Local, Public, Source string
		} `json:"mappings"`
		AWS string `json:"aws"`
	} `json:"harvest"`
	Health      string `json:"health"`
	Conferences int    `json:"conferences"`
}

// health polls GET /about/health until it answers want or the limit passes.
func (b *bridgeProc) waitHealth(t *testing.T, want int, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(b.http + "/about/health")
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body.String())
			if resp.StatusCode == want {
				return body.String()
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET /about/health: want %d within %s, last answer: %s", want, limit, last)
	return ""
}

// checker logs in as focus (as jicofo would) and sits in the brewery.
func checker(t *testing.T, srv *prosodytest.Server, password string) *xmppc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppc.Dial(ctx, srv.Account("focus", password))
	if err != nil {
		t.Fatalf("checker: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Join(ctx, srv.Brewery(), "focus", nil); err != nil {
		t.Fatalf("checker: %v", err)
	}
	return c
}

// waitOccupants waits until cond holds for the brewery's occupants.
func waitOccupants(t *testing.T, c *xmppc.Client, room, what string, cond func(map[string]xmppc.Occupant) bool) map[string]xmppc.Occupant {
	t.Helper()
	return waitOccupantsWithin(t, c, room, what, cond, 30*time.Second)
}

// waitOccupantsWithin is waitOccupants with its own bound.
func waitOccupantsWithin(t *testing.T, c *xmppc.Client, room, what string, cond func(map[string]xmppc.Occupant) bool, limit time.Duration) map[string]xmppc.Occupant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	occ, err := c.WaitOccupants(ctx, room, cond)
	if err != nil {
		t.Fatalf("brewery %s: waiting for %s: %v; occupants: %v", room, what, err, nicks(occ))
	}
	return occ
}

func nicks(occ map[string]xmppc.Occupant) []string {
	var out []string
	for n := range occ {
		out = append(out, n)
	}
	return out
}

// drainAndShutDown enables the bridge's drain (its brewery presence must say
// so), checks that a draining bridge takes no new conference, shuts it down
// gracefully and checks that it exits 0 within limit and leaves the brewery,
// and that its log does not hold the secret.
func drainAndShutDown(t *testing.T, b *bridgeProc, focus *xmppc.Client, room, nick string, limit time.Duration) {
	t.Helper()
	if code := b.post(t, "/colibri/drain/enable", ""); code != http.StatusOK {
		t.Fatalf("POST /colibri/drain/enable = %d, want 200", code)
	}
	waitOccupants(t, focus, room, "the drain stat", func(o map[string]xmppc.Occupant) bool {
		return o[nick].Stats["drain"] == "true"
	})
	// A draining bridge takes no new conference (jicofo would not choose it).
	if code := b.post(t, "/test-fixture/conferences", `{"count":1,"seconds":3}`); code != http.StatusConflict {
		t.Errorf("a conference started on a draining bridge: HTTP %d, want 409", code)
	}
	if code := b.post(t, "/colibri/shutdown", `{"graceful-shutdown":"true"}`); code != http.StatusOK {
		t.Fatalf("POST /colibri/shutdown = %d, want 200", code)
	}
	if code := b.waitExit(t, limit); code != 0 {
		t.Errorf("exit code after graceful shutdown = %d, want 0", code)
	}
	waitOccupants(t, focus, room, nick+" to leave", func(o map[string]xmppc.Occupant) bool {
		_, ok := o[nick]
		return !ok
	})
	if strings.Contains(b.out.String(), bridgeSecret) {
		t.Error("the bridge's log contains the secret")
	}
}

// checkRefusedLogin: a bridge whose secret prosody refuses logs the refusal
// (each of wants, within limit), keeps running and retrying, stays healthy
// (its health is about addresses), is in no brewery, shows its shard not
// joined, and never logs the password it tried.
func checkRefusedLogin(t *testing.T, b *bridgeProc, focus *xmppc.Client, room, nick, password string, limit time.Duration, wants ...string) {
	t.Helper()
	waitFor(t, "prosody's not-authorized on the log", limit, func() bool { return strings.Contains(b.out.String(), "not-authorized") })
	b.waitHealth(t, http.StatusOK, 10*time.Second)
	log := b.out.String()
	for _, want := range wants {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	select {
	case <-b.done:
		t.Errorf("the bridge exited on a refused login; the real one keeps running and retrying")
	default:
	}
	if strings.Contains(log, password) {
		t.Error("the bridge's log contains the password it tried")
	}
	if strings.Contains(log, "Joined MUC") {
		t.Error("the bridge logged a join although its login was refused")
	}
	if st := b.state(t); len(st.Shards) != 1 || st.Shards[0].Joined {
		t.Errorf("state shards %+v: want one shard, not joined", st.Shards)
	}
	if _, in := focus.Occupants(room)[nick]; in {
		t.Error("a bridge with a wrong secret is in the brewery")
	}
}

// legacyShard is a complete legacy shard for srv in sip-communicator.properties
// syntax (values escaped as Java properties), with the bridge's secret.
func legacyShard(srv *prosodytest.Server, nickname string) string {
	return fmt.Sprintf(`org.jitsi.videobridge.xmpp.user.shard.HOSTNAME=127.0.0.1
org.jitsi.videobridge.xmpp.user.shard.PORT=%d
org.jitsi.videobridge.xmpp.user.shard.DOMAIN=auth.%s
org.jitsi.videobridge.xmpp.user.shard.USERNAME=jvb
org.jitsi.videobridge.xmpp.user.shard.PASSWORD=%s
org.jitsi.videobridge.xmpp.user.shard.MUC_JIDS=%s
org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=%s
org.jitsi.videobridge.xmpp.user.shard.DISABLE_CERTIFICATE_VERIFICATION=true
`, srv.Port, srv.FQDN, strings.NewReplacer(`\`, `\\`, " ", `\ `, ":", `\:`, "=", `\=`).Replace(bridgeSecret), srv.Brewery(), nickname)
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
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

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
