// Package credfile is the one rule for files that hold credentials — bearer
// tokens, node and group credentials, TLS private keys, secrets: only their
// owner may read them. A file that its group or others can open is refused,
// with the chmod that fixes it, as ssh does for private keys: a key or token
// that others could read must be taken as leaked, and refusing it is the only
// way an operator learns that before an attacker does.
package credfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxSize bounds what Read reads: a credential file holds a token or a key,
// not a data set.
const MaxSize = 1 << 20

// Check reports whether the file at path may hold a credential: a regular
// file (or a link to one) that neither its group nor others may access.
func Check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkInfo(path, fi)
}

func checkInfo(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is readable by others (mode %04o): it holds a credential; run chmod 600 %s", path, perm, path)
	}
	return nil
}

// Read checks the file (on the descriptor it reads, so a file swapped in
// between is not read) and returns its content.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkInfo(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: it should hold only a credential", path, MaxSize)
	}
	return data, nil
}
