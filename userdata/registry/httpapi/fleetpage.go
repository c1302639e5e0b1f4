package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/upgrade"
)

// The fleet page: GET / (read-only, server-rendered, no external assets:
// it works offline and from a registry without Internet access), its
// sign-in form (GET and POST /login), for the operator. See fleetauth.go
// for the sign-in and fleetview.go for what it shows. It reloads itself
// with a meta refresh: no script runs on it (its Content-Security-Policy
// allows none).

//go:embed fleetpage.html
var fleetPageHTML string

var fleetTemplates = template.Must(template.New("fleet").Funcs(template.FuncMap{
	"stateClass": stateClass,
	"pct": func(a, b int) int {
		if b <= 0 {
			return 0
		}
		return min(100, 100*a/b)
	},
	"first": func(xs []upgrade.Skipped) []upgrade.Skipped { return xs[:min(len(xs), wavesShown)] },
}).Parse(fleetPageHTML))

// pageCSP allows the page's inline style and its own form, nothing else.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type fleetPage struct {
	s        *Server
	sessions *sessions
}

func newFleetPage(s *Server) *fleetPage {
	return &fleetPage{s: s, sessions: newSessions(s.cfg.Now)}
}

func (p *fleetPage) serves(path string) bool { return path == "/" || path == "/login" }

func (p *fleetPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == "/login" && r.Method == http.MethodGet:
		p.loginForm(w, http.StatusOK, "")
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		p.login(w, r)
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		p.page(w, r)
	default:
		h.Set("Allow", "GET")
		if r.URL.Path == "/login" {
			h.Set("Allow", "GET, POST")
		}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// signedIn: a live session cookie, or the operator token as a bearer
// token (compared digest to digest in constant time).
func (p *fleetPage) signedIn(r *http.Request) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && len(tok) <= maxTokenLen {
		d := sha256.Sum256([]byte(tok))
		return subtle.ConstantTimeCompare(d[:], p.s.op[:]) == 1
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && p.sessions.valid(c.Value)
}

func (p *fleetPage) loginForm(w http.ResponseWriter, status int, problem string) {
	v := p.sessions.loginValue()
	setCookie(w, loginCookie, v, loginTTL)
	p.render(w, status, "login", struct{ Form, Error string }{v, problem})
}

func (p *fleetPage) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		p.loginForm(w, http.StatusBadRequest, "The form could not be read: sign in again.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if !sameSite(r) || err != nil || !p.sessions.takeLoginValue(r.PostForm.Get("form"), c.Value) {
		p.loginForm(w, http.StatusForbidden, "This sign-in form expired or came from another page: sign in again.")
		return
	}
	tok := r.PostForm.Get("token")
	d := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if len(tok) > maxTokenLen || subtle.ConstantTimeCompare(d[:], p.s.op[:]) != 1 {
		if !p.sessions.allowFailure() {
			w.Header().Set("Retry-After", strconv.Itoa(int(loginEvery.Seconds())))
			p.loginForm(w, http.StatusTooManyRequests, "Too many failed sign-ins: wait a minute.")
			return
		}
		p.s.cfg.Logf("fleet page: failed sign-in from %s", r.RemoteAddr)
		p.loginForm(w, http.StatusUnauthorized, "That is not the operator token.")
		return
	}
	setCookie(w, loginCookie, "", -1)
	setCookie(w, sessionCookie, p.sessions.start(), SessionTTL)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (p *fleetPage) page(w http.ResponseWriter, r *http.Request) {
	if !p.signedIn(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	q, problem := parsePageQuery(r.URL.Query())
	if problem != "" {
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.s.cfg.RequestTimeout)
	defer cancel()
	v, err := p.s.buildFleetView(ctx, q)
	if err != nil {
		e := regapi.ErrorOf(err)
		if e.Code == regapi.CodeInternal {
			p.s.cfg.Logf("fleet page: %v", err)
		}
		http.Error(w, "the registry could not be read: "+e.Message, e.Status)
		return
	}
	p.render(w, http.StatusOK, "page", v)
}

// render executes a template into a buffer first: a failure answers 500,
// not half a page.
func (p *fleetPage) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := fleetTemplates.ExecuteTemplate(&b, name, data); err != nil {
		p.s.cfg.Logf("fleet page: render %s: %v", name, err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func parsePageQuery(v url.Values) (pageQuery, string) {
	q := pageQuery{shard: v.Get("shard"), keep: upgrade.KeepDefault}
	if a := v.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			return q, "after: give a node id"
		}
		q.after = n
	}
	switch v.Get("list") {
	case "", "problems":
	case "stale":
		q.stalePhase = true
	default:
		return q, "list: problems or stale"
	}
	if k := v.Get("keep"); k != "" {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 {
			return q, "keep: give 0 or more"
		}
		q.keep = n
	}
	if len(q.shard) > 253 {
		return q, "shard: too long"
	}
	return q, ""
}
