package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

// Error is the JSON error body of every failed request:
//
//	{"error": {"code": "conflict", "message": "claim: nickname already in use: …"}}
//
// The client turns it back into an *Error whose Unwrap gives the registry's
// sentinel error (registry.ErrConflict, …), so errors.Is works on both sides.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the registry sentinel error the code stands for, if any.
func (e *Error) Unwrap() error {
	for _, m := range errorCodes {
		if m.code == e.Code {
			return m.err
		}
	}
	return nil
}

// errorCodes maps registry errors to HTTP statuses and stable codes.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{registry.ErrInvalid, http.StatusBadRequest, codeInvalid},
	{registry.ErrConflict, http.StatusConflict, "conflict"},
	{registry.ErrSecretMismatch, http.StatusConflict, "secret_mismatch"},
	{registry.ErrTransition, http.StatusConflict, "transition"},
	{registry.ErrNotFound, http.StatusNotFound, "not_found"},
	{registry.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{registry.ErrClosed, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
}

// Codes of errors the API itself raises (not the registry).
const (
	codeInvalid      = "invalid"
	codeBadJSON      = "bad_json"
	codeTooLarge     = "too_large"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNoRoute      = "no_route"
	codeMethod       = "method_not_allowed"
	codeInternal     = "internal"
)

// toAPIError classifies err. Errors the registry does not name are reported
// as "internal" without their text, which may hold details of the server.
func toAPIError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return &Error{Status: m.status, Code: m.code, Message: err.Error()}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error (see the server's log)"}
}

func apiErrorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	switch e.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="jitsi-registry"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}
