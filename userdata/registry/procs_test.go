package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// childEnv makes the test binary act as a CLI run that opens the embedded
// registry in the named data directory, claims one bridge and prints it.
const childEnv = "REGISTRY_TEST_CHILD_DIR"

func childMain(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Open(ctx, dir, WithLockTimeout(50*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	nodes, err := r.Claim(ctx, jvb(""))
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(nodes[0]); err != nil {
		return 1
	}
	return 0
}

// TestParallelProcessesOnOneDataDir starts several processes at once on one
// fresh data directory, as parallel CI jobs would: all succeed, one after the
// other, with distinct nicknames.
func TestParallelProcessesOnOneDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const procs = 5
	type result struct {
		node regapi.Node
		err  error
	}
	results := make(chan result, procs)
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		cmd.WaitDelay = time.Second
		go func() {
			out, err := cmd.Output()
			var n regapi.Node
			if err == nil {
				err = json.Unmarshal(out, &n)
			} else if ee, ok := err.(*exec.ExitError); ok {
				err = fmt.Errorf("%v: %s", err, ee.Stderr)
			}
			results <- result{n, err}
		}()
	}
	var nodes []regapi.Node
	timeout := time.After(100 * time.Second)
	for range procs {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("child: %v", r.err)
				continue
			}
			nodes = append(nodes, r.node)
		case <-timeout:
			t.Fatal("children did not finish within 100s") // exec.Command children die with the test binary's exit
		}
	}
	if got := nicknames(nodes); !slices.Equal(got, series("jvb", procs)) {
		t.Errorf("nicknames = %v, want %v", got, series("jvb", procs))
	}
}
