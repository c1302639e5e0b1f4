package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// What the matrix (TestVMMatrix) runs: one bridge row per base image OS and
// JMS rows, each baked with the plugin and booted with generated user-data.

// legacyJVB is the fixture repository's 2020-era stand-in bridge
// (build-fixture-repo.sh's VERSION_JVB_LEGACY; a test keeps them equal).
const legacyJVB = "2.1-273+e2e1-1"

// matrixLegacyOS are the bridge rows that pin the 2020-era package and are
// issued in the legacy config format: Ubuntu 18.04 (the seed's OS, which
// runs nothing newer) and Debian 11 (legacy on a second release, with its
// cloud-init 20.4.1). The others install the repository's newest (current)
// bridge with the modern format. Each choice must be one the role model
// says the OS runs (TestMatrixChoicesFollowTheRoleModel).
var matrixLegacyOS = []string{"ubuntu-18.04", "debian-11"}

// matrixJMSOS are the releases `E2E_MATRIX=all` bakes a JMS on besides the
// Debian 12 JMS every bridge row logs in to.
var matrixJMSOS = []string{"ubuntu-24.04"}

// ciOS is the JVB row CI always runs; CI adds one of the others, chosen by
// the commit hash, so that every OS is booted over a few commits.
const ciOS = "debian-12"

// matrixEntry is one row to run.
type matrixEntry struct {
	OS   string // a base image OS (build-base-image.sh's argument)
	Role string // "jvb" or "jms"
}

func (e matrixEntry) String() string { return e.OS + "/" + e.Role }

// Legacy reports whether the row's bridge is the 2020-era package with the
// legacy config format.
func (e matrixEntry) Legacy() bool { return e.Role == "jvb" && slices.Contains(matrixLegacyOS, e.OS) }

// Format is the config format the row's bridge is issued with.
func (e matrixEntry) Format() node.Format {
	if e.Legacy() {
		return node.FormatLegacy
	}
	return node.FormatModern
}

// Versions pins the row's image: the legacy bridge, or nothing (newest).
func (e matrixEntry) Versions() map[string]string {
	if e.Legacy() {
		return map[string]string{jitsi.PkgJVB: legacyJVB}
	}
	return nil
}

// Era is what the stand-in bridge must report it behaves like.
func (e matrixEntry) Era() string {
	if e.Legacy() {
		return "legacy"
	}
	return "current"
}

func osNames() []string {
	names := make([]string, len(baseOSes))
	for i, o := range baseOSes {
		names[i] = o.Name
	}
	return names
}

// parseMatrix reads E2E_MATRIX: "all" (a bridge on every OS and a JMS on
// each of matrixJMSOS), "ci" (debian-12 and one other OS chosen by commit),
// or a comma list of OS (a bridge) and OS/jms or OS/jvb. It returns the rows
// in run order — debian-12's bridge first, as it may reuse TestVMCluster's
// image, then the base images' order, JMS rows last — and a line saying
// what was chosen and why.
func parseMatrix(spec, commit string) ([]matrixEntry, string, error) {
	var entries []matrixEntry
	why := ""
	switch spec = strings.TrimSpace(spec); spec {
	case "all":
		for _, o := range osNames() {
			entries = append(entries, matrixEntry{o, "jvb"})
		}
		for _, o := range matrixJMSOS {
			entries = append(entries, matrixEntry{o, "jms"})
		}
		why = "matrix: all " + fmt.Sprint(len(entries)) + " rows"
	case "ci":
		other, note, err := ciPick(commit)
		if err != nil {
			return nil, "", err
		}
		entries = []matrixEntry{{ciOS, "jvb"}, {other, "jvb"}}
		why = fmt.Sprintf("matrix: CI subset %s + %s (%s); make e2e-matrix runs all six", ciOS, other, note)
	default:
		var errs []string
		for _, f := range strings.Split(spec, ",") {
			f = strings.TrimSpace(f)
			o, role, _ := strings.Cut(f, "/")
			if role == "" {
				role = "jvb"
			}
			switch {
			case !slices.Contains(osNames(), o):
				errs = append(errs, fmt.Sprintf("%q: %q is not a base image OS (%s)", f, o, strings.Join(osNames(), ", ")))
			case role != "jvb" && role != "jms":
				errs = append(errs, fmt.Sprintf("%q: role %q: use OS/jvb or OS/jms", f, role))
			case slices.Contains(entries, matrixEntry{o, role}):
				errs = append(errs, fmt.Sprintf("%q: given twice", f))
			default:
				entries = append(entries, matrixEntry{o, role})
			}
		}
		if len(errs) == 0 && len(entries) == 0 {
			errs = append(errs, "no row")
		}
		if len(errs) > 0 {
			return nil, "", fmt.Errorf("E2E_MATRIX=%q: %s; use all, ci or a list such as debian-12,ubuntu-18.04,ubuntu-24.04/jms",
				spec, strings.Join(errs, "; "))
		}
		why = "matrix: " + spec
	}
	order := func(e matrixEntry) int {
		i := slices.Index(osNames(), e.OS)
		if e.OS == ciOS {
			i = -1
		}
		if e.Role == "jms" {
			i += 100
		}
		return i
	}
	slices.SortStableFunc(entries, func(a, b matrixEntry) int { return order(a) - order(b) })
	return entries, why, nil
}

// ciPick chooses CI's second OS from the commit hash: the first 8 hex digits
// modulo the number of other OSes.
func ciPick(commit string) (string, string, error) {
	if len(commit) < 8 {
		return "", "", fmt.Errorf("E2E_MATRIX=ci picks an OS by commit hash: no commit (%q); set E2E_COMMIT or run in a git clone", commit)
	}
	n, err := strconv.ParseUint(commit[:8], 16, 32)
	if err != nil {
		return "", "", fmt.Errorf("E2E_MATRIX=ci: commit %q is not a hex hash: %v", commit, err)
	}
	var others []string
	for _, o := range osNames() {
		if o != ciOS {
			others = append(others, o)
		}
	}
	i := int(n % uint64(len(others)))
	return others[i], fmt.Sprintf("commit %s: 0x%s mod %d = %d", commit[:7], commit[:8], len(others), i), nil
}

// headCommit is E2E_COMMIT, or the clone's HEAD.
func headCommit() string {
	if c := os.Getenv("E2E_COMMIT"); c != "" {
		return c
	}
	out, err := exec.Command("git", "-C", repoRoot(), "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Results of a row.
const (
	resultPass   = "pass"
	resultFail   = "fail"
	resultNotRun = "not run"
)

// matrixRow is one line of matrix.json.
type matrixRow struct {
	OS     string  `json:"os"`
	Role   string  `json:"role"`
	Result string  `json:"result"`
	BakeS  float64 `json:"bake_s"`
	BootS  float64 `json:"boot_s"`
	Reason string  `json:"reason"`
}

func seconds(d time.Duration) float64 { return float64(d.Round(time.Second) / time.Second) }

// writeMatrix writes rows as JSON to path (atomically) and returns them as
// a table.
func writeMatrix(path string, rows []matrixRow) (string, error) {
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return matrixTable(rows), nil
}

// matrixTable is rows as an aligned text table.
func matrixTable(rows []matrixRow) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "OS\tROLE\tRESULT\tBAKE\tBOOT\tREASON")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.OS, r.Role, r.Result, dur(r.BakeS), dur(r.BootS), r.Reason)
	}
	w.Flush()
	return b.String()
}

func dur(s float64) string {
	if s == 0 {
		return "-"
	}
	return (time.Duration(s) * time.Second).String()
}

// matrixPath is e2e/out/<run>/matrix.json for a test's output folder.
func matrixPath(testOut string) string { return filepath.Join(filepath.Dir(testOut), "matrix.json") }
