package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// The fleet page's sign-in. A person signs in once with the operator token
// through a form (POST /login); the server answers with a cookie holding a
// random session id — never the token — that is Secure, HttpOnly and
// SameSite=Strict, and keeps the session (the id's SHA-256 and its expiry)
// in memory: a restart signs everyone out. Scripts send the operator token
// as a bearer token instead. The form is the page's only state-changing
// request; it carries a one-time value that must match a cookie set with
// the form (double submit), and a request from another site (Origin,
// Sec-Fetch-Site) is refused. Failed sign-ins are rate-limited.

const (
	sessionCookie = "jitsi_registry_session"
	loginCookie   = "jitsi_registry_login"
	// SessionTTL is how long a sign-in lasts.
	SessionTTL = 8 * time.Hour
	// loginTTL bounds the time between showing the form and posting it.
	loginTTL = 10 * time.Minute
	// maxSessions bounds the sessions kept; the oldest go first.
	maxSessions = 1000
	// Failed sign-ins: at most loginBurst, then one per loginEvery.
	loginBurst = 10
	loginEvery = 6 * time.Second
)

type sessionKey [sha256.Size]byte

// sessions are the fleet page's signed-in browsers.
type sessions struct {
	mu      sync.Mutex
	now     func() time.Time
	live    map[sessionKey]time.Time // id's hash → expiry
	pending map[sessionKey]time.Time // login form values' hashes → expiry
	// failures is a token bucket of failed sign-ins.
	tokens float64
	last   time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, live: map[sessionKey]time.Time{}, pending: map[sessionKey]time.Time{}, tokens: loginBurst}
}

// newSecret is 256 random bits, URL-safe.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func keyOf(id string) sessionKey { return sha256.Sum256([]byte(id)) }

// start makes a session and returns its id.
func (s *sessions) start() string {
	id := newSecret()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.gc(now)
	if len(s.live) >= maxSessions {
		var oldest sessionKey
		var at time.Time
		for k, exp := range s.live {
			if at.IsZero() || exp.Before(at) {
				oldest, at = k, exp
			}
		}
		delete(s.live, oldest)
	}
	s.live[keyOf(id)] = now.Add(SessionTTL)
	return id
}

// valid reports whether id is a live session.
func (s *sessions) valid(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.live[keyOf(id)]
	return ok && s.now().Before(exp)
}

// loginValue makes the one-time value of a login form.
func (s *sessions) loginValue() string {
	v := newSecret()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.gc(now)
	if len(s.pending) < 10*maxSessions {
		s.pending[keyOf(v)] = now.Add(loginTTL)
	}
	return v
}

// takeLoginValue checks a posted form value against the cookie set with
// the form (constant time) and that it was issued and not used; it is
// used up either way.
func (s *sessions) takeLoginValue(posted, cookie string) bool {
	if posted == "" || len(posted) > 64 || subtle.ConstantTimeCompare([]byte(posted), []byte(cookie)) != 1 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := keyOf(posted)
	exp, ok := s.pending[k]
	delete(s.pending, k)
	return ok && s.now().Before(exp)
}

// allowFailure takes one failed sign-in from the bucket; false: too many.
func (s *sessions) allowFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.last.IsZero() {
		s.tokens = min(loginBurst, s.tokens+now.Sub(s.last).Seconds()/loginEvery.Seconds())
	}
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (s *sessions) gc(now time.Time) {
	for k, exp := range s.live {
		if !now.Before(exp) {
			delete(s.live, k)
		}
	}
	for k, exp := range s.pending {
		if !now.Before(exp) {
			delete(s.pending, k)
		}
	}
}

// sameSite refuses a form posted from another site: a browser names the
// page that sent it (Sec-Fetch-Site, Origin); a request naming neither is a
// script's, which the form's cookie check covers.
func sameSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true // set by the browser; a page cannot forge it
	case "", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true // a script's request, or an old browser's: the cookie check decides
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
