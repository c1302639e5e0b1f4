package jitsi

import (
	"strings"
	"testing"
)

// postinstProperties is what the 2020–2025 postinst leaves (research D).
const postinstProperties = `org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER=true
org.ice4j.ice.harvest.STUN_MAPPING_HARVESTER_ADDRESSES=meet-jit-si-turnrelay.jitsi.net:443
org.jitsi.videobridge.ENABLE_STATISTICS=true
org.jitsi.videobridge.xmpp.user.shard.HOSTNAME=localhost
org.jitsi.videobridge.xmpp.user.shard.PASSWORD=Xy#12
  org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=6f1c-uuid
`

func TestScrubIdentity(t *testing.T) {
	out, changed := ScrubIdentity(JVBProperties, []byte(postinstProperties))
	if !changed || strings.Contains(string(out), "xmpp.user") || !strings.Contains(string(out), "ENABLE_STATISTICS=true\n") {
		t.Errorf("properties: changed %v\n%s", changed, out)
	}
	cfg := "JVB_HOSTNAME=x\nJVB_SECRET=abc\nexport JVB_SECRET=abc\nJVB_OPTS=\"--apis=,\"\n"
	out, changed = ScrubIdentity(JVBShellConfig, []byte(cfg))
	if !changed || string(out) != "JVB_HOSTNAME=x\nJVB_OPTS=\"--apis=,\"\n" {
		t.Errorf("config: %q", out)
	}
	conf := "videobridge {\n apis.xmpp-client.configs { shard { PASSWORD=\"x\"\n MUC_NICKNAME=uuid } }\n}\n"
	out, changed = ScrubIdentity(JVBConf, []byte(conf))
	if !changed || string(out) != string(ScrubbedJVBConf) || HasIdentity(out) {
		t.Errorf("jvb.conf: %q", out)
	}
	if _, changed := ScrubIdentity(JVBConf, ScrubbedJVBConf); changed {
		t.Error("a scrubbed jvb.conf is scrubbed again")
	}
	if !HasIdentity([]byte(postinstProperties)) || !HasIdentity([]byte(cfg)) || HasIdentity([]byte("JVB_OPTS=x\n")) {
		t.Error("HasIdentity misses or invents an identity")
	}
}
