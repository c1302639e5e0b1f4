// Package testvectors holds the node specs and nasty values that the
// renderer's tests use, so that other test tiers (the e2e JVM tier, where
// Jitsi's own libraries read the rendered files) check the very same cases.
// It is test data only: nothing outside tests imports it.
package testvectors

import (
	_ "embed"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// NastySecret has every character that breaks a naive properties, HOCON or
// shell writer, plus non-ASCII.
const NastySecret = `a#b=c:d\e "f" ü`

// EscapeVectors are the escapers' test values and FuzzEscapers' seeds. Some
// (empty, surrounding space, tab) never pass node validation.
var EscapeVectors = []string{
	"",
	"plain",
	NastySecret,
	" leading space",
	"trailing space ",
	"!bang #hash =eq :colon",
	`back\\slash\`,
	`$HOME ${x} $(id) ` + "`id`",
	"'single' \"double\"",
	"tab\there",
	"emoji 😀 and ü and \u00a0",
	"\\u0041 literal",
}

// SecretSeeds are FuzzSecret's seeds.
var SecretSeeds = []string{NastySecret, "plain", `$(reboot)`, "`id`", `"}{`, "a\\", "x\ny", " padded ", "ü😀", "- [a]", "key: v", "'"}

// NicknameSeeds are FuzzNickname's seeds.
var NicknameSeeds = []string{"jvb-001", "a", "Jvb", "jvb.1", "jvb 1", "j\"vb", "-x"}

// RegistryCA is a real self-signed certificate (its key was discarded), as
// an operator gives nodes with --node-registry-ca.
//
//go:embed testdata/registry-ca.pem
var RegistryCA string

// Cases are the golden cases (userdata/testdata/golden/<name>.yaml): every
// role × format, with the options that change the output.
func Cases() map[string]node.Spec {
	jvb := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: NastySecret, Nickname: "jvb-001"}
	legacy := jvb
	legacy.Format = node.FormatLegacy
	legacy.Nickname = "jvb-002"
	nat := jvb
	nat.NAT = node.NAT{PublicAddress: "203.0.113.7", STUNServers: []string{"stun.example.org:3478"}}
	nat.ExtraShards = []node.Shard{{ID: "shard-2", JMSFQDN: "meet2.example.org", Secret: "second secret"}}
	legacyNAT := nat
	legacyNAT.Format = node.FormatLegacy
	legacyNAT.NAT.LocalAddress = "10.0.0.7"
	private := jvb
	private.NAT.Mode = node.NATNone
	jms := node.Spec{Role: node.RoleJMS, JMSFQDN: "meet.example.org", Secret: NastySecret}
	le := jms
	le.Cert = node.Cert{Choice: node.CertLetsEncrypt, Email: "ops@example.org"}
	le.LocalBridge = true
	own := jms
	own.Cert = node.Cert{Choice: node.CertOwn, CertPath: "/etc/ssl/meet.crt", KeyPath: "/etc/ssl/meet.key"}
	group := jvb
	group.Nickname = ""
	group.Group = "bridges-eu"
	group.Registry = &node.RegistryLink{URL: "https://registry.example.org:8443", Credential: "jgroup_0123456789abcdefghijklmnop"}
	groupCA := group
	groupCA.Registry = &node.RegistryLink{URL: "https://registry.example.org:8443", Credential: group.Registry.Credential, CA: RegistryCA}
	reporting := jvb
	reporting.Registry = &node.RegistryLink{URL: "https://registry.example.org:8443", Credential: "jnode_0123456789abcdefghijklmnop"}
	jmsReporting := jms
	jmsReporting.Registry = reporting.Registry
	return map[string]node.Spec{
		"jms-reporting": jmsReporting,
		"jvb-group":     group, "jvb-group-registry-ca": groupCA, "jvb-modern-reporting": reporting,
		"jvb-modern": jvb, "jvb-legacy": legacy, "jvb-modern-nat-two-shards": nat, "jvb-legacy-nat-two-shards": legacyNAT,
		"jvb-nat-none": private,
		"jms":          jms, "jms-letsencrypt-local-bridge": le, "jms-own-cert": own,
	}
}
