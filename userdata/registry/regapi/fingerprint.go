package regapi

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Secret fingerprints.
//
// The registry never stores a secret. To notice that two nodes of one shard
// were given different secrets (a bridge with the wrong secret cannot log in to
// the JMS), it stores a fingerprint per shard, built so that it cannot give the
// secret away even when the secret is weak:
//
//   - it is SHORT: 16 bits. Every fingerprint value is shared by one secret in
//     65 536, so it cannot single out a secret; a dictionary search against it
//     only narrows the dictionary down by that factor. The price is that two
//     different secrets go unnoticed with probability 1/65 536 — fine for its
//     purpose, catching an operator's wrong secret file.
//   - it is SLOW and SALTED per shard: PBKDF2-HMAC-SHA256 with
//     fingerprintIterations rounds, salted with the shard's FQDN, so each guess
//     costs that many HMACs and precomputed tables are useless across shards.
//
// Format: "v1:" and four hex digits.

const (
	fingerprintVersion    = "v1:"
	fingerprintIterations = 100_000
	fingerprintBytes      = 2
	fingerprintSalt       = "packer-plugin-jitsi registry secret fingerprint v1\x00"
)

// Fingerprint returns the secret's fingerprint for the shard (the JMS FQDN).
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
