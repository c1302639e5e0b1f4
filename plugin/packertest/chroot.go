package packertest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Root is a throwaway root directory for sshd's ChrootDirectory: a few of
// this machine's programs (with their shared libraries), /dev/null, /tmp
// and whatever files the test adds. It has no package manager, so nothing
// run in it can install anything; it is removed when the test ends.
type Root struct {
	Dir string
}

// NewRoot builds a root holding programs (looked up in PATH). sshd requires
// every component of a chroot path to be root-owned and not group- or
// world-writable, which rules out /tmp: the root lives in the user cache.
func NewRoot(t testing.TB, programs ...string) *Root {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(cache, "packer-plugin-jitsi", "test-roots")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Root{Dir: dir}
	// Debian's merged /usr layout, so host paths of programs and libraries
	// resolve the same inside.
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "dev", "root", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(dir, "dev", "null"), syscall.S_IFCHR|0o666, int(unixDev(1, 3))); err != nil {
		t.Fatalf("mknod /dev/null in the test root: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "dev", "null"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range programs {
		r.addProgram(t, p)
	}
	return r
}

// WriteFile puts a file at an absolute path inside the root.
func (r *Root) WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	full := r.Path(path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// Path maps an absolute path inside the root to this machine's path.
func (r *Root) Path(path string) string { return filepath.Join(r.Dir, path) }

func (r *Root) addProgram(t testing.TB, name string) {
	t.Helper()
	host, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("test root: %s: %v", name, err)
	}
	host, err = filepath.EvalSymlinks(host)
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, host, r.Path(host), 0o755)
	out, err := exec.Command("ldd", host).Output()
	if err != nil {
		return // statically linked
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				real, err := filepath.EvalSymlinks(f)
				if err != nil {
					t.Fatal(err)
				}
				copyFile(t, real, r.Path(real), 0o755)
				if f != real {
					_ = os.MkdirAll(filepath.Dir(r.Path(f)), 0o755)
					_ = os.Symlink(real, r.Path(f))
				}
			}
		}
	}
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	if _, err := os.Lstat(to); err == nil {
		return
	}
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// unixDev is makedev(3) for Linux.
func unixDev(major, minor uint64) uint64 {
	return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor &^ 0xff) << 12) | ((major &^ 0xfff) << 32)
}
