package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/agentbin"
)

// versionPkg is the package whose variables -ldflags -X stamps.
const versionPkg = "github.com/jitsi-packer/packer-plugin-jitsi/version"

// Options say what Make builds and where.
type Options struct {
	Root      string     // the module's root directory (the plugin's main package)
	Version   string     // x.y.z
	Platforms []Platform // default Platforms
	Out       string     // release directory: replaced as a whole when Make succeeds
	// Env is go build's environment. It must set CGO_LDFLAGS as the
	// Makefile does (libdqlite static); Make adds GOOS, GOARCH,
	// CGO_ENABLED and, for a foreign platform, CC.
	Env   []string
	Mtime time.Time // zip entries' time; default Epoch
	Log   io.Writer // progress; default io.Discard
	// CheckAgentVersion requires the embedded agents to report Version (true
	// for `make release`, which builds them with it).
	CheckAgentVersion bool
}

// Result is one platform's part of a release.
type Result struct {
	Platform    Platform      `json:"platform"`
	Zip         string        `json:"zip"`
	ZipBytes    int64         `json:"zip_bytes"`
	Binary      string        `json:"binary"`
	BinaryBytes int64         `json:"binary_bytes"`
	SHA256      string        `json:"sha256"` // of the zip
	Needed      []string      `json:"needed"`
	Glibc       string        `json:"glibc"`
	Build       time.Duration `json:"build_ns"`
}

// Make builds, checks and lays out a release in o.Out; it writes nothing
// there unless every platform succeeded.
func Make(ctx context.Context, o Options) ([]Result, error) {
	o = o.withDefaults()
	if err := Preflight(o); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}
	stage, err := os.MkdirTemp(filepath.Dir(o.Out), "."+filepath.Base(o.Out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}
	defer os.RemoveAll(stage)
	work := filepath.Join(stage, ".work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}

	if o.CheckAgentVersion {
		for _, arch := range agentbin.Archs {
			v, err := AgentVersion(ctx, work, arch)
			if err != nil {
				return nil, fmt.Errorf("make release: %w", err)
			}
			if v != o.Version {
				return nil, fmt.Errorf("make release: the embedded %s agent reports version %s, want %s: rebuild it with `make agent VERSION=%s`", arch, v, o.Version, o.Version)
			}
		}
	}

	var results []Result
	var sums []Sum
	for _, p := range o.Platforms {
		r, err := makeOne(ctx, o, p, stage, work)
		if err != nil {
			return nil, fmt.Errorf("make release %s for %s: %w", o.Version, p, err)
		}
		results = append(results, r)
		sums = append(sums, Sum{SHA256: r.SHA256, File: r.Zip})
	}
	if err := os.RemoveAll(work); err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, SumsName(o.Version)), FormatSums(sums), 0o644); err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}
	if err := replaceDir(stage, o.Out); err != nil {
		return nil, fmt.Errorf("make release: %w", err)
	}
	return results, nil
}

func (o Options) withDefaults() Options {
	if len(o.Platforms) == 0 {
		o.Platforms = Platforms
	}
	if o.Mtime.IsZero() {
		o.Mtime = Epoch
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Preflight checks everything Make needs before it builds anything (the
// version, the output directory, CGO_LDFLAGS, and per platform the C
// compiler, libdqlite.a and a way to run the binary), and reports every
// problem at once.
func Preflight(o Options) error {
	o = o.withDefaults()
	var errs []error
	if err := CheckVersion(o.Version); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(filepath.Join(o.Root, "go.mod")); err != nil {
		errs = append(errs, fmt.Errorf("root %q: no go.mod: give the module's root", o.Root))
	}
	if o.Out == "" {
		errs = append(errs, errors.New("out: give the release directory"))
	} else if err := checkOut(o.Out); err != nil {
		errs = append(errs, err)
	}
	if envValue(o.Env, "CGO_LDFLAGS") == "" {
		errs = append(errs, errors.New("CGO_LDFLAGS is not set: build through `make release`, whose CGO_LDFLAGS link libdqlite statically"))
	}
	seen := map[Platform]bool{}
	for _, p := range o.Platforms {
		if seen[p] {
			errs = append(errs, fmt.Errorf("platform %s: given twice", p))
			continue
		}
		seen[p] = true
		tg, ok := targets[p]
		if !ok {
			_, err := ParsePlatform(p.String())
			errs = append(errs, err)
			continue
		}
		if _, err := compiler(o.Env, p); err != nil {
			errs = append(errs, err)
		}
		if lib := filepath.Join("/usr/lib", tg.triplet, "libdqlite.a"); !exists(lib) {
			errs = append(errs, fmt.Errorf("platform %s: %s is missing: install libdqlite-dev:%s (`make deps` for this machine's, `make deps-release` for the others)", p, lib, p.Arch))
		}
		if _, err := Runner(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("make release: %w", err)
	}
	return nil
}

// checkOut accepts a missing directory or one holding only release files:
// Make replaces it as a whole.
func checkOut(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("out %s: %w", out, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), filePrefix) {
			return fmt.Errorf("out %s: it holds %s, which is not a release file: give an empty or release directory (Make replaces it)", out, e.Name())
		}
	}
	return nil
}

// compiler is the C compiler for p: the environment's (or gcc) for this
// machine's architecture, Debian's cross compiler (<triplet>-gcc) otherwise.
func compiler(env []string, p Platform) (string, error) {
	if p.OS == runtime.GOOS && p.Arch == runtime.GOARCH {
		if cc := envValue(env, "CC"); cc != "" {
			return cc, nil
		}
		return "gcc", nil
	}
	cc := targets[p].triplet + "-gcc"
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("platform %s: C cross compiler %s not found: install gcc-%s (`make deps-release`)", p, cc, targets[p].triplet)
	}
	return cc, nil
}

// makeOne builds, checks and zips the plugin for p into stage.
func makeOne(ctx context.Context, o Options, p Platform, stage, work string) (Result, error) {
	r := Result{Platform: p}
	cc, err := compiler(o.Env, p)
	if err != nil {
		return r, err
	}
	bin := filepath.Join(work, "packer-plugin-"+Name+"_"+p.Arch)
	ldflags := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.VersionPrerelease=", versionPkg, o.Version, versionPkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "libsqlite3", "-trimpath", "-ldflags", ldflags, "-o", bin, ".")
	cmd.Dir = o.Root
	cmd.Env = append(append([]string(nil), o.Env...), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=1", "CC="+cc)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(o.Log, "release: go build %s (CC=%s)\n", p, cc)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("go build: %w\n%s", err, out.Bytes())
	}
	r.Build = time.Since(start)

	data, err := os.ReadFile(bin)
	if err != nil {
		return r, err
	}
	info, err := CheckELF(data, p)
	if err != nil {
		return r, err
	}
	r.Needed, r.Glibc = info.Needed, info.Glibc
	if err := CheckAgents(data); err != nil {
		return r, err
	}
	d, err := Describe(ctx, bin, p, o.Version)
	if err != nil {
		return r, err
	}
	r.Binary = BinaryName(o.Version, d.APIVersion, p)
	r.BinaryBytes = int64(len(data))
	r.Zip = ZipName(o.Version, d.APIVersion, p)

	var zipped bytes.Buffer
	if err := WriteZip(&zipped, r.Binary, data, o.Mtime); err != nil {
		return r, err
	}
	zipPath := filepath.Join(stage, r.Zip)
	if err := os.WriteFile(zipPath, zipped.Bytes(), 0o644); err != nil {
		return r, fmt.Errorf("write %s: %w", r.Zip, err)
	}
	r.ZipBytes = int64(zipped.Len())
	if r.SHA256, err = SumFile(zipPath); err != nil {
		return r, err
	}
	fmt.Fprintf(o.Log, "release: %s (%d bytes, binary %d bytes, built in %s)\n", r.Zip, r.ZipBytes, r.BinaryBytes, r.Build.Round(time.Second))
	return r, nil
}

// replaceDir puts stage in out's place; an existing out is removed only
// once stage is there.
func replaceDir(stage, out string) error {
	old := ""
	if _, err := os.Stat(out); err == nil {
		old = stage + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("replace %s: %w", out, err)
		}
	}
	if err := os.Rename(stage, out); err != nil {
		if old != "" {
			_ = os.Rename(old, out)
		}
		return fmt.Errorf("replace %s: %w", out, err)
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

func writeExecutable(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// envValue is the last value of name in env, as exec uses it.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
