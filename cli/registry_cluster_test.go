package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/outsider"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestServeRefusesUnauthenticatedLinksAndOpenKeys: a node whose links
// would leave the machine without cluster TLS, and keys others may read,
// are refused with exit code 2 before anything starts.
func TestServeRefusesUnauthenticatedLinksAndOpenKeys(t *testing.T) {
	c := newRegCLI(t)
	token := c.file("op.token", "operator-token-for-the-test-0123\n")
	tlsDir := filepath.Join(c.home, "tls")
	c.must("registry", "tls", "init", "--dir", tlsDir, "--node", "10.0.0.1", "--node", "registry2.example.org")
	for _, f := range []string{"ca.crt", "ca.key", "10.0.0.1.crt", "10.0.0.1.key", "registry2.example.org.crt", "registry2.example.org.key"} {
		st, err := os.Stat(filepath.Join(tlsDir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("tls init: %s: %v %v, want mode 0600", f, st, err)
		}
	}
	dataDir := filepath.Join(c.home, "srv")
	code, _, errs := c.run("registry", "serve", "--data-dir", dataDir, "--address", "10.0.0.1:9001", "--join", "10.0.0.2:9001")
	if code != 2 || !strings.Contains(errs, "--cluster-ca, --cluster-cert and --cluster-key") || !strings.Contains(errs, "registry tls init") {
		t.Errorf("non-loopback --address without cluster TLS: exit %d: %s", code, errs)
	}
	code, _, errs = c.run("registry", "serve", "--data-dir", dataDir, "--address", "127.0.0.1:9001", "--join", "10.0.0.2:9001")
	if code != 2 || !strings.Contains(errs, "10.0.0.2:9001 is not a loopback address") {
		t.Errorf("non-loopback --join without cluster TLS: exit %d: %s", code, errs)
	}
	key := filepath.Join(tlsDir, "10.0.0.1.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	crt := filepath.Join(tlsDir, "10.0.0.1.crt")
	code, _, errs = c.run("registry", "serve", "--data-dir", dataDir, "--address", "10.0.0.1:9001",
		"--cluster-ca", filepath.Join(tlsDir, "ca.crt"), "--cluster-cert", crt, "--cluster-key", key,
		"--api-address", "10.0.0.1:8443", "--cert", crt, "--key", key, "--operator-token-file", token)
	if code != 2 || strings.Count(errs, "run chmod 600 "+key) != 2 {
		t.Errorf("0644 cluster and API key: exit %d, want 2 with the chmod to run for both:\n%s", code, errs)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("a refused serve created its data directory: %v", err)
	}
	// A second run adds a node with the same CA and never overwrites one.
	c.must("registry", "tls", "init", "--dir", tlsDir, "--node", "10.0.0.3")
	if code, _, errs := c.run("registry", "tls", "init", "--dir", tlsDir, "--node", "10.0.0.3", "--node", "bad host"); code != 2 ||
		!strings.Contains(errs, "10.0.0.3.crt exists") || !strings.Contains(errs, `"bad host"`) {
		t.Errorf("tls init over an existing node: exit %d: %s", code, errs)
	}
}

// TestClusterLinksRefuseOutsiders runs a 3-node cluster with cluster TLS
// on 127.0.0.1 and lets an outside process without the cluster's
// certificate attack every node's Raft address and dqlite socket: with a
// raw dqlite client, a raw driver (SELECT every shard, UPDATE a row) and
// as a node asking to join, in the clear and with a certificate of its
// own. Nothing gets through. The same outsider against a cluster without
// cluster TLS (allowed on loopback only) joins, reads and writes — the
// attack that was possible before, and proof that the test can fail.
func TestClusterLinksRefuseOutsiders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	attack := func(c *serveCluster) (rep outsider.Report, rewritten int) {
		t.Helper()
		c.start()
		cli := newRegCLI(t)
		secret := cli.file("jvb.secret", regTestSecret+"\n")
		cli.must(append([]string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--count", "3",
			"--out-dir", filepath.Join(cli.home, "out")}, c.remote(c.urls())...)...)
		var plan outsider.Plan
		for i, nd := range c.nodes {
			plan.Addrs = append(plan.Addrs, nd.addr)
			socks, err := outsider.AbstractSocketsOf(c.pid(i))
			if err != nil {
				t.Fatal(err)
			}
			plan.Addrs = append(plan.Addrs, socks...)
		}
		plan.JoinAddrs = []string{freeAddr(t), freeAddr(t)}
		plan.Timeout = 2 * time.Second
		rep, err := outsider.Start(ctx, os.Args[0], -1, plan)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range cli.nodes(c.remote(c.urls())...) {
			if n.Reason != "" {
				rewritten++
			}
		}
		return rep, rewritten
	}

	rep, rewritten := attack(newServeCluster(t, 3, true))
	if rewritten > 0 {
		t.Errorf("%d rows of the TLS cluster were rewritten by the outsider", rewritten)
	}
	for _, a := range rep.Attempts {
		t.Logf("TLS cluster: %s at %s: err %s", a.How, a.Addr, a.Err)
	}
	for _, b := range rep.Breaches() {
		t.Errorf("an outsider without the cluster certificate got into the TLS cluster: %s at %s: %+v", b.How, b.Addr, b)
	}

	rep, rewritten = attack(newServeCluster(t, 3, false))
	t.Logf("plain cluster (control): %d rows rewritten by the outsider", rewritten)
	var joined, read, wrote bool
	for _, b := range rep.Breaches() {
		t.Logf("plain cluster (control): %s at %s: %+v", b.How, b.Addr, b)
		joined = joined || b.Joined
		read = read || b.Rows > 0
		wrote = wrote || b.Updated > 0
	}
	if !joined || !read || !wrote {
		t.Errorf("control: against a cluster without TLS the outsider joined=%v read=%v wrote=%v; want all: the attack proves nothing", joined, read, wrote)
	}
}

// TestServeIsHonestWithoutALeader: a node that cannot serve says so at once
// — 503 "starting" while it joins (over HTTPS: no handshake that hangs), 503
// "no_quorum" and a 503 from /v1/leader within 2 s when most of its
// cluster was SIGKILLed, and 503 "unavailable" to a claim within its write
// timeout — and serves again once a majority is back.
func TestServeIsHonestWithoutALeader(t *testing.T) {
	c := newServeCluster(t, 3, true, "--write-timeout", "2s")
	token := c.operatorToken()
	claim := `{"shard": "meet.example.org", "role": "jvb", "claim_id": "honest-1"}`

	// A node that cannot reach the cluster it joins stays "starting".
	lone := *c
	lone.nodes = []*serveNode{{dir: filepath.Join(c.root, "lone"), addr: freeAddr(t), api: freeAddr(t)}}
	t.Cleanup(func() { lone.stop(0) })
	lone.startWith(0, lone.args(0, freeAddr(t)))
	body := lone.waitHealth(0, 503, 10*time.Second)
	if !strings.Contains(body, `"status": "starting"`) {
		t.Errorf("joining node: /v1/health = %s, want starting", body)
	}
	st, body, took, err := lone.call(0, "POST", "/v1/claims", token, claim)
	if err != nil || st != 503 || !strings.Contains(body, `"code": "starting"`) || took > 2*time.Second {
		t.Errorf("joining node: claim = %d %s after %s (%v), want 503 starting at once", st, body, took, err)
	}
	lone.stop(0)

	c.start()
	lead := c.leader()
	if st, body, _, err := c.call(lead, "POST", "/v1/claims", token, claim); err != nil || st != 200 {
		t.Fatalf("claim on the leader: %d %s %v", st, body, err)
	}
	survivor := (lead + 1) % 3
	c.kill(lead)
	c.kill((lead + 2) % 3)

	deadline := time.Now().Add(10 * time.Second)
	for {
		st, body, took, err := c.call(survivor, "GET", "/v1/health", "", "")
		if err != nil || took > 2*time.Second {
			t.Fatalf("survivor /v1/health: %v after %s", err, took)
		}
		if st == 503 && strings.Contains(body, `"status": "no_quorum"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("survivor /v1/health still %d %s 10s after losing its majority", st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var worst time.Duration
	for range 5 {
		st, body, took, err := c.call(survivor, "GET", "/v1/leader", "", "")
		if err != nil || st != 503 || took > 2*time.Second {
			t.Errorf("survivor /v1/leader without quorum: %d %s after %s (%v), want 503 within 2s", st, body, took, err)
		}
		worst = max(worst, took)
	}
	t.Logf("without quorum: /v1/leader answered 503 within %s", worst.Round(time.Millisecond))
	st, body, took, err = c.call(survivor, "POST", "/v1/claims", token, strings.Replace(claim, "honest-1", "honest-2", 1))
	if err != nil || st != 503 || !strings.Contains(body, `"code": "unavailable"`) || took > 6*time.Second {
		t.Errorf("claim without quorum: %d %s after %s (%v), want 503 unavailable within the 2s write timeout", st, body, took, err)
	}
	t.Logf("without quorum: a claim was answered %d after %s", st, took.Round(time.Millisecond))

	// A majority back: the survivor serves again.
	c.startNode(lead)
	c.waitHealth(survivor, 200, 30*time.Second)
	if st, body, _, err := c.call(survivor, "POST", "/v1/claims", token, strings.Replace(claim, "honest-1", "honest-2", 1)); err != nil || st != 200 {
		t.Errorf("claim once the majority is back: %d %s %v", st, body, err)
	}
}

// TestCLIFailsOverToAnotherNode runs `issue` with every node's URL, one run
// after another, and SIGKILLs the leader in the middle: every run succeeds
// (the client moves on to another node, keeping its claim ids), no nickname
// is given twice and every issued bridge is recorded.
func TestCLIFailsOverToAnotherNode(t *testing.T) {
	c := newServeCluster(t, 3, true)
	c.start()
	lead := c.leader()
	cli := newRegCLI(t)
	secret := cli.file("jvb.secret", regTestSecret+"\n")
	out := filepath.Join(cli.home, "out")
	urls := c.urls()
	const runs, killAfter = 12, 4
	type run struct {
		start, end time.Time
		code       int
		stderr     string
		names      []string
	}
	results := make([]run, runs)
	var killedAt time.Time
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range runs {
			if i == killAfter {
				killedAt = time.Now()
				go c.kill(lead)
			}
			r := run{start: time.Now()}
			var stdout string
			r.code, stdout, r.stderr = cli.run(append([]string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret,
				"--out-dir", out, "--json"}, c.remote(urls)...)...)
			r.end = time.Now()
			var nodes []regapi.Node
			if err := json.Unmarshal([]byte(stdout), &nodes); err == nil {
				for _, n := range nodes {
					r.names = append(r.names, n.Nickname)
				}
			}
			results[i] = r
		}
	})
	wg.Wait()
	var issued []string
	var longest time.Duration
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("run %d: exit %d: %s", i, r.code, r.stderr)
		}
		issued = append(issued, r.names...)
		if !r.end.Before(killedAt) {
			from := r.start
			if from.Before(killedAt) {
				from = killedAt
			}
			longest = max(longest, r.end.Sub(from))
		}
	}
	t.Logf("leader SIGKILLed: the longest issue run after it took %s", longest.Round(time.Millisecond))
	if longest > 10*time.Second {
		t.Errorf("an issue run took %s after the leader's SIGKILL although two other nodes were given", longest)
	}
	slices.Sort(issued)
	if len(slices.Compact(slices.Clone(issued))) != len(issued) || len(issued) != runs {
		t.Errorf("issued %v: want %d distinct nicknames", issued, runs)
	}
	var recorded []string
	for _, n := range cli.nodes(c.remote(urls)...) {
		recorded = append(recorded, n.Nickname)
	}
	slices.Sort(recorded)
	if !slices.Equal(recorded, issued) {
		t.Errorf("recorded %v, issued %v", recorded, issued)
	}
	for _, name := range issued {
		if _, err := os.Stat(filepath.Join(out, name+".yaml")); err != nil {
			t.Errorf("user-data of %s: %v", name, err)
		}
	}
}
