// Package httpapi is the registry's HTTP API, served by `registry serve` for
// machines that boot (claim an identity, report their state) and for
// operators (list nodes, record images), over any regapi.Store (the dqlite
// registry). Its client, and the request and answer bodies, are package
// regapi's (no cgo: the node agent links them).
//
// Endpoints (JSON in and out; errors are {"error": {"code", "message"}}):
//
//	POST /v1/claims   node or operator  one claim object → the node, or {"claims": […]} → {"nodes": […]} (operator)
//	POST /v1/state    node or operator  {"id": 7, "state": "active"} or {"shard", "nickname", "state"}, each with an
//	                                    optional "reason" (e.g. why it failed: one line, ≤ regapi.MaxReasonBytes) → the node
//	GET  /v1/nodes    operator          ?shard=&state=&role=&after_id=&limit= → {"nodes": […], "next_after_id": N}
//	POST /v1/images   operator          an image → the image
//	GET  /v1/images   operator          → {"images": […]}
//	GET  /v1/health   anyone            200 {"status": "ready", "leader": …} when the node can serve; 503 with
//	                                    "starting", "no_quorum" (no leader known) or "stopping" otherwise
//	GET  /v1/leader   anyone            200 on the Raft leader only, 503 elsewhere (and at once without a leader):
//	                                    the load balancer's check, so that all claims enter through one node
//	                                    and share its group commit
//
// Health checks answer within HealthTimeout (1.5 s), from the node's own
// Raft state: a node that knows no leader says so at once instead of
// hanging. Every other request is bounded by Config.RequestTimeout: a claim
// the cluster cannot commit in time (no quorum) is answered 503
// "unavailable", and may be retried with the same claim id, here or on
// another node. While a node starts or stops, Gate answers everything with
// 503 (code "starting").
//
// Authentication: "Authorization: Bearer TOKEN". The node token may only
// claim (one identity per request, no secret change) and report states; the
// operator token may do everything. Tokens come from files and are compared
// in constant time. Request bodies are bounded (Config.MaxBodyBytes).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Config configures a Server.
type Config struct {
	// OperatorToken may use every endpoint (required).
	OperatorToken string
	// NodeToken may claim identities and report states (optional).
	NodeToken string
	// MaxBodyBytes bounds request bodies; default 1 MiB (a 1000-claim batch fits).
	MaxBodyBytes int64
	// Health reports the node's readiness for /v1/health and /v1/leader;
	// it must answer within its context's deadline. Default: always ready
	// and leader (a registry of one node).
	Health func(ctx context.Context) regapi.Health
	// RequestTimeout bounds every other request; past it the request is
	// answered 503 "unavailable". Default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logf receives internal errors, whose text is not sent to clients. Default: discarded.
	Logf func(format string, a ...any)
}

// DefaultMaxBodyBytes is Config.MaxBodyBytes' default.
const DefaultMaxBodyBytes = 1 << 20

// DefaultRequestTimeout is Config.RequestTimeout's default: a leader
// election takes about a second; a cluster without quorum gets no better by
// waiting longer, and clients with other nodes to try move on.
const DefaultRequestTimeout = 10 * time.Second

// Server is the API as an http.Handler.
type Server struct {
	store  regapi.Store
	tok    *tokens
	cfg    Config
	routes map[string][]route
}

type route struct {
	method string
	scope  scope
	handle func(w http.ResponseWriter, r *http.Request, sc scope) (any, error)
}

// New returns the API over store.
func New(store regapi.Store, cfg Config) (*Server, error) {
	tok, err := newTokens(cfg.NodeToken, cfg.OperatorToken)
	if err != nil {
		return nil, fmt.Errorf("start API: %w", err)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{store: store, tok: tok, cfg: cfg}
	s.routes = map[string][]route{
		"/v1/claims": {{http.MethodPost, scopeNode, s.claim}},
		"/v1/state":  {{http.MethodPost, scopeNode, s.setState}},
		"/v1/nodes":  {{http.MethodGet, scopeOperator, s.nodes}},
		"/v1/images": {{http.MethodPost, scopeOperator, s.recordImage}, {http.MethodGet, scopeOperator, s.images}},
	}
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveHealth(w, r) {
		return
	}
	routes, ok := s.routes[r.URL.Path]
	if !ok {
		writeError(w, regapi.Errorf(http.StatusNotFound, regapi.CodeNoRoute, "no endpoint %s (see the package documentation of userdata/registry/httpapi)", r.URL.Path))
		return
	}
	var rt *route
	var allow []string
	for i := range routes {
		allow = append(allow, routes[i].method)
		if routes[i].method == r.Method {
			rt = &routes[i]
		}
	}
	if rt == nil {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, regapi.Errorf(http.StatusMethodNotAllowed, regapi.CodeMethod, "%s %s is not allowed: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	sc := s.tok.scopeOf(r)
	switch {
	case rt.scope == scopeNone:
	case sc == scopeNone:
		writeError(w, regapi.Errorf(http.StatusUnauthorized, regapi.CodeUnauthorized, "missing or wrong bearer token: send \"Authorization: Bearer TOKEN\" with the node or operator token"))
		return
	case sc < rt.scope:
		writeError(w, regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden, "the node token may only claim identities and report states: %s %s needs the operator token", r.Method, r.URL.Path))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	out, err := rt.handle(w, r.WithContext(ctx), sc)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, regapi.ErrUnavailable) {
			err = fmt.Errorf("%w: the registry did not answer within %s (is a majority of its nodes up and reachable?): %w",
				regapi.ErrUnavailable, s.cfg.RequestTimeout, err)
		}
		e := regapi.ErrorOf(err)
		if e.Code == regapi.CodeInternal {
			s.cfg.Logf("registry API: %s %s: %v", r.Method, r.URL.Path, err)
		}
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request, sc scope) (any, error) {
	var body regapi.ClaimsBody
	if err := s.decode(w, r, &body); err != nil {
		return nil, err
	}
	if body.Claims == nil {
		if sc == scopeNode && body.NewSecret {
			return nil, regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden, "new_secret: changing a shard's secret needs the operator token")
		}
		nodes, err := s.store.Claim(r.Context(), body.ClaimRequest)
		if err != nil {
			return nil, err
		}
		return nodes[0], nil
	}
	if body.ClaimRequest != (regapi.ClaimRequest{}) {
		return nil, regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body: give either one claim's fields or \"claims\", not both")
	}
	if sc == scopeNode {
		return nil, regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden, "claims: a node claims one identity per request; batches need the operator token")
	}
	nodes, err := s.store.Claim(r.Context(), body.Claims...)
	if err != nil {
		return nil, err
	}
	return regapi.NodesPage{Nodes: nodes}, nil
}

func (s *Server) setState(w http.ResponseWriter, r *http.Request, _ scope) (any, error) {
	var body regapi.StateBody
	if err := s.decode(w, r, &body); err != nil {
		return nil, err
	}
	return s.store.SetState(r.Context(), body.NodeRef, body.State, body.Reason)
}

func (s *Server) nodes(_ http.ResponseWriter, r *http.Request, _ scope) (any, error) {
	q := r.URL.Query()
	f := regapi.Filter{Shard: q.Get("shard"), State: regapi.State(q.Get("state")), Role: q.Get("role"), Limit: regapi.MaxPageSize}
	for k := range q {
		switch k {
		case "shard", "state", "role", "after_id", "limit":
		default:
			return nil, regapi.Errorf(http.StatusBadRequest, regapi.CodeInvalid, "query: unknown parameter %q (use shard, state, role, after_id, limit)", k)
		}
	}
	for name, dst := range map[string]*int64{"after_id": &f.AfterID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, regapi.Errorf(http.StatusBadRequest, regapi.CodeInvalid, "query: %s=%q is not a non-negative integer", name, v)
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > regapi.MaxPageSize {
			return nil, regapi.Errorf(http.StatusBadRequest, regapi.CodeInvalid, "query: limit=%q: want 1 to %d", v, regapi.MaxPageSize)
		}
		f.Limit = n
	}
	nodes, err := s.store.Nodes(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := regapi.NodesPage{Nodes: nodes}
	if out.Nodes == nil {
		out.Nodes = []regapi.Node{}
	}
	if len(nodes) == f.Limit {
		out.NextAfterID = nodes[len(nodes)-1].ID
	}
	return out, nil
}

func (s *Server) recordImage(w http.ResponseWriter, r *http.Request, _ scope) (any, error) {
	var img regapi.Image
	if err := s.decode(w, r, &img); err != nil {
		return nil, err
	}
	return s.store.RecordImage(r.Context(), img)
}

func (s *Server) images(_ http.ResponseWriter, r *http.Request, _ scope) (any, error) {
	imgs, err := s.store.Images(r.Context())
	if imgs == nil {
		imgs = []regapi.Image{}
	}
	return regapi.ImagesBody{Images: imgs}, err
}

// decode reads one JSON value from a bounded body, refusing unknown fields
// and trailing data, with messages that say what is wrong where.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value: send exactly one object")
	}
	if err == nil {
		return nil
	}
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return regapi.Errorf(http.StatusRequestEntityTooLarge, regapi.CodeTooLarge, "request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body: invalid JSON: it ends in the middle of a value (truncated?)")
	case errors.As(err, &syntax):
		return regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body: invalid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		return regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body: field %q: want %s, got JSON %s", jsonPath(typ.Field), typ.Type, typ.Value)
	}
	return regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body: %v", err)
}

// jsonPath drops the Go names of embedded structs from a decoder's field path
// ("NodeRef.id" → "id"): clients know the JSON names only.
func jsonPath(field string) string {
	var keep []string
	for _, p := range strings.Split(field, ".") {
		if p != "" && (p[0] < 'A' || p[0] > 'Z') {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ".")
}
