package regapi

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Secret checks.
//
// The registry never stores a secret, nor anything that lets a reader of its
// database test guesses of one. To notice that two nodes of one shard were
// given different secrets (a bridge with the wrong secret cannot log in to
// the JMS), the client sends a PROOF of the secret with each claim — a slow,
// salted hash of it (Fingerprint) — and the registry stores only a keyed
// HMAC of that proof, with a key kept outside the database (see
// userdata/registry's secretcheck.go). The database alone is worth nothing
// to a guesser: without the key no guess can be checked. The proof crosses
// the API only inside its TLS, is never logged or stored, and costs
// fingerprintIterations HMACs per guess should it leak.
//
// Format: "v2:" and 64 hex digits. (v1, a 16-bit fingerprint stored as is,
// let a database reader narrow a weak secret down offline: it is refused,
// and registries drop the v1 values they kept.)

const (
	fingerprintVersion    = "v2:"
	fingerprintIterations = 100_000
	fingerprintBytes      = 32
	fingerprintSalt       = "packer-plugin-jitsi registry secret proof v2\x00"
)

// Fingerprint returns the proof of the secret for the shard (the JMS FQDN).
// It takes a noticeable fraction of a second on purpose; compute it once per
// shard and secret.
func Fingerprint(shard, secret string) string {
	key, err := pbkdf2.Key(sha256.New, secret, []byte(fingerprintSalt+shard), fingerprintIterations, fingerprintBytes)
	if err != nil {
		// Only a bad key length fails, and ours is a constant.
		panic(fmt.Sprintf("fingerprint secret: %v", err))
	}
	return fingerprintVersion + hex.EncodeToString(key)
}

// ValidFingerprint reports whether fp looks like Fingerprint's output.
func ValidFingerprint(fp string) bool {
	h, ok := strings.CutPrefix(fp, fingerprintVersion)
	if !ok || len(h) != 2*fingerprintBytes {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}
