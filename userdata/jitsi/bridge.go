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
	// propDisableAWS is inverted: true turns the AWS harvester off.
	propDisableAWS = "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER"
	// propRESTHost binds the 2020 bridges' private REST server, which
	// listened on every interface, to loopback (jicoco's jetty host).
	propRESTHost = "org.jitsi.videobridge.rest.private.jetty.host"
	// propRESTShutdown allows graceful shutdown over REST (legacy spelling
	// of videobridge.rest.shutdown.enabled).
	propRESTShutdown = "org.jitsi.videobridge.ENABLE_REST_SHUTDOWN"
)

// LegacyXMPPKeyPrefix starts every legacy shard key; keys with it in
// sip-communicator.properties replace jvb.conf's shards.
const LegacyXMPPKeyPrefix = legacyXMPPPrefix

// postinstGuards are comment lines in sip-communicator.properties that the
// jitsi-videobridge2 postinst of 2020-01 … 2025-03 takes for the keys it
// looks for with `grep -q` (which matches comments too), so a reconfigure
// or upgrade no longer appends a "shard" connection (HOSTNAME=localhost, a
// random password and nickname) nor its STUN and AWS defaults. `apply
// --check` still undoes any such append that gets through.
var postinstGuards = []string{
	"# " + legacyXMPPPrefix + "shard.MUC_JIDS and " + propSTUNAddresses + " are named here so that",
	"# older jitsi-videobridge2 package scripts do not append their defaults to this file.",
}

// JVBOpts is JVB_OPTS in /etc/jitsi/videobridge/config, for every bridge:
//   - stable ≤ 4627 (2020-05): REST (health, stats, shutdown) starts only
//     when --apis names "rest", and "xmpp" would start the component mode
//     the MUC-based config does not use;
//   - 4857 … 5390: --apis absent or empty crashes the bridge at startup (NPE);
//   - 4966 … 7882: --apis overrides jvb.conf's videobridge.apis.rest.enabled,
//     so "--apis=," (the old package default) switched REST off and with it
//     the conference count a drain waits on;
//   - 8044 and later ignore it (and jvb.conf turns REST on).
//
// So "--apis=rest": never empty, never ",".
const JVBOpts = "--apis=rest"

// javaSysProps are the JVM properties the package's config file passes.
const javaSysProps = "-Dnet.java.sip.communicator.SC_HOME_DIR_LOCATION=/etc/jitsi" +
	" -Dnet.java.sip.communicator.SC_HOME_DIR_NAME=videobridge" +
	" -Dnet.java.sip.communicator.SC_LOG_DIR_LOCATION=/var/log/jitsi" +
	" -Djava.util.logging.config.file=/etc/jitsi/videobridge/logging.properties" +
	" -Dconfig.file=" + JVBConf

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

func bridgeHOCON(s node.Spec, boot Boot) []byte {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	b.WriteString("videobridge {\n")
	if s.Format == node.FormatModern {
		b.WriteString("  apis.xmpp-client.configs {\n")
		for _, sh := range s.Shards() {
			fmt.Fprintf(&b, "    %s {\n", HOCONString(sh.ID))
			for _, kv := range shardSettings(s, sh) {
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
	// The private REST API (127.0.0.1:8080) serves health, drain, the
	// conference count and graceful shutdown, which scale-in uses.
	b.WriteString("  apis.rest.enabled = true\n")
	b.WriteString("  rest.shutdown.enabled = true\n")
	if s.NAT.Mode == node.NATNone {
		// A private-only deployment: without this, bridges since 2023-12
		// report unhealthy when they know no public address.
		b.WriteString("  health.require-valid-address = false\n")
	}
	b.WriteString("}\n")
	if s.Format == node.FormatLegacy {
		// A legacy bridge's NAT settings are in sip-communicator.properties,
		// whose keys ice4j reads first; mappings from both files would be
		// one mapping advertised twice.
		return []byte(b.String())
	}
	b.WriteString("ice4j.harvest.mapping {\n")
	fmt.Fprintf(&b, "  aws.enabled = %t\n", boot.AWSHarvester)
	if len(s.NAT.STUNServers) > 0 {
		quoted := make([]string, len(s.NAT.STUNServers))
		for i, a := range s.NAT.STUNServers {
			quoted[i] = HOCONString(a)
		}
		fmt.Fprintf(&b, "  stun.addresses = [ %s ]\n", strings.Join(quoted, ", "))
	}
	if boot.PublicAddress != "" {
		fmt.Fprintf(&b, "  static-mappings = [ { name = \"public\", local-address = %s, public-address = %s } ]\n",
			HOCONString(boot.LocalAddress), HOCONString(boot.PublicAddress))
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func bridgeProperties(s node.Spec, boot Boot) []byte {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	for _, g := range postinstGuards {
		b.WriteString(g + "\n")
	}
	prop := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", PropertiesKey(k), PropertiesValue(v)) }
	if s.Format != node.FormatLegacy {
		// Legacy xmpp or ice4j keys here would override jvb.conf: none.
		b.WriteString("# The XMPP shards and NAT settings of this bridge are in jvb.conf.\n")
		return []byte(b.String())
	}
	prop(propDisableTCP, "true")
	prop(propRESTHost, "127.0.0.1")
	prop(propRESTShutdown, "true")
	prop(propDisableAWS, fmt.Sprint(!boot.AWSHarvester))
	for _, sh := range s.Shards() {
		for _, kv := range shardSettings(s, sh) {
			prop(legacyXMPPPrefix+sh.ID+"."+strings.ToUpper(kv[0]), kv[1])
		}
	}
	if len(s.NAT.STUNServers) > 0 {
		prop(propSTUNAddresses, strings.Join(s.NAT.STUNServers, ","))
	}
	if boot.PublicAddress != "" {
		prop(propNATLocalAddress, boot.LocalAddress)
		prop(propNATPublicAddress, boot.PublicAddress)
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
		// The seed's layout (2020 packages read these).
		kv("JVB_HOSTNAME", s.JMSFQDN)
		kv("JVB_HOST", "")
		kv("JVB_PORT", "5347")
		kv(JVBSecretVar, s.Secret)
	}
	kv("JVB_OPTS", JVBOpts)
	kv("JAVA_SYS_PROPS", javaSysProps)
	return []byte(b.String())
}
