package packertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	releaseOnce sync.Once
	releasePath string
	releaseErr  error
)

// PluginRelease builds packer-plugin-jitsi as a release (version without
// "-dev"), which Packer 1.9's required_plugins accepts, once per test binary.
func PluginRelease(t testing.TB) (path, version string) {
	t.Helper()
	dev := PluginBinary(t) // also creates pluginDir
	releaseOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			releaseErr = err
			return
		}
		releasePath = filepath.Join(filepath.Dir(dev), "release", "packer-plugin-jitsi")
		cmd := exec.Command("go", "build", "-tags", "libsqlite3",
			"-ldflags", "-X github.com/jitsi-packer/packer-plugin-jitsi/version.VersionPrerelease=",
			"-o", releasePath, ".")
		cmd.Dir = root
		cmd.Env = buildEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			releaseErr = fmt.Errorf("build release packer-plugin-jitsi: %v\n%s", err, out)
		}
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	out, err := exec.Command(releasePath, "describe").Output()
	if err != nil {
		t.Fatal(err)
	}
	// {"version":"0.1.0",…}
	v := strings.SplitN(strings.TrimPrefix(string(out), `{"version":"`), `"`, 2)[0]
	return releasePath, v
}

// buildEnv is the environment of go build: the Makefile's link flags
// (libdqlite static) when the caller has none.
func buildEnv() []string {
	env := os.Environ()
	if os.Getenv("CGO_LDFLAGS") == "" {
		env = append(env, "CGO_LDFLAGS=-Wl,-Bstatic -ldqlite -Wl,-Bdynamic -luv -llz4 -lsqlite3")
	}
	return env
}

// InstallLayout installs a plugin binary the way `packer init` lays it out
// (what Packer 1.9 reads for required_plugins, offline):
// PACKER_PLUGIN_PATH/<source>/packer-plugin-<name>_v<version>_x5.0_<os>_<arch>
// and its _SHA256SUM file.
func (e *Env) InstallLayout(t testing.TB, source, binary, version string) {
	t.Helper()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	name := source[strings.LastIndex(source, "/")+1:]
	dir := filepath.Join(e.PluginDir, filepath.FromSlash(source))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := fmt.Sprintf("packer-plugin-%s_v%s_x5.0_%s_%s", name, version, runtime.GOOS, runtime.GOARCH)
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if err := os.WriteFile(filepath.Join(dir, file+"_SHA256SUM"), []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	agentOnce sync.Once
	agentPath string
	agentErr  error
)

// AgentBinary builds the jitsi-node agent for this machine's architecture
// (static, as `make agent` does) once per test binary, for the `agent_file`
// of templates and provisioner tests: a plugin built by `go build` alone
// carries no agent.
func AgentBinary() (string, error) {
	agentOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			agentErr = err
			return
		}
		dir, err := os.MkdirTemp("", "packertest-agent-")
		if err != nil {
			agentErr = err
			return
		}
		agentPath = filepath.Join(dir, "jitsi-node")
		cmd := exec.Command("go", "build", "-trimpath", "-o", agentPath, "./cmd/jitsi-node")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("build jitsi-node: %v\n%s", err, out)
		}
	})
	return agentPath, agentErr
}
