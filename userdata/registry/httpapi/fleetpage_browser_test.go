package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// chromiumFlags keep the browser to this machine: no background traffic,
// no updates, no sync, no QUIC; a fresh profile each run (--user-data-dir).
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
	"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1400,1800", "about:blank"}

// startChromium starts Debian's chromium (headless) and returns the
// DevTools URL; the test stops it by its PID.
func startChromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (scripts/deps.sh installs it for the test tier: apt-get install chromium chromium-driver)")
	}
	profile := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--user-data-dir=" + profile}, chromiumFlags...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers are stopped with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case ws := <-found:
		return ws
	case <-time.After(60 * time.Second):
		t.Fatalf("chromium (pid %d) did not open its DevTools port in 60 s", pid)
	}
	return ""
}

// screenshotDir is where the test keeps its screenshot: E2E_OUT or
// e2e/out under the clone (kept after the run, ignored by git).
func screenshotDir(t *testing.T) string {
	root := os.Getenv("E2E_OUT")
	if root == "" {
		_, file, _, _ := runtime.Caller(0)
		root = filepath.Join(filepath.Dir(file), "..", "..", "..", "e2e", "out")
	}
	dir := filepath.Join(root, "fleet-page", time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFleetPageInChromium: a real browser signs in through the form, is
// given a Secure, HttpOnly, SameSite=Strict session cookie, loads the page,
// and its DOM holds the fleet's nodes, shards, groups, images and the
// upgrade plan, and no credential; the screenshot is kept.
func TestFleetPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	s := startAPI(t, Config{MetricsToken: metricsToken}, false)
	fillFleet(t, s.reg, 200)
	groupTok := s.group(t, "edge", 4) // in a fifth shard, meet.example.org
	s.member(t, groupTok, "i-0aaaaaaaaaaaaaaa1")
	ws := startChromium(t)

	actx, cancelAlloc := remote.NewAllocator(context.Background(), ws)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // attach once, without a deadline (see chromedp.Run)
		t.Fatalf("attach to chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	if err != nil {
		t.Fatalf("open the page: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/login") {
		t.Errorf("signed out, / led to %s, want /login", loc)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), opToken),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("upgrade")),
	)
	if err != nil {
		t.Fatalf("sign in through the form: %v", err)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+fmt.Sprintf("%q", sel)+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	nodeRows, shardRows, groupRows := count("#attention tr[data-node]"), count("#shards tr[data-shard]"), count("#groups tr[data-group]")
	imageRows, waves := count("#images tr[data-image]"), count("#upgrade tr.wave")
	failedTile, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#total-failed b")))
	if err != nil {
		t.Fatal(err)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	want := tally(t, s.reg)
	failed := 0
	for _, sh := range fleetShards {
		failed += want[sh+"/jvb/failed"]
	}
	if nodeRows == 0 || shardRows != len(fleetShards)+1 || groupRows != 1 || imageRows != len(fleetImages) || waves == 0 ||
		failedTile != fmt.Sprint(failed) || title != "Fleet · Jitsi registry" {
		t.Errorf("DOM: %d attention rows, %d shards, %d groups, %d images, %d waves, failed tile %q (want %d), title %q",
			nodeRows, shardRows, groupRows, imageRows, waves, failedTile, failed, title)
	}
	// The first failed node of the fixture (the 8th claimed: jvb-002 of
	// the fourth shard) is listed with its reason.
	if row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#attention tr[data-id="8"]`))); err != nil {
		t.Errorf("the failed node 8 is not listed: %v", err)
	} else if !strings.Contains(row, "jvb-002") || !strings.Contains(row, fleetShards[3]) ||
		!strings.Contains(row, "failed") || !strings.Contains(row, "not-authorized") {
		t.Errorf("node 8's row: %q", row)
	}
	for name, secret := range map[string]string{"operator token": opToken, "metrics token": metricsToken, "group token": groupTok} {
		if strings.Contains(html, secret) {
			t.Errorf("the page's DOM holds the %s", name)
		}
	}
	cookies, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url + "/"}})
		return res.Cookies, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || !session.Secure || session.SameSite != network.CookieSameSiteStrict || strings.Contains(session.Value, opToken) {
		t.Errorf("the browser's session cookie: %+v", session)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(png))
	}
	path := filepath.Join(screenshotDir(t), "fleet-page.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the fleet page: %s", path)
	fmt.Printf("fleet page screenshot: %s\n", path)
}
