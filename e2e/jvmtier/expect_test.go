package jvmtier

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread/jvbreadtest"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// readBridge runs Jitsi's libraries on a bridge's files and boot environment.
func readBridge(t *testing.T, files map[string][]byte, env map[string]string, b boot) *jvbread.Result {
	t.Helper()
	r := jvbreadtest.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := r.Read(ctx, jvbread.Input{Files: files, Env: env, LocalAddresses: b.localAddresses})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mismatches compares what Jitsi read with what the spec asks for. Each
// message names the setting and the value Jitsi read instead.
func mismatches(s node.Spec, b boot, res *jvbread.Result) []string {
	s = s.WithDefaults()
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if res.Fatal != "" {
		return []string{res.Fatal}
	}
	for _, e := range res.Errors {
		add("Jitsi could not read a setting: %s", e)
	}
	if got := deref(res.Files.ConfigFile); got != jitsi.JVBConf {
		add("-Dconfig.file is %q, want %s: the bridge does not read jvb.conf", got, jitsi.JVBConf)
	}
	if got := deref(res.Files.LegacyFile.Path); got != jitsi.JVBProperties {
		add("the legacy properties Jitsi loads are %q, want %s", got, jitsi.JVBProperties)
	}
	out = append(out, xmppMismatches(s, b, res.XMPP)...)
	out = append(out, iceMismatches(s, b, res)...)
	out = append(out, restMismatches(res.REST)...)
	if s.Format == node.FormatLegacy && deref(res.Service.JVBSecretSHA256) != jvbread.SHA256(s.Secret) {
		add("JVB_SECRET: the service's environment holds another value (sha256 %s), not the secret", short(deref(res.Service.JVBSecretSHA256)))
	}
	return out
}

func xmppMismatches(s node.Spec, b boot, x jvbread.XMPP) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	wantSource := "jvb.conf"
	if s.Format == node.FormatLegacy {
		wantSource = "sip-communicator.properties"
	}
	if x.Source == "" {
		add("xmpp: Jitsi finds no complete shard entry in sip-communicator.properties or jvb.conf")
	} else if x.Source != wantSource {
		add("xmpp: Jitsi takes the shards from %q, want %s (legacy org.jitsi.videobridge.xmpp.user.* keys win over jvb.conf)", x.Source, wantSource)
	}
	for _, ig := range x.Ignored {
		add("xmpp: Jitsi ignores entry %q of %s: it lacks %s", ig.ID, ig.File, strings.Join(ig.Lacks, ", "))
	}
	var ids []string
	for _, c := range x.Clients {
		ids = append(ids, c.ID)
	}
	shards := s.Shards()
	if len(x.Clients) != len(shards) {
		add("xmpp: Jitsi uses %d entries %v, want %d", len(x.Clients), ids, len(shards))
	}
	nick := s.Nickname
	if s.Group != "" {
		nick = b.nickname
	}
	for _, sh := range shards {
		c := x.Client(sh.ID)
		if c == nil {
			add("xmpp: shard %q is not among the entries Jitsi uses %v", sh.ID, ids)
			continue
		}
		field := func(name, got, want string) {
			if got != want {
				add("xmpp %s: %s = %q, want %q", sh.ID, name, got, want)
			}
		}
		field("hostname", deref(c.Hostname), sh.JMSFQDN)
		field("XMPP domain (Smack)", deref(c.Smack.XMPPDomain), jitsi.AuthDomain(sh.JMSFQDN))
		field("port (Smack)", deref(c.Smack.Port), fmt.Sprint(jitsi.XMPPPort))
		field("username", deref(c.Username), jitsi.BridgeUser)
		field("muc_jids", strings.Join(c.MucJIDs, ","), jitsi.BreweryJID(sh.JMSFQDN))
		field("muc_nickname", deref(c.MucNickname), nick)
		field("iq_handler_mode", deref(c.IQHandlerMode), "sync")
		if got := deref(c.PasswordSHA256); got != jvbread.SHA256(sh.Secret) {
			add("xmpp %s: password: Jitsi reads another value (sha256 %s…), not the shard's secret", sh.ID, short(got))
		}
		if deref(c.Smack.PasswordSHA256) != deref(c.PasswordSHA256) {
			add("xmpp %s: Smack gets another password than the entry holds", sh.ID)
		}
		if !c.DisableCertificateVerification || !c.Smack.TrustsAnyCertificate {
			add("xmpp %s: certificate verification stays on (prosody's certificate is self-signed)", sh.ID)
		}
		if c.Smack.Error != "" {
			add("xmpp %s: jicoco's MucClient cannot build the connection: %s", sh.ID, c.Smack.Error)
		}
		for _, p := range c.Problems {
			add("xmpp %s: %s", sh.ID, p)
		}
	}
	return out
}

func iceMismatches(s node.Spec, b boot, res *jvbread.Result) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	var got []string
	for _, m := range res.ICE.StaticMappings {
		got = append(got, m.LocalAddress+" -> "+m.PublicAddress)
	}
	var want []string
	if b.public != "" {
		want = append(want, b.local+" -> "+b.public)
	}
	if !slices.Equal(got, want) {
		add("ice4j static mappings are %v, want %v", got, want)
	}
	if res.ICE.AWSEnabled != b.aws {
		state := map[bool]string{true: "on", false: "off"}
		why := "at start the bridge probes the EC2 metadata service"
		if b.aws {
			why = "on EC2 it finds the public address itself"
		}
		add("ice4j AWS harvester %s (%s), want %s: %s", state[res.ICE.AWSEnabled], awsSource(res), state[b.aws], why)
	}
	if !slices.Equal(res.ICE.STUNAddresses, s.NAT.STUNServers) {
		add("ice4j STUN addresses are %v, want %v", res.ICE.STUNAddresses, s.NAT.STUNServers)
	}
	h := res.Health
	if wantRequire := s.WithDefaults().NAT.Mode != node.NATNone; h.RequireValidAddress != wantRequire {
		add("videobridge.health.require-valid-address is %v, want %v (false only for --nat none, a private-only deployment)", h.RequireValidAddress, wantRequire)
	}
	if h.RequireValidAddress && !h.ValidAddressKnown && !slices.Contains(h.RuntimeDiscovery, "stun") {
		add("health: no valid address (interfaces %v, mappings %v, discovery at run time %v): JvbHealthChecker reports \"No valid IP addresses available for harvesting\" and jicofo drops the bridge",
			h.LocalAddresses, h.MappingHarvesters, h.RuntimeDiscovery)
	}
	for _, p := range h.Problems {
		add("health: %s", p)
	}
	return out
}

// awsSource says where the AWS harvester switch came from, for messages.
func awsSource(res *jvbread.Result) string {
	if res.ICE.AWSRuns == "" {
		return "ice4j default"
	}
	return "aws runs: " + res.ICE.AWSRuns
}

func restMismatches(r jvbread.REST) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if !r.ColibriEnabled || !r.ShutdownEnabled {
		add("rest: COLIBRI REST %v, shutdown API %v (videobridge.apis.rest.enabled, videobridge.rest.shutdown.enabled): graceful shutdown needs both", r.ColibriEnabled, r.ShutdownEnabled)
	}
	if !r.DrainEnabled || !r.HealthEnabled {
		add("rest: drain API %v, health API %v, want both on", r.DrainEnabled, r.HealthEnabled)
	}
	if !r.ColibriEnabledBefore2022 || !r.ShutdownEnabledBefore2022 {
		add("rest: a bridge before 2022-10 (Jitsi stable <= 7882) takes JVB_OPTS --apis=%q over jvb.conf: COLIBRI REST %v, shutdown API %v, so graceful_shutdown.sh fails there",
			deref(r.APIsArgument), r.ColibriEnabledBefore2022, r.ShutdownEnabledBefore2022)
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
