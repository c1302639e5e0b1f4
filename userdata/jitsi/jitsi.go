// Package jitsi is the project's one model of what a Jitsi node needs: the
// Debian packages of each role, their services, debconf questions, the files
// and keys that carry a node's identity, and how every value is escaped for
// the format of the file it lands in.
//
// The user-data generator, the Packer provisioner and the first-boot applier
// all take these facts from here, so a path or a key is written down once.
package jitsi

import "path"

// Account and MUC names Jitsi's packaging uses on every JMS.
const (
	// BridgeUser is the XMPP account bridges log in with, on AuthDomain(fqdn).
	BridgeUser = "jvb"
	// BreweryRoom is the MUC room bridges join, on InternalMUCDomain(fqdn).
	BreweryRoom = "jvbbrewery"
	// XMPPPort is prosody's client port that bridges connect to.
	XMPPPort = 5222
)

// AuthDomain is the XMPP domain of the bridge account: auth.<fqdn>.
func AuthDomain(fqdn string) string { return "auth." + fqdn }

// InternalMUCDomain is the MUC component that hosts the brewery: internal.auth.<fqdn>.
func InternalMUCDomain(fqdn string) string { return "internal.auth." + fqdn }

// BreweryJID is the brewery room's bare JID.
func BreweryJID(fqdn string) string { return BreweryRoom + "@" + InternalMUCDomain(fqdn) }

// Files on a videobridge.
const (
	JVBConfigDir = "/etc/jitsi/videobridge"
	// JVBConf is the modern HOCON configuration.
	JVBConf = JVBConfigDir + "/jvb.conf"
	// JVBProperties is the legacy properties file; its xmpp keys override jvb.conf.
	JVBProperties = JVBConfigDir + "/sip-communicator.properties"
	// JVBShellConfig is the shell file the service sources (JVB_SECRET in legacy).
	JVBShellConfig = JVBConfigDir + "/config"
	// JVBOwner is how the jitsi-videobridge2 package owns its config files.
	JVBOwner = "jvb:jitsi"
)

// Files the project itself keeps on every node (the applier's inputs).
const (
	// NodeDir holds what user-data hands to the first-boot applier.
	NodeDir = "/etc/jitsi-node"
	// NodeEnv is a shell file of non-secret settings (role, FQDN, services).
	NodeEnv = NodeDir + "/node.env"
	// NodeSecret holds the JMS secret, root-only; the applier reads it on stdin paths.
	NodeSecret = NodeDir + "/secret"
	// NodeDebconf holds the debconf preseed of a JMS (it contains the secret).
	NodeDebconf = NodeDir + "/debconf.seed"
	// NodeRegistryAuth is the registry's Authorization header for a group
	// bridge (it holds the node token), root-only.
	NodeRegistryAuth = NodeDir + "/registry-auth"
	// NicknameEnv is the environment variable through which a group bridge's
	// claimed nickname reaches jvb.conf (a HOCON substitution).
	NicknameEnv = "JITSI_NODE_NICKNAME"
	// Applier is the first-boot program the user-data runs.
	Applier = "/usr/local/sbin/jitsi-node-apply"
	// ApplierState records the last successful apply (for idempotence and status).
	ApplierState = "/var/lib/jitsi-node/applied"
)

// Debian packages and services of each role.
const (
	PkgJVB         = "jitsi-videobridge2"
	PkgMeet        = "jitsi-meet"
	PkgMeetProsody = "jitsi-meet-prosody"
	PkgJicofo      = "jicofo"
	PkgApache      = "apache2"

	SvcJVB     = "jitsi-videobridge2"
	SvcProsody = "prosody"
	SvcJicofo  = "jicofo"
)

// Debconf questions of the Jitsi packages (owner package, question).
const (
	QJVBHostname = "jitsi-videobridge/jvb-hostname"
	QJVBSecret   = "jitsi-videobridge/jvbsecret"
	QCertChoice  = "jitsi-meet/cert-choice"
	QCertKey     = "jitsi-meet/cert-path-key"
	QCertCrt     = "jitsi-meet/cert-path-crt"
	QJaasChoice  = "jitsi-meet/jaas-choice"
	QEmail       = "jitsi-meet/email"
)

// Debconf values of jitsi-meet/cert-choice, as the package spells them.
const (
	CertChoiceSelfSigned  = "Generate a new self-signed certificate"
	CertChoiceOwn         = "I want to use my own certificate"
	CertChoiceLetsEncrypt = "Let's Encrypt certificates"
)

// GracefulShutdownScript is shipped by jitsi-videobridge2 and drains the bridge.
const GracefulShutdownScript = "/usr/share/jitsi-videobridge/graceful_shutdown.sh"

// ProsodyAccountFile is where prosody keeps an account (internal_hashed
// storage): /var/lib/prosody/<escaped host>/accounts/<user>.dat.
func ProsodyAccountFile(host, user string) string {
	return path.Join("/var/lib/prosody", prosodyEscape(host), "accounts", prosodyEscape(user)+".dat")
}

// prosodyEscape mirrors prosody's datamanager path encoding of '.', '-' and '%'.
func prosodyEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '.':
			out = append(out, "%2e"...)
		case '-':
			out = append(out, "%2d"...)
		case '%':
			out = append(out, "%25"...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
