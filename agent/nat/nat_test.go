package nat_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/fakecloud"
)

// dmiRoot writes a cloud's DMI files into a fresh root.
func dmiRoot(t *testing.T, cloud nat.Cloud) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range fakecloud.DMI(cloud) {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func metadata(t *testing.T, m *fakecloud.FakeMetadata) string {
	t.Helper()
	srv, err := fakecloud.ServeMetadata(m, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.URL
}

func stun(t *testing.T, mapped string, silent bool) string {
	t.Helper()
	s, err := fakecloud.ServeSTUN(netip.MustParseAddrPort(mapped), silent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr
}

// noRoute fails the test if the default route is asked for: each case
// below knows its local address from the metadata or from STUN.
func noRoute(t *testing.T) func() (netip.Addr, error) {
	return func() (netip.Addr, error) {
		t.Error("the default route was asked for")
		return netip.Addr{}, net.ErrClosed
	}
}

func TestDetectCloud(t *testing.T) {
	for _, c := range []nat.Cloud{nat.EC2, nat.GCE, nat.Azure, nat.OCI, nat.OpenStack, nat.Unknown} {
		if got := nat.DetectCloud(dmiRoot(t, c)); got != c {
			t.Errorf("DMI of %s detected as %s", c, got)
		}
	}
	// Xen EC2 instances tell it in /sys/hypervisor/uuid; some firmware swaps the UUID's bytes.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/hypervisor"), 0o755)
	os.WriteFile(filepath.Join(root, "sys/hypervisor/uuid"), []byte("ec2e1916-9099-7caf-fd21-012345abcdef\n"), 0o444)
	if got := nat.DetectCloud(root); got != nat.EC2 {
		t.Errorf("xen EC2: %s", got)
	}
	root = t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/class/dmi/id"), 0o755)
	os.WriteFile(filepath.Join(root, "sys/class/dmi/id/product_uuid"), []byte("45E12AEC-DCD1-B213-94ED-012345ABCDEF\n"), 0o400)
	if got := nat.DetectCloud(root); got != nat.EC2 {
		t.Errorf("byte-swapped EC2 uuid: %s", got)
	}
}

func TestDiscoverFromEachCloudsMetadata(t *testing.T) {
	for _, c := range []nat.Cloud{nat.EC2, nat.GCE, nat.Azure, nat.OpenStack} {
		t.Run(string(c), func(t *testing.T) {
			m := &fakecloud.FakeMetadata{Cloud: c, PrivateIP: "10.1.2.3", PublicIP: "203.0.113.10"}
			silent := stun(t, "198.51.100.99:1", true)
			r, err := nat.Discover(context.Background(), nat.Options{Root: dmiRoot(t, c), MetadataURL: metadata(t, m), RouteSource: noRoute(t)},
				[]string{silent})
			if err != nil {
				t.Fatal(err)
			}
			if r.Cloud != c || r.Public.String() != "203.0.113.10" || r.Local.String() != "10.1.2.3" || r.Source != string(c)+" metadata" || !r.Mapped() {
				t.Errorf("got %+v", r)
			}
			if c == nat.EC2 {
				reqs := m.Requests()
				if len(reqs) == 0 || reqs[0] != "PUT /latest/api/token" {
					t.Errorf("EC2 must be asked with an IMDSv2 token first: %v", reqs)
				}
			}
		})
	}
}

// TestDiscoverFallsBackToSTUN: no public address in the metadata (EC2 and
// GCE 404, Azure's Standard SKU "", OCI never) → STUN; the local address
// stays the metadata's.
func TestDiscoverFallsBackToSTUN(t *testing.T) {
	for _, c := range []nat.Cloud{nat.EC2, nat.GCE, nat.Azure, nat.OCI, nat.OpenStack} {
		t.Run(string(c), func(t *testing.T) {
			m := &fakecloud.FakeMetadata{Cloud: c, PrivateIP: "10.1.2.3"}
			dead := stun(t, "198.51.100.99:1", true)
			live := stun(t, "203.0.113.20:40000", false)
			r, err := nat.Discover(context.Background(), nat.Options{Root: dmiRoot(t, c), MetadataURL: metadata(t, m),
				STUNTimeout: 700 * time.Millisecond, RouteSource: noRoute(t)}, []string{dead, live})
			if err != nil {
				t.Fatal(err)
			}
			if r.Public.String() != "203.0.113.20" || r.Local.String() != "10.1.2.3" || r.Source != "stun "+live {
				t.Errorf("got %+v", r)
			}
			if !strings.Contains(r.Summary(), dead) {
				t.Errorf("the silent STUN server is not in Tried: %s", r.Summary())
			}
		})
	}
}

// TestDiscoverIsBounded: a metadata service that never answers and STUN
// servers that never answer cost at most their bounds.
func TestDiscoverIsBounded(t *testing.T) {
	m := &fakecloud.FakeMetadata{Cloud: nat.EC2, PrivateIP: "10.1.2.3", PublicIP: "203.0.113.10", Delay: time.Minute}
	dead1, dead2 := stun(t, "198.51.100.1:1", true), stun(t, "198.51.100.2:1", true)
	start := time.Now()
	r, err := nat.Discover(context.Background(), nat.Options{Root: dmiRoot(t, nat.EC2), MetadataURL: metadata(t, m),
		RequestTimeout: 300 * time.Millisecond, MetadataBudget: 500 * time.Millisecond, STUNTimeout: 400 * time.Millisecond,
		RouteSource: noRoute(t)}, []string{dead1, dead2})
	took := time.Since(start)
	if err != nil || r.Public.IsValid() {
		t.Fatalf("want nothing found, got %+v, %v", r, err)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("discovery took %s, over its bounds (0.5 s metadata + 2 × 0.4 s STUN)", took)
	}
	for _, want := range []string{"ec2 metadata", dead1, dead2} {
		if !strings.Contains(r.Summary(), want) {
			t.Errorf("Tried lacks %q: %s", want, r.Summary())
		}
	}
}

// TestDiscoverWithoutMetadata: nothing listens at the metadata address
// (a private network) → STUN, with STUN's local address.
func TestDiscoverWithoutMetadata(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	live := stun(t, "203.0.113.30:1234", false)
	r, err := nat.Discover(context.Background(), nat.Options{Root: dmiRoot(t, nat.Unknown), MetadataURL: dead, RouteSource: noRoute(t)}, []string{live})
	if err != nil || r.Public.String() != "203.0.113.30" || r.Local.String() != "127.0.0.1" || r.Cloud != nat.Unknown {
		t.Errorf("got %+v, %v", r, err)
	}
}

// TestDiscoverRefusesPrivateAnswers: a "public" address the bridge's health
// check would not count is not advertised.
func TestDiscoverRefusesPrivateAnswers(t *testing.T) {
	m := &fakecloud.FakeMetadata{Cloud: nat.OpenStack, PrivateIP: "10.1.2.3", PublicIP: "192.168.1.5"}
	priv := stun(t, "10.9.9.9:1", false)
	r, err := nat.Discover(context.Background(), nat.Options{Root: dmiRoot(t, nat.OpenStack), MetadataURL: metadata(t, m),
		RouteSource: noRoute(t)}, []string{priv})
	if err != nil || r.Public.IsValid() {
		t.Fatalf("got %+v, %v", r, err)
	}
	if !strings.Contains(r.Summary(), "192.168.1.5 is not a public address") || !strings.Contains(r.Summary(), "10.9.9.9, not a public address") {
		t.Errorf("Tried: %s", r.Summary())
	}
}

func TestPublicOnNICIsNotMapped(t *testing.T) {
	m := &fakecloud.FakeMetadata{Cloud: nat.OpenStack, PrivateIP: "203.0.113.5", PublicIP: "203.0.113.5"}
	r, err := nat.Discover(context.Background(), nat.Options{Root: dmiRoot(t, nat.OpenStack), MetadataURL: metadata(t, m), RouteSource: noRoute(t)}, nil)
	if err != nil || !r.Public.IsValid() || r.Mapped() {
		t.Errorf("a public address on the NIC needs no mapping: %+v %v", r, err)
	}
}

func TestPublicForJitsi(t *testing.T) {
	for a, want := range map[string]bool{
		"203.0.113.7": true, "100.64.0.1": true, "fd00::1": true, "2001:db8::1": true,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.0.1": false, "169.254.169.254": false, "127.0.0.1": false,
		"::1": false, "fe80::1": false, "fec0::1": false, "0.0.0.0": false, "224.0.0.1": false, "::ffff:10.0.0.1": false,
	} {
		if got := nat.PublicForJitsi(netip.MustParseAddr(a)); got != want {
			t.Errorf("%s: %v, want %v", a, got, want)
		}
	}
}
