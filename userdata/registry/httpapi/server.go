// Package httpapi is the registry's HTTP API, served by `registry serve` for
// machines that boot (claim an identity, report their state) and for
// operators (issue, list, groups, images), over the dqlite registry (Store).
// Its client, and the request and answer bodies, are package regapi's (no
// cgo: the node agent links them).
//
// Endpoints (JSON in and out; errors are {"error": {"code", "message"}}):
//
//	POST /v1/claims         operator  one claim object → the node, or {"claims": […]} → {"nodes": […]}
//	                        group     {"instance_id", "claim_key", "image_id"?} → {"node", "credential"}
//	                                  (regapi.GroupClaim → regapi.ClaimResult: an identity in the token's
//	                                  group; the node's own credential, returned this once)
//	POST /v1/state          operator  {"id": 7, "state": "active"} or {"shard", "nickname", "state"}, each with an
//	                                  optional "reason" (one line, ≤ regapi.MaxReasonBytes) → the node
//	                        node      {"state", "reason"?, "image_id"?} (regapi.Report): its own state only,
//	                                  and the image it booted (its stamp's build id) → the node
//	POST /v1/confirm        operator  {"ids": […]}: pending nodes' user-data is on disk → {"nodes": […]}
//	GET  /v1/nodes          operator  ?shard=&state=&role=&group=&image=&sort=&after=&limit= → {"nodes": […], "next": CURSOR}
//	POST /v1/groups         operator  regapi.GroupRequest (create or update, optionally a new token's hash) → the group
//	GET  /v1/groups         operator  → {"groups": […]}
//	POST /v1/groups/retire  operator  {"name"} → the group (its tokens revoked)
//	POST /v1/groups/revoke  operator  {"name", "keep_newest"?} → {"revoked": N}
//	POST /v1/images         operator  an image → the image
//	GET  /v1/images         operator  → {"images": […]}
//	GET  /v1/health         anyone    200 {"status": "ready", "leader": …} when the node can serve; 503 with
//	                                  "starting", "no_quorum" (no leader known) or "stopping" otherwise
//	GET  /v1/leader         anyone    200 on the Raft leader only, 503 elsewhere (and at once without a leader):
//	                                  the load balancer's check, so that all claims enter through one node
//	                                  and share its group commit
//	GET  /                  operator  the fleet page (HTML; fleetpage.go): a sign-in session cookie, or the
//	                                  operator token as a bearer token; GET/POST /login is its sign-in form
//	GET  /metrics           operator  Prometheus text exposition (metrics.go); the metrics token may read it too
//
// Health checks answer within HealthTimeout (1.5 s), from the node's own
// Raft state: a node that knows no leader says so at once instead of
// hanging. Every other request is bounded by Config.RequestTimeout: a claim
// the cluster cannot commit in time (no quorum) is answered 503
// "unavailable", and may be retried with the same claim id, here or on
// another node. While a node starts or stops, Gate answers everything with
// 503 (code "starting").
//
// Authentication: "Authorization: Bearer TOKEN", and each credential names
// who holds it (regapi's credential.go). The operator token (a file the
// server reads; compared in constant time) may do everything. A group token
// may only claim an identity in its group: the shard, role and nickname come
// from the group's record, and a body naming any of them is refused (403). A
// node credential may only report its own state (403 for anything else,
// another node included). The registry keeps only the SHA-256 of group
// tokens and node credentials, and every change it records names its actor.
// Request bodies are bounded (Config.MaxBodyBytes).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Store is what the API serves: the operator's verbs, and the two the
// registry alone implements for the credentials it issued.
type Store interface {
	regapi.Store
	// Authenticate returns who holds the credential with this hash;
	// regapi.ErrNotFound when nobody does (unknown, revoked, retired).
	Authenticate(ctx context.Context, hash string) (regapi.Principal, error)
	// ClaimInGroup claims an identity for a member of the group, recording
	// credentialHash as the node's own credential.
	ClaimInGroup(ctx context.Context, groupID int64, gc regapi.GroupClaim, credentialHash string) (regapi.Node, error)
	// ReportState is SetState that also records the image the node says
	// it booted (when imageID is not empty).
	ReportState(ctx context.Context, ref regapi.NodeRef, to regapi.State, reason, imageID string) (regapi.Node, error)
	// Fleet, Attention and LiveNodes read the fleet for the fleet page
	// and /metrics (fleet.go of the registry).
	Fleet(ctx context.Context) (regapi.Fleet, error)
	Attention(ctx context.Context, q regapi.AttentionQuery) ([]regapi.Node, error)
	LiveNodes(ctx context.Context, shard, role string) ([]regapi.Node, error)
}

// Config configures a Server.
type Config struct {
	// OperatorToken may use every endpoint (required).
	OperatorToken string
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
	// MetricsToken, when set, may read /metrics (and nothing else).
	MetricsToken string
	// Raft reports the node's place in its cluster for /metrics; nil: not
	// shown.
	Raft func(ctx context.Context) (RaftStatus, error)
	// Now is the fleet page's clock (ages, sessions). Default time.Now.
	Now func() time.Time
}

// DefaultMaxBodyBytes is Config.MaxBodyBytes' default.
const DefaultMaxBodyBytes = 1 << 20

// DefaultRequestTimeout is Config.RequestTimeout's default: a leader
// election takes about a second; a cluster without quorum gets no better by
// waiting longer, and clients with other nodes to try move on.
const DefaultRequestTimeout = 10 * time.Second

// Server is the API as an http.Handler.
type Server struct {
	store  Store
	op     operatorToken
	cfg    Config
	routes map[string][]route
	// metricsToken is the SHA-256 of Config.MetricsToken, if any.
	metricsToken *operatorToken
	claims       *claimStats
	page         *fleetPage
}

type route struct {
	method string
	// allow says who may call it beyond the operator (who may call
	// everything); public routes need no token at all.
	allow  allowed
	handle func(w http.ResponseWriter, r *http.Request, who caller) (any, error)
}

// New returns the API over store.
func New(store Store, cfg Config) (*Server, error) {
	op, err := newOperatorToken(cfg.OperatorToken)
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{store: store, op: op, cfg: cfg, claims: newClaimStats()}
	if cfg.MetricsToken != "" {
		mt, err := newOperatorToken(cfg.MetricsToken)
		if err != nil {
			return nil, fmt.Errorf("start API: metrics token: %w", err)
		}
		if mt == op {
			return nil, fmt.Errorf("start API: the metrics token is the operator token: give the metrics reader a token of its own")
		}
		s.metricsToken = &mt
	}
	s.page = newFleetPage(s)
	s.routes = map[string][]route{
		"/v1/claims":        {{http.MethodPost, allowGroup, s.claim}},
		"/v1/state":         {{http.MethodPost, allowNode, s.setState}},
		"/v1/confirm":       {{http.MethodPost, allowOperator, s.confirm}},
		"/v1/nodes":         {{http.MethodGet, allowOperator, s.nodes}},
		"/v1/groups":        {{http.MethodPost, allowOperator, s.recordGroup}, {http.MethodGet, allowOperator, s.groups}},
		"/v1/groups/retire": {{http.MethodPost, allowOperator, s.retireGroup}},
		"/v1/groups/revoke": {{http.MethodPost, allowOperator, s.revokeGroupTokens}},
		"/v1/images":        {{http.MethodPost, allowOperator, s.recordImage}, {http.MethodGet, allowOperator, s.images}},
	}
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveHealth(w, r) {
		return
	}
	if r.URL.Path == "/metrics" {
		s.serveMetrics(w, r)
		return
	}
	if s.page.serves(r.URL.Path) {
		s.page.ServeHTTP(w, r)
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
	// Bounded, credential lookups included: without quorum the answer is a
	// 503 "unavailable" the client can take elsewhere, not a hang.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	var who caller
	if rt.allow != allowPublic {
		var err error
		if who, err = s.authenticate(r); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := rt.allow.check(who, r); err != nil {
			writeError(w, err)
			return
		}
		r = r.WithContext(regapi.WithActor(r.Context(), who.actor()))
	}
	out, err := rt.handle(w, r, who)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// fail answers err; internal errors are logged, their text is not sent.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(r.Context().Err(), context.DeadlineExceeded) && !errors.Is(err, regapi.ErrUnavailable) {
		err = fmt.Errorf("%w: the registry did not answer within %s (is a majority of its nodes up and reachable?): %w",
			regapi.ErrUnavailable, s.cfg.RequestTimeout, err)
	}
	e := regapi.ErrorOf(err)
	if e.Code == regapi.CodeInternal {
		s.cfg.Logf("registry API: %s %s: %v", r.Method, r.URL.Path, err)
	}
	writeError(w, e)
}

func (s *Server) setState(w http.ResponseWriter, r *http.Request, who caller) (any, error) {
	var body regapi.StateBody
	if err := s.decode(w, r, &body); err != nil {
		return nil, err
	}
	if who.node() {
		self := who.p.Node
		ref := body.NodeRef
		switch {
		case ref == regapi.NodeRef{}, ref == regapi.NodeRef{ID: self.ID}, ref == regapi.NodeRef{Shard: self.Shard, Nickname: self.Nickname}:
		default:
			return nil, regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden,
				"a node credential reports its own node's state only: the body names another node (send {\"state\", \"reason\"} alone)")
		}
		switch body.State {
		case regapi.StateActive, regapi.StateFailed, regapi.StateDraining, regapi.StateRetired:
		default:
			return nil, regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden,
				"state: a node reports active, failed, draining or retired; %q is the operator's", truncate(string(body.State), 32))
		}
		body.NodeRef = regapi.NodeRef{ID: self.ID}
	}
	return s.store.ReportState(r.Context(), body.NodeRef, body.State, body.Reason, body.ImageID)
}

func (s *Server) nodes(_ http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	f, err := regapi.ParseNodesQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	nodes, err := s.store.Nodes(r.Context(), f)
	if err != nil {
		return nil, err
	}
	return regapi.NodesPageOf(f, nodes), nil
}

func (s *Server) recordImage(w http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	var img regapi.Image
	if err := s.decode(w, r, &img); err != nil {
		return nil, err
	}
	return s.store.RecordImage(r.Context(), img)
}

func (s *Server) images(_ http.ResponseWriter, r *http.Request, _ caller) (any, error) {
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
