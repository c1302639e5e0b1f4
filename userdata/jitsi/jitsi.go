// Package jitsi is the project's one model of what a Jitsi node needs: the
// Debian packages of each role, their services, debconf questions, the files
// and keys that carry a node's identity, and how every value is escaped for
// the format of the file it lands in.
//
// The user-data generator, the Packer provisioner and the node agent
// (cmd/jitsi-node) all take these facts from here, so a path, a key, a
// service or a package name is written down once.
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
	// JVBSecretVar is the legacy secret's variable in JVBShellConfig.
	JVBSecretVar = "JVB_SECRET"
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
	SvcApache  = "apache2"
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

// GracefulShutdownScript is shipped by jitsi-videobridge2: it asks the
// bridge for a graceful shutdown over REST, waits for its participants to
// leave and for the process to exit. It needs jq and has no timeout of its
// own (callers bound it).
const GracefulShutdownScript = "/usr/share/jitsi-videobridge/graceful_shutdown.sh"

// GracefulShutdownNeeds are the programs GracefulShutdownScript runs.
var GracefulShutdownNeeds = []string{"curl", "jq"}

// The bridge's private HTTP server (videobridge.http-servers.private, on
// loopback) and what the node agent uses of it.
const (
	BridgeAPI = "http://127.0.0.1:8080"
	// HealthPath answers 200 when healthy, 5xx with the reason otherwise.
	HealthPath = "/about/health"
	// DrainEnablePath stops new conferences (stable 6865 and later).
	DrainEnablePath = "/colibri/drain/enable"
	// StatsPath is a flat JSON object; StatsConferences counts conferences.
	StatsPath        = "/colibri/stats"
	StatsConferences = "conferences"
	// ShutdownPath with ShutdownBody: leave the brewery once participants
	// are gone, then exit (needs REST and rest.shutdown enabled).
	ShutdownPath = "/colibri/shutdown"
	ShutdownBody = `{"graceful-shutdown":"true"}`
)

// XMPPLoginRefused is what prosody answers (and the bridge logs) when the
// bridge's secret is not the JMS's: SASL failure not-authorized. The bridge
// does not stop for it: its MUC client keeps retrying.
const XMPPLoginRefused = "not-authorized"

// MUCJoined starts what jicoco's MucClient logs, followed by the room's
// JID, once the bridge is in a brewery: the only sign, short of asking the
// JMS, that its XMPP login worked (its health check is about addresses).
const MUCJoined = "Joined MUC: "

// JVBLogFile is where the jitsi-videobridge2 unit appends the bridge's
// output (its ExecStart redirects to $LOGFILE): not the journal.
const JVBLogFile = "/var/log/jitsi/jvb.log"

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
