package registry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/canonical/go-dqlite/v3/app"
)

// PeerTLS is the TLS set-up between cluster nodes: Listen for connections a
// node accepts, Dial for those it makes.
type PeerTLS struct {
	Listen *tls.Config
	Dial   *tls.Config
}

// LoadPeerTLS loads the shared cluster certificate and key (PEM). Every node
// of the cluster gets the same pair; a peer is accepted when it presents a
// certificate signed by it (mutual TLS, TLS ≥ 1.2). Peers verify each other
// by the certificate's first DNS name, which need not resolve. Make one with:
//
//	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
//	  -keyout cluster.key -out cluster.crt -subj /CN=jitsi-registry \
//	  -addext "subjectAltName=DNS:jitsi-registry" \
//	  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=digitalSignature,keyCertSign"
func LoadPeerTLS(certFile, keyFile string) (*PeerTLS, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load cluster certificate: %w", err)
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("load cluster certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("load cluster certificate: %w", err)
	}
	if len(leaf.DNSNames) == 0 {
		return nil, fmt.Errorf("load cluster certificate: %s has no DNS name in subjectAltName: add one (e.g. DNS:jitsi-registry); peers verify each other by it", certFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("load cluster certificate: %s holds no PEM certificate", certFile)
	}
	listen, dial := app.SimpleTLSConfig(pair, pool)
	return &PeerTLS{Listen: listen, Dial: dial}, nil
}
