// Package jvbread builds and runs the jvb-config-reader TEST FIXTURE
// (e2e/fixture/jvb-config-reader): a JVM program that reads a videobridge's
// configuration files through Jitsi's own libraries from Maven Central
// (jicoco-config, jitsi-metaconfig, jicoco-mucclient, ice4j) and reports what
// the bridge would read. Build compiles it once per change of its sources and
// caches the result outside the clone; Read runs it on a map of files.
package jvbread

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// ErrToolsMissing is returned by Build when java or mvn is not installed.
var ErrToolsMissing = errors.New("java and mvn are needed to build the jvb-config-reader fixture: install Debian's default-jdk-headless and maven (`make deps` does)")

// Reader runs a built jvb-config-reader.
type Reader struct {
	java      string
	classpath string
	archive   string // class data sharing archive, "" for none
	// Dir is the cache directory holding the jar and its lib/.
	Dir string
}

// FixtureDir is the fixture's source directory in this checkout.
func FixtureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "fixture", "jvb-config-reader")
}

// CacheDir is ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/jvm: Maven's
// local repository (m2/) and the built readers (reader-<hash>/).
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %w", err)
	}
	return filepath.Join(base, "packer-plugin-jitsi", "jvm"), nil
}

// Build returns a Reader for the fixture sources in src, built with Maven into
// cache unless a build of the same sources is there already. Concurrent
// callers (other test processes) wait for one build. Maven's downloads stay in
// cache/m2, from Maven Central only (the fixture's settings.xml).
func Build(ctx context.Context, src, cache string) (*Reader, error) {
	java, errJava := exec.LookPath("java")
	mvn, errMvn := exec.LookPath("mvn")
	if errJava != nil || errMvn != nil {
		return nil, ErrToolsMissing
	}
	files, sum, err := sourceFiles(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("create cache %s: %w", cache, err)
	}
	unlock, err := lock(filepath.Join(cache, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	dir := filepath.Join(cache, "reader-"+sum[:16])
	r := &Reader{java: java, Dir: dir,
		classpath: filepath.Join(dir, "jvb-config-reader.jar") + string(os.PathListSeparator) + filepath.Join(dir, "lib", "*")}
	if _, err := os.Stat(filepath.Join(dir, "jvb-config-reader.jar")); err != nil {
		if err := build(ctx, mvn, src, files, cache, dir); err != nil {
			return nil, err
		}
		prune(cache, filepath.Base(dir))
	}
	archive := filepath.Join(dir, archiveName)
	if _, err := os.Stat(archive); err != nil {
		if err := r.makeArchive(ctx); err != nil {
			return nil, err
		}
	}
	r.archive = archive
	return r, nil
}

// build compiles a copy of the sources in a scratch directory of the cache
// (the clone stays free of target/) and moves the jar and lib/ into dir.
func build(ctx context.Context, mvn, src string, files []string, cache, dir string) error {
	work, err := os.MkdirTemp(cache, "build-")
	if err != nil {
		return fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(work)
	for _, f := range files {
		if err := copyFile(filepath.Join(src, f), filepath.Join(work, f)); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, mvn, "-B", "-q", "-s", "settings.xml",
		"-Dmaven.repo.local="+filepath.Join(cache, "m2"), "package")
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build jvb-config-reader with Maven (%v):\n%s", err, tail(out.String(), 40))
	}
	staged := dir + ".tmp"
	os.RemoveAll(staged)
	if err := os.MkdirAll(staged, 0o755); err != nil {
		return fmt.Errorf("stage the reader: %w", err)
	}
	for _, name := range []string{"jvb-config-reader.jar", "lib"} {
		if err := os.Rename(filepath.Join(work, "target", name), filepath.Join(staged, name)); err != nil {
			return fmt.Errorf("stage the reader: %w", err)
		}
	}
	if err := os.Rename(staged, dir); err != nil {
		return fmt.Errorf("install the reader in %s: %w", dir, err)
	}
	return nil
}

// sourceFiles lists the fixture's build inputs (relative, sorted) and hashes
// their names and contents.
func sourceFiles(src string) ([]string, string, error) {
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if rel == "target" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "pom.xml" || rel == "settings.xml" || strings.HasPrefix(rel, "src"+string(filepath.Separator)) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list the fixture sources in %s: %w", src, err)
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("list the fixture sources: none in %s", src)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, "", fmt.Errorf("hash the fixture sources: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(f), len(data))
		h.Write(data)
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy fixture source: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("copy fixture source: %w", err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		return fmt.Errorf("copy fixture source: %w", err)
	}
	return nil
}

// lock takes an exclusive flock on path; the returned func releases it.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// prune removes readers built from other sources (older versions).
func prune(cache, keep string) {
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "reader-") && e.Name() != keep {
			os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
