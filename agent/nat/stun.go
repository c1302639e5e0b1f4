package nat

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// STUN (RFC 5389) Binding: the one request Discover needs.
const (
	stunBindingRequest  = 0x0001
	stunBindingSuccess  = 0x0101
	stunBindingError    = 0x0111
	stunMagicCookie     = 0x2112A442
	stunHeaderLen       = 20
	attrMappedAddress   = 0x0001
	attrXORMappedAddr   = 0x0020
	familyIPv4          = 0x01
	familyIPv6          = 0x02
	stunFirstRetransmit = 500 * time.Millisecond
)

// NewBindingRequest returns a Binding request and its transaction id.
func NewBindingRequest() (msg []byte, txID [12]byte) {
	_, _ = rand.Read(txID[:]) // crypto/rand does not fail on Linux
	msg = make([]byte, stunHeaderLen)
	binary.BigEndian.PutUint16(msg[0:], stunBindingRequest)
	binary.BigEndian.PutUint16(msg[2:], 0)
	binary.BigEndian.PutUint32(msg[4:], stunMagicCookie)
	copy(msg[8:], txID[:])
	return msg, txID
}

// ParseBindingResponse reads the mapped address of a Binding success
// response to txID: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from servers that
// only know RFC 3489.
func ParseBindingResponse(msg []byte, txID [12]byte) (netip.AddrPort, error) {
	if len(msg) < stunHeaderLen {
		return netip.AddrPort{}, errors.New("stun: short message")
	}
	typ := binary.BigEndian.Uint16(msg[0:])
	length := int(binary.BigEndian.Uint16(msg[2:]))
	if binary.BigEndian.Uint32(msg[4:]) != stunMagicCookie || [12]byte(msg[8:20]) != txID {
		return netip.AddrPort{}, errors.New("stun: not an answer to our request")
	}
	if length%4 != 0 || stunHeaderLen+length > len(msg) {
		return netip.AddrPort{}, errors.New("stun: bad message length")
	}
	switch typ {
	case stunBindingSuccess:
	case stunBindingError:
		return netip.AddrPort{}, errors.New("stun: the server answered with an error")
	default:
		return netip.AddrPort{}, fmt.Errorf("stun: unexpected message type %#04x", typ)
	}
	var mapped netip.AddrPort
	found := false
	attrs := msg[stunHeaderLen : stunHeaderLen+length]
	for len(attrs) >= 4 {
		at := binary.BigEndian.Uint16(attrs[0:])
		al := int(binary.BigEndian.Uint16(attrs[2:]))
		if 4+al > len(attrs) {
			return netip.AddrPort{}, errors.New("stun: attribute overruns the message")
		}
		val := attrs[4 : 4+al]
		switch at {
		case attrXORMappedAddr:
			a, err := parseAddress(val, true, msg[4:20])
			if err != nil {
				return netip.AddrPort{}, err
			}
			return a, nil // preferred: return at once
		case attrMappedAddress:
			a, err := parseAddress(val, false, nil)
			if err != nil {
				return netip.AddrPort{}, err
			}
			mapped, found = a, true
		}
		padded := (al + 3) &^ 3
		if 4+padded > len(attrs) {
			break
		}
		attrs = attrs[4+padded:]
	}
	if !found {
		return netip.AddrPort{}, errors.New("stun: no mapped address in the answer")
	}
	return mapped, nil
}

// parseAddress reads a (XOR-)MAPPED-ADDRESS value; key is the magic cookie
// followed by the transaction id (the XOR key of RFC 5389 §15.2).
func parseAddress(v []byte, xor bool, key []byte) (netip.AddrPort, error) {
	if len(v) < 4 {
		return netip.AddrPort{}, errors.New("stun: short address attribute")
	}
	port := binary.BigEndian.Uint16(v[2:])
	var ip []byte
	switch v[1] {
	case familyIPv4:
		if len(v) != 8 {
			return netip.AddrPort{}, errors.New("stun: bad IPv4 address attribute")
		}
		ip = append([]byte(nil), v[4:8]...)
	case familyIPv6:
		if len(v) != 20 {
			return netip.AddrPort{}, errors.New("stun: bad IPv6 address attribute")
		}
		ip = append([]byte(nil), v[4:20]...)
	default:
		return netip.AddrPort{}, fmt.Errorf("stun: unknown address family %d", v[1])
	}
	if xor {
		port ^= uint16(stunMagicCookie >> 16)
		for i := range ip {
			ip[i] ^= key[i]
		}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr.Unmap(), port), nil
}

// stunBinding asks one STUN server (host:port, IPv4 as ice4j does) for
// this node's public address, retransmitting (500 ms, doubling) until ctx
// ends. It returns the mapped address and the local address the request
// left from.
func stunBinding(ctx context.Context, resolver *net.Resolver, server string) (public, local netip.Addr, err error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return public, local, fmt.Errorf("stun %s: %w", server, err)
	}
	ips, err := resolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(ips) == 0 {
		return public, local, fmt.Errorf("stun %s: resolve: %v", server, err)
	}
	raddr, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(ips[0].Unmap().String(), port))
	if err != nil {
		return public, local, fmt.Errorf("stun %s: %w", server, err)
	}
	conn, err := net.DialUDP("udp4", nil, raddr)
	if err != nil {
		return public, local, fmt.Errorf("stun %s: %w", server, err)
	}
	defer conn.Close()
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		local, _ = netip.AddrFromSlice(la.IP)
		local = local.Unmap()
	}
	req, txID := NewBindingRequest()
	buf := make([]byte, 1500)
	rto := stunFirstRetransmit
	for {
		if _, err := conn.Write(req); err != nil {
			return public, local, fmt.Errorf("stun %s: %w", server, err)
		}
		deadline := time.Now().Add(rto)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // retransmit
				}
				return public, local, fmt.Errorf("stun %s: %w", server, err)
			}
			if ap, err := ParseBindingResponse(buf[:n], txID); err == nil {
				return ap.Addr(), local, nil
			}
			// Not ours or malformed: keep listening until the deadline.
		}
		if ctx.Err() != nil {
			return public, local, fmt.Errorf("stun %s: no answer: %w", server, ctx.Err())
		}
		rto *= 2
	}
}
