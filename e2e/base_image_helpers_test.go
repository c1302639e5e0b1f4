package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// baseOS is an operating system the e2e tier has a base image for, with what
// the test knows of it independently of the build (which records its own
// facts in image.env).
type baseOS struct {
	Name string // build-base-image.sh's argument: <os-release ID>-<VERSION_ID>
	// CloudInit is the upstream cloud-init version the release's archive
	// holds where it no longer moves ("" where -updates still changes it).
	CloudInit string
	// KernelFlavour ends the release's kernel's `uname -r`.
	KernelFlavour string
	// ProsodyComponent is the archive component prosody comes from.
	ProsodyComponent string
}

// baseOSes are the operating systems build-base-image.sh builds, in its order.
var baseOSes = []baseOS{
	// Built from bionic's release pocket: the cloud-init 18.04 shipped.
	{Name: "ubuntu-18.04", CloudInit: "18.2", KernelFlavour: "-generic", ProsodyComponent: "universe"},
	{Name: "ubuntu-22.04", KernelFlavour: "-generic", ProsodyComponent: "universe"},
	{Name: "ubuntu-24.04", KernelFlavour: "-generic", ProsodyComponent: "universe"},
	{Name: "debian-11", CloudInit: "20.4.1", KernelFlavour: "-cloud-amd64", ProsodyComponent: "main"},
	{Name: "debian-12", CloudInit: "22.4.2", KernelFlavour: "-cloud-amd64", ProsodyComponent: "main"},
	{Name: "debian-13", CloudInit: "25.1", KernelFlavour: "-cloud-amd64", ProsodyComponent: "main"},
}

// selectedOSes are baseOSes, or those E2E_OS names (comma-separated).
func selectedOSes(t *testing.T) []baseOS {
	t.Helper()
	want := os.Getenv("E2E_OS")
	if want == "" {
		return baseOSes
	}
	var out []baseOS
	for _, name := range strings.Split(want, ",") {
		i := slices.IndexFunc(baseOSes, func(o baseOS) bool { return o.Name == strings.TrimSpace(name) })
		if i < 0 {
			names := make([]string, len(baseOSes))
			for j, o := range baseOSes {
				names[j] = o.Name
			}
			t.Fatalf("E2E_OS: %q is not a base image OS; use one of %s", name, strings.Join(names, ", "))
		}
		out = append(out, baseOSes[i])
	}
	return out
}

// baseImg is a built base image: its cache directory and the facts its build
// recorded in image.env.
type baseImg struct {
	Dir   string
	Facts map[string]string
}

// Disk is the image's qcow2.
func (b baseImg) Disk() string { return filepath.Join(b.Dir, "disk.qcow2") }

// baseImageOf builds (or takes from the cache) the base image of o. When
// Ubuntu's archive does not answer, it prints the script's "NOT RUN: …" line
// on a line of its own and skips the test: the OS was not tested, which is
// neither a pass nor a failure.
func baseImageOf(t *testing.T, o baseOS) baseImg {
	t.Helper()
	r := runCached(t, "build-base-image.sh", o.Name)
	if r.notRun != "" {
		fmt.Fprintln(os.Stderr, r.notRun)
		t.Skipf("%s: %s", o.Name, r.notRun)
	}
	facts, err := readImageFacts(filepath.Join(r.dir, "image.env"))
	if err != nil {
		t.Fatal(err)
	}
	return baseImg{Dir: r.dir, Facts: facts}
}

// readImageFacts reads image.env's key=value lines.
func readImageFacts(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read base image facts: %w", err)
	}
	defer f.Close()
	facts := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			return nil, fmt.Errorf("read base image facts: %s: line %q is not key=value", path, sc.Text())
		}
		facts[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read base image facts: %w", err)
	}
	for _, k := range []string{"id", "version_id", "suite", "default_user", "mirror", "components", "kernel", "cloud_init", "bootloader"} {
		if facts[k] == "" {
			return nil, fmt.Errorf("read base image facts: %s has no %s", path, k)
		}
	}
	return facts, nil
}
