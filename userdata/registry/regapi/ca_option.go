package regapi

import "crypto/x509"

// WithRootCAs trusts pool for HTTPS instead of the system roots (the node
// agent carries the registry's CA in its config, not in a file).
func WithRootCAs(pool *x509.CertPool) ClientOption {
	return func(o *clientOptions) error { o.roots = pool; return nil }
}
