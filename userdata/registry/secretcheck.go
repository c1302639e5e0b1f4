package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/credfile"

	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secret checks (see regapi's fingerprint.go). A claim brings a proof of its
// secret; the registry stores, per shard, the HMAC-SHA256 of the shard and
// the proof under a 256-bit key that lives in a file OUTSIDE the database
// (mode 0600): a copy of the database — a backup, a stolen disk, a reader
// of the Raft traffic — lets nobody test a guess of the secret, because
// every guess needs the key. The nodes of a cluster share the key (copy
// the first node's file to the others, or point --secret-key-file at one
// copy on each); the database records the key's id (an HMAC of a constant,
// which tells nothing of the key) so that a node with another key refuses
// to start instead of calling every secret different.

// secretKeyFileName is the key's default file in the data directory.
const secretKeyFileName = "secret-check.key"

// WithSecretKeyFile sets the file holding the key of the secret checks (64
// hex digits, mode 0600). Default: secret-check.key in the data directory,
// made on first Open — except on a node joining a cluster (WithJoin), which
// must be given the cluster's key.
func WithSecretKeyFile(path string) Option { return func(o *options) { o.secretKeyFile = path } }

// secretKey is the key of the secret checks and its id.
type secretKey struct {
	key []byte
	id  string
}

const secretKeyIDLabel = "packer-plugin-jitsi secret-check key id"

// loadSecretKey reads the key at path, making it first when create and
// there is none.
func loadSecretKey(path string, create bool) (secretKey, error) {
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !create:
		return secretKey{}, fmt.Errorf("%w: secret-check key %s: no such file: a node joining a cluster needs the cluster's key: copy %s from a node of the cluster (mode 0600), or give its path with --secret-key-file",
			regapi.ErrInvalid, path, secretKeyFileName)
	case errors.Is(err, os.ErrNotExist):
		return newSecretKey(path)
	case err != nil:
		return secretKey{}, fmt.Errorf("read secret-check key: %w", err)
	}
	data, err := credfile.Read(path)
	if err != nil {
		return secretKey{}, fmt.Errorf("%w: secret-check key: %w", regapi.ErrInvalid, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != sha256.Size {
		return secretKey{}, fmt.Errorf("%w: secret-check key %s does not hold 64 hex digits", regapi.ErrInvalid, path)
	}
	return withID(key), nil
}

func newSecretKey(path string) (secretKey, error) {
	key := make([]byte, sha256.Size)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return secretKey{}, fmt.Errorf("make secret-check key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return secretKey{}, fmt.Errorf("make secret-check key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return secretKey{}, fmt.Errorf("make secret-check key: %w", err)
	}
	return withID(key), nil
}

func withID(key []byte) secretKey {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secretKeyIDLabel))
	return secretKey{key: key, id: hex.EncodeToString(m.Sum(nil))[:16]}
}

// check is what the registry stores for a shard's secret: the keyed HMAC
// of the shard and the client's proof.
func (k secretKey) check(shard, proof string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(shard + "\x00" + proof))
	return "h1:" + hex.EncodeToString(m.Sum(nil))
}

// checkSecretKeyID records this node's key id in a new (or migrated)
// registry, and refuses a key other than the one recorded.
func (r *Registry) checkSecretKeyID(ctx context.Context) error {
	return r.write(ctx, func(ctx context.Context, c *tx) error {
		var id string
		err := c.scanRow(ctx, qSecretKeyID, nil, &id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := c.ExecContext(ctx, qSetSecretKeyID, r.secretKey.id); err != nil {
				return fmt.Errorf("record secret-check key id: %w", err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read secret-check key id: %w", err)
		case id != r.secretKey.id:
			return fmt.Errorf("%w: this node's secret-check key (%s, id %s) is not the registry's (id %s): copy the key file of a node of the cluster there (mode 0600), or give its path with --secret-key-file",
				regapi.ErrInvalid, r.secretKeyPath, r.secretKey.id, id)
		}
		return nil
	})
}
