// Package turnc is the e2e tier's small TURN client: it allocates a relay
// on a TURN server (RFC 8656, Allocate; STUN messages of RFC 8489) with
// the long-term credentials an XMPP server hands out for it, over UDP, TCP
// or TLS, and releases it. That is what a Jitsi Meet client behind a
// firewall does before any media flows, so a successful allocation shows the
// JMS's TURN server takes the credentials prosody made from the shared
// secret. It relays nothing.
package turnc

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5" // #nosec G501 -- RFC 8489 §9.2.2 defines the long-term key as MD5(username:realm:password)
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- MESSAGE-INTEGRITY is HMAC-SHA1 (RFC 8489 §14.5)
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"time"
)

// STUN/TURN constants (RFC 8489, RFC 8656).
const (
	magicCookie = 0x2112A442
	headerLen   = 20

	methodAllocate = 0x003
	methodRefresh  = 0x004

	classRequest = 0x000
	classSuccess = 0x100
	classError   = 0x110

	attrUsername          = 0x0006
	attrMessageIntegrity  = 0x0008
	attrErrorCode         = 0x0009
	attrLifetime          = 0x000D
	attrRealm             = 0x0014
	attrNonce             = 0x0015
	attrXorRelayedAddress = 0x0016
	attrRequestedTranspt  = 0x0019
	attrXorMappedAddress  = 0x0020
	attrFingerprint       = 0x8028

	transportUDP = 17
)

// Credentials are TURN long-term credentials, e.g. from XEP-0215.
type Credentials struct {
	Username, Password string
}

// Allocation is a relay the server made for the client.
type Allocation struct {
	// Relayed is the address peers send to; Mapped is the client's address
	// as the server saw it.
	Relayed, Mapped netip.AddrPort
	Lifetime        time.Duration
	Realm           string

	conn  net.Conn
	key   []byte
	nonce []byte
	creds Credentials
}

// Error is a TURN error response (ERROR-CODE).
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("TURN error %d %s", e.Code, e.Reason) }

// ErrUnauthorized is matched (errors.Is) by a 401 that the credentials
// did not fix: the server does not take them.
var ErrUnauthorized = errors.New("TURN server refused the credentials (401)")

// Is makes a 401 match ErrUnauthorized.
func (e *Error) Is(target error) bool { return target == ErrUnauthorized && e.Code == 401 }

// Allocate asks the server at the other end of conn for a UDP relay: an
// unauthenticated Allocate learns the realm and nonce (401), the second
// carries the credentials and MESSAGE-INTEGRITY. conn is a stream (TCP,
// TLS) or a connected UDP socket. The server's answer must carry a valid
// MESSAGE-INTEGRITY too: it knows the same key.
func Allocate(ctx context.Context, conn net.Conn, creds Credentials) (*Allocation, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	transport := attribute(attrRequestedTranspt, []byte{transportUDP, 0, 0, 0})
	first, err := roundTrip(ctx, conn, methodAllocate, []attr{transport}, nil)
	if err != nil {
		return nil, err
	}
	var te *Error
	if first.class != classError || !errors.As(first.err(), &te) || te.Code != 401 {
		return nil, fmt.Errorf("allocate without credentials: want a 401 challenge, got class %#x (%v)", first.class, first.err())
	}
	realm, nonce := first.get(attrRealm), first.get(attrNonce)
	if realm == nil || nonce == nil {
		return nil, errors.New("allocate: the 401 carries no REALM or NONCE")
	}
	a := &Allocation{Realm: string(realm), conn: conn, nonce: nonce, creds: creds,
		key: longTermKey(creds.Username, string(realm), creds.Password)}
	resp, err := roundTrip(ctx, conn, methodAllocate, append(a.authAttrs(), transport), a.key)
	if err != nil {
		return nil, err
	}
	if resp.class != classSuccess {
		return nil, fmt.Errorf("allocate with credentials: %w", resp.err())
	}
	if !resp.integrityOK(a.key) {
		return nil, errors.New("allocate: the success response's MESSAGE-INTEGRITY does not match the credentials")
	}
	if a.Relayed, err = xorAddress(resp.get(attrXorRelayedAddress), resp.txid); err != nil {
		return nil, fmt.Errorf("allocate: XOR-RELAYED-ADDRESS: %w", err)
	}
	a.Mapped, _ = xorAddress(resp.get(attrXorMappedAddress), resp.txid)
	if l := resp.get(attrLifetime); len(l) == 4 {
		a.Lifetime = time.Duration(binary.BigEndian.Uint32(l)) * time.Second
	}
	return a, nil
}

// Release ends the allocation (a Refresh with LIFETIME 0).
func (a *Allocation) Release(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = a.conn.SetDeadline(time.Now()) })
	defer stop()
	resp, err := roundTrip(ctx, a.conn, methodRefresh, append(a.authAttrs(), attribute(attrLifetime, []byte{0, 0, 0, 0})), a.key)
	if err != nil {
		return err
	}
	if resp.class != classSuccess {
		return fmt.Errorf("release: %w", resp.err())
	}
	return nil
}

func (a *Allocation) authAttrs() []attr {
	return []attr{
		attribute(attrUsername, []byte(a.creds.Username)),
		attribute(attrRealm, []byte(a.Realm)),
		attribute(attrNonce, a.nonce),
	}
}

// longTermKey is MD5(username ":" realm ":" password) (RFC 8489 §9.2.2;
// the passwords TURN REST makes are base64, which SASLprep leaves alone).
func longTermKey(user, realm, password string) []byte {
	sum := md5.Sum([]byte(user + ":" + realm + ":" + password)) // #nosec G401 -- the protocol's key derivation
	return sum[:]
}

type attr struct {
	typ   uint16
	value []byte
}

func attribute(typ uint16, value []byte) attr { return attr{typ, value} }

type message struct {
	class uint16
	txid  []byte
	attrs []attr
	raw   []byte
	// miAt is the offset of MESSAGE-INTEGRITY in raw, or -1.
	miAt int
}

func (m message) get(typ uint16) []byte {
	for _, a := range m.attrs {
		if a.typ == typ {
			return a.value
		}
	}
	return nil
}

func (m message) err() error {
	v := m.get(attrErrorCode)
	if len(v) < 4 {
		return fmt.Errorf("response class %#x without ERROR-CODE", m.class)
	}
	return &Error{Code: int(v[2]&7)*100 + int(v[3]), Reason: string(v[4:])}
}

// integrityOK checks the message's MESSAGE-INTEGRITY against key.
func (m message) integrityOK(key []byte) bool {
	if m.miAt < 0 || len(m.raw) < m.miAt+24 {
		return false
	}
	covered := append([]byte(nil), m.raw[:m.miAt]...)
	binary.BigEndian.PutUint16(covered[2:], uint16(m.miAt+24-headerLen))
	mac := hmac.New(sha1.New, key)
	mac.Write(covered)
	return hmac.Equal(mac.Sum(nil), m.raw[m.miAt+4:m.miAt+24])
}

// encode builds a request; with key it ends with MESSAGE-INTEGRITY and
// FINGERPRINT.
func encode(method uint16, txid []byte, attrs []attr, key []byte) []byte {
	var body bytes.Buffer
	for _, a := range attrs {
		writeAttr(&body, a.typ, a.value)
	}
	msg := make([]byte, headerLen, headerLen+body.Len()+32)
	binary.BigEndian.PutUint16(msg[0:], method|classRequest)
	binary.BigEndian.PutUint32(msg[4:], magicCookie)
	copy(msg[8:], txid)
	msg = append(msg, body.Bytes()...)
	if key != nil {
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)-headerLen+24))
		mac := hmac.New(sha1.New, key)
		mac.Write(msg)
		var b bytes.Buffer
		writeAttr(&b, attrMessageIntegrity, mac.Sum(nil))
		msg = append(msg, b.Bytes()...)
	}
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)-headerLen+8))
	crc := crc32.ChecksumIEEE(msg) ^ 0x5354554e
	var b bytes.Buffer
	writeAttr(&b, attrFingerprint, binary.BigEndian.AppendUint32(nil, crc))
	return append(msg, b.Bytes()...)
}

func writeAttr(b *bytes.Buffer, typ uint16, v []byte) {
	_ = binary.Write(b, binary.BigEndian, typ)
	_ = binary.Write(b, binary.BigEndian, uint16(len(v)))
	b.Write(v)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

// roundTrip sends one request and reads the response with its transaction id.
func roundTrip(ctx context.Context, conn net.Conn, method uint16, attrs []attr, key []byte) (message, error) {
	txid := make([]byte, 12)
	if _, err := rand.Read(txid); err != nil {
		return message{}, err
	}
	req := encode(method, txid, attrs, key)
	if _, err := conn.Write(req); err != nil {
		return message{}, fmt.Errorf("send TURN request: %w", err)
	}
	_, datagrams := conn.(net.PacketConn)
	rto := initialRTO
	for {
		if datagrams {
			// Over UDP a request or its answer may be lost: retransmit
			// the same transaction as RFC 5389 §7.2.1 says, RTO doubling.
			wait := time.Now().Add(rto)
			if dl, ok := ctx.Deadline(); ok && dl.Before(wait) {
				wait = dl
			}
			_ = conn.SetReadDeadline(wait)
		}
		raw, err := readMessage(conn)
		var ne net.Error
		if datagrams && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			if dl, ok := ctx.Deadline(); !ok || time.Now().Before(dl) {
				rto *= 2
				if _, err := conn.Write(req); err != nil {
					return message{}, fmt.Errorf("send TURN request again: %w", err)
				}
				continue
			}
		}
		if err != nil {
			return message{}, fmt.Errorf("read TURN response: %w", err)
		}
		m, err := decode(raw)
		if err != nil {
			return message{}, err
		}
		if bytes.Equal(m.txid, txid) && binary.BigEndian.Uint16(raw[0:])&^0x110 == method {
			return m, nil
		}
	}
}

// initialRTO is the first retransmission timeout over UDP (RFC 5389's
// recommended 500 ms).
const initialRTO = 500 * time.Millisecond

// readMessage reads one STUN message: a datagram, or a header and its
// length's worth of attributes from a stream.
func readMessage(conn net.Conn) ([]byte, error) {
	if _, ok := conn.(net.PacketConn); ok {
		buf := make([]byte, 1500)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[2:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}

func decode(raw []byte) (message, error) {
	if len(raw) < headerLen || binary.BigEndian.Uint32(raw[4:]) != magicCookie || raw[0]&0xc0 != 0 {
		return message{}, errors.New("not a STUN message")
	}
	n := int(binary.BigEndian.Uint16(raw[2:]))
	if headerLen+n > len(raw) {
		return message{}, errors.New("truncated STUN message")
	}
	m := message{class: binary.BigEndian.Uint16(raw[0:]) & 0x110, txid: raw[8:20], raw: raw[:headerLen+n], miAt: -1}
	for off := headerLen; off+4 <= headerLen+n; {
		typ, l := binary.BigEndian.Uint16(raw[off:]), int(binary.BigEndian.Uint16(raw[off+2:]))
		if off+4+l > headerLen+n {
			return message{}, errors.New("truncated STUN attribute")
		}
		if typ == attrMessageIntegrity {
			m.miAt = off
		}
		m.attrs = append(m.attrs, attr{typ, raw[off+4 : off+4+l]})
		off += 4 + (l+3)&^3
	}
	return m, nil
}

// xorAddress decodes an XOR-*-ADDRESS attribute (RFC 8489 §14.2).
func xorAddress(v, txid []byte) (netip.AddrPort, error) {
	if len(v) < 8 {
		return netip.AddrPort{}, errors.New("missing or short")
	}
	port := binary.BigEndian.Uint16(v[2:]) ^ uint16(magicCookie>>16)
	mask := binary.BigEndian.AppendUint32(nil, magicCookie)
	mask = append(mask, txid...)
	var ip []byte
	switch v[1] {
	case 1:
		ip = make([]byte, 4)
	case 2:
		ip = make([]byte, 16)
	default:
		return netip.AddrPort{}, fmt.Errorf("address family %d", v[1])
	}
	if len(v) < 4+len(ip) {
		return netip.AddrPort{}, errors.New("short address")
	}
	for i := range ip {
		ip[i] = v[4+i] ^ mask[i]
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr, port), nil
}
