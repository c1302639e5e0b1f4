package jitsi

import (
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Legacy property names (sip-communicator.properties).
const (
	legacyXMPPPrefix     = "org.jitsi.videobridge.xmpp.user."
	propDisableTCP       = "org.jitsi.videobridge.DISABLE_TCP_HARVESTER"
	propSTUNAddresses    = "org.ice4j.ice.harvest.STUN_MAPPING_HARVESTER_ADDRESSES"
	propNATLocalAddress  = "org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS"
	propNATPublicAddress = "org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS"
)

// LegacyXMPPKeyPrefix starts every legacy shard key; the image cleaner and the
// applier remove such keys from nodes that use jvb.conf.
const LegacyXMPPKeyPrefix = legacyXMPPPrefix

// javaSysProps are the JVM properties the package's config file passes.
const javaSysProps = "-Dnet.java.sip.communicator.SC_HOME_DIR_LOCATION=/etc/jitsi" +
	" -Dnet.java.sip.communicator.SC_HOME_DIR_NAME=videobridge" +
	" -Dnet.java.sip.communicator.SC_LOG_DIR_LOCATION=/var/log/jitsi" +
	" -Djava.util.logging.config.file=/etc/jitsi/videobridge/logging.properties" +
	" -Dconfig.file=" + JVBConf

// bridgeFiles writes all three of the bridge's config files whatever the
// format, so that nothing stale from the image (the postinst's random nickname,
// an old shard) survives: the format decides which file carries the shards.
func bridgeFiles(s node.Spec) []File {
	f := func(path string, content []byte) File {
		return File{Path: path, Owner: JVBOwner, Mode: modeService, Content: content, Deferred: true}
	}
	return []File{
		f(JVBConf, bridgeHOCON(s)),
		f(JVBProperties, bridgeProperties(s)),
		f(JVBShellConfig, bridgeShellConfig(s)),
	}
}

// shardSettings are the xmpp-client settings of one shard, in file order.
// Keys are the modern names; legacy upper-cases them.
func shardSettings(s node.Spec, sh node.Shard) [][2]string {
	return [][2]string{
		{"hostname", sh.JMSFQDN},
		{"domain", AuthDomain(sh.JMSFQDN)},
		{"username", BridgeUser},
		{"password", sh.Secret},
		{"muc_jids", BreweryJID(sh.JMSFQDN)},
		{"muc_nickname", s.Nickname},
		// prosody's certificate on a fresh JMS is self-signed (Jitsi's
		// production sets the same); the link is authenticated by the secret.
		{"disable_certificate_verification", "true"},
	}
}

func bridgeHOCON(s node.Spec) []byte {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	b.WriteString("videobridge {\n")
	if s.Format == node.FormatModern {
		b.WriteString("  apis.xmpp-client.configs {\n")
		for _, sh := range s.Shards() {
			fmt.Fprintf(&b, "    %s {\n", HOCONString(sh.ID))
			for _, kv := range shardSettings(s, sh) {
				if kv[0] == "muc_nickname" && s.Group != "" {
					// Claimed at boot; unset, the bridge refuses to start
					// rather than join under a name that could collide.
					fmt.Fprintf(&b, "      %s = ${%s}\n", kv[0], NicknameEnv)
					continue
				}
				if kv[0] == "disable_certificate_verification" {
					fmt.Fprintf(&b, "      %s = %s\n", kv[0], kv[1])
					continue
				}
				fmt.Fprintf(&b, "      %s = %s\n", kv[0], HOCONString(kv[1]))
				if kv[0] == "hostname" {
					fmt.Fprintf(&b, "      port = %d\n", XMPPPort)
				}
			}
			b.WriteString("      iq_handler_mode = \"sync\"\n")
			b.WriteString("    }\n")
		}
		b.WriteString("  }\n")
	}
	// The private REST API (127.0.0.1:8080) serves health, drain and graceful
	// shutdown, which scale-in uses.
	b.WriteString("  apis.rest.enabled = true\n")
	b.WriteString("  rest.shutdown.enabled = true\n")
	b.WriteString("}\n")
	if s.Format == node.FormatModern && (s.NAT.PublicAddress != "" || len(s.NAT.STUNServers) > 0) {
		b.WriteString("ice4j.harvest.mapping {\n")
		if len(s.NAT.STUNServers) > 0 {
			quoted := make([]string, len(s.NAT.STUNServers))
			for i, a := range s.NAT.STUNServers {
				quoted[i] = HOCONString(a)
			}
			fmt.Fprintf(&b, "  stun.addresses = [ %s ]\n", strings.Join(quoted, ", "))
		}
		if s.NAT.PublicAddress != "" {
			// An empty local address is detected at boot by the applier and
			// passed in the environment (JITSI_NODE_NAT_LOCAL_ADDRESS).
			local := HOCONString(s.NAT.LocalAddress)
			if s.NAT.LocalAddress == "" {
				local = "${JITSI_NODE_NAT_LOCAL_ADDRESS}"
			}
			fmt.Fprintf(&b, "  static-mappings = [ { name = \"public\", local-address = %s, public-address = %s } ]\n",
				local, HOCONString(s.NAT.PublicAddress))
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

func bridgeProperties(s node.Spec) []byte {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	prop := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", PropertiesKey(k), PropertiesValue(v)) }
	if s.Format != node.FormatLegacy {
		// Legacy xmpp keys here would override jvb.conf: this file carries none.
		b.WriteString("# The XMPP shards of this bridge are in jvb.conf.\n")
		return []byte(b.String())
	}
	prop(propDisableTCP, "true")
	for _, sh := range s.Shards() {
		for _, kv := range shardSettings(s, sh) {
			prop(legacyXMPPPrefix+sh.ID+"."+strings.ToUpper(kv[0]), kv[1])
		}
	}
	if len(s.NAT.STUNServers) > 0 {
		prop(propSTUNAddresses, strings.Join(s.NAT.STUNServers, ","))
	}
	if s.NAT.PublicAddress != "" {
		// Without a local address the applier appends it at boot.
		if s.NAT.LocalAddress != "" {
			prop(propNATLocalAddress, s.NAT.LocalAddress)
		}
		prop(propNATPublicAddress, s.NAT.PublicAddress)
	}
	return []byte(b.String())
}

// bridgeShellConfig is /etc/jitsi/videobridge/config, read both by the
// package's shell scripts and by systemd (EnvironmentFile=).
func bridgeShellConfig(s node.Spec) []byte {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	kv := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, ShellValue(v)) }
	if s.Format == node.FormatLegacy {
		// The seed's layout: the component connection to the JMS.
		kv("JVB_HOSTNAME", s.JMSFQDN)
		kv("JVB_HOST", "")
		kv("JVB_PORT", "5347")
		kv("JVB_SECRET", s.Secret)
	}
	kv("JVB_OPTS", "--apis=,")
	kv("JAVA_SYS_PROPS", javaSysProps)
	return []byte(b.String())
}
