package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// TestBake: on an image as the jitsi-videobridge2 package leaves it, bake
// removes every per-node identity (keeping owner and mode), resets
// debconf's secret, and installs the agent's units with only
// jitsi-node.service enabled.
func TestBake(t *testing.T) {
	n := newNode(t, nat.Unknown)
	n.write(jitsi.JVBProperties, "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER=true\n"+postinstAppend, 0o640)
	n.write(jitsi.JVBShellConfig, "JVB_HOSTNAME=jitsi-node-unconfigured.invalid\nJVB_SECRET=Rand0mPostinstPw\nJVB_OPTS=\"--apis=,\"\n", 0o640)
	n.write(jitsi.JVBConf, "videobridge {\n apis.xmpp-client.configs { shard { PASSWORD=\"Rand0mPostinstPw\"\n MUC_NICKNAME=3f2a } }\n}\n", 0o640)
	os.Chown(filepath.Join(n.root, jitsi.JVBConf), jvbUID, jitsiGID)
	n.write(jitsi.StateDir+"/applied", "{}", 0o644)
	n.write(jitsi.NodeConfig, "version: 1\n", 0o644)
	secretReset := false
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		switch {
		case c.Name == "debconf-show":
			return []byte("* jitsi-videobridge/jvb-hostname: jitsi-node-unconfigured.invalid\n  jitsi-videobridge/jvbsecret: (password omitted)\n"), nil
		case c.Name == "debconf-communicate" && strings.HasPrefix(string(c.Stdin), "RESET "+jitsi.QJVBSecret):
			secretReset = true
			return []byte("0\n"), nil
		case c.Name == "debconf-communicate" && strings.HasPrefix(string(c.Stdin), "GET "):
			if secretReset {
				return []byte("0 \n"), nil
			}
			return []byte("0 Rand0mPostinstPw\n"), nil
		}
		return nil, nil
	}
	if err := n.agent().Bake(context.Background(), ""); err != nil {
		t.Fatalf("bake: %v\n%s", err, n.log)
	}
	for _, p := range jitsi.IdentityFiles {
		if jitsi.HasIdentity([]byte(n.read(p))) {
			t.Errorf("%s keeps an identity:\n%s", p, n.read(p))
		}
	}
	if !strings.Contains(n.read(jitsi.JVBProperties), "DISABLE_AWS_HARVESTER=true") {
		t.Error("bake removed more than the identity")
	}
	if mode, uid, gid := n.stat(jitsi.JVBConf); mode != 0o640 || uid != jvbUID || gid != jitsiGID {
		t.Errorf("jvb.conf: mode %o owner %d:%d not kept", mode, uid, gid)
	}
	if !secretReset {
		t.Error("debconf's jitsi-videobridge/jvbsecret was not reset")
	}
	for _, p := range []string{jitsi.NodeDir, jitsi.StateDir} {
		if _, err := os.Stat(filepath.Join(n.root, p)); err == nil {
			t.Errorf("%s is left in the image", p)
		}
	}
	link, target := jitsi.AgentUnitEnabled(jitsi.AgentUnit)
	if got, _ := os.Readlink(filepath.Join(n.root, link)); got != target {
		t.Errorf("%s not enabled (%q)", jitsi.AgentUnit, got)
	}
	drainLink, _ := jitsi.AgentUnitEnabled(jitsi.DrainUnit)
	if _, err := os.Lstat(filepath.Join(n.root, drainLink)); err == nil {
		t.Errorf("%s enabled at bake", jitsi.DrainUnit)
	}
	if !n.run.has("systemctl daemon-reload") {
		t.Error("units installed without a daemon-reload")
	}
	n.assertNoSecrets("Rand0mPostinstPw")
}

// TestBakeRefusesLeftovers: an identity bake cannot remove fails the bake.
func TestBakeRefusesLeftovers(t *testing.T) {
	n := newNode(t, nat.Unknown)
	n.write("/etc/jitsi/videobridge/extra.conf", "muc_nickname = \"clone\"\n", 0o644)
	err := n.agent().Bake(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "per-node identity left in: /etc/jitsi/videobridge/extra.conf") {
		t.Errorf("got %v", err)
	}
}
