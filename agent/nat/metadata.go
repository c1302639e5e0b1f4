package nat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultMetadataURL is where every cloud Discover knows serves metadata.
const DefaultMetadataURL = "http://169.254.169.254"

// errNotFound: the metadata service has no such value (no public address).
var errNotFound = errors.New("not in the metadata")

// metadataClient asks one metadata service, each request bounded.
type metadataClient struct {
	base    string
	hc      *http.Client
	timeout time.Duration
}

func newMetadataClient(base string, connect, request time.Duration) *metadataClient {
	tr := &http.Transport{
		Proxy:       nil, // link-local: never through a proxy
		DialContext: (&net.Dialer{Timeout: connect}).DialContext,
	}
	return &metadataClient{
		base:    strings.TrimSuffix(base, "/"),
		timeout: request,
		hc: &http.Client{Transport: tr, Timeout: request,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// maxMetadata bounds what is read of one answer.
const maxMetadata = 64 << 10

// do sends one request; 404 is errNotFound.
func (m *metadataClient) do(ctx context.Context, method, path string, header map[string]string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, nil)
	if err != nil {
		return "", err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata))
	if err != nil {
		return "", err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", errNotFound
	case resp.StatusCode/100 != 2:
		return "", fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return strings.TrimSpace(string(body)), nil
}

// addresses is what a metadata service tells: "" when it does not know.
type addresses struct{ private, public string }

// Each cloud's metadata requests (research F: cloud-init's datasources
// and the clouds' documentation).
const (
	ec2TokenPath   = "/latest/api/token"
	ec2TokenTTL    = "X-aws-ec2-metadata-token-ttl-seconds"
	ec2Token       = "X-aws-ec2-metadata-token"
	ec2LocalPath   = "/latest/meta-data/local-ipv4"
	ec2PublicPath  = "/latest/meta-data/public-ipv4"
	gcePrefix      = "/computeMetadata/v1/instance/network-interfaces/0/"
	azurePrefix    = "/metadata/instance/network/interface/0/ipv4/ipAddress/0/"
	azureQuery     = "?api-version=2021-02-01&format=text"
	ociVNICsPath   = "/opc/v2/vnics/"
	ociAuthHeader  = "Bearer Oracle"
	ec2TokenTTLVal = "60"
)

func (m *metadataClient) ask(ctx context.Context, cloud Cloud) (addresses, error) {
	switch cloud {
	case EC2:
		token, err := m.do(ctx, http.MethodPut, ec2TokenPath, map[string]string{ec2TokenTTL: ec2TokenTTLVal})
		if err != nil {
			return addresses{}, fmt.Errorf("IMDSv2 token: %w", err)
		}
		h := map[string]string{ec2Token: token}
		return m.pair(ctx, ec2LocalPath, ec2PublicPath, h)
	case GCE:
		h := map[string]string{"Metadata-Flavor": "Google"}
		return m.pair(ctx, gcePrefix+"ip", gcePrefix+"access-configs/0/external-ip", h)
	case Azure:
		h := map[string]string{"Metadata": "true"}
		return m.pair(ctx, azurePrefix+"privateIpAddress"+azureQuery, azurePrefix+"publicIpAddress"+azureQuery, h)
	case OCI:
		body, err := m.do(ctx, http.MethodGet, ociVNICsPath, map[string]string{"Authorization": ociAuthHeader})
		if err != nil {
			return addresses{}, err
		}
		var vnics []struct {
			PrivateIP string `json:"privateIp"`
		}
		if err := json.Unmarshal([]byte(body), &vnics); err != nil || len(vnics) == 0 {
			return addresses{}, fmt.Errorf("OCI vnics: no primary VNIC in the answer")
		}
		return addresses{private: vnics[0].PrivateIP}, nil // no public address in OCI's metadata
	default: // OpenStack and the EC2-compatible rest: no token
		return m.pair(ctx, ec2LocalPath, ec2PublicPath, nil)
	}
}

// pair reads the private then the public address; a missing public one is
// not an error.
func (m *metadataClient) pair(ctx context.Context, private, public string, h map[string]string) (addresses, error) {
	var a addresses
	var err error
	if a.private, err = m.do(ctx, http.MethodGet, private, h); err != nil && !errors.Is(err, errNotFound) {
		return a, err
	}
	if a.public, err = m.do(ctx, http.MethodGet, public, h); err != nil && !errors.Is(err, errNotFound) {
		return a, err
	}
	return a, nil
}
