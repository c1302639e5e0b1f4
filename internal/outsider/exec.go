package outsider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NobodyUID is the uid the outsider runs as to play another local user.
const NobodyUID = 65534

// Start runs bin (a test binary whose TestMain calls Main when EnvPlan is
// set) as the outsider with the plan, as uid when uid ≥ 0 (the caller must
// be root), and returns its report. The process is bounded by ctx and
// killed by its PID when ctx ends.
func Start(ctx context.Context, bin string, uid int, p Plan) (Report, error) {
	plan, err := json.Marshal(p)
	if err != nil {
		return Report{}, err
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$")
	cmd.Env = []string{EnvPlan + "=" + string(plan), "PATH=/usr/bin:/bin", "TMPDIR=/tmp"}
	cmd.Dir = "/"
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), NoSetGroups: false, Groups: []uint32{}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Report{}, fmt.Errorf("outsider: %w\n%s", err, errb.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return Report{}, fmt.Errorf("outsider report: %w: %q", err, out.String())
	}
	return rep, nil
}

// ExecutableForAnyone copies the running test binary where any user may run
// it (test binaries live in a private build directory) and returns its path;
// the test removes it.
func ExecutableForAnyone(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "outsider-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "outsider.test")
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// AbstractSocketsOf lists the abstract Unix sockets (as "@NAME") process
// pid has open: the names any local user can read in /proc/net/unix. Tests
// aim the outsider at their own processes' sockets only.
func AbstractSocketsOf(pid int) ([]string, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(line)
		if len(f) == 8 && inodes[f[6]] && strings.HasPrefix(f[7], "@") && !seen[f[7]] {
			seen[f[7]] = true
			out = append(out, f[7])
		}
	}
	return out, nil
}
