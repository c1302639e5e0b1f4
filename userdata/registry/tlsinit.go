package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/atomicfile"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/credfile"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// DefaultClusterName is the DNS name every node certificate carries first:
// peers verify each other by it (it need not resolve).
const DefaultClusterName = "jitsi-registry"

// Files of a cluster TLS directory (InitClusterTLS).
const (
	ClusterCAFile    = "ca.crt"
	clusterCAKeyFile = "ca.key"
)

// ClusterTLSRequest says which certificates InitClusterTLS makes.
type ClusterTLSRequest struct {
	// Dir receives the files (created 0700 if missing).
	Dir string
	// Nodes are the hosts of the cluster's nodes as the others and the
	// API's clients reach them: DNS names or IP addresses.
	Nodes []string
	// Name is the cluster's name, the first DNS name of every node
	// certificate. Default DefaultClusterName.
	Name string
	// APINames are further names (DNS names or IP addresses) on every node
	// certificate: the load balancer in front of the APIs, or another
	// address clients reach them at.
	APINames []string
	// Validity of the CA and the node certificates. Default 10 years.
	Validity time.Duration
}

// NodeTLSFiles are the files made for one node.
type NodeTLSFiles struct {
	Host string `json:"host"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// ClusterTLS is what InitClusterTLS made.
type ClusterTLS struct {
	CA        string         `json:"ca"`         // the CA certificate (trust it: --cluster-ca, --registry-ca)
	CAKey     string         `json:"ca_key"`     // keep it offline-ish: it signs new nodes
	CAReused  bool           `json:"ca_reused"`  // the directory already had a CA
	NodeFiles []NodeTLSFiles `json:"node_files"` // one certificate and key per node
}

// InitClusterTLS makes a cluster CA in req.Dir (or reuses the one there) and
// one certificate and key per node, signed by the CA, valid for server and
// client authentication, with subjectAltNames for the cluster's name and the
// node's host. Keys are ECDSA P-256; every file is written atomically with
// mode 0600. Nothing is written when a node's files exist already or any
// input is wrong: all problems are reported at once.
func InitClusterTLS(req ClusterTLSRequest) (ClusterTLS, error) {
	if req.Name == "" {
		req.Name = DefaultClusterName
	}
	if req.Validity <= 0 {
		req.Validity = 10 * 365 * 24 * time.Hour
	}
	var errs []error
	if req.Dir == "" {
		errs = append(errs, errors.New("dir: give the directory the files go to"))
	}
	if _, err := hostFileName(req.Name); err != nil || net.ParseIP(req.Name) != nil {
		errs = append(errs, fmt.Errorf("name %q: give a DNS name (it need not resolve), e.g. %s", req.Name, DefaultClusterName))
	}
	if len(req.Nodes) == 0 {
		errs = append(errs, errors.New("nodes: give every node's host (DNS name or IP address)"))
	}
	for _, n := range req.APINames {
		if _, err := hostFileName(n); err != nil {
			errs = append(errs, fmt.Errorf("api name %q: %w", n, err))
		}
	}
	out := ClusterTLS{CA: filepath.Join(req.Dir, ClusterCAFile), CAKey: filepath.Join(req.Dir, clusterCAKeyFile)}
	seen := map[string]bool{}
	for _, h := range req.Nodes {
		base, err := hostFileName(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %q: %w", h, err))
			continue
		}
		if seen[base] {
			errs = append(errs, fmt.Errorf("node %q: given twice", h))
			continue
		}
		seen[base] = true
		f := NodeTLSFiles{Host: h, Cert: filepath.Join(req.Dir, base+".crt"), Key: filepath.Join(req.Dir, base+".key")}
		for _, p := range []string{f.Cert, f.Key} {
			if _, err := os.Lstat(p); err == nil {
				errs = append(errs, fmt.Errorf("node %q: %s exists: a node keeps its certificate; remove the file to make a new one", h, p))
			}
		}
		out.NodeFiles = append(out.NodeFiles, f)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%w: %w", regapi.ErrInvalid, errors.Join(errs...))
	}
	if err := os.MkdirAll(req.Dir, 0o700); err != nil {
		return out, fmt.Errorf("make TLS directory: %w", err)
	}
	now := time.Now()
	ca, caKey, reused, err := loadOrMakeCA(out.CA, out.CAKey, req.Name, now, req.Validity)
	if err != nil {
		return out, err
	}
	out.CAReused = reused
	for _, f := range out.NodeFiles {
		certPEM, keyPEM, err := nodeCert(ca, caKey, req.Name, append([]string{f.Host}, req.APINames...), now, req.Validity)
		if err != nil {
			return out, fmt.Errorf("make certificate of %s: %w", f.Host, err)
		}
		if err := atomicfile.Write(f.Key, keyPEM, 0o600); err != nil {
			return out, err
		}
		if err := atomicfile.Write(f.Cert, certPEM, 0o600); err != nil {
			return out, err
		}
	}
	return out, nil
}

// hostFileName checks a node's host and returns the base name of its files.
func hostFileName(h string) (string, error) {
	if ip := net.ParseIP(h); ip != nil {
		return strings.ReplaceAll(ip.String(), ":", "-"), nil
	}
	if !isDNSName(h) {
		return "", errors.New("not an IP address or a DNS name (letters, digits, '-' and '.'; no port)")
	}
	return strings.ToLower(h), nil
}

// isDNSName accepts host names, single-label ones (e.g. "registry1") too.
func isDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.ToLower(h), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func loadOrMakeCA(certPath, keyPath, name string, now time.Time, validity time.Duration) (*x509.Certificate, crypto.Signer, bool, error) {
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		certPEM, err := os.ReadFile(certPath)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read cluster CA: %w", err)
		}
		keyPEM, err := credfile.Read(keyPath)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read cluster CA key: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read cluster CA %s with key %s: %w", certPath, keyPath, err)
		}
		ca, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, false, fmt.Errorf("read cluster CA: %w", err)
		}
		signer, ok := pair.PrivateKey.(crypto.Signer)
		if !ok || !ca.IsCA {
			return nil, nil, false, fmt.Errorf("read cluster CA: %s is not a CA certificate", certPath)
		}
		return ca, signer, true, nil
	case !errors.Is(certErr, os.ErrNotExist) || !errors.Is(keyErr, os.ErrNotExist):
		return nil, nil, false, fmt.Errorf("cluster CA: %s and %s go together: one of them is missing or unreadable (%v, %v)", certPath, keyPath, certErr, keyErr)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, false, fmt.Errorf("make cluster CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + " cluster CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, false, fmt.Errorf("make cluster CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, false, fmt.Errorf("make cluster CA key: %w", err)
	}
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, false, err
	}
	if err := atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, nil, false, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, false, err
}

// nodeCert makes a node's certificate (PEM) and key (PEM, PKCS #8) for
// hosts (the node's first).
func nodeCert(ca *x509.Certificate, caKey crypto.Signer, name string, hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{name}, // first: the name peers verify
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter // a reused CA may expire first
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if !strings.EqualFold(h, name) {
			tmpl.DNSNames = append(tmpl.DNSNames, strings.ToLower(h))
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}
