// Package node is the operator's description of one Jitsi node: which role it
// plays, which JMS it belongs to, the secret it shares with that JMS, and the
// per-node identity (nickname) a videobridge announces in the brewery.
//
// A Spec is plain data. Validate checks it and reports every problem at once;
// nothing else in the project accepts a Spec that has not passed Validate.
package node

// Role is what a node runs.
type Role string

const (
	// RoleJMS is the Jitsi Meet server: web server, prosody, jicofo.
	RoleJMS Role = "jms"
	// RoleJVB is a videobridge that logs in to a JMS's XMPP server.
	RoleJVB Role = "jvb"
)

// JMSNickname is the name a JMS has in the registry (one live JMS per FQDN),
// and the name it reports its state under.
const JMSNickname = "jms"

// Format selects how a videobridge's XMPP settings are written.
type Format string

const (
	// FormatModern writes /etc/jitsi/videobridge/jvb.conf (HOCON), the format of
	// the packages since 2021, and neutralises stale legacy xmpp keys.
	FormatModern Format = "modern"
	// FormatLegacy writes the seed's sip-communicator.properties keys and
	// JVB_SECRET in /etc/jitsi/videobridge/config (Ubuntu 18.04-era packages).
	FormatLegacy Format = "legacy"
)

// CertChoice is how a JMS gets its TLS certificate (debconf jitsi-meet/cert-choice).
type CertChoice string

const (
	// CertSelfSigned lets the package generate a self-signed certificate (default).
	CertSelfSigned CertChoice = "self-signed"
	// CertOwn uses a certificate and key already on the node (CertPath, KeyPath).
	CertOwn CertChoice = "own"
	// CertLetsEncrypt requests a Let's Encrypt certificate for the FQDN (needs Email).
	CertLetsEncrypt CertChoice = "letsencrypt"
)

// DefaultShardID is the id of a bridge's first shard entry, as Jitsi's own
// packaging names it in jvb.conf and sip-communicator.properties.
const DefaultShardID = "shard"

// Spec describes one node to issue.
type Spec struct {
	Role Role `json:"role"`
	// JMSFQDN is the public DNS name of the JMS (for a JMS: its own name).
	JMSFQDN string `json:"jms_fqdn"`
	// Secret is the password of the `jvb` account on auth.<JMSFQDN>. It is
	// never logged, stored in the registry, or shown in errors.
	Secret string `json:"-"`
	// Nickname is the bridge's unique name in the brewery (JVB only).
	Nickname string `json:"nickname,omitempty"`
	// ShardID names the bridge's entry for its JMS; DefaultShardID when empty.
	ShardID string `json:"shard_id,omitempty"`
	// Format is the bridge's config format; FormatModern when empty.
	Format Format `json:"format,omitempty"`
	// NAT is how a bridge behind NAT advertises its public address.
	NAT NAT `json:"nat,omitempty"`
	// ExtraShards are further JMSs the same bridge serves.
	ExtraShards []Shard `json:"extra_shards,omitempty"`
	// LocalBridge keeps the JMS's own videobridge running (default off).
	LocalBridge bool `json:"local_bridge,omitempty"`
	// Cert is the JMS's certificate choice.
	Cert Cert `json:"cert,omitempty"`
	// Registry, when set, is the registry API the node reports its state to
	// (active, or failed with the reason) once first boot is done.
	Registry *RegistryLink `json:"registry,omitempty"`
	// Group, when set, makes this the shared user-data of an autoscaling
	// group of bridges: each bridge claims its own identity from Registry at
	// first boot instead of carrying one (Nickname stays empty), and
	// Registry.Credential is the group's token.
	Group string `json:"group,omitempty"`
}

// RegistryLink is how a node reaches the registry API at boot.
type RegistryLink struct {
	// URL of the API, e.g. https://registry.example.org:8443.
	URL string `json:"url"`
	// CA is PEM certificates the node trusts for the API's HTTPS, when the
	// system's roots do not (a self-signed registry). Optional.
	CA string `json:"ca,omitempty"`
	// Credential is what the node authenticates with: its own node
	// credential (an issued node: it may report its own state and nothing
	// else), or its group's token (an autoscaling group's user-data: it may
	// claim one identity in that group, which answers with the node's own
	// credential). Like the secret, it is never logged or shown in errors.
	Credential string `json:"-"`
}

// NATMode is how a bridge finds the public address it advertises.
type NATMode string

const (
	// NATAuto (the default) discovers the public address at boot: the
	// cloud's metadata service, then STUN. The bridge advertises it as a
	// static mapping of its local address.
	NATAuto NATMode = "auto"
	// NATStatic advertises NAT.PublicAddress, given by the operator. A
	// public address always means static.
	NATStatic NATMode = "static"
	// NATNone writes no mapping and no STUN server: a private-only
	// deployment, or a bridge whose own interface holds its public address.
	NATNone NATMode = "none"
)

// NAT settings of a bridge behind NAT (JVB only).
type NAT struct {
	// Mode is auto, static or none; WithDefaults makes it static when
	// PublicAddress is set and auto otherwise.
	Mode NATMode `json:"mode,omitempty"`
	// PublicAddress is the public IP address the bridge advertises.
	PublicAddress string `json:"public_address,omitempty"`
	// LocalAddress is the private address that PublicAddress maps to. When
	// empty, the node agent fills in the node's primary address at boot.
	LocalAddress string `json:"local_address,omitempty"`
	// STUNServers are host:port pairs: the agent asks them for the public
	// address (auto), and the bridge is configured with them.
	STUNServers []string `json:"stun_servers,omitempty"`
}

// Shard is a further JMS a bridge serves, with its own secret.
type Shard struct {
	ID      string `json:"id"`
	JMSFQDN string `json:"jms_fqdn"`
	Secret  string `json:"-"`
}

// Cert is a JMS's certificate choice.
type Cert struct {
	Choice   CertChoice `json:"choice,omitempty"`
	CertPath string     `json:"cert_path,omitempty"`
	KeyPath  string     `json:"key_path,omitempty"`
	Email    string     `json:"email,omitempty"`
}

// WithDefaults returns a copy of s with empty optional fields set to their
// defaults. Validate and the renderers see the same defaulted values.
func (s Spec) WithDefaults() Spec {
	if s.Role == RoleJVB {
		if s.ShardID == "" {
			s.ShardID = DefaultShardID
		}
		if s.Format == "" {
			s.Format = FormatModern
		}
		switch {
		case s.NAT.PublicAddress != "" && s.NAT.Mode != NATNone:
			s.NAT.Mode = NATStatic // --public-ip wins over auto
		case s.NAT.Mode == "":
			s.NAT.Mode = NATAuto
		}
	}
	if s.Role == RoleJMS && s.Cert.Choice == "" {
		s.Cert.Choice = CertSelfSigned
	}
	return s
}

// Shards returns the bridge's shards in order: its own JMS first, then ExtraShards.
func (s Spec) Shards() []Shard {
	out := make([]Shard, 0, 1+len(s.ExtraShards))
	out = append(out, Shard{ID: s.ShardID, JMSFQDN: s.JMSFQDN, Secret: s.Secret})
	return append(out, s.ExtraShards...)
}
