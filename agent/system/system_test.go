package system

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func testFS(t *testing.T) FS {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\njvb:x:4242:4343::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\njitsi:x:4343:\n"), 0o644)
	return NewFS(root)
}

func TestWriteOwnerModeAndDiff(t *testing.T) {
	f := testFS(t)
	want := File{Path: "/etc/jitsi/videobridge/jvb.conf", Owner: "jvb:jitsi", Mode: 0o640, Content: []byte("a = 1\n")}
	d, err := f.Write(want)
	if err != nil || !d.Missing {
		t.Fatalf("first write: %+v %v", d, err)
	}
	st, _ := os.Stat(f.Path(want.Path))
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || (!f.NoChown && (sys.Uid != 4242 || sys.Gid != 4343)) {
		t.Errorf("mode %o owner %d:%d", st.Mode().Perm(), sys.Uid, sys.Gid)
	}
	if d, _ := f.Write(want); d.Changed() {
		t.Errorf("an identical write changed %s", d)
	}
	os.Chmod(f.Path(want.Path), 0o644)
	if d, _ := f.Write(want); d.String() != "mode 0644 → 0640" {
		t.Errorf("diff %q", d)
	}
	want.Content = []byte("a = 2\n")
	if d, _ := f.Write(want); d.String() != "content" {
		t.Errorf("diff %q", d)
	}
	entries, _ := os.ReadDir(filepath.Dir(f.Path(want.Path)))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if _, err := f.Write(File{Path: "/x", Owner: "nobody-here:jitsi", Mode: 0o600}); err == nil ||
		!strings.Contains(err.Error(), "no such name in /etc/passwd") {
		t.Errorf("unknown owner: %v", err)
	}
}

func TestLink(t *testing.T) {
	f := testFS(t)
	if changed, err := f.Link("/etc/systemd/system/a.service", "/etc/systemd/system/multi-user.target.wants/a.service"); err != nil || !changed {
		t.Fatalf("%v %v", changed, err)
	}
	if changed, _ := f.Link("/etc/systemd/system/a.service", "/etc/systemd/system/multi-user.target.wants/a.service"); changed {
		t.Error("an existing link was made again")
	}
}

type scripted map[string]string

func (s scripted) Run(_ context.Context, c Cmd) ([]byte, error) { return []byte(s[c.String()]), nil }
func (s scripted) LookPath(n string) (string, error)            { return n, nil }

func TestShuttingDownFor(t *testing.T) {
	for jobs, want := range map[string]string{
		"1 reboot.target start waiting\n":                                  "reboot",
		"2 kexec.target start waiting\n":                                   "reboot",
		"3 poweroff.target start waiting\n4 shutdown.target start waiting": "poweroff",
		"": "",
	} {
		sd := Systemd{Run: scripted{"systemctl list-jobs --no-legend --no-pager": jobs}}
		if got := sd.ShuttingDownFor(context.Background()); got != want {
			t.Errorf("%q: %q, want %q", jobs, got, want)
		}
	}
}

func TestExecRunnerStdinAndErrors(t *testing.T) {
	out, err := ExecRunner{}.Run(context.Background(), Cmd{Name: "cat", Stdin: []byte("on stdin")})
	if err != nil || string(out) != "on stdin" {
		t.Errorf("cat: %q %v", out, err)
	}
	_, err = ExecRunner{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo why >&2; exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "exit status 3: why") {
		t.Errorf("error %v", err)
	}
}
