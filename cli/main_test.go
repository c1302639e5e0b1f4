package cli

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/outsider"
)

// envAsBinary makes the test binary act as packer-plugin-jitsi itself, so
// that tests run `registry serve` nodes as real processes (and kill them).
const envAsBinary = "CLI_TEST_AS_BINARY"

// cliArgsEnv makes the test binary run as the CLI (one argument a line),
// so that benchmarks can measure a real CLI process; with cliRSSEnv it
// then writes its peak resident memory (VmHWM, kB) to that file. (The
// rusage of a child is no use here: Linux carries the parent's peak RSS
// over fork and exec into it.)
const (
	cliArgsEnv = "PACKER_PLUGIN_JITSI_TEST_CLI_ARGS"
	cliRSSEnv  = "PACKER_PLUGIN_JITSI_TEST_RSS_FILE"
)

func TestMain(m *testing.M) {
	if os.Getenv(envAsBinary) == "1" {
		os.Exit(Main(os.Args[1:], StdEnv()))
	}
	if args := os.Getenv(cliArgsEnv); args != "" {
		code := Main(strings.Split(args, "\n"), StdEnv())
		if path := os.Getenv(cliRSSEnv); path != "" {
			_ = os.WriteFile(path, []byte(peakRSSkB()), 0o600)
		}
		os.Exit(code)
	}
	// Security tests run this binary as an outsider attacking a registry.
	if os.Getenv(outsider.EnvPlan) != "" {
		os.Exit(outsider.Main())
	}
	os.Exit(m.Run())
}

// peakRSSkB is this process's VmHWM from /proc/self/status, in kB.
func peakRSSkB() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		}
	}
	return ""
}
