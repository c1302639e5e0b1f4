package cli

import (
	"os"
	"strings"
	"testing"
)

// cliArgsEnv makes the test binary run as the CLI (one argument a line),
// so that benchmarks can measure a real CLI process (its peak RSS).
const cliArgsEnv = "PACKER_PLUGIN_JITSI_TEST_CLI_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(cliArgsEnv); args != "" {
		os.Exit(Main(strings.Split(args, "\n"), StdEnv()))
	}
	os.Exit(m.Run())
}
