package vm

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// RepoServer serves apt repositories (and any other files) to the guests on
// 127.0.0.1; guests reach it through a guestfwd at http://10.0.2.101/.
type RepoServer struct {
	Port     int
	srv      *http.Server
	requests atomic.Int64
	misses   atomic.Int64
}

// GuestRepoIP and GuestRepoPort are where guests see the RepoServer; the
// base image's sources.list names them.
const (
	GuestRepoIP   = "10.0.2.101"
	GuestRepoPort = 80
)

// ServeRepos serves each directory under its URL prefix, e.g.
// {"/debian/": base+"/mirror/debian", "/jitsi/": repoDir}.
func ServeRepos(dirs map[string]string) (*RepoServer, error) {
	mux := http.NewServeMux()
	r := &RepoServer{}
	for prefix, dir := range dirs {
		if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
			return nil, fmt.Errorf("repo prefix %q must start and end with /", prefix)
		}
		fs := http.StripPrefix(prefix, http.FileServer(http.Dir(dir)))
		mux.Handle(prefix, fs)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the repository server: %w", err)
	}
	r.Port = l.Addr().(*net.TCPAddr).Port
	r.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.requests.Add(1)
			rec := &statusRecorder{ResponseWriter: w, code: 200}
			mux.ServeHTTP(rec, req)
			if rec.code == http.StatusNotFound {
				r.misses.Add(1)
			}
		}),
	}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// GuestForward is the guestfwd that shows the server to a guest.
func (r *RepoServer) GuestForward() GuestForward {
	return GuestForward{GuestIP: GuestRepoIP, GuestPort: GuestRepoPort, HostPort: r.Port}
}

// Stats are the requests served and how many found nothing.
func (r *RepoServer) Stats() (requests, misses int64) { return r.requests.Load(), r.misses.Load() }

// Close stops the server.
func (r *RepoServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
