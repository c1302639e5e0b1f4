package nat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Options tune Discover; zero values take the defaults documented here.
type Options struct {
	// Root is where the DMI files are read ("/" on a node).
	Root string
	// MetadataURL is the metadata service: DefaultMetadataURL. Tests point
	// it at a fake on loopback.
	MetadataURL string
	// ConnectTimeout (1 s) and RequestTimeout (2 s) bound each metadata
	// request; MetadataBudget (6 s) bounds all of them.
	ConnectTimeout, RequestTimeout, MetadataBudget time.Duration
	// STUNTimeout bounds each STUN server (3 s).
	STUNTimeout time.Duration
	// Resolver resolves STUN servers' names (net.DefaultResolver).
	Resolver *net.Resolver
	// RouteSource finds the local address of the default route without
	// sending anything (DefaultRouteSource).
	RouteSource func() (netip.Addr, error)
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if o.MetadataURL == "" {
		o.MetadataURL = DefaultMetadataURL
	}
	def(&o.ConnectTimeout, time.Second)
	def(&o.RequestTimeout, 2*time.Second)
	def(&o.MetadataBudget, 6*time.Second)
	def(&o.STUNTimeout, 3*time.Second)
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.RouteSource == nil {
		o.RouteSource = DefaultRouteSource
	}
	return o
}

// RouteSourceOrDefault is RouteSource, or DefaultRouteSource when unset.
func (o Options) RouteSourceOrDefault() func() (netip.Addr, error) {
	if o.RouteSource != nil {
		return o.RouteSource
	}
	return DefaultRouteSource
}

// Result is what Discover found.
type Result struct {
	Cloud Cloud
	// Public is the address to advertise; invalid when none was found.
	Public netip.Addr
	// Local is the node's address that Public maps to.
	Local netip.Addr
	// Source says where Public came from ("ec2 metadata", "stun HOST:PORT").
	Source string
	// Tried lists what was asked and why it gave nothing, for messages.
	Tried []string
}

// Mapped reports whether the node needs a mapping: a public address was
// found and it is not the node's own.
func (r Result) Mapped() bool { return r.Public.IsValid() && r.Public != r.Local }

// Discover finds the node's public address: the cloud's metadata service,
// then each STUN server in turn. Not finding one is not an error (Public is
// invalid and Tried says why); a canceled ctx is.
func Discover(ctx context.Context, o Options, stunServers []string) (Result, error) {
	o = o.withDefaults()
	r := Result{Cloud: DetectCloud(o.Root)}
	mctx, cancel := context.WithTimeout(ctx, o.MetadataBudget)
	a, err := newMetadataClient(o.MetadataURL, o.ConnectTimeout, o.RequestTimeout).ask(mctx, r.Cloud)
	cancel()
	switch {
	case err != nil:
		r.Tried = append(r.Tried, fmt.Sprintf("%s metadata: %v", r.Cloud, err))
	case a.public == "":
		r.Tried = append(r.Tried, fmt.Sprintf("%s metadata: no public address", r.Cloud))
	}
	if local, err := netip.ParseAddr(a.private); err == nil {
		r.Local = local.Unmap()
	}
	if pub, err := netip.ParseAddr(a.public); err == nil {
		if !PublicForJitsi(pub) {
			r.Tried = append(r.Tried, fmt.Sprintf("%s metadata: %s is not a public address", r.Cloud, pub))
		} else {
			r.Public, r.Source = pub.Unmap(), string(r.Cloud)+" metadata"
		}
	} else if a.public != "" {
		r.Tried = append(r.Tried, fmt.Sprintf("%s metadata: public address %q is not an IP address", r.Cloud, a.public))
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if !r.Public.IsValid() {
		for _, server := range stunServers {
			sctx, cancel := context.WithTimeout(ctx, o.STUNTimeout)
			pub, local, err := stunBinding(sctx, o.Resolver, server)
			cancel()
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			if err != nil {
				r.Tried = append(r.Tried, err.Error())
				continue
			}
			if !PublicForJitsi(pub) {
				r.Tried = append(r.Tried, fmt.Sprintf("stun %s: answered %s, not a public address", server, pub))
				continue
			}
			r.Public, r.Source = pub, "stun "+server
			if !r.Local.IsValid() {
				r.Local = local
			}
			break
		}
	}
	if r.Public.IsValid() && !r.Local.IsValid() {
		local, err := o.RouteSource()
		if err != nil {
			return r, fmt.Errorf("find the local address of the NAT mapping: %w", err)
		}
		r.Local = local
	}
	return r, nil
}

// Summary is Tried in one line.
func (r Result) Summary() string { return strings.Join(r.Tried, "; ") }

// PublicForJitsi reports whether jitsi-videobridge's health check counts a
// as a valid address (Java's InetAddress: not site-local, link-local or
// loopback), and it can be advertised at all (not unspecified or multicast).
// CGNAT 100.64/10 and IPv6 ULA pass, as they do in the bridge.
func PublicForJitsi(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() {
		return false
	}
	if a.Is4() {
		return !a.IsPrivate() // 10/8, 172.16/12, 192.168/16: Java's site-local
	}
	return !netip.MustParsePrefix("fec0::/10").Contains(a) // Java's IPv6 site-local
}

// routeProbe is a documentation address (RFC 5737): connecting a UDP socket
// to it picks the default route's source address and sends nothing.
const routeProbe = "192.0.2.1:9"

// DefaultRouteSource is the source address of the default route.
func DefaultRouteSource() (netip.Addr, error) {
	c, err := net.Dial("udp4", routeProbe)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no default route: %w", err)
	}
	defer c.Close()
	ua, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}, errors.New("no default route")
	}
	a, _ := netip.AddrFromSlice(ua.IP)
	return a.Unmap(), nil
}
