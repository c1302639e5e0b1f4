package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SSHKey is a throwaway key pair the harness logs in to its guests with.
type SSHKey struct {
	Private string // path
	Public  string // authorized_keys line
}

// NewSSHKey makes an ed25519 key pair in dir with ssh-keygen.
func NewSSHKey(dir string) (*SSHKey, error) {
	path := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-harness", "-f", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make an SSH key with ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		return nil, err
	}
	return &SSHKey{Private: path, Public: strings.TrimSpace(string(pub))}, nil
}

// User is the account the harness logs in as by default: the image's
// cloud-init default user, with passwordless sudo.
const User = "debian"

// Run runs a shell command in the guest as root (through sudo) and returns
// its combined output.
func (v *VM) Run(ctx context.Context, script string) (string, error) {
	if v.cfg.SSHKey == nil {
		return "", fmt.Errorf("vm %s: no SSH key configured", v.cfg.Name)
	}
	cmd := exec.CommandContext(ctx, "ssh", append(v.sshArgs(), "sudo", "-n", "bash", "-s")...)
	cmd.Stdin = strings.NewReader("set -euo pipefail\n" + script + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("vm %s: %s: %w", v.cfg.Name, firstLine(script), err)
	}
	return out.String(), nil
}

// Put writes data to path in the guest as root with mode (octal, e.g.
// "0755"), streaming it on ssh's stdin: a script carrying megabytes in a
// here-document takes bash minutes to read.
func (v *VM) Put(ctx context.Context, path, mode string, data []byte) error {
	if v.cfg.SSHKey == nil {
		return fmt.Errorf("vm %s: no SSH key configured", v.cfg.Name)
	}
	cmd := exec.CommandContext(ctx, "ssh", append(v.sshArgs(), "sudo", "-n", "install", "-m", mode, "/dev/stdin", path)...)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vm %s: put %s: %w: %s", v.cfg.Name, path, err, out)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// sshArgs are ssh's options and destination for the guest.
func (v *VM) sshArgs() []string {
	return []string{
		"-i", v.cfg.SSHKey.Private, "-p", fmt.Sprint(v.SSHPort),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=10",
		v.cfg.SSHUser + "@127.0.0.1",
	}
}
