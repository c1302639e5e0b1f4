package fakecloud

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// FakeSTUN is a TEST FIXTURE: a STUN server (RFC 5389 Binding only) on
// loopback that answers with a configured mapped address, as a server
// beyond a NAT would see the node.
type FakeSTUN struct {
	// Addr is host:port the server listens on.
	Addr string
	// Mapped is the address it reports (XOR-MAPPED-ADDRESS).
	Mapped netip.AddrPort
	// Silent servers read requests and never answer.
	Silent bool

	conn     *net.UDPConn
	requests atomic.Int64
}

// ServeSTUN starts a FakeSTUN on a loopback port.
func ServeSTUN(mapped netip.AddrPort, silent bool) (*FakeSTUN, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("fake stun: %w", err)
	}
	s := &FakeSTUN{Addr: conn.LocalAddr().String(), Mapped: mapped, Silent: silent, conn: conn}
	go s.serve()
	return s, nil
}

// Requests counts the Binding requests received.
func (s *FakeSTUN) Requests() int64 { return s.requests.Load() }

// Close stops the server.
func (s *FakeSTUN) Close() error { return s.conn.Close() }

func (s *FakeSTUN) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		req := buf[:n]
		if n < 20 || binary.BigEndian.Uint16(req) != 0x0001 || binary.BigEndian.Uint32(req[4:]) != 0x2112A442 {
			continue // not a Binding request: RFC 5389 says ignore
		}
		s.requests.Add(1)
		if s.Silent {
			continue
		}
		s.conn.WriteToUDP(bindingSuccess(req[8:20], s.Mapped), from)
	}
}

// bindingSuccess builds a Binding success response for txID with one
// XOR-MAPPED-ADDRESS.
func bindingSuccess(txID []byte, mapped netip.AddrPort) []byte {
	ip := mapped.Addr().AsSlice()
	family := byte(0x01)
	if mapped.Addr().Is6() && !mapped.Addr().Is4In6() {
		family = 0x02
	}
	key := append(binary.BigEndian.AppendUint32(nil, 0x2112A442), txID...)
	attr := []byte{0, family}
	attr = binary.BigEndian.AppendUint16(attr, mapped.Port()^0x2112)
	for i, b := range ip {
		attr = append(attr, b^key[i])
	}
	msg := binary.BigEndian.AppendUint16(nil, 0x0101)
	msg = binary.BigEndian.AppendUint16(msg, uint16(4+len(attr)))
	msg = append(msg, key...)
	msg = binary.BigEndian.AppendUint16(msg, 0x0020)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(attr)))
	return append(msg, attr...)
}
