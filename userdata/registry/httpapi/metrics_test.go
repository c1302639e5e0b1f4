package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

const metricsToken = "metrics-token-0123456789abcdef"

// scrape GETs /metrics with token and returns the status and body.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// parse reads the exposition with Prometheus' own text parser, with the
// classic (legacy) name rules: what every Prometheus accepts.
func parse(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("Prometheus' parser refuses /metrics: %v\n%s", err, body)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// value is the value of the family's series with these labels (all of
// them), or -1.
func value(f *dto.MetricFamily, want ...string) float64 {
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		l := labelsOf(m)
		ok := len(l) == len(want)/2
		for i := 0; ok && i < len(want); i += 2 {
			ok = l[want[i]] == want[i+1]
		}
		if !ok {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

// TestMetrics: /metrics parses with Prometheus' text parser, and its
// values are the registry's: nodes by shard, role, state and image (an
// image named by build id counted under its artifact id), groups, claims
// and claim failures counted by this server, the latency histogram, and
// the Raft state. Only the operator and metrics tokens may read it.
func TestMetrics(t *testing.T) {
	s := startAPI(t, Config{MetricsToken: metricsToken,
		Raft: func(context.Context) (RaftStatus, error) {
			return RaftStatus{Leader: true, Members: map[string]int{"voter": 3, "spare": 1}}, nil
		}}, false)
	fillFleet(t, s.reg, 400)
	ctx := testCtx(t, 60*time.Second)
	// Claims through this server: 3 group members (the group holds 2: one
	// refused), and a batch of 5 by the operator.
	groupTok := s.group(t, "edge", 2)
	gc := s.client(t, groupTok)
	for _, inst := range []string{"i-1", "i-2", "i-3"} {
		_, err := gc.ClaimInGroup(ctx, regapi.GroupClaim{InstanceID: inst, ClaimKey: claimKey(inst), ImageID: fleetImages[1].BuildID})
		if (inst == "i-3") != (err != nil) {
			t.Fatalf("claim %s: %v", inst, err)
		}
	}
	batch := make([]regapi.ClaimRequest, 5)
	for i := range batch {
		batch[i] = regapi.ClaimRequest{Shard: fleetShards[0], Role: "jvb", Nickname: regapi.AutoNickname}
	}
	if _, err := s.client(t, opToken).Claim(ctx, batch...); err != nil {
		t.Fatal(err)
	}

	status, body := scrape(t, s.url, metricsToken)
	if status != 200 {
		t.Fatalf("/metrics with the metrics token: %d %s", status, body)
	}
	fams := parse(t, body)
	// Nodes: the exposition's sums equal the registry's own listing.
	want := tally(t, s.reg)
	got := map[string]int{}
	nodes := fams["jitsi_registry_nodes"]
	if nodes.GetType() != dto.MetricType_GAUGE {
		t.Errorf("jitsi_registry_nodes is a %s", nodes.GetType())
	}
	byImage := map[string]float64{}
	for _, m := range nodes.GetMetric() {
		l := labelsOf(m)
		got[fmt.Sprintf("%s/%s/%s", l["shard"], l["role"], l["state"])] += int(m.GetGauge().GetValue())
		byImage[l["image"]] += m.GetGauge().GetValue()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nodes by shard/role/state:\n got %v\nwant %v", got, want)
	}
	// 400 bridges, a quarter by the old image's artifact id, a quarter by
	// its build id: 200 under its artifact id; + 2 members on the new one.
	if byImage[fleetImages[0].ArtifactID] != 200 || byImage[fleetImages[1].ArtifactID] != 102 || byImage[fleetImages[0].BuildID] != 0 {
		t.Errorf("nodes by image: %v", byImage)
	}
	if v := value(fams["jitsi_registry_image_info"], "image", fleetImages[1].ArtifactID, "build_id", fleetImages[1].BuildID, "role", "jvb",
		"os", "debian-12", "arch", "amd64", "version", "2.3-174-g2", "agent_version", "0.3.0"); v != 1 {
		t.Errorf("image info of the new image: %v\n%s", v, body)
	}
	for name, v := range map[string]float64{"jitsi_registry_group_members": 2, "jitsi_registry_group_max_size": 2, "jitsi_registry_group_tokens": 1} {
		if got := value(fams[name], "group", "edge", "shard", shard, "role", "jvb"); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if v := value(fams["jitsi_registry_claims_total"], "kind", "group"); v != 2 {
		t.Errorf("group claims %v, want 2", v)
	}
	if v := value(fams["jitsi_registry_claims_total"], "kind", "operator"); v != 5 {
		t.Errorf("operator claims %v, want 5 (one batch)", v)
	}
	if v := value(fams["jitsi_registry_claim_failures_total"], "kind", "group", "code", regapi.ErrorOf(regapi.ErrGroupFull).Code); v != 1 {
		t.Errorf("group claim failures %v, want 1\n%s", v, body)
	}
	for _, m := range fams["jitsi_registry_claim_duration_seconds"].GetMetric() {
		h, kind := m.GetHistogram(), labelsOf(m)["kind"]
		wantCount := map[string]uint64{"group": 3, "operator": 1}[kind]
		if h.GetSampleCount() != wantCount || h.GetSampleSum() <= 0 || len(h.GetBucket()) != len(claimBuckets)+1 ||
			h.GetBucket()[len(claimBuckets)].GetCumulativeCount() != wantCount {
			t.Errorf("claim latency histogram of %s: %v", kind, h)
		}
	}
	if v := value(fams["jitsi_registry_raft_leader"]); v != 1 {
		t.Errorf("raft leader %v", v)
	}
	if v := value(fams["jitsi_registry_raft_members"], "role", "voter"); v != 3 {
		t.Errorf("raft voters %v", v)
	}
	// Names follow Prometheus' conventions.
	for name, f := range fams {
		if !strings.HasPrefix(name, "jitsi_registry_") || (f.GetType() == dto.MetricType_COUNTER) != strings.HasSuffix(name, "_total") {
			t.Errorf("metric %s (%s) breaks the naming conventions", name, f.GetType())
		}
	}

	// Who may read it.
	member := s.member(t, s.group(t, "other", 5), "i-9")
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", 401}, {"group token", groupTok, 401}, {"node credential", member.Credential, 401},
		{"wrong token", "metrics-token-0123456789abcdeX", 401}, {"operator", opToken, 200},
	} {
		if status, _ := scrape(t, s.url, tc.token); status != tc.status {
			t.Errorf("/metrics with %s: %d, want %d", tc.name, status, tc.status)
		}
	}
	if status, _, _ := s.raw(t, "GET", "/v1/nodes", metricsToken, ""); status != 401 {
		t.Errorf("the metrics token read /v1/nodes: %d", status)
	}
	for _, secret := range []string{opToken, metricsToken, groupTok, member.Credential} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics shows a credential")
		}
	}
}

// TestMetricsLabelEscaping: label values are escaped as the format wants.
func TestMetricsLabelEscaping(t *testing.T) {
	var b strings.Builder
	m := metricWriter{w: &b}
	m.head("jitsi_registry_test", "gauge", "A test.")
	m.sample("jitsi_registry_test", labels{"v", "a\\b\"c\nd"}, 2)
	fams := parse(t, b.String())
	if v := value(fams["jitsi_registry_test"], "v", "a\\b\"c\nd"); v != 2 {
		t.Errorf("escaped value read back as %v from:\n%s", v, b.String())
	}
}
