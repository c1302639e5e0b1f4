package jvbread

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// TierEnv set to 1 makes a missing java or mvn a test failure instead of a
// skip (`make test` sets it, so CI cannot pass without the JVM tier).
const TierEnv = "JITSI_JVM_TIER"

// BuildTimeout bounds a cold build (Maven downloads included).
const BuildTimeout = 10 * time.Minute

var (
	once      sync.Once
	forTest   *Reader
	forTestEr error
)

// ForTest builds (or finds in the cache) the reader once per test binary. It
// skips t when java or mvn is missing unless JITSI_JVM_TIER=1, and fails it on
// any other build error.
func ForTest(t testing.TB) *Reader {
	t.Helper()
	once.Do(func() {
		cache, err := CacheDir()
		if err != nil {
			forTestEr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
		defer cancel()
		forTest, forTestEr = Build(ctx, FixtureDir(), cache)
	})
	if errors.Is(forTestEr, ErrToolsMissing) && os.Getenv(TierEnv) != "1" {
		t.Skipf("JVM tier skipped: %v (set %s=1 to make this a failure)", forTestEr, TierEnv)
	}
	if forTestEr != nil {
		t.Fatalf("JVM tier: %v", forTestEr)
	}
	return forTest
}
