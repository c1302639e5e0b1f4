package httpapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// GET /metrics: Prometheus' text exposition format (version 0.0.4), for
// the operator token or the metrics token (Config.MetricsToken), which may
// read this and nothing else. What a scrape costs the registry: one GROUP
// BY over the nodes table, the groups and images (small tables), and this
// node's Raft state; the claim counters are this API server's own, since
// it started (Prometheus' rate() handles the restarts).
//
//	jitsi_registry_nodes{shard,role,state,image}       gauge: nodes (image: the image's artifact id when recorded)
//	jitsi_registry_image_info{image,build_id,role,os,arch,version,agent_version} 1 per recorded image
//	jitsi_registry_group_members{group,shard,role}     gauge: live members of each active group
//	jitsi_registry_group_max_size{group,shard,role}    gauge
//	jitsi_registry_group_tokens{group,shard,role}      gauge: live tokens
//	jitsi_registry_claims_total{kind}                  counter: identities claimed (kind operator or group)
//	jitsi_registry_claim_failures_total{kind,code}     counter: refused or failed claim requests, by error code
//	jitsi_registry_claim_duration_seconds{kind}        histogram: claim requests' latency
//	jitsi_registry_raft_leader                         gauge: 1 on the Raft leader, else 0
//	jitsi_registry_raft_members{role}                  gauge: cluster members by role (voter, stand-by, spare)
//	jitsi_registry_scrape_duration_seconds             gauge: what the registry's part of this scrape took

// RaftStatus is the node's place in its Raft cluster, for /metrics.
type RaftStatus struct {
	Leader  bool
	Members map[string]int // by role: voter, stand-by, spare
}

// claimBuckets are the claim latency histogram's upper bounds (seconds).
var claimBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// claimKinds are who claims: an operator (issue) or a group member.
var claimKinds = []string{"operator", "group"}

// claimStats counts this server's claims.
type claimStats struct {
	claimed  [2]atomic.Int64
	buckets  [2][]atomic.Int64 // cumulative at render
	count    [2]atomic.Int64
	sumNanos [2]atomic.Int64
	mu       sync.Mutex
	failures map[[2]string]int64 // kind, code
}

func newClaimStats() *claimStats {
	s := &claimStats{failures: map[[2]string]int64{}}
	for k := range s.buckets {
		s.buckets[k] = make([]atomic.Int64, len(claimBuckets))
	}
	return s
}

func kindIndex(group bool) int {
	if group {
		return 1
	}
	return 0
}

// record counts one claim request of n identities that took d.
func (s *claimStats) record(group bool, n int, err error, d time.Duration) {
	k := kindIndex(group)
	s.count[k].Add(1)
	s.sumNanos[k].Add(int64(d))
	sec := d.Seconds()
	for i, b := range claimBuckets {
		if sec <= b {
			s.buckets[k][i].Add(1)
			break
		}
	}
	if err != nil {
		code := regapi.ErrorOf(err).Code
		s.mu.Lock()
		s.failures[[2]string{claimKinds[k], code}]++
		s.mu.Unlock()
		return
	}
	s.claimed[k].Add(int64(n))
}

// metricsAllowed: the operator token or the metrics token.
func (s *Server) metricsAllowed(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(tok) > maxTokenLen {
		return false
	}
	d := sha256.Sum256([]byte(tok))
	op := subtle.ConstantTimeCompare(d[:], s.op[:])
	var mt int
	if s.metricsToken != nil {
		mt = subtle.ConstantTimeCompare(d[:], s.metricsToken[:])
	}
	return op|mt == 1
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeError(w, regapi.Errorf(http.StatusMethodNotAllowed, regapi.CodeMethod, "%s /metrics is not allowed: use GET", r.Method))
		return
	}
	if !s.metricsAllowed(r) {
		writeError(w, regapi.Errorf(http.StatusUnauthorized, regapi.CodeUnauthorized,
			"missing or wrong bearer token: /metrics takes the operator token or the metrics token (registry serve --metrics-token-file)"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	f, err := s.store.Fleet(ctx)
	if err != nil {
		s.fail(w, r.WithContext(ctx), err)
		return
	}
	var raft *RaftStatus
	if s.cfg.Raft != nil {
		if st, err := s.cfg.Raft(ctx); err == nil {
			raft = &st
		} else {
			s.cfg.Logf("registry metrics: raft status: %v", err)
		}
	}
	took := time.Since(start)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(w, 32<<10)
	s.writeMetrics(bw, f, raft, took)
	_ = bw.Flush()
}

// writeMetrics renders the exposition; series are sorted, so a scrape of
// the same registry reads the same.
func (s *Server) writeMetrics(w io.Writer, f regapi.Fleet, raft *RaftStatus, took time.Duration) {
	m := metricWriter{w: w}
	// A node may name its image by build id; the series name it by
	// artifact id, as jitsi_registry_image_info does.
	artifact := map[string]string{}
	for _, img := range f.Images {
		artifact[img.ArtifactID] = img.ArtifactID
		if img.BuildID != "" {
			if _, ok := artifact[img.BuildID]; !ok {
				artifact[img.BuildID] = img.ArtifactID
			}
		}
	}
	type nodeKey struct{ shard, role, state, image string }
	nodes := map[nodeKey]int{}
	for _, c := range f.Counts {
		img := c.ImageID
		if a, ok := artifact[img]; ok {
			img = a
		}
		nodes[nodeKey{c.Shard, c.Role, string(c.State), img}] += c.Nodes
	}
	keys := make([]nodeKey, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.shard+"\x00"+a.role+"\x00"+a.state+"\x00"+a.image < b.shard+"\x00"+b.role+"\x00"+b.state+"\x00"+b.image
	})
	m.head("jitsi_registry_nodes", "gauge", "Nodes recorded in the registry, by shard, role, state and image (artifact id when recorded).")
	for _, k := range keys {
		m.sample("jitsi_registry_nodes", labels{"shard", k.shard, "role", k.role, "state", k.state, "image", k.image}, float64(nodes[k]))
	}
	m.head("jitsi_registry_image_info", "gauge", "Recorded images: 1 per image, with its build, OS, architecture, bridge version and agent version.")
	for _, img := range f.Images {
		version := img.Versions[jitsi.PkgJVB]
		if img.Role != string(node.RoleJVB) {
			version = img.Versions[jitsi.PkgMeet]
		}
		m.sample("jitsi_registry_image_info", labels{"image", img.ArtifactID, "build_id", img.BuildID, "role", img.Role, "os", img.OS,
			"arch", img.Arch, "version", version, "agent_version", img.AgentVersion}, 1)
	}
	for _, g := range []struct {
		name, help string
		val        func(regapi.Group) int
	}{
		{"jitsi_registry_group_members", "Live members of each active autoscaling group.", func(g regapi.Group) int { return g.Members }},
		{"jitsi_registry_group_max_size", "Maximum live members of each active autoscaling group.", func(g regapi.Group) int { return g.MaxSize }},
		{"jitsi_registry_group_tokens", "Live tokens of each active autoscaling group.", func(g regapi.Group) int { return g.Tokens }},
	} {
		m.head(g.name, "gauge", g.help)
		for _, gr := range f.Groups {
			if gr.State == regapi.GroupActive {
				m.sample(g.name, labels{"group", gr.Name, "shard", gr.Shard, "role", gr.Role}, float64(g.val(gr)))
			}
		}
	}
	c := s.claims
	m.head("jitsi_registry_claims_total", "counter", "Node identities claimed through this API server since it started, by who claimed (operator or group).")
	for k, kind := range claimKinds {
		m.sample("jitsi_registry_claims_total", labels{"kind", kind}, float64(c.claimed[k].Load()))
	}
	m.head("jitsi_registry_claim_failures_total", "counter", "Claim requests this API server refused or failed since it started, by kind and error code.")
	c.mu.Lock()
	fails := make([][2]string, 0, len(c.failures))
	for k := range c.failures {
		fails = append(fails, k)
	}
	sort.Slice(fails, func(i, j int) bool { return fails[i][0]+fails[i][1] < fails[j][0]+fails[j][1] })
	for _, k := range fails {
		m.sample("jitsi_registry_claim_failures_total", labels{"kind", k[0], "code", k[1]}, float64(c.failures[k]))
	}
	c.mu.Unlock()
	m.head("jitsi_registry_claim_duration_seconds", "histogram", "Latency of claim requests served by this API server.")
	for k, kind := range claimKinds {
		var cum int64
		for i, b := range claimBuckets {
			cum += c.buckets[k][i].Load()
			m.sample("jitsi_registry_claim_duration_seconds_bucket", labels{"kind", kind, "le", strconv.FormatFloat(b, 'g', -1, 64)}, float64(cum))
		}
		count := c.count[k].Load()
		m.sample("jitsi_registry_claim_duration_seconds_bucket", labels{"kind", kind, "le", "+Inf"}, float64(count))
		m.sample("jitsi_registry_claim_duration_seconds_sum", labels{"kind", kind}, float64(c.sumNanos[k].Load())/1e9)
		m.sample("jitsi_registry_claim_duration_seconds_count", labels{"kind", kind}, float64(count))
	}
	if raft != nil {
		m.head("jitsi_registry_raft_leader", "gauge", "1 if this registry node is its Raft cluster's leader, else 0.")
		leader := 0.0
		if raft.Leader {
			leader = 1
		}
		m.sample("jitsi_registry_raft_leader", nil, leader)
		m.head("jitsi_registry_raft_members", "gauge", "Members of the registry's Raft cluster, by role.")
		for _, role := range []string{"voter", "stand-by", "spare"} {
			m.sample("jitsi_registry_raft_members", labels{"role", role}, float64(raft.Members[role]))
		}
	}
	m.head("jitsi_registry_scrape_duration_seconds", "gauge", "What reading the registry for this scrape took.")
	m.sample("jitsi_registry_scrape_duration_seconds", nil, took.Seconds())
}

// labels are name, value pairs.
type labels []string

type metricWriter struct {
	w   io.Writer
	buf []byte
}

func (m *metricWriter) head(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m *metricWriter) sample(name string, l labels, v float64) {
	b := append(m.buf[:0], name...)
	if len(l) > 0 {
		b = append(b, '{')
		for i := 0; i < len(l); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l[i]...)
			b = append(b, '=', '"')
			b = appendLabelValue(b, l[i+1])
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	b = append(b, '\n')
	m.buf = b
	_, _ = m.w.Write(b)
}

// appendLabelValue escapes a label value as the text format requires:
// backslash, double quote and line feed.
func appendLabelValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}
