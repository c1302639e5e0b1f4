package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecretKeyFileIsMadeOnceAndGuarded(t *testing.T) {
	r, dir := openTemp(t)
	path := filepath.Join(dir, secretKeyFileName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v %v, want mode 0600", path, fi, err)
	}
	first := r.secretKey
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openAt(t, dir)
	if r.secretKey.id != first.id {
		t.Error("a restart made a new key")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 20*time.Second)
	// Readable by others: refused, with the fix.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir); !errors.Is(err, regapi.ErrInvalid) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("group-readable key: %v", err)
	}
	// Another key than the registry's: refused, naming the way out.
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := Open(ctx, dir, WithSecretKeyFile(other)); !errors.Is(err, regapi.ErrInvalid) || !strings.Contains(err.Error(), "is not the registry's") {
		t.Errorf("another key: %v", err)
	}
	// A node joining a cluster is never given a key of its own.
	if _, err := Open(ctx, t.TempDir(), WithAddress("127.0.0.1:1"), WithJoin("127.0.0.1:2"),
		WithSecretKeyFile(filepath.Join(t.TempDir(), "missing.key"))); !errors.Is(err, regapi.ErrInvalid) || !strings.Contains(err.Error(), "joining a cluster needs the cluster's key") {
		t.Errorf("joining without the key: %v", err)
	}
}
