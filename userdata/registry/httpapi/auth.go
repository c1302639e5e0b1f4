package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// MinTokenLen is the shortest bearer token accepted (e.g. `openssl rand -hex 32`
// makes 64 characters).
const MinTokenLen = node.MinTokenLen

// LoadToken reads a bearer token from a file: surrounding white space (the
// trailing newline) is dropped. The file must not be readable by group or
// others, as for ssh keys.
func LoadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("read token: %s is readable by others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("read token %s: %w", path, err)
	}
	return tok, nil
}

func checkToken(tok string) error {
	if len(tok) < MinTokenLen {
		return fmt.Errorf("the token is %d characters long: use at least %d (e.g. openssl rand -hex 32)", len(tok), MinTokenLen)
	}
	for _, c := range tok {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("the token has a space, control or non-ASCII character: use printable ASCII")
		}
	}
	return nil
}

// scope is what a token may do.
type scope int

const (
	scopeNone     scope = iota
	scopeNode           // claim an identity, report state
	scopeOperator       // everything
)

// tokens holds the SHA-256 of each token: requests are compared digest to
// digest in constant time, so neither the content nor the length of a token
// leaks through timing.
type tokens struct {
	node, operator [sha256.Size]byte
	hasNode        bool
}

func newTokens(node, operator string) (*tokens, error) {
	if err := checkToken(operator); err != nil {
		return nil, fmt.Errorf("operator token: %w", err)
	}
	t := &tokens{operator: sha256.Sum256([]byte(operator))}
	if node != "" {
		if err := checkToken(node); err != nil {
			return nil, fmt.Errorf("node token: %w", err)
		}
		if node == operator {
			return nil, fmt.Errorf("node token: it equals the operator token: give nodes a token of their own")
		}
		t.node, t.hasNode = sha256.Sum256([]byte(node)), true
	}
	return t, nil
}

// scopeOf returns what the request's bearer token allows.
func (t *tokens) scopeOf(r *http.Request) scope {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return scopeNone
	}
	d := sha256.Sum256([]byte(tok))
	isOp := subtle.ConstantTimeCompare(d[:], t.operator[:])
	isNode := subtle.ConstantTimeCompare(d[:], t.node[:])
	switch {
	case isOp == 1:
		return scopeOperator
	case isNode == 1 && t.hasNode:
		return scopeNode
	}
	return scopeNone
}
