package system

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// File is a file as it should be: content, owner ("user:group") and mode.
type File struct {
	Path    string
	Owner   string
	Mode    fs.FileMode
	Content []byte
}

// FS is the file system under Root ("/" on a node; a test's directory).
// Paths given to it are absolute node paths (/etc/jitsi/…).
type FS struct {
	Root string
	// NoChown skips ownership (for runs without root). Owners are still
	// resolved, so a missing user is an error either way.
	NoChown bool
}

// NewFS returns the file system under root; ownership is set when the
// process runs as root.
func NewFS(root string) FS {
	if root == "" {
		root = "/"
	}
	return FS{Root: root, NoChown: os.Geteuid() != 0}
}

// Path is p under the root.
func (f FS) Path(p string) string { return filepath.Join(f.Root, p) }

// ReadFile reads p.
func (f FS) ReadFile(p string) ([]byte, error) { return os.ReadFile(f.Path(p)) }

// Exists reports whether p exists (a broken link counts).
// Size is the size of the file at p, 0 when it does not exist.
func (f FS) Size(p string) int64 {
	fi, err := os.Stat(f.Path(p))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Tail is what the file at p holds from offset on (its last 1 MiB at
// most), "" when it does not exist. A file that shrank (rotated) is read
// from its start.
func (f FS) Tail(p string, offset int64) string {
	file, err := os.Open(f.Path(p))
	if err != nil {
		return ""
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return ""
	}
	if offset > fi.Size() {
		offset = 0
	}
	const most = 1 << 20
	if fi.Size()-offset > most {
		offset = fi.Size() - most
	}
	b := make([]byte, fi.Size()-offset)
	n, _ := file.ReadAt(b, offset)
	return string(b[:n])
}

func (f FS) Exists(p string) bool {
	_, err := os.Lstat(f.Path(p))
	return err == nil
}

// Remove removes p and what it holds; a missing p is fine.
func (f FS) Remove(p string) error {
	if err := os.RemoveAll(f.Path(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// Diff says how the file on disk differs from want ("" when it does not).
// It never shows content: files hold secrets.
type Diff struct {
	Missing bool
	Content bool
	// Mode and Owner are "old → new" when they differ.
	Mode, Owner string
}

// Changed reports whether anything differs.
func (d Diff) Changed() bool { return d.Missing || d.Content || d.Mode != "" || d.Owner != "" }

func (d Diff) String() string {
	var parts []string
	if d.Missing {
		return "missing"
	}
	if d.Content {
		parts = append(parts, "content")
	}
	if d.Mode != "" {
		parts = append(parts, "mode "+d.Mode)
	}
	if d.Owner != "" {
		parts = append(parts, "owner "+d.Owner)
	}
	return strings.Join(parts, ", ")
}

// Compare tells how the file on disk differs from want.
func (f FS) Compare(want File) (Diff, error) {
	p := f.Path(want.Path)
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Diff{Missing: true}, nil
	}
	if err != nil {
		return Diff{}, fmt.Errorf("inspect %s: %w", want.Path, err)
	}
	var d Diff
	if !st.Mode().IsRegular() {
		d.Content = true
	} else if have, err := os.ReadFile(p); err != nil {
		return Diff{}, fmt.Errorf("inspect %s: %w", want.Path, err)
	} else if !bytes.Equal(have, want.Content) {
		d.Content = true
	}
	if st.Mode().Perm() != want.Mode.Perm() {
		d.Mode = fmt.Sprintf("%04o → %04o", st.Mode().Perm(), want.Mode.Perm())
	}
	if want.Owner != "" && !f.NoChown {
		uid, gid, err := f.LookupOwner(want.Owner)
		if err != nil {
			return Diff{}, err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && (int(sys.Uid) != uid || int(sys.Gid) != gid) {
			d.Owner = fmt.Sprintf("%d:%d → %s", sys.Uid, sys.Gid, want.Owner)
		}
	}
	return d, nil
}

// Write makes the file on disk be want, atomically: a temporary file in the
// same directory, created private, given its owner and mode, synced, then
// renamed over the old one. It writes nothing when nothing differs, and
// returns what differed.
func (f FS) Write(want File) (Diff, error) {
	d, err := f.Compare(want)
	if err != nil || !d.Changed() {
		return d, err
	}
	if err := f.write(want); err != nil {
		return Diff{}, err
	}
	return d, nil
}

func (f FS) write(want File) (err error) {
	p := f.Path(want.Path)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes a 0600 file: no wider window before Chmod.
	if want.Owner != "" && !f.NoChown {
		uid, gid, err := f.LookupOwner(want.Owner)
		if err != nil {
			return err
		}
		if err := tmp.Chown(uid, gid); err != nil {
			return fmt.Errorf("write %s: %w", want.Path, err)
		}
	}
	if err := tmp.Chmod(want.Mode.Perm()); err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	if _, err := tmp.Write(want.Content); err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Stat returns the owner and mode of p, to rewrite it as it was.
func (f FS) Stat(p string) (owner string, mode fs.FileMode, err error) {
	st, err := os.Stat(f.Path(p))
	if err != nil {
		return "", 0, err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf("%d:%d", sys.Uid, sys.Gid)
	}
	return owner, st.Mode().Perm(), nil
}

// Link makes link a symbolic link to target (replacing what is there).
func (f FS) Link(target, link string) (bool, error) {
	p := f.Path(link)
	if have, err := os.Readlink(p); err == nil && have == target {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		return false, fmt.Errorf("link %s: %w", link, err)
	}
	return true, nil
}

// LookupOwner resolves "user:group" (names or numbers) through the
// passwd and group files under the root, as the node's own tools would.
func (f FS) LookupOwner(owner string) (uid, gid int, err error) {
	user, group, ok := strings.Cut(owner, ":")
	if !ok {
		return 0, 0, fmt.Errorf("owner %q: want user:group", owner)
	}
	if uid, err = f.lookupID("/etc/passwd", user); err != nil {
		return 0, 0, err
	}
	if gid, err = f.lookupID("/etc/group", group); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// lookupID finds name's id (the third field) in a passwd-style file.
func (f FS) lookupID(file, name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	if name == "root" {
		return 0, nil
	}
	data, err := f.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("look up %s: %w", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			if id, err := strconv.Atoi(fields[2]); err == nil {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("look up %s: no such name in %s (is the package that creates it installed?)", name, file)
}
