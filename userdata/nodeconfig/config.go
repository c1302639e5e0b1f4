package nodeconfig

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Version is the config version this package writes and reads.
const Version = 1

// AgentMinVersion is the first packer-plugin-jitsi release whose node agent
// reads Version: a node whose image has an older agent (or none) must be
// baked again with at least this release.
const AgentMinVersion = "0.1.0"

// Config is /etc/jitsi-node/node.yaml. Field order is file order.
type Config struct {
	Version         int    `yaml:"version"`
	AgentMinVersion string `yaml:"agent_min_version"`

	Role    node.Role `yaml:"role"`
	JMSFQDN string    `yaml:"jms_fqdn"`
	// Nickname of a bridge issued by name; empty for a group's bridges.
	Nickname string `yaml:"nickname,omitempty"`
	// Group of an autoscaling group's bridges: each claims its identity.
	Group  string      `yaml:"group,omitempty"`
	Format node.Format `yaml:"format,omitempty"`
	// Shards are the JMSs a bridge serves, its own (JMSFQDN) first.
	Shards []Shard `yaml:"shards,omitempty"`
	// NAT of a bridge; absent means mode auto.
	NAT *NAT `yaml:"nat,omitempty"`
	// Registry the node reports its state to (and a group bridge claims from).
	Registry *Registry `yaml:"registry,omitempty"`
	// JMS holds a JMS's options.
	JMS *JMS `yaml:"jms,omitempty"`
}

// Shard is one JMS a bridge serves; its secret is in Secrets.ShardSecrets[ID].
type Shard struct {
	ID      string `yaml:"id"`
	JMSFQDN string `yaml:"jms_fqdn"`
}

// NAT is a bridge's NAT mode and addresses.
type NAT struct {
	Mode          node.NATMode `yaml:"mode"`
	PublicAddress string       `yaml:"public_address,omitempty"`
	LocalAddress  string       `yaml:"local_address,omitempty"`
	STUNServers   []string     `yaml:"stun_servers,omitempty"`
}

// Registry is where the node reaches the registry API.
type Registry struct {
	URL string `yaml:"url"`
	// CA is PEM certificates to trust for the API's HTTPS (optional).
	CA string `yaml:"ca,omitempty"`
}

// JMS holds a JMS's options.
type JMS struct {
	LocalBridge bool            `yaml:"local_bridge,omitempty"`
	Cert        node.CertChoice `yaml:"cert,omitempty"`
	CertPath    string          `yaml:"cert_path,omitempty"`
	KeyPath     string          `yaml:"key_path,omitempty"`
	Email       string          `yaml:"email,omitempty"`
}

// Secrets is /etc/jitsi-node/secrets.yaml.
type Secrets struct {
	Version int `yaml:"version"`
	// ShardSecrets are a bridge's secrets by shard id.
	ShardSecrets map[string]string `yaml:"shard_secrets,omitempty"`
	// JMSSecret is a JMS's secret (the bridge account's password).
	JMSSecret string `yaml:"jms_secret,omitempty"`
	// RegistryCredential is the node's own registry credential, or its
	// group's token for a group bridge.
	RegistryCredential string `yaml:"registry_credential,omitempty"`
}
