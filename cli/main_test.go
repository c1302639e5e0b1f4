package cli

import (
	"os"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/outsider"
)

// envAsBinary makes the test binary act as packer-plugin-jitsi itself, so
// that tests run `registry serve` nodes as real processes (and kill them).
const envAsBinary = "CLI_TEST_AS_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(envAsBinary) == "1" {
		os.Exit(Main(os.Args[1:], StdEnv()))
	}
	// Security tests run this binary as an outsider attacking a registry.
	if os.Getenv(outsider.EnvPlan) != "" {
		os.Exit(outsider.Main())
	}
	os.Exit(m.Run())
}
