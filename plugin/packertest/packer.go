// Package packertest runs real Packer in tests: it obtains Packer binaries
// with scripts/get-packer.sh, builds this repository's plugin binary, gives
// every run a private Packer environment, and starts a private sshd for
// acceptance builds.
//
// Policy: a test package that needs Packer calls Main from its TestMain.
// Main runs scripts/get-packer.sh (it reuses the cached binaries, or builds
// them from the Go module proxy, ≈ 5 min cold) and FAILS the whole package
// when that fails: Packer tests never skip because Packer is missing. Only
// `go test -short` skips them, explicitly (see RequirePacker).
package packertest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Versions of Packer the tests use: 1.9.4 (MPL-2.0, bundles qemu and null)
// loads bare plugins from PACKER_PLUGIN_PATH; 1.11.2 needs `packer plugins
// install --path`.
const (
	Packer194  = "1.9.4"
	Packer1112 = "1.11.2"
)

// PluginSource is the plugin's source address for `packer plugins install`
// and required_plugins.
const PluginSource = "github.com/jitsi-packer/jitsi"

// QemuPlugin is the qemu plugin version get-packer.sh builds: the images/
// templates require it (required_plugins), even where Packer bundles qemu.
const QemuPlugin = "1.0.9"

// binaries are get-packer.sh's results: "packer 1.9.4" → path.
var binaries = map[string]string{}

// Main obtains Packer before the package's tests run, and exits 1 if it
// cannot. Use it as `func TestMain(m *testing.M) { packertest.Main(m) }`.
func Main(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		if err := getPacker(); err != nil {
			fmt.Fprintf(os.Stderr, "packertest: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if pluginDir != "" {
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

func getPacker() error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "get-packer.sh"), Packer194, Packer1112)
	cmd.Env = append(os.Environ(), "QEMU_PLUGIN_VERSION="+QemuPlugin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("obtain Packer with scripts/get-packer.sh: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return fmt.Errorf("obtain Packer: get-packer.sh printed %q, want NAME VERSION PATH lines", line)
		}
		binaries[f[0]+" "+f[1]] = f[2]
	}
	for _, want := range []string{"packer " + Packer194, "packer " + Packer1112, "packer-plugin-qemu " + QemuPlugin} {
		if binaries[want] == "" {
			return fmt.Errorf("obtain Packer: get-packer.sh did not report %s", want)
		}
	}
	return nil
}

// RequirePacker returns the path of Packer version v; under -short it skips
// the test, saying why.
func RequirePacker(t testing.TB, v string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Packer: skipped under -short")
	}
	p, ok := binaries["packer "+v]
	if !ok {
		t.Fatalf("Packer %s was not obtained: call packertest.Main from TestMain", v)
	}
	return p
}

// RequireQemuPlugin returns the path of the qemu plugin binary.
func RequireQemuPlugin(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Packer: skipped under -short")
	}
	p, ok := binaries["packer-plugin-qemu "+QemuPlugin]
	if !ok {
		t.Fatal("the qemu plugin was not obtained: call packertest.Main from TestMain")
	}
	return p
}

// RepoRoot is the directory of this module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(data, []byte("module github.com/jitsi-packer/packer-plugin-jitsi\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod of packer-plugin-jitsi above the working directory")
		}
		dir = parent
	}
}

var (
	pluginOnce sync.Once
	pluginPath string
	pluginErr  error
	pluginDir  string
)

// PluginBinary builds packer-plugin-jitsi from this checkout once per test
// binary (as the Makefile does) and returns its path.
func PluginBinary(t testing.TB) string {
	t.Helper()
	pluginOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			pluginErr = err
			return
		}
		if pluginDir, err = os.MkdirTemp("", "packertest-plugin-"); err != nil {
			pluginErr = err
			return
		}
		pluginPath = filepath.Join(pluginDir, "packer-plugin-jitsi")
		cmd := exec.Command("go", "build", "-tags", "libsqlite3", "-o", pluginPath, ".")
		cmd.Dir = root
		cmd.Env = BuildEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginErr = fmt.Errorf("build packer-plugin-jitsi: %v\n%s", err, out)
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginPath
}

// Env is a private Packer environment under a test's temporary directory:
// no checkpoint calls, its own config, plugin and cache directories.
type Env struct {
	Dir       string // working directory for packer commands
	PluginDir string // PACKER_PLUGIN_PATH
	LogFile   string // PACKER_LOG_PATH (PACKER_LOG=1)
	// Offline runs packer in a new network namespace (unshare --net) with
	// no interface up: plugins cannot reach any network, loopback included.
	Offline bool
	// Loopback, with Offline, brings the namespace's own loopback up and
	// nothing else: for an embedded registry, which listens on 127.0.0.1.
	Loopback bool
	vars     []string
}

// NewEnv makes a private environment; the plugin binary is copied into its
// PACKER_PLUGIN_PATH when bare is true (how Packer 1.9 discovers plugins).
func NewEnv(t testing.TB, bare bool) *Env {
	t.Helper()
	base := t.TempDir()
	e := &Env{
		Dir:       filepath.Join(base, "work"),
		PluginDir: filepath.Join(base, "plugins"),
		LogFile:   filepath.Join(base, "packer.log"),
	}
	for _, d := range []string{e.Dir, e.PluginDir, filepath.Join(base, "config"), filepath.Join(base, "cache"), filepath.Join(base, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.vars = []string{
		"CHECKPOINT_DISABLE=1",
		"PACKER_NO_COLOR=1",
		"PACKER_CONFIG_DIR=" + filepath.Join(base, "config"),
		"PACKER_PLUGIN_PATH=" + e.PluginDir,
		"PACKER_CACHE_DIR=" + filepath.Join(base, "cache"),
		"PACKER_LOG=1",
		"PACKER_LOG_PATH=" + e.LogFile,
		"HOME=" + filepath.Join(base, "home"),
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + os.TempDir(),
	}
	if bare {
		data, err := os.ReadFile(PluginBinary(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.PluginDir, "packer-plugin-jitsi"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// Result is one Packer run.
type Result struct {
	Output string // stdout and stderr, interleaved
	Code   int
	Took   time.Duration
}

// Run runs packer with args in the environment's working directory, bounded
// by timeout.
func (e *Env) Run(t testing.TB, packer string, timeout time.Duration, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, packer, args...)
	switch {
	case e.Offline && e.Loopback:
		script := `PATH="$PATH:/usr/sbin:/sbin" ip link set lo up && exec "$@"`
		cmd = exec.CommandContext(ctx, "unshare", append([]string{"--net", "--", "sh", "-c", script, "sh", packer}, args...)...)
	case e.Offline:
		cmd = exec.CommandContext(ctx, "unshare", append([]string{"--net", "--", packer}, args...)...)
	}
	cmd.Dir = e.Dir
	cmd.Env = e.vars
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := Result{Output: out.String(), Took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("packer %s: timed out after %s\n%s", strings.Join(args, " "), timeout, r.Output)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("packer %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// Log is the content of PACKER_LOG_PATH after a run.
func (e *Env) Log(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(e.LogFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// WriteFile writes a file (a template) into the working directory.
func (e *Env) WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(e.Dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
