// Package vm boots the e2e tier's Debian guests under qemu (TCG: KVM hangs
// guests on the project's machines) with a NoCloud seed, and reaches them
// only through the host's loopback:
//
//   - qemu user networking with restrict=on: the guest can reach nothing but
//     the forwards below; no guest packet leaves the qemu process otherwise;
//   - hostfwd=tcp:127.0.0.1:PORT-:GUESTPORT for SSH and services (host → guest;
//     TCP only: restrict=on drops every UDP datagram a guest sends but DHCP
//     and TFTP — libslirp's udp_input —, replies to a udp hostfwd included);
//   - guestfwd=tcp:IP:PORT-cmd:RELAY for host services (guest → host), IP in
//     the guest's network (10.0.2.x by default; see MetadataNetwork):
//     qemu spawns RELAY (this package's Relay, run by the test binary) per
//     connection, and it connects to a 127.0.0.1 port and nowhere else. A
//     guest reaches another guest through that guest's hostfwd.
//
// Every VM writes its serial console to <Dir>/serial.log; the base image
// forwards the journal there too, so a failed run leaves each VM's story.
package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// HostForward exposes a guest TCP port on 127.0.0.1:Host.
type HostForward struct {
	Host  int // 0: a free port is chosen
	Guest int
}

// GuestForward makes GuestIP:GuestPort inside the guest lead to
// 127.0.0.1:HostPort on the host.
type GuestForward struct {
	GuestIP   string // in the guest's Network, e.g. 10.0.2.101
	GuestPort int
	HostPort  int
}

// Config describes one guest.
type Config struct {
	Name  string
	Image string // qcow2 used as the read-only backing file of the VM's overlay
	Dir   string // the VM's output folder: overlay, seed, serial.log
	// MemoryMB and CPUs default to 1024 and 1.
	MemoryMB, CPUs int
	// UserData, VendorData and the meta-data's instance-id/local-hostname
	// make the NoCloud seed. VendorData may be empty.
	UserData, VendorData []byte
	InstanceID, Hostname string
	SSHKey               *SSHKey // key for Run; the seed must authorise it
	// SSHUser is who Run logs in as (default User, with sudo).
	SSHUser       string
	HostForwards  []HostForward
	GuestForwards []GuestForward
	// Network is the guest's user network; default DefaultNetwork.
	Network Network
	// SMBIOS are qemu -smbios values, e.g. EC2SMBIOS: what the guest's
	// DMI files (/sys/class/dmi/id) say about the machine.
	SMBIOS []string
	// Relay is the guestfwd command prefix (see RelayCommand).
	Relay []string
	// Logf gets progress lines.
	Logf func(format string, args ...any)
}

// VM is a running guest.
type VM struct {
	cfg     Config
	SSHPort int
	// Forwards maps each guest port of Config.HostForwards to its host port.
	Forwards map[int]int
	Serial   string
	cmd      *exec.Cmd
	exit     chan error
	started  time.Time
}

// Start creates the overlay and seed and boots the guest.
func Start(cfg Config) (*VM, error) {
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 1024
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.SSHUser == "" {
		cfg.SSHUser = User
	}
	if cfg.Network == (Network{}) {
		cfg.Network = DefaultNetwork
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create VM folder %s: %w", cfg.Dir, err)
	}
	overlay := filepath.Join(cfg.Dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", cfg.Image, overlay).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("create overlay of %s: %v: %s", cfg.Image, err, out)
	}
	seed, err := writeSeed(cfg)
	if err != nil {
		return nil, err
	}
	v := &VM{cfg: cfg, Serial: filepath.Join(cfg.Dir, "serial.log"), Forwards: map[int]int{}, exit: make(chan error, 1)}
	netdev, err := v.netdev()
	if err != nil {
		return nil, err
	}
	args := []string{
		"-name", cfg.Name, "-accel", "tcg", "-m", fmt.Sprint(cfg.MemoryMB), "-smp", fmt.Sprint(cfg.CPUs),
		"-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot",
		"-serial", "file:" + v.Serial,
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2,cache=unsafe,discard=unmap",
		"-drive", "file=" + seed + ",if=virtio,format=raw,readonly=on",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,romfile=",
	}
	for _, sm := range cfg.SMBIOS {
		args = append(args, "-smbios", sm)
	}
	v.cmd = exec.Command("qemu-system-x86_64", args...)
	qlog, err := os.Create(filepath.Join(cfg.Dir, "qemu.log"))
	if err != nil {
		return nil, err
	}
	v.cmd.Stdout, v.cmd.Stderr = qlog, qlog
	// Its own process group: a Ctrl-C of the test run reaches the test,
	// which stops the VM by PID.
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := v.cmd.Start(); err != nil {
		qlog.Close()
		return nil, fmt.Errorf("start qemu for %s: %w", cfg.Name, err)
	}
	v.started = time.Now()
	go func() { v.exit <- v.cmd.Wait(); qlog.Close() }()
	cfg.Logf("vm %s: booting (pid %d, ssh 127.0.0.1:%d, serial log %s)", cfg.Name, v.cmd.Process.Pid, v.SSHPort, v.Serial)
	return v, nil
}

// netdev is the user-network definition: restricted, loopback forwards only.
func (v *VM) netdev() (string, error) {
	var b strings.Builder
	b.WriteString("user,id=n0,restrict=on," + v.cfg.Network.netdev())
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	v.SSHPort = port
	fmt.Fprintf(&b, ",hostfwd=tcp:127.0.0.1:%d-:22", port)
	for _, f := range v.cfg.HostForwards {
		hp := f.Host
		if hp == 0 {
			if hp, err = FreePort(); err != nil {
				return "", err
			}
		}
		v.Forwards[f.Guest] = hp
		fmt.Fprintf(&b, ",hostfwd=tcp:127.0.0.1:%d-:%d", hp, f.Guest)
	}
	for _, g := range v.cfg.GuestForwards {
		if !v.cfg.Network.Contains(g.GuestIP) {
			return "", fmt.Errorf("guest forward %s:%d is outside the guest's network %s: qemu would not forward it", g.GuestIP, g.GuestPort, v.cfg.Network.CIDR)
		}
		if len(v.cfg.Relay) == 0 {
			return "", errors.New("guest forwards need Config.Relay (see RelayCommand)")
		}
		cmd := strings.Join(append(append([]string(nil), v.cfg.Relay...), fmt.Sprintf("127.0.0.1:%d", g.HostPort)), " ")
		if strings.Contains(cmd, ",") {
			return "", fmt.Errorf("relay command %q contains a comma, which qemu's option syntax cannot take", cmd)
		}
		fmt.Fprintf(&b, ",guestfwd=tcp:%s:%d-cmd:%s", g.GuestIP, g.GuestPort, cmd)
	}
	return b.String(), nil
}

// Name is the guest's name.
func (v *VM) Name() string { return v.cfg.Name }

// Exited reports whether qemu has ended.
func (v *VM) Exited() bool {
	select {
	case err := <-v.exit:
		v.exit <- err
		return true
	default:
		return false
	}
}

// Stop ends qemu by its PID: SIGTERM, then SIGKILL after 10 s.
func (v *VM) Stop() {
	if v.cmd == nil || v.cmd.Process == nil || v.Exited() {
		return
	}
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-v.exit:
		v.exit <- err
	case <-time.After(10 * time.Second):
		_ = v.cmd.Process.Kill()
	}
	v.cfg.Logf("vm %s: stopped after %s", v.cfg.Name, time.Since(v.started).Round(time.Second))
}

// WaitSSH waits until the guest's sshd accepts the test key.
func (v *VM) WaitSSH(ctx context.Context) error {
	for {
		if v.Exited() {
			return fmt.Errorf("vm %s: qemu exited during boot (see %s and %s)", v.cfg.Name, v.Serial, filepath.Join(v.cfg.Dir, "qemu.log"))
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := v.Run(cctx, "true")
		cancel()
		if err == nil {
			v.cfg.Logf("vm %s: ssh up after %s", v.cfg.Name, time.Since(v.started).Round(time.Second))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("vm %s: no ssh after %s (serial log %s): %w", v.cfg.Name, time.Since(v.started).Round(time.Second), v.Serial, err)
		case <-time.After(3 * time.Second):
		}
	}
}

// WaitCloudInit waits for cloud-init to finish and returns its status
// ("done", "error", ...). The guest's ssh must be up.
func (v *VM) WaitCloudInit(ctx context.Context) (string, error) {
	// `status --wait` exits non-zero when cloud-init ended in error: the
	// status line below says which.
	out, err := v.Run(ctx, "cloud-init status --wait >/dev/null 2>&1 || true; cloud-init status --long || true")
	status := ""
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "status:"); ok {
			status = strings.TrimSpace(s)
		}
	}
	if status == "" {
		return "", fmt.Errorf("vm %s: cloud-init status: %v: %s", v.cfg.Name, err, out)
	}
	v.cfg.Logf("vm %s: cloud-init %s after %s", v.cfg.Name, status, time.Since(v.started).Round(time.Second))
	return status, nil
}

// SerialLog is the serial console so far.
func (v *VM) SerialLog() string {
	b, _ := os.ReadFile(v.Serial)
	return string(b)
}
