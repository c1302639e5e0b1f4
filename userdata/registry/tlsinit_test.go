package registry

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

func TestInitClusterTLSMakesACAAndNodeCertificates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	out, err := InitClusterTLS(ClusterTLSRequest{Dir: dir, Nodes: []string{"10.0.0.1", "registry2.example.org", "::1"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir: %v %v, want 0700", st, err)
	}
	ca := readCert(t, out.CA)
	if !ca.IsCA || out.CAReused {
		t.Errorf("CA: IsCA %v, reused %v", ca.IsCA, out.CAReused)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	want := map[string]string{"10.0.0.1": "10.0.0.1", "registry2.example.org": "registry2.example.org", "::1": "--1"}
	for _, f := range out.NodeFiles {
		if filepath.Base(f.Cert) != want[f.Host]+".crt" || filepath.Base(f.Key) != want[f.Host]+".key" {
			t.Errorf("%s: files %s %s", f.Host, f.Cert, f.Key)
		}
		for _, p := range []string{out.CA, out.CAKey, f.Cert, f.Key} {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v, want 0600", p, st, err)
			}
		}
		c := readCert(t, f.Cert)
		if c.DNSNames[0] != DefaultClusterName {
			t.Errorf("%s: first DNS name %q, want the cluster's", f.Host, c.DNSNames[0])
		}
		// Clients of the API verify the node by its host.
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: f.Host}); err != nil {
			t.Errorf("%s: certificate does not verify for its host: %v", f.Host, err)
		}
		if _, err := LoadPeerTLS(out.CA, f.Cert, f.Key); err != nil {
			t.Errorf("%s: LoadPeerTLS: %v", f.Host, err)
		}
	}
	// Another run adds a node with the same CA; existing files stay. A
	// load balancer's name goes on its certificate too.
	again, err := InitClusterTLS(ClusterTLSRequest{Dir: dir, Nodes: []string{"registry3"}, APINames: []string{"registry.example.org", "10.0.2.102"}})
	if err != nil || !again.CAReused {
		t.Fatalf("second run: %+v %v", again, err)
	}
	if _, err := LoadPeerTLS(out.CA, again.NodeFiles[0].Cert, again.NodeFiles[0].Key); err != nil {
		t.Errorf("node of the second run: %v", err)
	}
	for _, host := range []string{"registry3", "registry.example.org", "10.0.2.102"} {
		if _, err := readCert(t, again.NodeFiles[0].Cert).Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("certificate of registry3 does not verify for %s: %v", host, err)
		}
	}
	_, err = InitClusterTLS(ClusterTLSRequest{Dir: dir, Nodes: []string{"10.0.0.1", "bad host", "x:9001", "registry4", "registry4"}})
	if !errors.Is(err, regapi.ErrInvalid) {
		t.Fatalf("bad request: err = %v", err)
	}
	for _, w := range []string{"10.0.0.1.crt exists", `"bad host"`, `"x:9001"`, `"registry4": given twice`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "registry4.crt")); !os.IsNotExist(err) {
		t.Errorf("a refused run wrote files: %v", err)
	}
	// A key others may read is refused, with the chmod to run.
	key := out.NodeFiles[0].Key
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPeerTLS(out.CA, out.NodeFiles[0].Cert, key); err == nil || !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Errorf("0640 key: err = %v", err)
	}
	// A certificate from another CA is refused.
	other, err := InitClusterTLS(ClusterTLSRequest{Dir: filepath.Join(t.TempDir(), "other"), Nodes: []string{"10.0.0.9"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPeerTLS(out.CA, other.NodeFiles[0].Cert, other.NodeFiles[0].Key); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("foreign certificate: err = %v", err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
