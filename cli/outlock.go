package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// dirLock is an exclusive flock on an output directory's .issue.lock: one
// issue run writes into a directory at a time, so a journal found there
// belongs to a run that is gone (issue_write.go). The kernel drops the lock
// when its process dies, however it dies.
type dirLock struct{ f *os.File }

// outputLockWait bounds the wait for another run's lock.
const outputLockWait = 2 * time.Minute

func lockOutputDir(ctx context.Context, env Env, dir string) (*dirLock, error) {
	path := filepath.Join(dir, ".issue.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock output directory: %w", err)
	}
	deadline := time.Now().Add(outputLockWait)
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &dirLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock output directory %s: %w", dir, err)
		}
		if !told {
			fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: another issue is writing into %s; waiting up to %s\n", dir, outputLockWait)
			told = true
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock output directory %s: another issue held it for %s", dir, outputLockWait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock output directory %s: %w", dir, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *dirLock) unlock() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
