package jvbread

import (
	"crypto/sha256"
	"encoding/hex"
)

// Result is what the bridge would read, as the fixture reports it (JSON
// fields of e2e/fixture/jvb-config-reader's ReadAsBridge.kt).
type Result struct {
	// Fatal says why the bridge would not start; the rest is then empty.
	Fatal   string   `json:"fatal"`
	Files   Files    `json:"files"`
	XMPP    XMPP     `json:"xmpp"`
	ICE     ICE      `json:"ice"`
	REST    REST     `json:"rest"`
	Health  Health   `json:"health"`
	Service Service  `json:"service"`
	Errors  []string `json:"errors"`
}

// Files are the files Jitsi's libraries were pointed at, as node paths.
type Files struct {
	// ConfigFile is -Dconfig.file (jvb.conf), or nil when JAVA_SYS_PROPS lacks it.
	ConfigFile *string    `json:"config_file"`
	LegacyFile LegacyFile `json:"legacy_file"`
}

// LegacyFile is the sip-communicator.properties JitsiConfig loads.
type LegacyFile struct {
	Path   *string `json:"path"`
	Exists bool    `json:"exists"`
}

// XMPP is the MUC client configuration in force.
type XMPP struct {
	// Source is the file the clients come from: "sip-communicator.properties"
	// (legacy keys take precedence) or "jvb.conf"; empty when none.
	Source  string      `json:"source"`
	Clients []MucClient `json:"clients"`
	// Ignored are incomplete entries of either file, dropped by Jitsi.
	Ignored []Ignored `json:"ignored"`
}

// MucClient is one entry as jicoco's MucClientConfiguration holds it.
type MucClient struct {
	ID                             string   `json:"id"`
	Hostname                       *string  `json:"hostname"`
	Port                           *string  `json:"port"`
	Domain                         *string  `json:"domain"`
	Username                       *string  `json:"username"`
	PasswordSHA256                 *string  `json:"password_sha256"`
	Password                       *string  `json:"password"` // only with ReadOptions.ShowPasswords
	MucJIDs                        []string `json:"muc_jids"`
	MucNickname                    *string  `json:"muc_nickname"`
	DisableCertificateVerification bool     `json:"disable_certificate_verification"`
	IQHandlerMode                  *string  `json:"iq_handler_mode"`
	SecurityMode                   *string  `json:"security_mode"`
	Smack                          Smack    `json:"smack"`
	// Problems are JIDs or nicknames Smack would refuse.
	Problems []string `json:"problems"`
}

// Smack is what jicoco's MucClient hands to Smack for an entry.
type Smack struct {
	Error                string  `json:"error"`
	Host                 *string `json:"host"`
	Port                 *string `json:"port"`
	XMPPDomain           *string `json:"xmpp_domain"`
	Username             *string `json:"username"`
	PasswordSHA256       *string `json:"password_sha256"`
	SecurityMode         *string `json:"security_mode"`
	TrustsAnyCertificate bool    `json:"trusts_any_certificate"`
}

// Ignored is an incomplete entry and the settings it lacks.
type Ignored struct {
	File  string   `json:"file"`
	ID    string   `json:"id"`
	Lacks []string `json:"lacks"`
}

// ICE is ice4j's HarvestConfig.
type ICE struct {
	StaticMappings []StaticMapping `json:"static_mappings"`
	STUNAddresses  []string        `json:"stun_addresses"`
	AWSEnabled     bool            `json:"aws_enabled"`
	AWSForced      bool            `json:"aws_forced"`
	// AWSRuns is "yes", "no" or "on EC2 only".
	AWSRuns string `json:"aws_runs"`
}

// StaticMapping is one of ice4j's static NAT mappings.
type StaticMapping struct {
	LocalAddress  string  `json:"local_address"`
	PublicAddress string  `json:"public_address"`
	LocalPort     *int    `json:"local_port"`
	PublicPort    *int    `json:"public_port"`
	Name          *string `json:"name"`
}

// REST is the bridge's private REST API switches.
type REST struct {
	ColibriEnabled  bool `json:"colibri_enabled"`
	ShutdownEnabled bool `json:"shutdown_enabled"`
	DrainEnabled    bool `json:"drain_enabled"`
	HealthEnabled   bool `json:"health_enabled"`
	// APIsArgument is JVB_OPTS's --apis value, nil when absent.
	APIsArgument *string `json:"apis_argument"`
	// Before 2022-10 (Jitsi stable <= 7882) --apis decided before jvb.conf.
	ColibriEnabledBefore2022  bool `json:"colibri_enabled_before_2022_10"`
	ShutdownEnabledBefore2022 bool `json:"shutdown_enabled_before_2022_10"`
}

// Health is the input of JvbHealthChecker's rule.
type Health struct {
	RequireValidAddress  bool     `json:"require_valid_address"`
	RequireSTUN          bool     `json:"require_stun"`
	LocalAddresses       []string `json:"local_addresses"`
	ValidLocalAddresses  []string `json:"valid_local_addresses"`
	MappingHarvesters    []string `json:"mapping_harvesters"`
	ValidMappedAddresses []string `json:"valid_mapped_addresses"`
	// RuntimeDiscovery lists "stun" and "aws" when they may find an address at run time.
	RuntimeDiscovery []string `json:"runtime_discovery"`
	// ValidAddressKnown: an interface or static mapping gives a valid address.
	ValidAddressKnown bool     `json:"valid_address_known"`
	Problems          []string `json:"problems"`
}

// Service is the bridge process's environment and arguments.
type Service struct {
	Arguments        []string `json:"arguments"`
	APIsArgument     *string  `json:"apis_argument"`
	JVBSecretSHA256  *string  `json:"jvb_secret_sha256"`
	EnvironmentNames []string `json:"environment_names"`
}

// SHA256 is how the fixture prints a secret: hex SHA-256 of its UTF-8 bytes.
func SHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Client returns the client entry with the given id, or nil.
func (x XMPP) Client(id string) *MucClient {
	for i := range x.Clients {
		if x.Clients[i].ID == id {
			return &x.Clients[i]
		}
	}
	return nil
}
