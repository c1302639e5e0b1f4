// Command failover measures how a registry cluster rides out the SIGKILL of
// its leader. It is a measuring harness, not a test: it runs real `registry
// serve` processes (3 nodes on 127.0.0.1, cluster TLS, HTTPS APIs) of a
// built packer-plugin-jitsi binary, and for each run:
//
//  1. 16 claimers (one regapi.Client given every node's URL, as the CLI's
//     --registry is) claim bridges one at a time, each claim retried with
//     its claim id until acknowledged;
//  2. the leader is SIGKILLed (-kills times; each killed node is restarted
//     before the next kill), and the longest pause in acknowledgements
//     after each kill is measured;
//  3. the registry is checked against the acknowledgements: duplicates
//     (a live nickname twice), lost claims (acknowledged but not recorded
//     as answered), claims recorded but never acknowledged;
//  4. the CLI: `issue --registry URL1,URL2,URL3` runs back to back while the
//     leader is SIGKILLed; the longest time from the kill to the end of a
//     run is the CLI's pause;
//  5. two of three nodes are SIGKILLed: how long GET /v1/leader takes to
//     answer (503) without quorum.
//
// Usage (from the repository root, after `make build`):
//
//	go run -tags libsqlite3 ./e2e/harness/failover -bin ./packer-plugin-jitsi -runs 5
//
// It prints one line per run and a summary (-json for machines). Every
// process it starts is stopped by PID; its files go to a temporary
// directory, removed at the end unless -keep.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

type config struct {
	bin                       string
	runs, kills, claimers     int
	warmup, afterKill, settle time.Duration
	cliRuns                   int
	keep, asJSON, verbose     bool
}

// runResult is what one run measured.
type runResult struct {
	Run            int       `json:"run"`
	Pauses         []float64 `json:"pauses_s"` // longest pause in acks after each kill
	Claims         int       `json:"claims"`
	ClaimsPerSec   float64   `json:"claims_per_s"`
	P50ms          float64   `json:"p50_ms"`
	P99ms          float64   `json:"p99_ms"`
	MaxLatencyS    float64   `json:"max_latency_s"`
	FailedAttempts int64     `json:"failed_attempts"`
	Duplicates     int       `json:"duplicates"`
	Lost           int       `json:"lost"`
	Unacked        int       `json:"unacked"`
	CLIPauseS      float64   `json:"cli_pause_s"`        // kill → end of the issue run in flight
	CLINormalS     float64   `json:"cli_normal_run_s"`   // median issue run before the kill
	LeaderNoQuorum float64   `json:"leader_no_quorum_s"` // slowest /v1/leader answer without quorum
	Err            string    `json:"error,omitempty"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "./packer-plugin-jitsi", "the packer-plugin-jitsi binary to run (make build)")
	flag.IntVar(&cfg.runs, "runs", 3, "independent runs, each on a fresh 3-node cluster")
	flag.IntVar(&cfg.kills, "kills", 2, "leader SIGKILLs per run")
	flag.IntVar(&cfg.claimers, "claimers", 16, "concurrent claimers")
	flag.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "claiming before the first kill")
	flag.DurationVar(&cfg.afterKill, "after-kill", 4*time.Second, "claiming after a kill before the killed node is restarted (the pause is measured in this window)")
	flag.DurationVar(&cfg.settle, "settle", 5*time.Second, "claiming after the restarted node is ready, before the next kill (a rejoined node needs a few seconds to catch up on the log it missed; -settle 1s measures a kill during its catch-up)")
	flag.IntVar(&cfg.cliRuns, "cli-runs", 8, "issue runs in the CLI phase (the leader is killed after half of them); 0 skips it")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (logs, data)")
	flag.BoolVar(&cfg.asJSON, "json", false, "print the results as JSON")
	flag.BoolVar(&cfg.verbose, "v", false, "print the kills and every claim slower than 1 s, in time since the start")
	flag.Parse()
	bin, err := filepath.Abs(cfg.bin)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "failover: -bin %s: %v (run make build first)\n", cfg.bin, err)
		os.Exit(2)
	}
	cfg.bin = bin
	var results []runResult
	for r := 1; r <= cfg.runs; r++ {
		res := runOnce(cfg, r)
		results = append(results, res)
		if !cfg.asJSON {
			printRun(res)
		}
	}
	if cfg.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
	} else {
		printSummary(results)
	}
	for _, r := range results {
		if r.Err != "" || r.Duplicates > 0 || r.Lost > 0 {
			os.Exit(1)
		}
	}
}

func runOnce(cfg config, run int) (res runResult) {
	res.Run = run
	root, err := os.MkdirTemp("", "registry-failover-")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer func() {
		if cfg.keep || res.Err != "" {
			fmt.Fprintf(os.Stderr, "failover: run %d: logs and data kept in %s\n", run, root)
			return
		}
		os.RemoveAll(root)
	}()
	c, err := newCluster(cfg.bin, root, 3)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer c.stopAll()
	fail := func(err error) runResult { res.Err = err.Error(); return res }
	if err := c.start(0); err != nil {
		return fail(err)
	}
	if err := c.waitReady(0, 30*time.Second); err != nil {
		return fail(err)
	}
	for i := 1; i < 3; i++ {
		if err := c.start(i); err != nil {
			return fail(err)
		}
	}
	for i := range 3 {
		if err := c.waitReady(i, 30*time.Second); err != nil {
			return fail(err)
		}
	}
	tok, err := regapi.LoadToken(c.opToken)
	if err != nil {
		return fail(err)
	}
	client, err := regapi.NewClient(c.urls(), tok, regapi.WithCAFile(filepath.Join(c.tlsDir, "ca.crt")))
	if err != nil {
		return fail(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	cl := startClaimers(ctx, client, cfg.claimers, fmt.Sprintf("r%d", run), stop)
	began := time.Now()
	type kill struct{ at, until time.Time }
	var kills []kill
	time.Sleep(cfg.warmup)
	for k := 0; k < cfg.kills; k++ {
		lead, err := c.leader(10 * time.Second)
		if err != nil {
			close(stop)
			cl.wait()
			return fail(err)
		}
		at := time.Now()
		c.kill(lead)
		if cfg.verbose {
			go watchElection(c, lead, at, cfg.afterKill)
		}
		time.Sleep(cfg.afterKill)
		kills = append(kills, kill{at, time.Now()})
		if err := c.start(lead); err != nil {
			close(stop)
			cl.wait()
			return fail(err)
		}
		if err := c.waitReady(lead, 30*time.Second); err != nil {
			close(stop)
			cl.wait()
			return fail(err)
		}
		time.Sleep(cfg.settle)
	}
	close(stop)
	acks := cl.wait()
	elapsed := time.Since(began)
	if cfg.verbose {
		for _, k := range kills {
			fmt.Fprintf(os.Stderr, "run %d: kill at %.3f s, node back at %.3f s\n", run, k.at.Sub(began).Seconds(), k.until.Sub(began).Seconds())
		}
		for _, a := range acks {
			if a.latency > time.Second {
				fmt.Fprintf(os.Stderr, "run %d: claim %s sent at %.3f s, answered at %.3f s (%s)\n", run, a.claimID,
					a.at.Add(-a.latency).Sub(began).Seconds(), a.at.Sub(began).Seconds(), a.latency.Round(time.Millisecond))
			}
		}
	}
	for _, k := range kills {
		res.Pauses = append(res.Pauses, longestPause(acks, k.at, k.until).Seconds())
	}
	lat := make([]time.Duration, len(acks))
	for i, a := range acks {
		lat[i] = a.latency
	}
	slices.Sort(lat)
	res.Claims = len(acks)
	res.ClaimsPerSec = float64(len(acks)) / elapsed.Seconds()
	res.P50ms = float64(percentile(lat, 50).Microseconds()) / 1000
	res.P99ms = float64(percentile(lat, 99).Microseconds()) / 1000
	if len(lat) > 0 {
		res.MaxLatencyS = lat[len(lat)-1].Seconds()
	}
	res.FailedAttempts = cl.errors.Load()
	if res.Duplicates, res.Lost, res.Unacked, err = verify(ctx, client, acks); err != nil {
		return fail(fmt.Errorf("verify: %w", err))
	}
	if cfg.cliRuns > 0 {
		if res.CLIPauseS, res.CLINormalS, err = cliPhase(ctx, cfg, c, root); err != nil {
			return fail(fmt.Errorf("CLI phase: %w", err))
		}
	}
	if res.LeaderNoQuorum, err = noQuorumPhase(ctx, c); err != nil {
		return fail(fmt.Errorf("no-quorum phase: %w", err))
	}
	return res
}

// cliPhase runs `issue` back to back with every node's URL and SIGKILLs the
// leader after half of the runs. It returns the longest time from the kill
// to the end of a run, and the median run before the kill.
func cliPhase(ctx context.Context, cfg config, c *cluster, root string) (pause, normal float64, err error) {
	secret := filepath.Join(root, "jvb.secret")
	if err := os.WriteFile(secret, []byte(randomToken()+"\n"), 0o600); err != nil {
		return 0, 0, err
	}
	lead, err := c.leader(10 * time.Second)
	if err != nil {
		return 0, 0, err
	}
	var before []time.Duration
	var killedAt time.Time
	var longest time.Duration
	for i := range cfg.cliRuns {
		if i == cfg.cliRuns/2 {
			killedAt = time.Now()
			go c.kill(lead)
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, c.bin, "issue", "--role", "jvb", "--jms-fqdn", "cli.example.org", "--secret-file", secret,
			"--out-dir", filepath.Join(root, "cli-out"), "--registry", c.urls(), "--token-file", c.opToken,
			"--registry-ca", filepath.Join(c.tlsDir, "ca.crt"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("issue run %d: %w: %s", i, err, out)
		}
		end := time.Now()
		if cfg.verbose && !killedAt.IsZero() {
			fmt.Fprintf(os.Stderr, "  CLI run %d: started %+.3f s after the kill, took %.3f s\n", i, start.Sub(killedAt).Seconds(), end.Sub(start).Seconds())
		}
		if killedAt.IsZero() {
			before = append(before, end.Sub(start))
			continue
		}
		from := start
		if from.Before(killedAt) {
			from = killedAt
		}
		longest = max(longest, end.Sub(from))
	}
	slices.Sort(before)
	if len(before) > 0 {
		normal = before[len(before)/2].Seconds()
	}
	// Bring the cluster back to three for the next phase.
	if err := c.start(lead); err != nil {
		return 0, 0, err
	}
	return longest.Seconds(), normal, c.waitReady(lead, 30*time.Second)
}

// noQuorumPhase SIGKILLs two of three nodes and times /v1/leader on the
// survivor once it knows no leader.
func noQuorumPhase(ctx context.Context, c *cluster) (float64, error) {
	survivor := 0
	c.kill(1)
	c.kill(2)
	var worst time.Duration
	for range 20 {
		st, took, err := c.get(ctx, survivor, "/v1/leader")
		if err != nil {
			return 0, err
		}
		if st != 503 {
			time.Sleep(100 * time.Millisecond) // a leader that has not noticed yet
			continue
		}
		worst = max(worst, took)
	}
	return worst.Seconds(), nil
}

func printRun(r runResult) {
	if r.Err != "" {
		fmt.Printf("run %d: ERROR %s\n", r.Run, r.Err)
		return
	}
	fmt.Printf("run %d: pauses after leader SIGKILL %v s; %d claims (%.0f/s), p50 %.1f ms, p99 %.1f ms, max %.2f s; "+
		"%d failed attempts retried; duplicates %d, lost %d, unacked %d; CLI pause %.2f s (normal run %.2f s); /v1/leader without quorum ≤ %.3f s\n",
		r.Run, fmtSeconds(r.Pauses), r.Claims, r.ClaimsPerSec, r.P50ms, r.P99ms, r.MaxLatencyS, r.FailedAttempts,
		r.Duplicates, r.Lost, r.Unacked, r.CLIPauseS, r.CLINormalS, r.LeaderNoQuorum)
}

func printSummary(rs []runResult) {
	var pauses, cli []float64
	for _, r := range rs {
		pauses = append(pauses, r.Pauses...)
		if r.Err == "" {
			cli = append(cli, r.CLIPauseS)
		}
	}
	if len(pauses) == 0 {
		return
	}
	fmt.Printf("summary: %d kills: longest pause %.2f s (median %.2f s); CLI pause max %.2f s over %d runs\n",
		len(pauses), slices.Max(pauses), median(pauses), maxOr0(cli), len(cli))
}

func fmtSeconds(v []float64) []string {
	var out []string
	for _, s := range v {
		out = append(out, fmt.Sprintf("%.2f", s))
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOr0(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

// watchElection reports when each surviving node first names a new leader
// in its /v1/health after the kill at `at` (verbose mode).
func watchElection(c *cluster, killed int, at time.Time, window time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	seen := map[int]bool{}
	for ctx.Err() == nil && len(seen) < len(c.nodes)-1 {
		for i := range c.nodes {
			if i == killed || seen[i] {
				continue
			}
			var h regapi.Health
			if err := c.health(ctx, i, &h); err == nil && h.Status == regapi.HealthReady && h.LeaderAddress != c.nodes[killed].addr {
				seen[i] = true
				fmt.Fprintf(os.Stderr, "  node %d names node %d the leader %.3f s after node %d's kill\n", i, c.index(h.LeaderAddress), time.Since(at).Seconds(), killed)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
