package e2e

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
)

func TestMain(m *testing.M) {
	// qemu runs this binary as the guestfwd relay (guest → 127.0.0.1).
	vm.RelayMain(os.Args[1:])
	dir, err := os.MkdirTemp("", "e2e-standin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	standinBin, err = buildStandin(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	atExit.Lock()
	for _, p := range atExit.remove {
		os.RemoveAll(p)
	}
	atExit.Unlock()
	os.Exit(code)
}

// atExit lists what TestMain removes once every test has run: baked images
// a later test of the same run may still boot.
var atExit struct {
	sync.Mutex
	remove []string
}

func removeAtExit(path string) {
	atExit.Lock()
	defer atExit.Unlock()
	atExit.remove = append(atExit.remove, path)
}
