package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// postinstAppend is what the jitsi-videobridge2 postinst of 2020-01 …
// 2025-03 appends on a reconfigure or upgrade (research D).
const postinstAppend = `org.jitsi.videobridge.ENABLE_STATISTICS=true
org.jitsi.videobridge.STATISTICS_TRANSPORT=muc
org.jitsi.videobridge.xmpp.user.shard.HOSTNAME=localhost
org.jitsi.videobridge.xmpp.user.shard.DOMAIN=auth.jitsi-node-unconfigured.invalid
org.jitsi.videobridge.xmpp.user.shard.USERNAME=jvb
org.jitsi.videobridge.xmpp.user.shard.PASSWORD=Rand0mPostinstPw
org.jitsi.videobridge.xmpp.user.shard.MUC_JIDS=JvbBrewery@internal.auth.jitsi-node-unconfigured.invalid
org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=3f2a9c1e-uuid-from-postinst
`

// TestCheckUndoesAPackageScript: the appended legacy keys (which would
// override jvb.conf) are removed before the bridge starts, and the log
// names each key it removed — never a value.
func TestCheckUndoesAPackageScript(t *testing.T) {
	n := newNode(t, nat.EC2)
	n.configure(n.withRegistry(bridgeSpec()))
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	applied := n.read(jitsi.JVBProperties)
	p := filepath.Join(n.root, jitsi.JVBProperties)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(postinstAppend)
	f.Close()
	os.Chmod(p, 0o644)
	n.write(jitsi.JVBShellConfig, n.read(jitsi.JVBShellConfig)+"JVB_SECRET=Rand0mPostinstPw\n", 0o640)
	n.run.reset()
	n.log = &testutil.SyncBuffer{}
	asked, reported := len(n.meta.Requests()), len(n.registry.authz)
	if err := n.agent().Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := n.read(jitsi.JVBProperties); got != applied {
		t.Errorf("properties not put back:\n%s", got)
	}
	if mode, uid, _ := n.stat(jitsi.JVBProperties); mode != 0o640 || uid != jvbUID {
		t.Errorf("mode %o uid %d not put back", mode, uid)
	}
	log := n.log.String()
	for _, want := range []string{
		jitsi.JVBProperties + ": put back (content, mode 0644 → 0640): removed org.jitsi.videobridge.ENABLE_STATISTICS, ",
		"org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME", "org.jitsi.videobridge.xmpp.user.shard.PASSWORD",
		jitsi.JVBShellConfig + ": put back (content): removed JVB_SECRET",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if len(n.run.ran()) != 0 || len(n.meta.Requests()) != asked || len(n.registry.authz) != reported {
		t.Errorf("check must ask nobody: ran %v", n.run.ran())
	}
	n.assertNoSecrets(shardSecret, issuedCredential, "Rand0mPostinstPw", "3f2a9c1e")

	// Nothing to fix: it says so.
	n.log = &testutil.SyncBuffer{}
	if err := n.agent().Check(context.Background()); err != nil || !strings.Contains(n.log.String(), "as applied") {
		t.Errorf("second check: %v\n%s", err, n.log)
	}
}

// TestCheckNeverBlocksForItsOwnTrouble: not applied yet, or no config: the
// bridge may start; an unusable config keeps it down.
func TestCheckNeverBlocksForItsOwnTrouble(t *testing.T) {
	n := newNode(t, nat.EC2)
	if err := n.agent().Check(context.Background()); err != nil {
		t.Errorf("no config: %v", err)
	}
	n.configure(bridgeSpec0())
	if err := n.agent().Check(context.Background()); err != nil || !strings.Contains(n.log.String(), "not applied yet") {
		t.Errorf("not applied: %v\n%s", err, n.log)
	}
	n.write(jitsi.NodeConfig, "version: 1\nrole: [\n", 0o644)
	if err := n.agent().Check(context.Background()); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("unusable config: %v", err)
	}
}

// TestCheckDuringApplysRestart: the bridge's ExecStartPre runs `apply
// --check` while apply restarts it; it must find this run's mapping, not
// the last boot's (an EC2 instance stopped and started gets a new address).
func TestCheckDuringApplysRestart(t *testing.T) {
	n := newNode(t, nat.EC2)
	n.configure(bridgeSpec0())
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	n.meta.PublicIP = "203.0.113.8"
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.String() == "systemctl restart jitsi-videobridge2.service" {
			if err := n.agent().Check(context.Background()); err != nil {
				t.Errorf("check: %v", err)
			}
		}
		return nil, nil
	}
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	if conf := n.read(jitsi.JVBConf); !strings.Contains(conf, `public-address = "203.0.113.8"`) {
		t.Errorf("the check put last boot's mapping back:\n%s", conf)
	}
}

// TestFailedFirstBootRetriesOnReboot: the first apply, even failed, lets
// jitsi-node.service apply at the next boot.
func TestFailedFirstBootRetriesOnReboot(t *testing.T) {
	n := newNode(t, nat.GCE)
	n.configure(groupSpec("http://127.0.0.1:9"))
	n.opts.ClaimTimeout = time.Second
	if err := n.apply(); err == nil {
		t.Fatal("the claim succeeded with no registry")
	}
	if _, err := os.Stat(filepath.Join(n.root, jitsi.RanState)); err != nil {
		t.Errorf("%s missing after a failed first apply: a reboot would not retry", jitsi.RanState)
	}
}
