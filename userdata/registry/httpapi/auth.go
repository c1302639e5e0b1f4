package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// operatorToken holds the SHA-256 of the operator token: requests are
// compared digest to digest in constant time, so neither the content nor
// the length of the token leaks through timing.
type operatorToken [sha256.Size]byte

func newOperatorToken(tok string) (operatorToken, error) {
	if err := regapi.CheckToken(tok); err != nil {
		return operatorToken{}, fmt.Errorf("operator token: %w", err)
	}
	return sha256.Sum256([]byte(tok)), nil
}

// caller is who sent a request: the operator, or the holder of a group
// token or node credential the registry issued.
type caller struct {
	operator bool
	p        regapi.Principal
}

func (c caller) group() bool { return !c.operator && c.p.Kind == regapi.CredentialGroup }
func (c caller) node() bool  { return !c.operator && c.p.Kind == regapi.CredentialNode }

func (c caller) actor() string {
	if c.operator {
		return regapi.ActorOperator
	}
	return c.p.Actor()
}

// errUnauthenticated: no token, or one nobody holds.
var errUnauthenticated = regapi.Errorf(http.StatusUnauthorized, regapi.CodeUnauthorized,
	"missing, wrong or revoked bearer token: send \"Authorization: Bearer TOKEN\" with the operator token, a group token or a node credential")

// authenticate finds who holds the request's bearer token. A token that is
// not the operator's is looked up by its hash; the token itself goes
// nowhere, not even into a log.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || regapi.CheckToken(tok) != nil || len(tok) > maxTokenLen {
		return caller{}, errUnauthenticated
	}
	d := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(d[:], s.op[:]) == 1 {
		return caller{operator: true}, nil
	}
	p, err := s.store.Authenticate(r.Context(), regapi.HashCredential(tok))
	switch {
	case errors.Is(err, regapi.ErrNotFound):
		return caller{}, errUnauthenticated
	case err != nil:
		return caller{}, fmt.Errorf("authenticate: %w", err)
	}
	return caller{p: p}, nil
}

// maxTokenLen bounds the bearer tokens looked up.
const maxTokenLen = 512

// allowed is who, beyond the operator, may call a route.
type allowed int

const (
	allowOperator allowed = iota // the operator only
	allowGroup                   // and group tokens (claims)
	allowNode                    // and node credentials (their own state)
	allowPublic                  // anyone, no token
)

// check refuses a caller the route does not allow, saying what its
// credential may do instead.
func (a allowed) check(who caller, r *http.Request) *regapi.Error {
	switch {
	case who.operator, a == allowGroup && who.group(), a == allowNode && who.node():
		return nil
	case who.group():
		return regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden,
			"a group token may only claim an identity in its group (POST /v1/claims): %s %s needs the operator token", r.Method, r.URL.Path)
	default:
		return regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden,
			"a node credential may only report its own node's state (POST /v1/state): %s %s needs the operator token", r.Method, r.URL.Path)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
