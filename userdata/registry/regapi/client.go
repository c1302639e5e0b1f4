package regapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client is a remote registry reached through its HTTP API, at one node's
// URL or several (failover.go). It implements Store. Every call is
// idempotent (claims carry claim ids, generated here when missing), so calls
// are retried on connection errors and 503s — on the next URL first — until
// their context ends or RetryFor passes.
type Client struct {
	nodes    []*url.URL // one per registry node (or load balancer)
	token    string
	hc       *http.Client
	retryFor time.Duration
	route    route // which node requests go to first (failover.go)
}

var _ Store = (*Client)(nil)

// ClientOption tunes NewClient.
type ClientOption func(*clientOptions) error

type clientOptions struct {
	roots    *x509.CertPool
	hc       *http.Client
	retryFor time.Duration
}

// WithCAFile trusts the PEM certificates in path for HTTPS (e.g. a
// self-signed server certificate). Default: the system roots.
func WithCAFile(path string) ClientOption {
	return func(o *clientOptions) error {
		pem, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read CA file: %w", err)
		}
		o.roots = x509.NewCertPool()
		if !o.roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("read CA file: %s holds no PEM certificate", path)
		}
		return nil
	}
}

// WithRetryFor bounds the retries of one call. Default 30 s.
func WithRetryFor(d time.Duration) ClientOption {
	return func(o *clientOptions) error { o.retryFor = d; return nil }
}

// NewClient returns a client of the API at baseURL (e.g.
// https://example.org:8443), or at any of several nodes' URLs given
// comma-separated (https://r1:8443,https://r2:8443): requests go to the
// Raft leader when one of them says it is (GET /v1/leader), and move on to
// the next URL after a connection error or a 503. Plain http is allowed on
// loopback only: elsewhere it would send the token in clear.
func NewClient(baseURL, token string, opts ...ClientOption) (*Client, error) {
	var nodes []*url.URL
	var errs []error
	for _, raw := range strings.Split(baseURL, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			errs = append(errs, fmt.Errorf("registry URL %q: want https://HOST[:PORT]", raw))
			continue
		case u.User != nil:
			errs = append(errs, fmt.Errorf("registry URL %q: must not carry credentials: the token goes in a file", u.Redacted()))
			continue
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			errs = append(errs, fmt.Errorf("registry URL %q: plain http would send the token in clear: use https (http is allowed on loopback only)", raw))
			continue
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		nodes = append(nodes, u)
	}
	if len(nodes) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("registry URL: none given: want https://HOST[:PORT][,https://HOST2[:PORT]…]"))
	}
	if err := CheckToken(token); err != nil {
		errs = append(errs, fmt.Errorf("registry token: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	o := clientOptions{retryFor: 30 * time.Second}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	hc := &http.Client{Timeout: 2 * time.Minute}
	hc.Transport = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// A node whose host is gone (no RST) must not hold the call: the
		// next URL is tried after a short dial timeout.
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.roots},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: answerTimeout,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       time.Minute,
	}
	c := &Client{nodes: nodes, token: token, hc: hc, retryFor: o.retryFor}
	c.route.init(len(nodes))
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Claim implements Store.
func (c *Client) Claim(ctx context.Context, reqs ...ClaimRequest) ([]Node, error) {
	reqs = append([]ClaimRequest(nil), reqs...)
	for i := range reqs {
		if reqs[i].ClaimID == "" {
			reqs[i].ClaimID = NewClaimID() // before the first attempt: retries stay idempotent
		}
	}
	if len(reqs) == 1 {
		var n Node
		if err := c.do(ctx, http.MethodPost, "/v1/claims", nil, reqs[0], &n); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		return []Node{n}, nil
	}
	var out NodesPage
	if err := c.do(ctx, http.MethodPost, "/v1/claims", nil, ClaimsBody{Claims: reqs}, &out); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return out.Nodes, nil
}

// SetState implements Store.
func (c *Client) SetState(ctx context.Context, ref NodeRef, to State, reason string) (Node, error) {
	var n Node
	if err := c.do(ctx, http.MethodPost, "/v1/state", nil, StateBody{NodeRef: ref, State: to, Reason: reason}, &n); err != nil {
		return Node{}, fmt.Errorf("set state: %w", err)
	}
	return n, nil
}

// Nodes implements Store: one page when f.Limit > 0; with f.Limit 0 it
// pages through all and holds them (ForEachNode streams instead).
func (c *Client) Nodes(ctx context.Context, f Filter) ([]Node, error) {
	if f.Limit > 0 {
		var page NodesPage
		if err := c.do(ctx, http.MethodGet, "/v1/nodes", f.Query(), nil, &page); err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		return page.Nodes, nil
	}
	var all []Node
	err := ForEachNode(ctx, c, f, func(page []Node) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}

// RecordImage implements Store.
func (c *Client) RecordImage(ctx context.Context, img Image) (Image, error) {
	var out Image
	if err := c.do(ctx, http.MethodPost, "/v1/images", nil, img, &out); err != nil {
		return Image{}, fmt.Errorf("record image: %w", err)
	}
	return out, nil
}

// Images implements Store.
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	var out ImagesBody
	if err := c.do(ctx, http.MethodGet, "/v1/images", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out.Images, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// maxResponseBytes bounds what the client reads of one answer.
const maxResponseBytes = 64 << 20

// once sends one request to node i and decodes its answer.
func (c *Client) once(ctx context.Context, i int, method, path string, q url.Values, body []byte, out any) error {
	base := c.nodes[i]
	u := *base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("registry at %s: %w", base.Redacted(), err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The URL in a *url.Error is ours (no secret in it); the token is in a header.
		return fmt.Errorf("registry at %s unreachable: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("registry at %s: read answer: %w", base.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(data, &eb) != nil || eb.Error == nil {
			return &Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
				Message: fmt.Sprintf("registry at %s answered %s", base.Redacted(), resp.Status)}
		}
		eb.Error.Status = resp.StatusCode
		return eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("registry at %s: decode answer: %w", base.Redacted(), err)
		}
	}
	return nil
}

// ClaimInGroup claims an identity in the group whose token the client holds.
// It is retried like every call (connection errors, 503), so give it a
// context with the bound the caller can wait.
func (c *Client) ClaimInGroup(ctx context.Context, gc GroupClaim) (ClaimResult, error) {
	var out ClaimResult
	if err := c.do(ctx, http.MethodPost, "/v1/claims", nil, gc, &out); err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return ClaimResult{}, err // the registry's answer says what it refused
		}
		return ClaimResult{}, fmt.Errorf("claim in group: %w", err)
	}
	return out, nil
}

// Report sets the state of the node whose credential the client holds.
func (c *Client) Report(ctx context.Context, to State, reason string) (Node, error) {
	return c.SendReport(ctx, Report{State: to, Reason: reason})
}

// SendReport sends a node's report (its state, and the image it booted)
// with the node credential the client holds.
func (c *Client) SendReport(ctx context.Context, r Report) (Node, error) {
	var n Node
	if err := c.do(ctx, http.MethodPost, "/v1/state", nil, r, &n); err != nil {
		return Node{}, fmt.Errorf("report state %s: %w", r.State, err)
	}
	return n, nil
}
