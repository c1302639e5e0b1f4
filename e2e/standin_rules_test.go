package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// These tests hold the stand-in bridge (a test fixture) to the real
// bridge's rules that the node agent depends on, as read in Jitsi's sources
// (e2e/README.md): the health check's address rule, the REST switches of
// each era, and graceful shutdown waiting for conferences. No XMPP here.

const restOn = "videobridge { apis.rest.enabled = true, rest.shutdown.enabled = true }\n"

func TestStandinHealthFollowsJitsisAddressRule(t *testing.T) {
	const unhealthy = "No valid IP addresses available for harvesting."
	imds := fakeIMDS(t, "198.51.100.23", "10.0.2.15")
	for _, tc := range []struct {
		name, conf string
		args       []string
		want       int
	}{
		{"private address, no mapping", restOn, nil, http.StatusInternalServerError},
		{"link-local address only", restOn, []string{"--test-local-addresses", "169.254.169.15,fe80::1"}, http.StatusInternalServerError},
		{"a static mapping to a public address", restOn +
			`ice4j.harvest.mapping.static-mappings = [ { local-address = "10.0.2.15", public-address = "203.0.113.7" } ]` + "\n", nil, http.StatusOK},
		{"a static mapping to another private address", restOn +
			`ice4j.harvest.mapping.static-mappings = [ { local-address = "10.0.2.15", public-address = "192.168.1.7" } ]` + "\n", nil, http.StatusInternalServerError},
		{"legacy NAT pair", restOn, nil, http.StatusOK}, // properties below
		{"carrier-grade NAT counts as valid (Java's rule)", restOn, []string{"--test-local-addresses", "100.64.1.2"}, http.StatusOK},
		{"IPv6 unique local counts as valid (Java's rule)", restOn, []string{"--test-local-addresses", "fd00::5"}, http.StatusOK},
		{"STUN configured but unanswered", restOn + `ice4j.harvest.mapping.stun.addresses = [ "stun.example.org:3478" ]` + "\n", nil, http.StatusInternalServerError},
		{"rule switched off", "videobridge.health.require-valid-address = false\n", nil, http.StatusOK},
		{"AWS harvester on EC2 (the ice4j default is on)", restOn, []string{"--aws-metadata-url", imds}, http.StatusOK},
		{"AWS harvester switched off", restOn + "ice4j.harvest.mapping.aws.enabled = false\n", []string{"--aws-metadata-url", imds}, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := ""
			if strings.HasPrefix(tc.name, "legacy NAT") {
				props = "org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS=10.0.2.15\norg.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS=203.0.113.9\n"
			}
			b := startBridge(t, confDir(t, tc.conf, props), tc.args...)
			body := b.waitHealth(t, tc.want, 10*time.Second)
			if tc.want != http.StatusOK && body != unhealthy {
				t.Errorf("unhealthy body %q, want %q (the real bridge's words)", body, unhealthy)
			}
		})
	}
}

func TestStandinReportsTheMappingItRead(t *testing.T) {
	imds := fakeIMDS(t, "198.51.100.23", "10.0.2.15")
	b := startBridge(t, confDir(t, restOn+`ice4j.harvest.mapping.static-mappings = [ { name = "public", local-address = "10.0.2.15", public-address = "203.0.113.7" } ]`+"\n", ""),
		"--aws-metadata-url", imds)
	b.waitHealth(t, http.StatusOK, 10*time.Second)
	st := b.state(t)
	if st.Harvest == nil || len(st.Harvest.Mappings) != 2 {
		t.Fatalf("harvest %+v: want the static mapping and the AWS one", st.Harvest)
	}
	if m := st.Harvest.Mappings[0]; m.Kind != "static" || m.Local != "10.0.2.15" || m.Public != "203.0.113.7" || m.Source != "jvb.conf" {
		t.Errorf("static mapping %+v", m)
	}
	if m := st.Harvest.Mappings[1]; m.Kind != "aws" || m.Public != "198.51.100.23" || m.Local != "10.0.2.15" {
		t.Errorf("AWS mapping %+v", m)
	}
}

// The legacy stand-in behaves like a 2020 bridge: --apis is required and
// `--apis=,` switches the REST API off whatever jvb.conf says — which is how
// the old applier's JVB_OPTS made drains stop bridges with calls running.
func TestStandinLegacyEraParsesAPIs(t *testing.T) {
	dir := confDir(t, restOn, "")
	noAPIs := startBridge(t, dir, "--era", "legacy")
	if code := noAPIs.waitExit(t, 10*time.Second); code != 1 || !strings.Contains(noAPIs.out.String(), "NullPointerException") {
		t.Errorf("legacy bridge without --apis: exit %d, want 1 with the NullPointerException of stables 4857–5390\n%s", code, noAPIs.out.String())
	}

	off := startBridge(t, dir, "--era", "legacy", "--apis=,")
	off.waitHealth(t, http.StatusOK, 10*time.Second)
	for _, path := range []string{"/colibri/stats"} {
		if code := get(t, off.http+path); code != http.StatusNotFound {
			t.Errorf("--apis=, : GET %s = %d, want 404 (REST off)", path, code)
		}
	}
	if code := off.post(t, "/colibri/shutdown", `{"graceful-shutdown":"true"}`); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("--apis=, : POST /colibri/shutdown = %d, want it absent", code)
	}
	if code := off.post(t, "/colibri/drain/enable", ""); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("legacy bridge has POST /colibri/drain/enable (%d): the endpoint came with stable 6865", code)
	}

	on := startBridge(t, dir, "--era", "legacy", "--apis=rest")
	on.waitHealth(t, http.StatusOK, 10*time.Second)
	if code := get(t, on.http+"/colibri/stats"); code != http.StatusOK {
		t.Errorf("--apis=rest: GET /colibri/stats = %d, want 200", code)
	}

	// Current bridges ignore the argument: jvb.conf decides.
	current := startBridge(t, dir, "--apis=,")
	current.waitHealth(t, http.StatusInternalServerError, 10*time.Second) // private-only: unhealthy, but up
	if code := get(t, current.http+"/colibri/stats"); code != http.StatusOK {
		t.Errorf("current bridge with --apis=, : GET /colibri/stats = %d, want 200 (jvb.conf enables REST)", code)
	}
	// The real bridge answers numbers (graceful_shutdown.sh does jq arithmetic
	// on them; the agent's drain reads "conferences" as a number).
	if code := current.post(t, "/test-fixture/conferences", `{"count": 2, "seconds": 30}`); code != http.StatusOK {
		t.Fatalf("POST /test-fixture/conferences = %d", code)
	}
	var stats struct {
		Conferences   int `json:"conferences"`
		Participants  int `json:"participants"`
		OctoEndpoints int `json:"octo_endpoints"`
	}
	if err := getJSON(current.http+"/colibri/stats", &stats); err != nil {
		t.Errorf("GET /colibri/stats: %v (the real bridge answers JSON numbers)", err)
	} else if stats.Conferences != 2 || stats.Participants-stats.OctoEndpoints <= 0 {
		t.Errorf("GET /colibri/stats with 2 conferences running: %+v", stats)
	}

	// Before stable 9220 health failed when STUN was configured and unanswered.
	stun := startBridge(t, confDir(t, restOn, "org.ice4j.ice.harvest.STUN_MAPPING_HARVESTER_ADDRESSES=meet-jit-si-turnrelay.jitsi.net:443\n"), "--era", "legacy", "--apis=rest")
	if body := stun.waitHealth(t, http.StatusInternalServerError, 10*time.Second); body != "Address discovery through STUN failed" {
		t.Errorf("legacy bridge with unanswered STUN: health body %q", body)
	}
}

func TestStandinGracefulShutdownWaitsForConferences(t *testing.T) {
	b := startBridge(t, confDir(t, restOn, ""))
	b.waitHealth(t, http.StatusInternalServerError, 10*time.Second) // up (private-only, unhealthy: fine here)
	if code := b.post(t, "/test-fixture/conferences", `{"count":2,"seconds":3}`); code != http.StatusOK {
		t.Fatalf("start conferences: HTTP %d", code)
	}
	start := time.Now()
	if code := b.post(t, "/colibri/shutdown", `{"graceful-shutdown":"true"}`); code != http.StatusOK {
		t.Fatalf("POST /colibri/shutdown = %d", code)
	}
	if code := b.waitExit(t, 20*time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Errorf("graceful shutdown ended after %s with conferences running for 3 s", waited)
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// fakeIMDS is a TEST FIXTURE EC2 metadata service (IMDSv2: a token from PUT
// /latest/api/token must come with every GET) on loopback.
func fakeIMDS(t *testing.T, public, local string) string {
	t.Helper()
	const token = "fixture-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "":
			_, _ = io.WriteString(w, token)
		case r.Method == http.MethodGet && r.Header.Get("X-aws-ec2-metadata-token") != token:
			http.Error(w, "", http.StatusUnauthorized)
		case r.URL.Path == "/latest/meta-data/public-ipv4":
			_, _ = io.WriteString(w, public)
		case r.URL.Path == "/latest/meta-data/local-ipv4":
			_, _ = io.WriteString(w, local)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
