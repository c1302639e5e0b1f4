package vm

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// RelayFlag is the first argument that makes a binary act as Relay.
const RelayFlag = "-e2e-relay"

// RelayCommand is the guestfwd command prefix running the current
// executable as the relay; its TestMain must call RelayMain first thing.
func RelayCommand() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the test binary for the guestfwd relay: %w", err)
	}
	return []string{exe, RelayFlag}, nil
}

// RelayMain runs the relay when args are [RelayFlag, "127.0.0.1:PORT"] and
// exits; otherwise it returns. qemu gives the relay the guest's connection as
// stdin and stdout (stderr too, so the relay never writes to it).
func RelayMain(args []string) {
	if len(args) != 2 || args[0] != RelayFlag {
		return
	}
	os.Exit(relay(args[1], os.Stdin, os.Stdout))
}

func relay(addr string, in io.Reader, out io.Writer) int {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return 2 // loopback only, by construction
	}
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 1
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, in); _ = conn.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(out, conn); done <- struct{}{} }()
	<-done
	<-done
	_ = conn.Close()
	return 0
}
