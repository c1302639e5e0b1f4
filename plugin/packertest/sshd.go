package packertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// SSHD is a private OpenSSH server on a loopback port, started by a test and
// stopped (by PID) when the test ends.
type SSHD struct {
	Port   int
	Key    string // client private key file, for ssh_private_key_file
	User   string
	logBuf *testutil.SyncBuffer
}

// Log is the server's own log (sshd -e), for diagnosing a failed test.
func (s *SSHD) Log() string { return s.logBuf.String() }

// StartSSHD starts Debian's /usr/sbin/sshd with its own config, host key and
// client key on 127.0.0.1. With chroot set, every session runs inside that
// directory (sshd ChrootDirectory, file transfers by internal-sftp), so what
// the test's client runs cannot touch this machine. Needs root.
func StartSSHD(t testing.TB, chroot string) *SSHD {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the acceptance test starts sshd with ChrootDirectory, which needs root: run it as root (as `make test` does)")
	}
	sshd, err := exec.LookPath("/usr/sbin/sshd")
	if err != nil {
		t.Fatal("/usr/sbin/sshd is missing: install openssh-server (scripts/deps.sh does)")
	}
	// sshd refuses to start without its privilege-separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostKey, clientKey := filepath.Join(dir, "host_key"), filepath.Join(dir, "client_key")
	for _, k := range []string{hostKey, clientKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "packertest", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreeTCPPort(t)
	conf := []string{
		"Port " + strconv.Itoa(port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"PermitRootLogin prohibit-password",
		"AllowUsers root",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
	}
	if chroot != "" {
		conf = append(conf, "ChrootDirectory "+chroot)
	}
	confFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confFile, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sshd, "-t", "-f", confFile).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}

	s := &SSHD{Port: port, Key: clientKey, User: "root", logBuf: &testutil.SyncBuffer{}}
	cmd := exec.Command(sshd, "-D", "-e", "-f", confFile)
	cmd.Stdout, cmd.Stderr = s.logBuf, s.logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// Stop exactly the server this test started, by its PID.
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-done:
			t.Fatalf("sshd exited at start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on 127.0.0.1:%d after 10 s:\n%s", port, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
