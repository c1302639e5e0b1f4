package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

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
	if err := regapi.CheckToken(operator); err != nil {
		return nil, fmt.Errorf("operator token: %w", err)
	}
	t := &tokens{operator: sha256.Sum256([]byte(operator))}
	if node != "" {
		if err := regapi.CheckToken(node); err != nil {
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
