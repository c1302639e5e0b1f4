package httpapi

import (
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// pageClient is a browser-like client: cookies, no redirects followed.
type pageClient struct {
	t   *testing.T
	url string
	c   *http.Client
}

func newPageClient(t *testing.T, base string) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, url: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *pageClient) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var formValue = regexp.MustCompile(`name="form" value="([^"]+)"`)

// loginForm GETs the form and returns its one-time value.
func (p *pageClient) loginForm() string {
	p.t.Helper()
	resp, body := p.do("GET", "/login", nil, nil)
	m := formValue.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		p.t.Fatalf("GET /login: %d\n%s", resp.StatusCode, body)
	}
	return m[1]
}

// TestFleetPageSignIn: the page asks for a sign-in; the form takes the
// operator token and sets a Secure, HttpOnly, SameSite=Strict cookie that
// holds a session id, not the token; the page then shows the fleet. A
// bearer operator token works for scripts; nothing else does. Forms from
// another site, replayed or expired forms, and guessing are refused.
func TestFleetPageSignIn(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := startAPI(t, Config{MetricsToken: metricsToken, Now: clock}, false)
	fillFleet(t, s.reg, 120)
	p := newPageClient(t, s.url)

	if resp, _ := p.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / signed out: %d → %q, want 303 → /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Wrong token: refused, the form again.
	resp, body := p.do("POST", "/login", url.Values{"form": {p.loginForm()}, "token": {"operator-token-0123456789abcdeX"}}, nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "not the operator token") {
		t.Fatalf("wrong token: %d\n%s", resp.StatusCode, body)
	}
	// The metrics token is not a sign-in.
	if resp, _ := p.do("POST", "/login", url.Values{"form": {p.loginForm()}, "token": {metricsToken}}, nil); resp.StatusCode != 401 {
		t.Errorf("metrics token signed in: %d", resp.StatusCode)
	}
	form := p.loginForm()
	resp, _ = p.do("POST", "/login", url.Values{"form": {form}, "token": {opToken}}, map[string]string{"Origin": s.url, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" ||
		session.MaxAge != int(SessionTTL.Seconds()) || len(session.Value) < 43 || strings.Contains(session.Value, opToken) {
		t.Fatalf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict, a random id", session)
	}
	resp, page := p.do("GET", "/", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `data-node="jvb-002"`) || !strings.Contains(page, `id="upgrade"`) {
		t.Fatalf("page after sign-in: %d\n%.3000s", resp.StatusCode, page)
	}
	for h, want := range map[string]string{"Content-Security-Policy": pageCSP, "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(page, `<meta http-equiv="refresh" content="30">`) || strings.Contains(page, "<script") || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("the page must reload itself, run no script and load nothing from elsewhere")
	}
	// The form was used up: posting it again is refused.
	if resp, _ := p.do("POST", "/login", url.Values{"form": {form}, "token": {opToken}}, nil); resp.StatusCode != 403 {
		t.Errorf("replayed form: %d, want 403", resp.StatusCode)
	}
	// A form posted from another site is refused, even with the right token.
	other := newPageClient(t, s.url)
	f := other.loginForm()
	for _, hdr := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
		if resp, _ := other.do("POST", "/login", url.Values{"form": {f}, "token": {opToken}}, hdr); resp.StatusCode != 403 {
			t.Errorf("cross-site form %v: %d, want 403", hdr, resp.StatusCode)
		}
	}
	// Without the form's cookie (a forged form) it is refused too.
	bare := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := bare.PostForm(s.url+"/login", url.Values{"form": {other.loginForm()}, "token": {opToken}})
	if err != nil || r2.StatusCode != 403 {
		t.Errorf("form without its cookie: %v %v", r2.StatusCode, err)
	}
	r2.Body.Close()

	// Scripts: the operator token as a bearer token; no other credential.
	member := s.member(t, s.group(t, "edge", 3), "i-1")
	for tok, want := range map[string]int{opToken: 200, metricsToken: 303, member.Credential: 303, "": 303} {
		req, _ := http.NewRequest("GET", s.url+"/", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := bare.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET / with bearer %.8s…: %d, want %d", tok, resp.StatusCode, want)
		}
	}

	// Never a credential on the page: render it with every kind known.
	_, page = p.do("GET", "/?shard="+fleetShards[0], nil, nil)
	for name, secret := range map[string]string{"operator token": opToken, "metrics token": metricsToken, "group token": member.Credential,
		"session id": session.Value, "form value": form} {
		if strings.Contains(page, secret) {
			t.Errorf("the page shows the %s", name)
		}
	}

	// Sessions expire.
	mu.Lock()
	now = now.Add(SessionTTL + time.Minute)
	mu.Unlock()
	if resp, _ := p.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("expired session: %d, want 303 to /login", resp.StatusCode)
	}
	// Guessing is slowed down: after a burst, 429.
	var last int
	for range loginBurst + 2 {
		resp, _ := other.do("POST", "/login", url.Values{"form": {other.loginForm()}, "token": {"guess-0123456789abcdef-guess"}}, nil)
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("after %d failed sign-ins: %d, want 429", loginBurst+2, last)
	}
}

// TestFleetPageShowsTheFleet: the page's numbers are the registry's: the
// state tiles, each shard's counts, the nodes that need attention with
// their reasons (paged), the images with their versions, and the same
// upgrade plan as the CLI.
func TestFleetPageShowsTheFleet(t *testing.T) {
	s := startAPI(t, Config{}, false)
	fillFleet(t, s.reg, 400)
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+opToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	page := get("/")
	want := tally(t, s.reg)
	for _, st := range []regapi.State{regapi.StateActive, regapi.StateFailed, regapi.StateDraining, regapi.StateIssued} {
		n := 0
		for _, sh := range fleetShards {
			n += want[sh+"/jvb/"+string(st)]
		}
		if !regexp.MustCompile(`id="total-` + string(st) + `"><b>` + itoa(int64(n)) + `</b>`).MatchString(page) {
			t.Errorf("tile %s: want %d", st, n)
		}
	}
	// 4 failed + 4 draining, and the nodes on the old image (a half of
	// the live ones): the count and the first page of 50.
	if !strings.Contains(page, "Nodes that need attention (") || strings.Count(page, `<tr data-node=`) != attentionPage || !strings.Contains(page, `id="next-page"`) {
		t.Errorf("attention: want a full page of %d and a next link", attentionPage)
	}
	if !strings.Contains(page, template.HTMLEscapeString(fleetReason)) {
		t.Errorf("a failed node's reason is not shown")
	}
	next := regexp.MustCompile(`id="next-page" href="([^"]+)"`).FindStringSubmatch(page)
	if next == nil {
		t.Fatal("no next page")
	}
	page2 := get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if strings.Count(page2, `<tr data-node=`) == 0 {
		t.Errorf("second page empty")
	}
	for _, img := range fleetImages {
		if !strings.Contains(page, `data-image="`+img.ArtifactID+`"`) {
			t.Errorf("image %s not shown", img.ArtifactID)
		}
	}
	if !strings.Contains(page, "2.3-174-g2") || !strings.Contains(page, ">stale<") {
		t.Errorf("images lack versions or the stale mark")
	}
	// The upgrade view of a shard is the CLI's plan.
	sh := get("/?shard=" + fleetShards[1])
	if !strings.Contains(sh, "Upgrade plan of "+fleetShards[1]) || !strings.Contains(sh, `class="wave"`) ||
		!strings.Contains(sh, "upgrade-plan --shard "+fleetShards[1]) {
		t.Errorf("upgrade view of %s missing", fleetShards[1])
	}
	p := newPageClient(t, s.url)
	if resp, _ := p.do("GET", "/?after=x", nil, nil); resp.StatusCode != 303 {
		t.Errorf("signed-out bad query: %d, want 303 (sign-in first)", resp.StatusCode)
	}
	if resp, _ := p.do("GET", "/?after=x", nil, map[string]string{"Authorization": "Bearer " + opToken}); resp.StatusCode != 400 {
		t.Errorf("bad query: %d, want 400", resp.StatusCode)
	}
}
