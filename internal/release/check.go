package release

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/agentbin"
)

// target is what a binary for a platform must be.
type target struct {
	machine elf.Machine
	interp  string // the glibc dynamic loader
	triplet string // Debian's (and GCC's) name for the platform
}

var targets = map[Platform]target{
	{"linux", "amd64"}: {elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2", "x86_64-linux-gnu"},
	{"linux", "arm64"}: {elf.EM_AARCH64, "/lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu"},
}

// allowedLibs are the shared libraries the plugin may need on the machine
// that runs Packer: libdqlite is linked in statically, libuv, liblz4 and
// SQLite are Debian/Ubuntu base libraries (packages libuv1, liblz4-1,
// libsqlite3-0). Anything else (libdqlite.so.0 above all) would make the
// plugin fail to start where it is not installed.
var allowedLibs = map[string]bool{
	"libc.so.6": true, "libuv.so.1": true, "liblz4.so.1": true, "libsqlite3.so.0": true,
}

// ELFInfo is what CheckELF read from a binary.
type ELFInfo struct {
	Needed []string // DT_NEEDED shared libraries
	Glibc  string   // the newest GLIBC_ symbol version it needs, e.g. "2.34"
}

// CheckELF checks that data is a dynamically linked executable for p that
// needs only the allowed shared libraries (and its platform's loader).
func CheckELF(data []byte, p Platform) (ELFInfo, error) {
	var info ELFInfo
	tg, ok := targets[p]
	if !ok {
		return info, fmt.Errorf("check binary: no target %s", p)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return info, fmt.Errorf("check binary: not an ELF file: %w", err)
	}
	defer f.Close()
	var errs []error
	if f.Machine != tg.machine || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		errs = append(errs, fmt.Errorf("it is a %s %s, want an executable for %s (%s)", f.Machine, f.Type, p, tg.machine))
	}
	interp := ""
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err == nil {
				interp = string(bytes.TrimRight(b, "\x00"))
			}
		}
	}
	if interp != tg.interp {
		errs = append(errs, fmt.Errorf("its interpreter is %q, want %q (a cgo binary linked against glibc)", interp, tg.interp))
	}
	if info.Needed, err = f.ImportedLibraries(); err != nil {
		errs = append(errs, fmt.Errorf("read its shared libraries: %w", err))
	}
	sort.Strings(info.Needed)
	for _, lib := range info.Needed {
		if !allowedLibs[lib] && lib != path.Base(tg.interp) {
			errs = append(errs, fmt.Errorf("it needs %s: only libc, libuv, liblz4 and libsqlite3 may be dynamic (libdqlite must be static: link with the Makefile's CGO_LDFLAGS)", lib))
		}
	}
	if needs, err := f.DynamicVersionNeeds(); err == nil {
		info.Glibc = newestGlibc(needs)
	}
	if err := errors.Join(errs...); err != nil {
		return info, fmt.Errorf("check binary for %s: %w", p, err)
	}
	return info, nil
}

// newestGlibc is the highest GLIBC_x.y version needed: the oldest glibc the
// binary runs with.
func newestGlibc(needs []elf.DynamicVersionNeed) string {
	best, bestParts := "", []int(nil)
	for _, n := range needs {
		for _, d := range n.Needs {
			v, ok := strings.CutPrefix(d.Dep, "GLIBC_")
			if !ok {
				continue
			}
			parts, ok := versionParts(v)
			if ok && greater(parts, bestParts) {
				best, bestParts = v, parts
			}
		}
	}
	return best
}

func versionParts(v string) ([]int, bool) {
	var parts []int
	for _, s := range strings.Split(v, ".") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, false
		}
		parts = append(parts, n)
	}
	return parts, true
}

func greater(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

// Description is the part of `describe` a release depends on.
type Description struct {
	Version        string   `json:"version"`
	APIVersion     string   `json:"api_version"`
	Provisioners   []string `json:"provisioners"`
	PostProcessors []string `json:"post_processors"`
}

// Runner returns how to run a binary for p on this machine: directly on
// its own architecture, else under qemu user emulation (Debian's
// qemu-user-static), or an error naming the package to install.
func Runner(p Platform) ([]string, error) {
	if p.OS == runtime.GOOS && p.Arch == runtime.GOARCH {
		return nil, nil
	}
	tg, ok := targets[p]
	if !ok {
		return nil, fmt.Errorf("run a %s binary: unknown platform", p)
	}
	qemu := "qemu-" + strings.SplitN(tg.triplet, "-", 2)[0] + "-static"
	if _, err := exec.LookPath(qemu); err != nil {
		return nil, fmt.Errorf("run a %s binary here: %s not found: install qemu-user-static (`make deps-release`)", p, qemu)
	}
	return []string{qemu}, nil
}

// run runs a binary for p with args (under qemu when p is foreign) and
// returns its standard output.
func run(ctx context.Context, bin string, p Platform, args ...string) ([]byte, error) {
	prefix, err := Runner(p)
	if err != nil {
		return nil, err
	}
	argv := append(append(prefix, bin), args...)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w\n%s", strings.Join(argv, " "), err, stderr.Bytes())
	}
	return out, nil
}

// Describe runs the plugin binary's `describe` and checks it reports
// version and a plugin API version.
func Describe(ctx context.Context, bin string, p Platform, version string) (Description, error) {
	var d Description
	out, err := run(ctx, bin, p, "describe")
	if err != nil {
		return d, fmt.Errorf("describe plugin: %w", err)
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return d, fmt.Errorf("describe plugin %s: not JSON: %w: %q", bin, err, out)
	}
	var errs []error
	if d.Version != version {
		errs = append(errs, fmt.Errorf("it reports version %q, want %q (build with -X …/version.Version=%s -X …/version.VersionPrerelease=)", d.Version, version, version))
	}
	if !apiRE.MatchString(d.APIVersion) {
		errs = append(errs, fmt.Errorf("it reports API version %q, want xMAJOR.MINOR", d.APIVersion))
	}
	if len(d.Provisioners) == 0 || len(d.PostProcessors) == 0 {
		errs = append(errs, fmt.Errorf("it registers provisioners %q and post-processors %q, want both", d.Provisioners, d.PostProcessors))
	}
	if err := errors.Join(errs...); err != nil {
		return d, fmt.Errorf("describe plugin %s (%s): %w", bin, p, err)
	}
	return d, nil
}

// CheckAgents checks that the plugin binary carries the jitsi-node agent of
// every image architecture, byte for byte as this tree's
// internal/agentbin/bin holds them (make agent).
func CheckAgents(plugin []byte) error {
	var errs []error
	for _, arch := range agentbin.Archs {
		gz, err := agentbin.Gzipped(arch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !bytes.Contains(plugin, gz) {
			errs = append(errs, fmt.Errorf("the plugin does not embed internal/agentbin/bin's agent for %s: build the agents before the plugin (make release does)", arch))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check embedded agents: %w", err)
	}
	return nil
}

// AgentVersion runs the embedded agent for arch (under qemu when foreign)
// and returns the version it reports ("jitsi-node 1.2.3" → "1.2.3").
func AgentVersion(ctx context.Context, dir, arch string) (string, error) {
	data, err := agentbin.For(arch)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "jitsi-node_linux_"+arch)
	if err := writeExecutable(bin, data); err != nil {
		return "", err
	}
	out, err := run(ctx, bin, Platform{"linux", arch}, "version")
	if err != nil {
		return "", fmt.Errorf("agent version: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "jitsi-node" {
		return "", fmt.Errorf("agent version for %s: want \"jitsi-node VERSION\", got %q", arch, out)
	}
	return f[1], nil
}
