package regapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Credentials that name who holds them.
//
// The operator token (a file the operator keeps) may do everything. A
// group token is minted when `issue --group` writes a group's user-data: it
// may claim one identity per instance into that group, up to the group's
// size. A node credential is minted for each node — at issue for an issued
// node (it travels in the node's user-data), at the claim for a group member
// (the claim answers with it, once) — and lets the node report its own state
// and nothing else.
//
// Credentials are random (256 bits) and the registry keeps only their
// SHA-256 (HashCredential): a reader of the database cannot use what it
// reads. The prefix says which kind a credential is, for people and logs;
// the registry decides by what it recorded, never by the prefix.
type CredentialKind string

const (
	// CredentialGroup is a group token.
	CredentialGroup CredentialKind = "jgroup_"
	// CredentialNode is a node's own credential.
	CredentialNode CredentialKind = "jnode_"
)

// NewCredential mints a credential of kind and returns it with its hash,
// which is what the registry records.
func NewCredential(kind CredentialKind) (credential, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	credential = string(kind) + base64.RawURLEncoding.EncodeToString(b[:])
	return credential, HashCredential(credential)
}

// HashCredential is the registry's record of a credential: hex SHA-256. A
// credential is 256 random bits, so a fast hash is as good as a slow one.
func HashCredential(credential string) string {
	sum := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(sum[:])
}

// ValidHash reports whether h looks like HashCredential's output.
func ValidHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
			return false
		}
	}
	return true
}

// KindOf tells which kind credential claims to be ("" when neither).
func KindOf(credential string) CredentialKind {
	for _, k := range []CredentialKind{CredentialGroup, CredentialNode} {
		if strings.HasPrefix(credential, string(k)) {
			return k
		}
	}
	return ""
}
