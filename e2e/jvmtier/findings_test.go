package jvmtier

import (
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// TestIncompleteLegacyKeysDoNotShadowJvbConf pins a rule of Jitsi's
// XmppClientConnectionConfig that the project's own readers state otherwise
// (e2e/internal/jvbconf, the stand-in bridge): legacy keys win over jvb.conf
// only when they make at least one COMPLETE entry. A stale key alone (here the
// postinst's MUC_NICKNAME) is dropped as incomplete, and jvb.conf's shards are
// used.
func TestIncompleteLegacyKeysDoNotShadowJvbConf(t *testing.T) {
	s := testvectors.Cases()["jvb-modern"]
	b := defaultBoot(s)
	files, err := bridgeFilesOf(s, b)
	if err != nil {
		t.Fatal(err)
	}
	files[jitsi.JVBProperties] = append(files[jitsi.JVBProperties], "org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=stale-uuid\n"...)
	res := readBridge(t, files, nil, b)
	if res.XMPP.Source != "jvb.conf" {
		t.Errorf("shards come from %q, want jvb.conf", res.XMPP.Source)
	}
	if c := res.XMPP.Client("shard"); c == nil || deref(c.MucNickname) != s.Nickname {
		t.Errorf("want jvb.conf's shard with nickname %s in force, got %+v", s.Nickname, res.XMPP.Clients)
	}
	if len(res.XMPP.Ignored) != 1 || res.XMPP.Ignored[0].File != "sip-communicator.properties" {
		t.Errorf("want the legacy entry reported as ignored, got %+v", res.XMPP.Ignored)
	}
}
