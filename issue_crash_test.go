package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestIssueIsAllOrNoneAcrossSIGKILL kills `issue --count 200` with SIGKILL
// at random moments — while it opens the registry, claims, writes its
// journal and temporary files, renames them, confirms — and checks after
// every kill that the registry and the files agree: no node is issued
// without its user-data, no user-data exists for a name the registry does
// not hold, no temporary file is readable by others. Then the next run
// (issue --recover) finishes or undoes the interrupted one and leaves no
// temporary file or journal. Bounded: it stops after maxKills kills or
// budget, whichever comes first.
func TestIssueIsAllOrNoneAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes for a minute or two")
	}
	const maxKills, minKills, count = 40, 10, 200
	budget := 150 * time.Second
	home, out := t.TempDir(), filepath.Join(t.TempDir(), "nodes")
	secret := filepath.Join(home, "jvb.secret")
	if err := os.WriteFile(secret, []byte("a-strong-enough-test-secret-4711-xyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "PACKER_PLUGIN_JITSI_AS_BINARY=1", "XDG_DATA_HOME="+filepath.Join(home, "data"), "HOME="+home)
		return cmd
	}
	issue := []string{"issue", "--role", "jvb", "--jms-fqdn", "meet.example.org", "--secret-file", secret, "--count", fmt.Sprint(count), "--out-dir", out}
	mustRun := func(args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		cmd := cli(args...)
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, e.String())
		}
		return o.String()
	}

	// One run undisturbed: how long a run takes, and how long it writes
	// (from its journal's appearance to its end), set the delays.
	cmd := cli(issue...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	journalAt := waitForJournal(out, cmd, true)
	writeTime := waitForJournal(out, cmd, false).Sub(journalAt)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	runTime := time.Since(start)
	t.Logf("an undisturbed issue --count %d takes %s, of which %s between writing its journal and removing it",
		count, runTime.Round(time.Millisecond), writeTime.Round(time.Millisecond))

	phases := map[string]int{}
	kills, mismatches, pendingBefore := 0, 0, 0
	deadline := time.Now().Add(budget)
	for kills < maxKills && time.Now().Before(deadline) {
		cmd := cli(issue...)
		var e bytes.Buffer
		cmd.Stderr = &e
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// One kill in four at any moment of the run; the others while it
		// writes its files, where most of the steps are.
		var delay time.Duration
		if kills%4 == 0 {
			delay = time.Duration(rand.Int64N(int64(runTime * 6 / 5)))
			time.Sleep(delay)
		} else {
			waitForJournal(out, cmd, true)
			delay = time.Duration(rand.Int64N(int64(writeTime*11/10) + 1))
			time.Sleep(delay)
		}
		_ = cmd.Process.Kill() // SIGKILL
		if err := cmd.Wait(); err == nil {
			phases["finished before the kill"]++
			writeTime = writeTime * 3 / 4 // the runs got faster: aim earlier
			continue
		}
		kills++
		phase, problems := checkIssueInvariants(t, mustRun, out, pendingBefore)
		phases[phase]++
		for _, p := range problems {
			mismatches++
			t.Errorf("kill %d after %s (%s): %s", kills, delay.Round(time.Millisecond), phase, p)
		}
		// The next run finishes or undoes it, and leaves nothing behind.
		mustRun("issue", "--recover", "--out-dir", out)
		if left := leftovers(t, out); len(left) > 0 {
			t.Errorf("kill %d: after --recover, left in %s: %v", kills, out, left)
		}
		_, problems = checkIssueInvariants(t, mustRun, out, -1)
		if len(problems) > 0 {
			mismatches += len(problems)
			t.Errorf("kill %d: after --recover: %v", kills, problems)
		}
		pendingBefore = countPending(liveNodes(t, mustRun))
	}
	t.Logf("%d kills, %d mismatches; where the kills landed: %v", kills, mismatches, phases)
	if kills < minKills {
		t.Errorf("only %d kills within %s: too few moments tried", kills, budget)
	}
	// After all that, a run still issues exactly count more bridges.
	before := len(liveNodes(t, mustRun))
	mustRun(issue...)
	if after := len(liveNodes(t, mustRun)); after != before+count {
		t.Errorf("a run after the kills took the live nodes from %d to %d, want +%d", before, after, count)
	}
}

// waitForJournal polls dir until an issue journal is there (present) or
// gone (!present), or 30 s pass, and returns when it saw it.
func waitForJournal(dir string, cmd *exec.Cmd, present bool) time.Time {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m, _ := filepath.Glob(filepath.Join(dir, ".issue-*.journal")); (len(m) > 0) == present {
			return time.Now()
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Now()
}

func countPending(nodes []regapi.Node) int {
	n := 0
	for _, nd := range nodes {
		if nd.State == regapi.StatePending {
			n++
		}
	}
	return n
}

func liveNodes(t *testing.T, run func(args ...string) string) []regapi.Node {
	t.Helper()
	var nodes []regapi.Node
	if err := json.Unmarshal([]byte(run("nodes", "--json")), &nodes); err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(nodes, func(n regapi.Node) bool { return n.State == regapi.StateRetired })
}

// checkIssueInvariants compares the registry with the user-data files in
// dir, and returns every disagreement and where the killed run was (judged
// from what it left: its journal, its files, its nodes' states;
// pendingBefore is how many nodes were pending before it started).
func checkIssueInvariants(t *testing.T, run func(args ...string) string, dir string, pendingBefore int) (phase string, problems []string) {
	t.Helper()
	nodes := liveNodes(t, run)
	live := map[string]regapi.State{}
	for _, n := range nodes {
		live[n.Nickname] = n.State
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	var journals []string
	for _, e := range entries {
		name := e.Name()
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, ".journal"):
			journals = append(journals, filepath.Join(dir, name))
		case strings.Contains(name, ".tmp"):
			if info.Mode().Perm()&0o077 != 0 {
				problems = append(problems, fmt.Sprintf("temporary file %s has mode %04o", name, info.Mode().Perm()))
			}
		case strings.HasSuffix(name, ".yaml"):
			files[strings.TrimSuffix(name, ".yaml")] = true
			if info.Mode().Perm() != 0o600 {
				problems = append(problems, fmt.Sprintf("%s has mode %04o", name, info.Mode().Perm()))
			}
		}
	}
	for nick, state := range live {
		if state != regapi.StatePending && !files[nick] {
			problems = append(problems, fmt.Sprintf("%s is %s without its user-data file", nick, state))
		}
	}
	for nick := range files {
		if _, ok := live[nick]; !ok {
			problems = append(problems, fmt.Sprintf("%s.yaml exists but the registry holds no live %s", nick, nick))
		}
	}
	return killPhase(t, journals, live, countPending(nodes) > pendingBefore), problems
}

// killPhase names the step a killed run was in.
func killPhase(t *testing.T, journals []string, live map[string]regapi.State, claimed bool) string {
	if len(journals) == 0 {
		if claimed {
			return "claimed, no journal yet"
		}
		return "before claiming, or done"
	}
	data, err := os.ReadFile(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Nodes []struct{ Nickname, Path, Temp string }
	}
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	placed, temps := 0, 0
	for _, e := range j.Nodes {
		if _, err := os.Stat(e.Path); err == nil {
			placed++
		}
		if _, err := os.Stat(e.Temp); err == nil {
			temps++
		}
	}
	switch {
	case placed == 0 && temps == 0:
		return "journal written, no file yet"
	case placed == 0:
		return "writing temporary files"
	case placed < len(j.Nodes):
		return "renaming into place"
	case live[j.Nodes[0].Nickname] == regapi.StatePending:
		return "all in place, not confirmed"
	}
	return "confirmed, journal not yet removed"
}

// leftovers lists journals and temporary files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".journal") || strings.Contains(n, ".tmp") {
			out = append(out, n)
		}
	}
	return out
}
