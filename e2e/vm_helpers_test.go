package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
)

// The VM tier runs only when asked: it needs root, qemu and minutes.
func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("E2E_VM") != "1" {
		t.Skip("VM tier: set E2E_VM=1 (make e2e) to boot Debian guests under qemu")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the VM tier builds its base image with debootstrap and loop devices: run it as root")
	}
	for _, c := range []string{"qemu-system-x86_64", "qemu-img", "genisoimage", "ssh", "ssh-keygen", "debootstrap"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s not found: run `make deps`", c)
		}
	}
}

var runStart = time.Now()

// progress prints a timestamped progress line at once (to stderr, which
// `go test` passes through) and into the test log.
func progress(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "e2e [%s] %s\n", time.Since(runStart).Round(time.Second), line)
}

// repoRoot is the module root.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// outDir is this test's output folder: E2E_OUT or e2e/out under the clone,
// kept after the run (serial logs of every VM, seeds, registry data).
func outDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("E2E_OUT")
	if root == "" {
		root = filepath.Join(repoRoot(), "e2e", "out")
	}
	dir := filepath.Join(root, runStart.Format("20060102-150405"), t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cached runs a build script of e2e/scripts once per test binary and
// argument list and returns the directory it prints, streaming its progress
// lines. A script that could not run for want of an outside archive (see
// notRunExit) fails the test here; callers that record such an OS as not run
// use runCached.
var (
	cacheMu sync.Mutex
	cache   = map[string]scriptResult{}
)

// notRunExit is the exit code of build-base-image.sh when Ubuntu's archive
// does not answer; its stdout then holds a "NOT RUN: …" line.
const notRunExit = 4

type scriptResult struct {
	dir    string // the directory the script printed
	notRun string // or the "NOT RUN: …" line it printed (exit notRunExit)
}

func cached(t *testing.T, script string, args ...string) string {
	t.Helper()
	r := runCached(t, script, args...)
	if r.notRun != "" {
		t.Fatalf("%s %s: %s", script, strings.Join(args, " "), r.notRun)
	}
	return r.dir
}

func runCached(t *testing.T, script string, args ...string) scriptResult {
	t.Helper()
	r, err := runScript(t, script, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runScript is runCached without touching t's failure state, so goroutines
// (the matrix's baker) may call it; t only gets progress lines.
func runScript(t *testing.T, script string, args ...string) (scriptResult, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	key := strings.Join(append([]string{script}, args...), " ")
	if r, ok := cache[key]; ok {
		return r, nil
	}
	start := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot(), "e2e", "scripts", script), args...)
	cmd.Dir = repoRoot()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return scriptResult{}, fmt.Errorf("run %s: %w", key, err)
	}
	if err := cmd.Start(); err != nil {
		return scriptResult{}, fmt.Errorf("run %s: %w", key, err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		progress(t, "%s", sc.Text())
	}
	err = cmd.Wait()
	out := strings.TrimSpace(stdout.String())
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == notRunExit && strings.HasPrefix(out, "NOT RUN: ") {
		r := scriptResult{notRun: out}
		cache[key] = r
		return r, nil
	}
	if err != nil {
		return scriptResult{}, fmt.Errorf("%s failed: %v", key, err)
	}
	progress(t, "%s: %s (%s)", key, out, time.Since(start).Round(time.Second))
	r := scriptResult{dir: out}
	cache[key] = r
	return r, nil
}

// baseImage is the cached Debian 12 base image directory (disk.qcow2,
// mirror/, image.env), the one the pipeline's VMs run on.
func baseImage(t *testing.T) string { return cached(t, "build-base-image.sh", "debian-12") }

// fixtureRepo is the cached stand-in Jitsi repository.
func fixtureRepo(t *testing.T) string { return cached(t, "build-fixture-repo.sh") }

// repoServer serves the base image's partial mirror (mirror/debian/ or
// mirror/ubuntu/, as its sources.list names it) and the stand-in Jitsi
// repository on 127.0.0.1 for the test's guests.
func repoServer(t *testing.T, base, jitsiRepo string) *vm.RepoServer {
	t.Helper()
	srv, err := serveRepos(base, jitsiRepo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		req, miss := srv.Stats()
		progress(t, "repository server: %d requests, %d not found", req, miss)
		srv.Close()
	})
	return srv
}

// serveRepos is repoServer for goroutines: the caller closes the server.
func serveRepos(base, jitsiRepo string) (*vm.RepoServer, error) {
	dirs := map[string]string{}
	mirrors, err := os.ReadDir(filepath.Join(base, "mirror"))
	if err != nil {
		return nil, fmt.Errorf("serve the base image's mirror: %w", err)
	}
	for _, m := range mirrors {
		if m.IsDir() {
			dirs["/"+m.Name()+"/"] = filepath.Join(base, "mirror", m.Name())
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("serve the base image's mirror: %s/mirror holds no mirror", base)
	}
	if jitsiRepo != "" {
		dirs["/jitsi/"] = jitsiRepo
	}
	return vm.ServeRepos(dirs)
}

// cloudConfig is the part of cloud-init's #cloud-config the harness writes
// for its own guests (the pipeline's user-data comes from the CLI).
type cloudConfig struct {
	Hostname          string     `yaml:"hostname,omitempty"`
	FQDN              string     `yaml:"fqdn,omitempty"`
	SSHAuthorizedKeys []string   `yaml:"ssh_authorized_keys,omitempty"`
	WriteFiles        []ciFile   `yaml:"write_files,omitempty"`
	RunCmd            [][]string `yaml:"runcmd,omitempty"`
}

type ciFile struct {
	Path        string `yaml:"path"`
	Content     string `yaml:"content"`
	Encoding    string `yaml:"encoding,omitempty"`
	Permissions string `yaml:"permissions,omitempty"`
}

func (c cloudConfig) render(t *testing.T) []byte {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("#cloud-config\n"), b...)
}

// bootVM starts a guest and stops it (by PID) when the test ends.
func bootVM(t *testing.T, cfg vm.Config) *vm.VM {
	t.Helper()
	if cfg.Logf == nil {
		cfg.Logf = func(f string, a ...any) { progress(t, f, a...) }
	}
	if cfg.Relay == nil {
		relay, err := vm.RelayCommand()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Relay = relay
	}
	v, err := vm.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v.Stop()
		if t.Failed() {
			t.Logf("vm %s: serial log kept at %s", v.Name(), v.Serial)
		} else {
			_ = os.Remove(filepath.Join(cfg.Dir, "disk.qcow2"))
		}
	})
	return v
}

// booted waits for ssh and cloud-init (bounded) and returns an error unless
// cloud-init ended in one of allowed (default "done"), pointing at the serial
// log. It does not touch t, so goroutines may call it.
func booted(v *vm.VM, limit time.Duration, allowed ...string) error {
	if len(allowed) == 0 {
		allowed = []string{"done"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := v.WaitSSH(ctx); err != nil {
		return err
	}
	status, err := v.WaitCloudInit(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(allowed, status) {
		out, _ := v.Run(context.Background(), "cloud-init status --long; tail -n 40 /var/log/cloud-init-output.log")
		return fmt.Errorf("vm %s: cloud-init ended %q (serial log %s):\n%s", v.Name(), status, v.Serial, out)
	}
	return nil
}

// waitBooted is booted for the test goroutine: it fails the test.
func waitBooted(t *testing.T, v *vm.VM, limit time.Duration) {
	t.Helper()
	if err := booted(v, limit); err != nil {
		t.Fatal(err)
	}
}

// bootAll waits for several guests at once and fails the test with every
// error.
func bootAll(t *testing.T, limit time.Duration, vms ...*vm.VM) {
	t.Helper()
	errs := make([]error, len(vms))
	var wg sync.WaitGroup
	for i, v := range vms {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = booted(v, limit) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// run runs a root shell script in the guest, failing the test on error.
func run(t *testing.T, v *vm.VM, limit time.Duration, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := v.Run(ctx, script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// pipelineRun is what a test of the whole pipeline starts from: the Debian
// 12 base image, the stand-in Jitsi repository and its server, the
// loopback relay guests reach it through, an SSH key, and a registry
// served on 127.0.0.1 that guests on network reach at its .102 address.
type pipelineRun struct {
	start                time.Time
	out, base, jitsiRepo string
	repo                 *vm.RepoServer
	relay                []string
	key                  *vm.SSHKey
	network              vm.Network
	api                  registryAPI
	reg                  []string // the CLI's flags for that registry
}

func newPipelineRun(t *testing.T, network vm.Network) *pipelineRun {
	t.Helper()
	r := &pipelineRun{start: time.Now(), network: network}
	r.base, r.jitsiRepo = baseImage(t), fixtureRepo(t)
	r.out = outDir(t)
	r.repo = repoServer(t, r.base, r.jitsiRepo)
	var err error
	if r.relay, err = vm.RelayCommand(); err != nil {
		t.Fatal(err)
	}
	if r.key, err = vm.NewSSHKey(r.out); err != nil {
		t.Fatal(err)
	}
	r.api = startRegistry(t, r.out, network.IP(102))
	r.reg = r.api.flags()
	return r
}
