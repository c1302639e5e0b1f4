package jitsi

import (
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// BridgeAccount is the bridges' XMPP account on a JMS: jvb@auth.<fqdn>.
func BridgeAccount(fqdn string) string { return BridgeUser + "@" + AuthDomain(fqdn) }

// ProsodyCtl sets the bridge account's password: `prosodyctl passwd JID`
// (or `adduser JID` for a new account) reads the password twice on stdin,
// never from argv. Prosody ≥ 13 runs both through its admin shell, which
// talks to the running server; older versions write the account directly.
const ProsodyCtl = "prosodyctl"

// ProsodyNotRunning is what prosody ≥ 13's prosodyctl prints when the
// server it must talk to is not (yet) up.
const ProsodyNotRunning = "Unable to connect to server"

// SnakeoilRenew makes the JMS's own self-signed certificate: the one in the
// image was made at bake and every clone would share it.
var SnakeoilRenew = []string{"make-ssl-cert", "generate-default-snakeoil", "--force-overwrite"}

// DebconfSeed is the JMS's debconf-set-selections input (it holds the
// secret: hand it over on stdin). debconf takes the rest of the line
// literally, so values need no escaping; validation has excluded newlines
// and surrounding white space.
func DebconfSeed(s node.Spec) []byte {
	s = s.WithDefaults()
	var b strings.Builder
	line := func(owner, q, typ, val string) { fmt.Fprintf(&b, "%s %s %s %s\n", owner, q, typ, val) }
	line(PkgJVB, QJVBHostname, "string", s.JMSFQDN)
	line(PkgMeetProsody, QJVBSecret, "password", s.Secret)
	line(PkgMeetWebConfig, QJaasChoice, "boolean", "false")
	switch s.Cert.Choice {
	case node.CertOwn:
		line(PkgMeetWebConfig, QCertChoice, "select", CertChoiceOwn)
		line(PkgMeetWebConfig, QCertKey, "string", s.Cert.KeyPath)
		line(PkgMeetWebConfig, QCertCrt, "string", s.Cert.CertPath)
	case node.CertLetsEncrypt:
		line(PkgMeetWebConfig, QCertChoice, "select", CertChoiceLetsEncrypt)
		line(PkgMeetWebConfig, QEmail, "string", s.Cert.Email)
	default:
		line(PkgMeetWebConfig, QCertChoice, "select", CertChoiceSelfSigned)
	}
	return []byte(b.String())
}
