package fakecloud

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
)

// FakeMetadata is a TEST FIXTURE: one cloud's metadata service.
type FakeMetadata struct {
	Cloud nat.Cloud
	// PrivateIP is the primary NIC's address.
	PrivateIP string
	// PublicIP is the instance's public address; "" when it has none (EC2
	// and GCE answer 404 then, Azure and OpenStack an empty 200; OCI's
	// metadata never has one).
	PublicIP string
	// Delay holds every answer back (a slow or unreachable service).
	Delay time.Duration

	mu       sync.Mutex
	tokens   map[string]bool
	requests []string
}

// Requests lists "METHOD PATH" of every request, in order.
func (m *FakeMetadata) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...)
}

// ServeHTTP implements http.Handler with the cloud's rules.
func (m *FakeMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.requests = append(m.requests, r.Method+" "+r.URL.RequestURI())
	m.mu.Unlock()
	if m.Delay > 0 {
		select {
		case <-time.After(m.Delay):
		case <-r.Context().Done():
			return
		}
	}
	switch m.Cloud {
	case nat.EC2:
		m.ec2(w, r, true)
	case nat.GCE:
		m.gce(w, r)
	case nat.Azure:
		m.azure(w, r)
	case nat.OCI:
		m.oci(w, r)
	default:
		m.ec2(w, r, false) // OpenStack's EC2-compatible paths
	}
}

// ec2 is IMDSv2 (token required) or, without tokens, nova's EC2 paths.
func (m *FakeMetadata) ec2(w http.ResponseWriter, r *http.Request, imdsv2 bool) {
	if imdsv2 && r.URL.Path == "/latest/api/token" {
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if r.Method != http.MethodPut || r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "bad ttl", http.StatusBadRequest)
			return
		}
		tok := fmt.Sprintf("fake-imds-token-%d", time.Now().UnixNano())
		m.mu.Lock()
		if m.tokens == nil {
			m.tokens = map[string]bool{}
		}
		m.tokens[tok] = true
		m.mu.Unlock()
		fmt.Fprint(w, tok)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if imdsv2 {
		m.mu.Lock()
		ok := m.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
		m.mu.Unlock()
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	switch r.URL.Path {
	case "/latest/meta-data/local-ipv4":
		fmt.Fprint(w, m.PrivateIP)
	case "/latest/meta-data/public-ipv4":
		if m.PublicIP == "" && imdsv2 {
			http.NotFound(w, r) // EC2: 404 without a public address
			return
		}
		fmt.Fprint(w, m.PublicIP) // nova: "" without a floating IP
	case "/latest/meta-data/instance-id":
		fmt.Fprint(w, "i-0fake")
	default:
		http.NotFound(w, r)
	}
}

func (m *FakeMetadata) gce(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" || r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	switch r.URL.Path {
	case "/computeMetadata/v1/instance/network-interfaces/0/ip":
		fmt.Fprint(w, m.PrivateIP)
	case "/computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip":
		if m.PublicIP == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, m.PublicIP)
	default:
		http.NotFound(w, r)
	}
}

func (m *FakeMetadata) azure(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata") != "true" || r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, `{"error":"Bad request. Required metadata header not specified"}`, http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		http.Error(w, `{"error":"Bad request. api-version was not specified"}`, http.StatusBadRequest)
		return
	}
	const prefix = "/metadata/instance/network/interface/0/ipv4/ipAddress/0/"
	switch r.URL.Path {
	case prefix + "privateIpAddress":
		fmt.Fprint(w, m.PrivateIP)
	case prefix + "publicIpAddress":
		fmt.Fprint(w, m.PublicIP) // "" for none, and for a Standard-SKU address
	default:
		http.NotFound(w, r)
	}
}

func (m *FakeMetadata) oci(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer Oracle" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/opc/v2/vnics/":
		json.NewEncoder(w).Encode([]map[string]any{{
			"vnicId": "ocid1.vnic.oc1..fake", "privateIp": m.PrivateIP, "vlanTag": 0,
			"macAddr": "02:00:17:00:00:01", "virtualRouterIp": "10.0.0.1", "subnetCidrBlock": "10.0.0.0/24", "nicIndex": 0,
		}})
	case "/opc/v2/instance/id":
		fmt.Fprint(w, "ocid1.instance.oc1..fake")
	default:
		http.NotFound(w, r)
	}
}

// MetadataServer is a TEST FIXTURE server of a FakeMetadata on loopback.
type MetadataServer struct {
	URL string
	srv *http.Server
	ln  net.Listener
}

// ServeMetadata serves m on addr, which must be a loopback address
// ("127.0.0.1:0" for any port).
func ServeMetadata(m *FakeMetadata, addr string) (*MetadataServer, error) {
	if err := loopbackOnly(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake metadata: %w", err)
	}
	s := &MetadataServer{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *MetadataServer) Close() error { return s.srv.Close() }

func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("fakecloud: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("fakecloud: %s is not a loopback address: the fixtures serve loopback only", addr)
	}
	return nil
}

// DMI is a TEST FIXTURE: the files under /sys that tell each cloud apart
// (as cloud-init's ds-identify reads them), relative to a test's root.
func DMI(cloud nat.Cloud) map[string]string {
	const d = "/sys/class/dmi/id/"
	switch cloud {
	case nat.EC2:
		return map[string]string{d + "sys_vendor": "Amazon EC2\n", d + "product_uuid": "EC2A1B2C-0000-1111-2222-333344445555\n"}
	case nat.GCE:
		return map[string]string{d + "product_name": "Google Compute Engine\n", d + "product_serial": "GoogleCloud-FAKE\n"}
	case nat.Azure:
		return map[string]string{d + "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77\n"}
	case nat.OCI:
		return map[string]string{d + "chassis_asset_tag": "OracleCloud.com\n"}
	case nat.OpenStack:
		return map[string]string{d + "product_name": "OpenStack Nova\n"}
	}
	return map[string]string{d + "product_name": "Standard PC (Q35 + ICH9, 2009)\n"}
}
