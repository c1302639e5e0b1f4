package node

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"
)

// Limits of the fields Validate checks.
const (
	MaxSecretLen   = 256 // bytes
	MaxNicknameLen = 64
	MaxShardIDLen  = 64
	maxFQDNLen     = 253
	maxLabelLen    = 63
)

// Validate checks a complete spec, as it will be rendered, and returns every
// problem at once as a *multierror.Error; each message starts with the field
// path (e.g. "extra_shards[1].jms_fqdn") and says what is allowed. Secret
// values never appear in the messages. Optional fields are checked after
// WithDefaults, so callers may pass a spec with them left empty.
func (s Spec) Validate() error { return s.validate(true) }

// ValidatePending is Validate for a bridge whose nickname the registry has not
// assigned yet: an empty nickname is accepted, a given one must be valid.
func (s Spec) ValidatePending() error { return s.validate(false) }

func (s Spec) validate(needNickname bool) error {
	s = s.WithDefaults()
	v := &validator{}
	switch s.Role {
	case RoleJMS, RoleJVB:
	case "":
		v.add("role", "is required: jms or jvb")
	default:
		v.add("role", "%q is not a role: use jms or jvb", s.Role)
	}
	v.fqdn("jms_fqdn", s.JMSFQDN)
	v.secret("secret", s.Secret)
	if s.Registry != nil {
		v.registry(*s.Registry)
	}

	switch s.Role {
	case RoleJVB:
		switch {
		case s.Group != "":
			v.group(s)
		case s.Nickname != "" || needNickname:
			v.nickname("nickname", s.Nickname)
		}
		switch s.Format {
		case FormatModern, FormatLegacy:
		default:
			v.add("format", "%q is not a config format: use modern (jvb.conf) or legacy (sip-communicator.properties)", s.Format)
		}
		v.nat(s.NAT)
		v.shards(s)
		if s.LocalBridge {
			v.add("local_bridge", "applies to role jms only")
		}
		if s.Cert != (Cert{}) {
			v.add("cert", "applies to role jms only")
		}
	case RoleJMS:
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"nickname", s.Nickname != ""},
			{"shard_id", s.ShardID != ""},
			{"format", s.Format != ""},
			{"nat", s.NAT.Mode != "" || s.NAT.PublicAddress != "" || s.NAT.LocalAddress != "" || len(s.NAT.STUNServers) > 0},
			{"extra_shards", len(s.ExtraShards) > 0},
			{"group", s.Group != ""},
		} {
			if f.set {
				v.add(f.name, "applies to role jvb only")
			}
		}
		v.cert(s.Cert)
	}
	return v.err()
}

type validator struct{ errs *multierror.Error }

func (v *validator) add(field, format string, a ...any) {
	v.errs = multierror.Append(v.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
}

// err returns the gathered errors with a stable order and format.
func (v *validator) err() error {
	if v.errs == nil {
		return nil
	}
	v.errs.ErrorFormat = listFormat
	return v.errs
}

func listFormat(es []error) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = "  * " + e.Error()
	}
	noun := "problems"
	if len(es) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid node spec (%d %s):\n%s", len(es), noun, strings.Join(lines, "\n"))
}

// fqdn checks a DNS hostname: lowercase LDH labels, at least two, not an IP.
func (v *validator) fqdn(field, s string) {
	if s == "" {
		v.add(field, "is required: the JMS's DNS name, e.g. meet.example.org")
		return
	}
	if i := strings.Index(s, "://"); i >= 0 {
		v.add(field, "%q has a scheme: give the bare DNS name, e.g. %s", s, strings.SplitN(s[i+3:], "/", 2)[0])
		return
	}
	if strings.ContainsAny(s, ":/") {
		v.add(field, "%q has a port or path: give the bare DNS name, e.g. meet.example.org", s)
		return
	}
	if _, err := netip.ParseAddr(s); err == nil {
		v.add(field, "%q is an IP address: Jitsi needs a DNS name (XMPP domains are names)", s)
		return
	}
	if strings.HasSuffix(s, ".") && len(s) > 1 {
		v.add(field, "%q ends with a dot: drop it (XMPP domains are written without the root dot)", s)
		return
	}
	name := s
	if len(name) > maxFQDNLen {
		v.add(field, "is %d characters long: a DNS name has at most %d", len(name), maxFQDNLen)
		return
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		v.add(field, "%q has one label: use a fully qualified name with a domain, e.g. %s.example.org", s, s)
		return
	}
	for _, l := range labels {
		if msg := checkLabel(l); msg != "" {
			v.add(field, "%q: label %q %s", s, l, msg)
			return
		}
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		v.add(field, "%q ends in a numeric label: top-level domains are not numbers", s)
	}
}

func checkLabel(l string) string {
	switch {
	case l == "":
		return "is empty (two dots in a row, or a leading dot)"
	case len(l) > maxLabelLen:
		return fmt.Sprintf("is longer than %d characters", maxLabelLen)
	case l[0] == '-' || l[len(l)-1] == '-':
		return "starts or ends with '-'"
	}
	for _, c := range l {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z':
			return "has upper-case letters: write the name in lower case"
		default:
			return fmt.Sprintf("has %q: only letters a-z, digits and '-' are allowed", c)
		}
	}
	return ""
}

// secret checks a shared secret without ever printing it.
func (v *validator) secret(field, s string) {
	switch {
	case s == "":
		v.add(field, "is required: the JMS's secret for the jvb account (give it with --secret-file)")
		return
	case len(s) > MaxSecretLen:
		v.add(field, "is %d bytes long: at most %d are allowed", len(s), MaxSecretLen)
	case !utf8.ValidString(s):
		v.add(field, "is not valid UTF-8: use a UTF-8 text secret")
		return
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			v.add(field, "has a control character (U+%04X) at byte %d: newlines, tabs and other control characters are not allowed (a trailing newline in the secret file is removed for you)", r, i)
			return
		}
	}
	if strings.TrimSpace(s) != s {
		v.add(field, "starts or ends with white space: debconf strips it, so the JMS and the bridges would disagree; remove it")
	}
}

func (v *validator) nickname(field, s string) {
	switch {
	case s == "":
		v.add(field, "is required for a bridge: a unique name in the brewery, e.g. jvb-001 (or let `issue --nickname auto` pick one)")
	case len(s) > MaxNicknameLen:
		v.add(field, "is %d characters long: at most %d are allowed", len(s), MaxNicknameLen)
	case !isLowerName(s, false):
		v.add(field, "%q is not allowed: use lower-case letters, digits and '-', starting with a letter (e.g. jvb-001)", s)
	}
}

// isLowerName reports whether s is [a-z][a-z0-9-]* (or [a-z0-9][a-z0-9_-]* when loose).
func isLowerName(s string, loose bool) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9') && (i > 0 || loose):
		case c == '-' && i > 0:
		case c == '_' && loose && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

func (v *validator) shardID(field, id string) {
	switch {
	case id == "":
		v.add(field, "is required: a short name for the shard entry, e.g. shard or shard-2")
	case len(id) > MaxShardIDLen:
		v.add(field, "is %d characters long: at most %d are allowed", len(id), MaxShardIDLen)
	case !isLowerName(id, true):
		v.add(field, "%q is not allowed: use lower-case letters, digits, '-' and '_', starting with a letter or digit", id)
	}
}

func (v *validator) shards(s Spec) {
	v.shardID("shard_id", s.ShardID)
	seenID := map[string]string{s.ShardID: "shard_id"}
	seenFQDN := map[string]string{s.JMSFQDN: "jms_fqdn"}
	for i, sh := range s.ExtraShards {
		p := fmt.Sprintf("extra_shards[%d]", i)
		v.shardID(p+".id", sh.ID)
		v.fqdn(p+".jms_fqdn", sh.JMSFQDN)
		v.secret(p+".secret", sh.Secret)
		if prev, ok := seenID[sh.ID]; ok && sh.ID != "" {
			v.add(p+".id", "%q is already used by %s: shard ids must be unique", sh.ID, prev)
		} else {
			seenID[sh.ID] = p + ".id"
		}
		if prev, ok := seenFQDN[sh.JMSFQDN]; ok && sh.JMSFQDN != "" {
			v.add(p+".jms_fqdn", "%q is already served through %s: a bridge joins each JMS once", sh.JMSFQDN, prev)
		} else {
			seenFQDN[sh.JMSFQDN] = p + ".jms_fqdn"
		}
	}
}

func (v *validator) nat(n NAT) {
	switch n.Mode {
	case NATAuto:
	case NATStatic:
		if n.PublicAddress == "" {
			v.add("nat.public_address", "is required with nat.mode static: give the public address (--public-ip), or use nat.mode auto")
		}
	case NATNone:
		if n.PublicAddress != "" || n.LocalAddress != "" {
			v.add("nat.mode", "none writes no mapping: drop the public and local addresses (--public-ip, --local-ip), or use auto")
		}
		if len(n.STUNServers) > 0 {
			v.add("nat.mode", "none uses no STUN server: drop --stun, or use auto")
		}
	default:
		v.add("nat.mode", "%q is not a NAT mode: use auto (discover the public address at boot) or none (a private-only deployment)", n.Mode)
	}
	ip := func(field, s string) {
		if s == "" {
			return
		}
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			v.add(field, "%q is not an IP address: give an IPv4 or IPv6 address without port", s)
		}
	}
	ip("nat.public_address", n.PublicAddress)
	ip("nat.local_address", n.LocalAddress)
	if n.LocalAddress != "" && n.PublicAddress == "" {
		v.add("nat.local_address", "is set without nat.public_address: give the public address it maps to")
	}
	for i, hp := range n.STUNServers {
		field := fmt.Sprintf("nat.stun_servers[%d]", i)
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			v.add(field, "%q is not host:port: write e.g. stun.example.org:3478 ([addr]:port for IPv6)", hp)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			v.add(field, "%q has port %q: use a number from 1 to 65535", hp, port)
		}
		if _, err := netip.ParseAddr(host); err != nil {
			sub := &validator{}
			sub.fqdn(field, host)
			if sub.errs != nil {
				v.add(field, "%q: host is neither an IP address nor a DNS name", hp)
			}
		}
	}
}

// Bounds of a registry bearer token (the registry API enforces the same).
const (
	MinTokenLen = 16
	MaxTokenLen = 512
)

func (v *validator) group(s Spec) {
	if s.Nickname != "" {
		v.add("nickname", "must be empty with a group: each bridge of group %q claims its nickname at boot", s.Group)
	}
	if s.NAT.PublicAddress != "" {
		v.add("nat.public_address", "cannot be used with a group: its bridges share one user-data, so each finds its own public address at boot (nat.mode auto)")
	}
	if len(s.Group) > MaxNicknameLen || !isLowerName(s.Group, false) {
		v.add("group", "%q is not allowed: use lower-case letters, digits and '-', starting with a letter, at most %d", s.Group, MaxNicknameLen)
	}
	if s.Registry == nil {
		v.add("registry", "is required with a group: the registry API the bridges claim their nicknames from")
	}
}

func (v *validator) registry(r RegistryLink) {
	u, err := url.Parse(r.URL)
	switch {
	case r.URL == "":
		v.add("registry.url", "is required: the registry API the node reaches at boot, e.g. https://registry.example.org:8443")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(r.URL, " \"\\'`$"):
		v.add("registry.url", "%q is not a registry URL: use http(s)://host[:port] without path, query or credentials", r.URL)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		v.add("registry.url", "%q: plain http would send the node's credential in clear: use https (http is allowed on loopback only)", r.URL)
	}
	if r.CA != "" {
		if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM([]byte(r.CA)) {
			v.add("registry.ca", "holds no PEM certificate: give the registry's CA (or self-signed) certificate, BEGIN CERTIFICATE … END CERTIFICATE")
		}
	}
	switch {
	case r.Credential == "":
		v.add("registry.credential", "is required: the node's registry credential or its group's token (issue makes them)")
	case len(r.Credential) < MinTokenLen || len(r.Credential) > MaxTokenLen:
		v.add("registry.credential", "is %d bytes long: want %d to %d", len(r.Credential), MinTokenLen, MaxTokenLen)
	case strings.ContainsFunc(r.Credential, func(c rune) bool { return c <= ' ' || c > '~' }):
		v.add("registry.credential", "has a space, control or non-ASCII character: a bearer token is printable ASCII")
	}
}

// isLoopbackHost reports whether host (a URL's host name) is this machine:
// localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) cert(c Cert) {
	switch c.Choice {
	case CertSelfSigned:
		if c.CertPath != "" || c.KeyPath != "" || c.Email != "" {
			v.add("cert", "paths and email apply only to cert.choice own or letsencrypt")
		}
	case CertOwn:
		for _, f := range [][2]string{{"cert.cert_path", c.CertPath}, {"cert.key_path", c.KeyPath}} {
			field, p := f[0], f[1]
			if !path.IsAbs(p) || strings.ContainsFunc(p, unicode.IsControl) || strings.ContainsAny(p, " ") {
				v.add(field, "%q must be an absolute path on the JMS without spaces (cert.choice own)", p)
			}
		}
	case CertLetsEncrypt:
		local, domain, ok := strings.Cut(c.Email, "@")
		sub := &validator{}
		sub.fqdn("", domain)
		if !ok || local == "" || strings.ContainsFunc(local, func(r rune) bool { return r <= ' ' || r == '@' || r > '~' }) || sub.errs != nil {
			v.add("cert.email", "%q is not an e-mail address: Let's Encrypt needs one for expiry notices", c.Email)
		}
	default:
		v.add("cert.choice", "%q is not a certificate choice: use self-signed, own or letsencrypt", c.Choice)
	}
}

// FQDNProblem says what is wrong with s as a JMS FQDN, and how to fix it;
// "" when s is valid. Other layers (the registry) check names with it, so a
// name has one set of rules everywhere.
func FQDNProblem(s string) string {
	v := &validator{}
	v.fqdn("", s)
	return v.firstProblem()
}

// NicknameProblem is FQDNProblem for a bridge nickname.
func NicknameProblem(s string) string {
	v := &validator{}
	v.nickname("", s)
	return v.firstProblem()
}

// firstProblem is the first message without its (empty) field prefix.
func (v *validator) firstProblem() string {
	if v.errs == nil || len(v.errs.Errors) == 0 {
		return ""
	}
	return strings.TrimPrefix(v.errs.Errors[0].Error(), ": ")
}
