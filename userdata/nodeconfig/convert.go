package nodeconfig

import (
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// FromSpec splits a validated spec into its config and its secrets.
func FromSpec(s node.Spec) (Config, Secrets) {
	s = s.WithDefaults()
	c := Config{Version: Version, AgentMinVersion: AgentMinVersion, Role: s.Role, JMSFQDN: s.JMSFQDN}
	sec := Secrets{Version: Version}
	if s.Registry != nil {
		c.Registry = &Registry{URL: strings.TrimSuffix(s.Registry.URL, "/"), CA: s.Registry.CA}
		sec.RegistryCredential = s.Registry.Credential
	}
	switch s.Role {
	case node.RoleJVB:
		c.Nickname, c.Group, c.Format = s.Nickname, s.Group, s.Format
		sec.ShardSecrets = map[string]string{}
		for _, sh := range s.Shards() {
			c.Shards = append(c.Shards, Shard{ID: sh.ID, JMSFQDN: sh.JMSFQDN})
			sec.ShardSecrets[sh.ID] = sh.Secret
		}
		if s.NAT.Mode != node.NATAuto || len(s.NAT.STUNServers) > 0 {
			// No nat: mode auto, the default.
			c.NAT = &NAT{Mode: s.NAT.Mode, PublicAddress: s.NAT.PublicAddress, LocalAddress: s.NAT.LocalAddress,
				STUNServers: s.NAT.STUNServers}
		}
	case node.RoleJMS:
		sec.JMSSecret = s.Secret
		c.JMS = &JMS{LocalBridge: s.LocalBridge, Cert: s.Cert.Choice, CertPath: s.Cert.CertPath, KeyPath: s.Cert.KeyPath, Email: s.Cert.Email}
	}
	return c, sec
}

// Spec joins a config and its secrets into the node spec they describe.
// The caller validates it (node.Spec.Validate, or ValidatePending for a
// group bridge, whose nickname is claimed later). Inconsistencies between
// the two files that validation cannot see are returned here.
func (c Config) Spec(sec Secrets) (node.Spec, error) {
	s := node.Spec{Role: c.Role, JMSFQDN: c.JMSFQDN, Nickname: c.Nickname, Group: c.Group, Format: c.Format}
	var problems []string
	if c.Registry != nil {
		s.Registry = &node.RegistryLink{URL: c.Registry.URL, CA: c.Registry.CA, Credential: sec.RegistryCredential}
	} else if sec.RegistryCredential != "" {
		problems = append(problems, "secrets.yaml: registry_credential is set but node.yaml has no registry")
	}
	switch c.Role {
	case node.RoleJVB:
		if len(c.Shards) == 0 {
			problems = append(problems, "node.yaml: shards: a bridge needs at least its own JMS's shard")
			break
		}
		if c.Shards[0].JMSFQDN != c.JMSFQDN {
			problems = append(problems, fmt.Sprintf("node.yaml: shards[0].jms_fqdn %q differs from jms_fqdn %q: the first shard is the bridge's own JMS",
				c.Shards[0].JMSFQDN, c.JMSFQDN))
		}
		for i, sh := range c.Shards {
			secret, ok := sec.ShardSecrets[sh.ID]
			if !ok {
				problems = append(problems, fmt.Sprintf("secrets.yaml: shard_secrets has no secret for shards[%d] %q", i, sh.ID))
			}
			if i == 0 {
				s.ShardID, s.Secret = sh.ID, secret
				continue
			}
			s.ExtraShards = append(s.ExtraShards, node.Shard{ID: sh.ID, JMSFQDN: sh.JMSFQDN, Secret: secret})
		}
		if len(sec.ShardSecrets) > len(c.Shards) {
			problems = append(problems, "secrets.yaml: shard_secrets has secrets of shards node.yaml does not list")
		}
		if c.NAT != nil {
			s.NAT = node.NAT{Mode: c.NAT.Mode, PublicAddress: c.NAT.PublicAddress, LocalAddress: c.NAT.LocalAddress, STUNServers: c.NAT.STUNServers}
		}
		if c.JMS != nil {
			problems = append(problems, "node.yaml: jms: applies to role jms only")
		}
	case node.RoleJMS:
		s.Secret = sec.JMSSecret
		if c.JMS != nil {
			s.LocalBridge = c.JMS.LocalBridge
			s.Cert = node.Cert{Choice: c.JMS.Cert, CertPath: c.JMS.CertPath, KeyPath: c.JMS.KeyPath, Email: c.JMS.Email}
		}
		if len(c.Shards) > 0 || c.NAT != nil || len(sec.ShardSecrets) > 0 {
			problems = append(problems, "node.yaml: shards and nat apply to role jvb only")
		}
	}
	if len(problems) > 0 {
		return s, fmt.Errorf("node config: %s", strings.Join(problems, "; "))
	}
	return s, nil
}
