package testutil

import (
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Daemon is a server process a test starts and stops itself, by its PID.
type Daemon struct {
	name string
	cmd  *exec.Cmd
	exit chan error
}

// StartDaemon starts cmd (its output as the caller set it) and stops it
// when t ends; name is what messages call it.
func StartDaemon(t testing.TB, name string, cmd *exec.Cmd) *Daemon {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	d := &Daemon{name: name, cmd: cmd, exit: make(chan error, 1)}
	go func() { d.exit <- cmd.Wait() }()
	t.Cleanup(func() { d.Stop(t) })
	return d
}

// Stop ends the process by its PID: SIGTERM, then SIGKILL after 10 s.
func (d *Daemon) Stop(t testing.TB) {
	if d == nil || d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exit:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exit
		t.Logf("%s (pid %d) did not stop on SIGTERM; killed", d.name, d.cmd.Process.Pid)
	}
	d.cmd = nil
}

// WaitTCP waits until something accepts TCP connections on 127.0.0.1:port,
// or the process exits, or limit passes.
func (d *Daemon) WaitTCP(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exit:
			d.exit <- err // Stop waits on it too
			return fmt.Errorf("%s exited: %v", d.name, err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", addr, limit)
}

// FreeTCPPort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort is a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
