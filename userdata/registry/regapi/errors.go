package regapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Error is the JSON error body of every failed request:
//
//	{"error": {"code": "conflict", "message": "claim: nickname already in use: …"}}
//
// The client turns it back into an *Error whose Unwrap gives the registry's
// sentinel error (ErrConflict, …), so errors.Is works on both sides.
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
	{ErrInvalid, http.StatusBadRequest, CodeInvalid},
	{ErrConflict, http.StatusConflict, "conflict"},
	{ErrSecretMismatch, http.StatusConflict, "secret_mismatch"},
	{ErrTransition, http.StatusConflict, "transition"},
	{ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrGroupFull, http.StatusConflict, "group_full"},
	{ErrClaimKey, http.StatusConflict, "claim_key_mismatch"},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{ErrClosed, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
}

// Codes of errors the API itself raises (not the registry).
const (
	CodeInvalid      = "invalid"
	CodeBadJSON      = "bad_json"
	CodeTooLarge     = "too_large"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNoRoute      = "no_route"
	CodeMethod       = "method_not_allowed"
	CodeInternal     = "internal"
)

// ErrorOf classifies err for the wire. Errors the registry does not name are
// reported as "internal" without their text, which may hold details of the
// server.
func ErrorOf(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return &Error{Status: m.status, Code: m.code, Message: err.Error()}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error (see the server's log)"}
}

// Errorf makes an API error with its HTTP status and code.
func Errorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}
