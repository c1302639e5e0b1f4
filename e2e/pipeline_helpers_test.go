package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pipelinePacker is the Packer version the pipeline e2e bakes with: 1.11.2
// builds in ≈ 1.5 min cold (1.9.4: ≈ 5 min) and installs plugins with
// `packer plugins install --path`.
const pipelinePacker = "1.11.2"

// pluginBin is ./packer-plugin-jitsi as `make build` leaves it (E2E_PLUGIN
// overrides): the e2e tests the binary the Makefile builds.
func pluginBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("E2E_PLUGIN")
	if p == "" {
		p = filepath.Join(repoRoot(), "packer-plugin-jitsi")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the plugin binary %s is missing: run `make build` (make e2e does)", p)
	}
	return p
}

// cli runs the project's CLI and returns stdout; it fails the test on a
// non-zero exit, showing stderr.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := cliCode(t, args...)
	if code != 0 {
		t.Fatalf("packer-plugin-jitsi %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func cliCode(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pluginBin(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run packer-plugin-jitsi: %v", err)
	}
	return o.String(), e.String(), 0
}

// getPacker obtains Packer and the qemu plugin with scripts/get-packer.sh
// (cached under ~/.cache; ≈ 1.5 min cold) and returns their paths.
func getPacker(t *testing.T) (packer, qemuPlugin string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "get-packer.sh"), pipelinePacker)
	cmd.Env = append(os.Environ(), "QEMU_PLUGIN_VERSION=1.0.9")
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	streamLines(t, stderr, nil)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scripts/get-packer.sh: %v", err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "packer":
			packer = f[2]
		case len(f) == 3 && f[0] == "packer-plugin-qemu":
			qemuPlugin = f[2]
		}
	}
	if packer == "" || qemuPlugin == "" {
		t.Fatalf("scripts/get-packer.sh printed no packer or qemu plugin path:\n%s", out.String())
	}
	return packer, qemuPlugin
}

// streamLines prints each line of r as a progress line when keep (if not
// nil) matches it.
func streamLines(t *testing.T, r io.Reader, keep *regexp.Regexp) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if keep == nil || keep.MatchString(sc.Text()) {
			progress(t, "%s", sc.Text())
		}
	}
}

// packerEnv is a private Packer configuration under dir.
type packerEnv struct {
	bin string
	dir string
	env []string
}

func newPackerEnv(t *testing.T, dir string) *packerEnv {
	t.Helper()
	packer, qemu := getPacker(t)
	e := &packerEnv{bin: packer, dir: dir}
	for _, d := range []string{"config", "plugins", "cache", "home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.env = []string{
		"CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1",
		"PACKER_CONFIG_DIR=" + filepath.Join(dir, "config"),
		"PACKER_PLUGIN_PATH=" + filepath.Join(dir, "plugins"),
		"PACKER_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"PACKER_LOG=1",
		"HOME=" + filepath.Join(dir, "home"), "TMPDIR=" + filepath.Join(dir, "tmp"),
		"PATH=" + os.Getenv("PATH"),
	}
	for i, p := range [][2]string{{pluginBin(t), "github.com/jitsi-packer/jitsi"}, {qemu, "github.com/hashicorp/qemu"}} {
		if err := e.run(t, fmt.Sprintf("plugins-install-%d", i), 2*time.Minute, nil, "plugins", "install", "--path", p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// run runs packer, streaming the lines keep matches as progress and all of
// its output to <dir>/<name>.out (Packer's debug log to <dir>/<name>.log).
// It does not touch t's failure state, so goroutines may call it.
func (e *packerEnv) run(t *testing.T, name string, limit time.Duration, keep *regexp.Regexp, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	logPath := filepath.Join(e.dir, name+".out")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(append([]string(nil), e.env...), "PACKER_LOG_PATH="+filepath.Join(e.dir, name+".log"))
	cmd.Dir = e.dir
	cmd.WaitDelay = 30 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		streamLines(t, io.TeeReader(pr, io.MultiWriter(logf, &limitedTail{buf: &tail, max: 8 << 10})), keep)
	}()
	err = cmd.Run()
	pw.Close()
	<-done
	if ctx.Err() != nil {
		return fmt.Errorf("packer %s: timed out after %s (output %s)", name, limit, logPath)
	}
	if err != nil {
		return fmt.Errorf("packer %s: %v (output %s, debug log %s)\n…%s", name, err, logPath, filepath.Join(e.dir, name+".log"), tail.String())
	}
	return nil
}

// limitedTail keeps the last max bytes written.
type limitedTail struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedTail) Write(p []byte) (int, error) {
	l.buf.Write(p)
	if over := l.buf.Len() - l.max; over > 0 {
		l.buf.Next(over)
	}
	return len(p), nil
}

// writeSecret writes a secret file with mode 0600, as the CLI expects.
func writeSecret(t *testing.T, path, secret string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// vendorData is the NoCloud vendor-data of the pipeline's guests: the
// harness's own needs, kept out of the user-data under test. It authorises
// the harness key for root and, on bridges, resolves the JMS FQDN to the
// guestfwd that leads to the JMS (a stand-in for DNS). cloud-init runs it
// (scripts-vendor) before the user-data's runcmd.
func vendorData(pubKey, jmsHostsLine string) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# e2e harness vendor-data (not part of the user-data under test)\nset -eu\n")
	b.WriteString("install -d -m 0700 /root/.ssh\n")
	fmt.Fprintf(&b, "printf '%%s\\n' '%s' >>/root/.ssh/authorized_keys\n", pubKey)
	if jmsHostsLine != "" {
		fmt.Fprintf(&b, "printf '%%s\\n' '%s' >>/etc/hosts\n", jmsHostsLine)
	}
	return []byte(b.String())
}
