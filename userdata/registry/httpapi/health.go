package httpapi

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// HealthTimeout bounds how long /v1/health and /v1/leader take to answer: a
// load balancer's check must get its 503 while it still waits, not a hang.
const HealthTimeout = 1500 * time.Millisecond

// serveHealth answers the health checks, which anyone may call: GET
// /v1/health (200 ready, 503 otherwise) and GET /v1/leader (200 on the
// leader only; 503 elsewhere, at once when the node knows no leader). It
// reports whether r was one of them.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/v1/health" && r.URL.Path != "/v1/leader" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeError(w, regapi.Errorf(http.StatusMethodNotAllowed, regapi.CodeMethod, "%s %s is not allowed: use GET", r.Method, r.URL.Path))
		return true
	}
	h := s.healthNow(r.Context())
	ok := h.Status == regapi.HealthReady && (r.URL.Path == "/v1/health" || h.Leader)
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, h)
	return true
}

func (s *Server) healthNow(ctx context.Context) regapi.Health {
	if s.cfg.Health == nil {
		return regapi.Health{Status: regapi.HealthReady, Leader: true}
	}
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	return s.cfg.Health(ctx)
}

// Gate is the API of a node that cannot serve yet, or no longer: every
// request is answered at once with 503 — /v1/health and /v1/leader with the
// node's status, the others with the error code "starting" — until Open
// hands it the real API. `registry serve` listens and serves the gate
// before the node joins its cluster, so health checks get an honest 503
// instead of a connection that hangs in its TLS handshake.
type Gate struct {
	api    atomic.Pointer[Server]
	status atomic.Value // regapi.HealthStatus while api is nil
}

// NewGate returns a gate answering "starting".
func NewGate() *Gate {
	g := &Gate{}
	g.status.Store(regapi.HealthStarting)
	return g
}

// Open lets requests through to api.
func (g *Gate) Open(api *Server) { g.api.Store(api) }

// Close answers every request with 503 "stopping" again (shutdown: the load
// balancer moves away while requests in flight finish).
func (g *Gate) Close() {
	g.status.Store(regapi.HealthStopping)
	g.api.Store(nil)
}

func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if api := g.api.Load(); api != nil {
		api.ServeHTTP(w, r)
		return
	}
	st := g.status.Load().(regapi.HealthStatus)
	w.Header().Set("Retry-After", "1")
	switch r.URL.Path {
	case "/v1/health", "/v1/leader":
		writeJSON(w, http.StatusServiceUnavailable, regapi.Health{Status: st, Detail: "the registry node is " + string(st)})
	default:
		writeError(w, regapi.Errorf(http.StatusServiceUnavailable, regapi.CodeStarting,
			"the registry node is %s and cannot answer yet: retry, or send the request to another node", st))
	}
}
