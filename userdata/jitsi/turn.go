package jitsi

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// TURN on a JMS. jitsi-meet-prosody's vhost config advertises a STUN/TURN
// server on the JMS's FQDN through prosody's mod_external_services
// (XEP-0215): `turn` on TurnPort/udp and `turns` on TurnsPort/tcp, with
// time-limited credentials derived from external_service_secret (the TURN
// REST scheme: username "<expiry>", password base64(HMAC-SHA1(secret,
// username))). coturn must run there with that secret as its
// static-auth-secret, whichever web server the JMS has: the bridge dropped
// ICE/TCP in 2024, so clients behind UDP-blocking firewalls reach media only
// through TURN over TLS.
const (
	// QTurnSecret is jitsi-meet-prosody's debconf question for that secret:
	// its postinst writes it into the vhost config (external_service_secret)
	// and jitsi-meet-turnserver's into coturn's (static-auth-secret). It is
	// of type string, so debconf keeps it in the world-readable config.dat:
	// the node agent answers it only for the install and resets it after.
	QTurnSecret = "jitsi-meet-prosody/turn-secret"
	// TurnSecretState is the node's TURN secret, made at its first boot
	// (root 0600); never in the image.
	TurnSecretState = StateDir + "/turn-secret"
	// TurnSecretLength and TurnSecretAlphabet: what the package's postinst
	// makes itself and what its sed substitution carries unescaped.
	TurnSecretLength   = 32
	TurnSecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

	// TurnPort is STUN and TURN over UDP; TurnsPort is TURN over TLS (TCP),
	// what gets through firewalls that only pass TCP.
	TurnPort  = 3478
	TurnsPort = 5349

	// TurnServerConfig is coturn's configuration; the Debian package gives
	// it root:turnserver 0640 (dpkg-statoverride) and the daemon runs as
	// turnserver.
	TurnServerConfig = "/etc/turnserver.conf"
	TurnOwner        = "root:turnserver"
	// CoturnCertDir holds coturn's copies of the web server's certificate
	// and key: turnserver cannot read the originals (root 0600), and
	// without them coturn opens no TLS listener (jitsi-meet issue #6672).
	CoturnCertDir = "/etc/coturn/certs"

	// turnConfigMarker and turnRelayMarker are the lines
	// jitsi-meet-turnserver's postinst looks for: a config holding them is
	// Jitsi's and kept as it is on upgrades.
	turnConfigMarker = "# jitsi-meet coturn config. Do not modify this line"
	turnRelayMarker  = "# jitsi-meet coturn relay disable config. Do not modify this line"
)

// Debconf's databases (Debian's debconf.conf): config.dat is
// world-readable, and each save keeps the previous version as -old.
var DebconfConfigDBs = []string{"/var/cache/debconf/config.dat", "/var/cache/debconf/config.dat-old"}

// Files of the web server and prosody that hold what the node agent needs.
const (
	// WebCertDir is where jitsi-meet-web-config makes the self-signed
	// certificate (and where the Let's Encrypt choice starts from).
	WebCertDir = "/etc/jitsi/meet"
	// ProsodyConfAvail holds jitsi-meet-prosody's vhost config per FQDN.
	ProsodyConfAvail = "/etc/prosody/conf.avail"
	// ProsodyOwner is how the agent leaves the vhost config: it holds
	// external_service_secret, and the package creates it world-readable.
	ProsodyOwner = "root:prosody"
)

// ProsodyHostConfig is jitsi-meet-prosody's vhost config of fqdn.
func ProsodyHostConfig(fqdn string) string { return path.Join(ProsodyConfAvail, fqdn+".cfg.lua") }

// WebCert is where the JMS's web certificate and key are: the operator's
// own paths, or the pair jitsi-meet-web-config makes.
func WebCert(s node.Spec) (crt, key string) {
	if s.Cert.Choice == node.CertOwn {
		return s.Cert.CertPath, s.Cert.KeyPath
	}
	return path.Join(WebCertDir, s.JMSFQDN+".crt"), path.Join(WebCertDir, s.JMSFQDN+".key")
}

// TurnSecretSeed is the debconf-set-selections line of the TURN secret
// (stdin only: it holds the secret).
func TurnSecretSeed(secret string) []byte {
	return fmt.Appendf(nil, "%s %s string %s\n", PkgMeetProsody, QTurnSecret, secret)
}

// TurnSecretProblem says what is wrong with a TURN secret, or "".
func TurnSecretProblem(secret string) string {
	if len(secret) < 16 {
		return fmt.Sprintf("is %d characters long, want at least 16", len(secret))
	}
	if strings.Trim(secret, TurnSecretAlphabet) != "" {
		return "holds characters other than ASCII letters and digits"
	}
	return ""
}

// TurnFiles are coturn's configuration for the JMS fqdn and its copies of
// the web certificate and key, as the node agent writes them at boot. The
// configuration carries Jitsi's marker lines, so jitsi-meet-turnserver
// (installed with nginx, or later) keeps it on upgrades.
func TurnFiles(fqdn, secret string, crt, key []byte) ([]File, error) {
	if p := TurnSecretProblem(secret); p != "" {
		return nil, fmt.Errorf("turn files: the TURN secret %s", p)
	}
	if node.FQDNProblem(fqdn) != "" {
		return nil, fmt.Errorf("turn files: %q is not a host name", fqdn)
	}
	crtPath, keyPath := path.Join(CoturnCertDir, fqdn+".crt"), path.Join(CoturnCertDir, fqdn+".key")
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("%s", turnConfigMarker)
	line("# %s", header)
	line("# TURN for the Jitsi Meet server %s: prosody hands out credentials made", fqdn)
	line("# from static-auth-secret (its external_service_secret).")
	line("use-auth-secret")
	line("static-auth-secret=%s", secret)
	line("realm=%s", fqdn)
	line("# STUN/TURN on %d/udp, TURN over TLS on %d/tcp; no plain TCP, no DTLS.", TurnPort, TurnsPort)
	line("listening-port=%d", TurnPort)
	line("tls-listening-port=%d", TurnsPort)
	line("no-tcp")
	line("no-dtls")
	line("no-tlsv1")
	line("no-tlsv1_1")
	line("cert=%s", crtPath)
	line("pkey=%s", keyPath)
	line("keep-address-family")
	line("no-cli")
	line("syslog")
	line("%s", turnRelayMarker)
	line("# Relay to public peers only: never into this host or its networks.")
	line("no-multicast-peers")
	line("no-tcp-relay")
	for _, r := range deniedPeers {
		line("denied-peer-ip=%s", prefixRange(netip.MustParsePrefix(r)))
	}
	return []File{
		{Path: crtPath, Owner: TurnOwner, Mode: modePublic, Content: crt},
		{Path: keyPath, Owner: TurnOwner, Mode: modeService, Content: key},
		{Path: TurnServerConfig, Owner: TurnOwner, Mode: modeService, Content: []byte(b.String())},
	}, nil
}

// deniedPeers are the special-purpose ranges of the IANA registries (RFC
// 6890 and successors) a TURN client must not reach through the relay:
// this host, private networks, link-local, documentation and reserved
// ranges, and IPv6's mappings of them.
var deniedPeers = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
	"::1/128", "::ffff:0.0.0.0/96", "64:ff9b::/96", "100::/64", "2001::/23", "2002::/16", "fc00::/7", "fe80::/10",
}

// prefixRange writes p as coturn's "first-last" address range (older
// coturn releases take no CIDR).
func prefixRange(p netip.Prefix) string {
	first := p.Masked().Addr()
	if p.Bits() == first.BitLen() {
		return first.String()
	}
	last := first.AsSlice()
	for i := p.Bits(); i < len(last)*8; i++ {
		last[i/8] |= 1 << (7 - i%8)
	}
	la, _ := netip.AddrFromSlice(last)
	return first.String() + "-" + la.String()
}
