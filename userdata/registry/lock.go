package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dirLock is an exclusive flock on <data dir>/lock. The kernel drops it when
// the holder exits, so a crashed CLI run never leaves the directory locked.
type dirLock struct{ f *os.File }

// lockDir takes the data directory's lock, polling until timeout. Parallel CLI
// runs on one data directory thus run one after another, each to completion.
func lockDir(ctx context.Context, dir string, timeout time.Duration, notice func(string)) (*dirLock, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for tries := 0; ; tries++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
		}
		if !time.Now().Before(deadline) {
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("%w: %s is locked by %s and was not released within %s; "+
				"wait for it to finish, or use another --data-dir (a running `registry serve` keeps it: use --registry URL instead)",
				regapi.ErrLocked, dir, holder, timeout)
		}
		if tries == 0 {
			notice(fmt.Sprintf("registry data directory %s is in use by %s; waiting up to %s for it", dir, readHolder(f), timeout))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock data directory %s: %w", dir, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	// Leave our PID for the error message of whoever waits next.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

func readHolder(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	if pid := strings.TrimSpace(string(buf[:n])); pid != "" {
		return "process " + pid
	}
	return "another process"
}

func (l *dirLock) unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
