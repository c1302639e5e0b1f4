package registry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/canonical/go-dqlite/v3/app"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/credfile"
)

// PeerTLS is the TLS set-up between cluster nodes: Listen for connections a
// node accepts, Dial for those it makes.
type PeerTLS struct {
	Listen *tls.Config
	Dial   *tls.Config
}

// LoadPeerTLS loads a node's cluster certificate and key and the cluster CA
// (PEM files). A peer is accepted only when it presents a certificate the CA
// signed (mutual TLS, TLS ≥ 1.2), and peers verify each other by the first
// DNS name of their certificates, the cluster's name, which need not
// resolve. `registry tls init` (InitClusterTLS) makes a CA and one
// certificate per node. caFile may be empty when certFile is itself the CA:
// a self-signed pair shared by every node.
//
// The key must be readable by its owner only (credfile's rule).
func LoadPeerTLS(caFile, certFile, keyFile string) (*PeerTLS, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("load cluster certificate: %w", err)
	}
	keyPEM, err := credfile.Read(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load cluster key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load cluster certificate %s with key %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("load cluster certificate: %w", err)
	}
	if len(leaf.DNSNames) == 0 {
		return nil, fmt.Errorf("load cluster certificate: %s has no DNS name in subjectAltName: add the cluster's name (registry tls init does); peers verify each other by it", certFile)
	}
	if caFile == "" {
		caFile = certFile
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("load cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("load cluster CA: %s holds no PEM certificate", caFile)
	}
	// Each node is a server to some peers and a client of others: the
	// certificate must pass as both, or links fail later in one direction.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: leaf.DNSNames[0], KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return nil, fmt.Errorf("load cluster certificate: %s does not verify against the cluster CA %s: %w", certFile, caFile, err)
		}
	}
	listen, dial := app.SimpleTLSConfig(pair, pool)
	return &PeerTLS{Listen: listen, Dial: dial}, nil
}
