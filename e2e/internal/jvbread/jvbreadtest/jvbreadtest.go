// Package jvbreadtest gives tests the jvb-config-reader TEST FIXTURE
// (package jvbread), built once per test binary.
package jvbreadtest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread"
)

var (
	once   sync.Once
	reader *jvbread.Reader
	err    error
)

// ForTest builds (or finds in the cache) the reader once per test binary. It
// skips t when java or mvn is missing unless JITSI_JVM_TIER=1, and fails it on
// any other build error.
func ForTest(t testing.TB) *jvbread.Reader {
	t.Helper()
	once.Do(func() {
		cache, cerr := jvbread.CacheDir()
		if cerr != nil {
			err = cerr
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), jvbread.BuildTimeout)
		defer cancel()
		reader, err = jvbread.Build(ctx, jvbread.FixtureDir(), cache)
	})
	if errors.Is(err, jvbread.ErrToolsMissing) && os.Getenv(jvbread.TierEnv) != "1" {
		t.Skipf("JVM tier skipped: %v (set %s=1 to make this a failure)", err, jvbread.TierEnv)
	}
	if err != nil {
		t.Fatalf("JVM tier: %v", err)
	}
	return reader
}
