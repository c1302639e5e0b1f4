package system

import (
	"errors"
	"fmt"
	"io/fs"

	"bytes"
	"context"
	"strings"
	"time"
)

// Systemd drives systemd through systemctl, journalctl and hostnamectl.
type Systemd struct {
	Run Runner
	FS  FS
}

// Running reports whether systemd runs the machine (not a chroot or an
// image build): units are only enabled as links then, never started.
func (s Systemd) Running() bool { return s.FS.Exists("/run/systemd/system") }

func (s Systemd) ctl(ctx context.Context, args ...string) error {
	_, err := s.Run.Run(ctx, Cmd{Name: "systemctl", Args: args})
	return err
}

// DaemonReload makes systemd read changed unit files.
func (s Systemd) DaemonReload(ctx context.Context) error { return s.ctl(ctx, "daemon-reload") }

// Enable enables unit (and starts it with now). It does not make systemd
// reload every unit file, which costs seconds on a small machine: the
// units it enables are loaded already (the package's, or the agent's from
// the bake, or reloaded by the caller after writing them), and enabling only
// makes the links that later boots follow.
func (s Systemd) Enable(ctx context.Context, unit string, now bool) error {
	if now {
		return s.ctl(ctx, "enable", "--no-reload", "--now", unit)
	}
	return s.ctl(ctx, "enable", "--no-reload", unit)
}

// Disable disables unit (and stops it with now).
func (s Systemd) Disable(ctx context.Context, unit string, now bool) error {
	if now {
		return s.ctl(ctx, "disable", "--now", unit)
	}
	return s.ctl(ctx, "disable", unit)
}

// Start starts unit (nothing when it runs).
func (s Systemd) Start(ctx context.Context, unit string) error { return s.ctl(ctx, "start", unit) }

// Restart restarts unit.
func (s Systemd) Restart(ctx context.Context, unit string) error { return s.ctl(ctx, "restart", unit) }

// Stop stops unit.
func (s Systemd) Stop(ctx context.Context, unit string) error { return s.ctl(ctx, "stop", unit) }

// IsFailed reports whether unit is in the failed state.
func (s Systemd) IsFailed(ctx context.Context, unit string) bool {
	return s.ctl(ctx, "is-failed", "--quiet", unit) == nil
}

// IsActive reports whether unit is active.
func (s Systemd) IsActive(ctx context.Context, unit string) bool {
	return s.ctl(ctx, "is-active", "--quiet", unit) == nil
}

// UnitExists reports whether systemd knows unit's file.
func (s Systemd) UnitExists(ctx context.Context, unit string) bool {
	out, err := s.Run.Run(ctx, Cmd{Name: "systemctl", Args: []string{"list-unit-files", "--no-legend", unit}})
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// Journal returns unit's log lines since t (this boot), message text only.
func (s Systemd) Journal(ctx context.Context, unit string, since time.Time) (string, error) {
	out, err := s.Run.Run(ctx, Cmd{Name: "journalctl", Args: []string{"--unit", unit, "--boot", "--no-pager", "--output", "cat",
		"--since", since.Local().Format("2006-01-02 15:04:05")}})
	return string(out), err
}

// ShuttingDownFor tells what the machine is going down for, from the jobs
// systemd has queued: "reboot" (reboot.target or kexec.target), "poweroff",
// or "" when it is not going down.
func (s Systemd) ShuttingDownFor(ctx context.Context) string {
	out, err := s.Run.Run(ctx, Cmd{Name: "systemctl", Args: []string{"list-jobs", "--no-legend", "--no-pager"}})
	if err != nil {
		return "poweroff" // cannot tell: assume the node goes away
	}
	down := ""
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		switch fields[1] {
		case "reboot.target", "kexec.target", "soft-reboot.target":
			return "reboot"
		case "poweroff.target", "halt.target", "shutdown.target":
			down = "poweroff"
		}
	}
	return down
}

// SetHostname sets the machine's hostname, and the 127.0.1.1 line of
// /etc/hosts as Debian's installer and cloud-init's manage_etc_hosts keep
// it, so that the name resolves (sudo complains otherwise).
func (s Systemd) SetHostname(ctx context.Context, name string) error {
	if _, err := s.Run.Run(ctx, Cmd{Name: "hostnamectl", Args: []string{"set-hostname", name}}); err != nil {
		return err
	}
	return s.hostsLine(name)
}

// HostsFile is the file whose 127.0.1.1 line SetHostname keeps.
const HostsFile = "/etc/hosts"

// hostsLine makes /etc/hosts map 127.0.1.1 to name, keeping every other line.
func (s Systemd) hostsLine(name string) error {
	const hosts = HostsFile
	old, err := s.FS.ReadFile(hosts)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", hosts, err)
	}
	want := "127.0.1.1 " + name
	var lines []string
	replaced := false
	for _, line := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "127.0.1.1" {
			if !replaced {
				lines = append(lines, want)
				replaced = true
			}
			continue
		}
		if line != "" || len(lines) > 0 {
			lines = append(lines, line)
		}
	}
	if !replaced {
		lines = append(lines, want)
	}
	_, err = s.FS.Write(File{Path: hosts, Owner: "root:root", Mode: 0o644, Content: []byte(strings.Join(lines, "\n") + "\n")})
	return err
}
