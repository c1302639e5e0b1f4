package nat

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// response builds a Binding success with the given attributes.
func response(txID [12]byte, attrs ...[]byte) []byte {
	var body []byte
	for _, a := range attrs {
		body = append(body, a...)
	}
	msg := binary.BigEndian.AppendUint16(nil, stunBindingSuccess)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(body)))
	msg = binary.BigEndian.AppendUint32(msg, stunMagicCookie)
	msg = append(msg, txID[:]...)
	return append(msg, body...)
}

func attr(typ uint16, val []byte) []byte {
	a := binary.BigEndian.AppendUint16(nil, typ)
	a = binary.BigEndian.AppendUint16(a, uint16(len(val)))
	a = append(a, val...)
	for len(a)%4 != 0 {
		a = append(a, 0)
	}
	return a
}

func TestParseBindingResponse(t *testing.T) {
	_, tx := NewBindingRequest()
	// RFC 5769 §2.2's IPv4 sample: 192.0.2.1:32853, XORed with the cookie.
	xor := []byte{0, familyIPv4, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43}
	got, err := ParseBindingResponse(response(tx, attr(attrXORMappedAddr, xor)), tx)
	if err != nil || got != netip.MustParseAddrPort("192.0.2.1:32853") {
		t.Fatalf("XOR-MAPPED-ADDRESS: %v %v", got, err)
	}
	plain := []byte{0, familyIPv4, 0x1f, 0x90, 203, 0, 113, 9}
	got, err = ParseBindingResponse(response(tx, attr(0x8022, []byte("fake")), attr(attrMappedAddress, plain)), tx)
	if err != nil || got != netip.MustParseAddrPort("203.0.113.9:8080") {
		t.Fatalf("MAPPED-ADDRESS after an unknown attribute: %v %v", got, err)
	}
	var other [12]byte
	if _, err := ParseBindingResponse(response(tx, attr(attrXORMappedAddr, xor)), other); err == nil {
		t.Error("an answer to another transaction was accepted")
	}
	if _, err := ParseBindingResponse(response(tx), tx); err == nil {
		t.Error("an answer without an address was accepted")
	}
}

func FuzzParseBindingResponse(f *testing.F) {
	_, tx := NewBindingRequest()
	f.Add(response(tx, attr(attrXORMappedAddr, []byte{0, familyIPv4, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43})))
	f.Add(response(tx, attr(attrMappedAddress, make([]byte, 20))))
	f.Add([]byte{1, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) >= 20 {
			copy(msg[4:8], []byte{0x21, 0x12, 0xa4, 0x42})
			copy(msg[8:20], tx[:])
		}
		ap, err := ParseBindingResponse(msg, tx)
		if err == nil && (!ap.Addr().IsValid() || ap.Addr().Zone() != "" || ap.Addr().Is4In6()) {
			t.Fatalf("accepted an address the bridge files cannot carry: %v", ap)
		}
	})
}
