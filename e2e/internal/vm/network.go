package vm

import (
	"fmt"
	"net/netip"
)

// Network is a guest's qemu user network: its subnet and the addresses qemu
// itself takes in it (gateway, DNS, the guest's DHCP lease).
type Network struct {
	CIDR, Gateway, DNS, DHCPStart string
}

// DefaultNetwork is qemu's own default, 10.0.2.0/24.
var DefaultNetwork = Network{CIDR: "10.0.2.0/24", Gateway: "10.0.2.2", DNS: "10.0.2.3", DHCPStart: "10.0.2.15"}

// MetadataNetwork puts the guest in 169.254.169.0/24, so that a guestfwd
// can answer at 169.254.169.254, the address of the clouds' metadata
// services: qemu (slirp) forwards a guest connection only to an address
// inside the guest's own subnet. The guest's address, 169.254.169.15, is
// link-local: the private-only address the node agent's NAT discovery must
// see past, and Jitsi's health check calls invalid.
var MetadataNetwork = Network{CIDR: "169.254.169.0/24", Gateway: "169.254.169.2", DNS: "169.254.169.3", DHCPStart: "169.254.169.15"}

// MetadataIP is where MetadataNetwork's guests find the metadata service.
const MetadataIP = "169.254.169.254"

// IP is the address with the given last byte in n (e.g. 100 → 10.0.2.100).
func (n Network) IP(last byte) string {
	p := netip.MustParsePrefix(n.CIDR)
	b := p.Addr().As4()
	b[3] = last
	return netip.AddrFrom4(b).String()
}

// Contains says whether ip is in n: qemu forwards nothing else.
func (n Network) Contains(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && netip.MustParsePrefix(n.CIDR).Contains(a)
}

func (n Network) netdev() string {
	return fmt.Sprintf("net=%s,host=%s,dns=%s,dhcpstart=%s", n.CIDR, n.Gateway, n.DNS, n.DHCPStart)
}
