package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread/jvbreadtest"
)

// These tests run the stand-in bridge as the fixture package
// starts it in the VM tier: with --jicoco, so that Jitsi's own libraries
// (the jvb-config-reader TEST FIXTURE's StandinMuc.kt, on jicoco-config,
// jicoco-mucclient and Smack) read its configuration and log it in to real
// prosody. They need java and the built fixture (skipped without them unless
// JITSI_JVM_TIER=1, as `make test` sets).

// jicocoJoinWithin bounds a JVM's start, read and login on a busy host.
const jicocoJoinWithin = 90 * time.Second

// startJicocoBridge starts the stand-in with --jicoco on confDir, its JVM
// child given JAVA_SYS_PROPS as the agent's /etc/jitsi/videobridge/config
// sets them, pointed at confDir and at the fixture package's
// logging.properties (Jitsi's log format).
func startJicocoBridge(t *testing.T, confDir string, args ...string) *bridgeProc {
	t.Helper()
	reader := jvbreadtest.ForTest(t)
	props := "JAVA_SYS_PROPS=-Dconfig.file=" + filepath.Join(confDir, "jvb.conf") +
		" -Dnet.java.sip.communicator.SC_HOME_DIR_LOCATION=" + filepath.Dir(confDir) +
		" -Dnet.java.sip.communicator.SC_HOME_DIR_NAME=" + filepath.Base(confDir) +
		" -Djava.util.logging.config.file=" + filepath.Join("fixture", "debian", "jitsi-videobridge2", "etc", "jitsi", "videobridge", "logging.properties")
	return startBridgeEnv(t, confDir, []string{props}, append([]string{"--jicoco", reader.Dir}, args...)...)
}

func TestStandinJicocoJoinsDrainsAndLeaves(t *testing.T) {

	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	b := startJicocoBridge(t, confDir(t, modernConf(srv, bridgeSecret, "jvb-jicoco-1"), ""))

	occ := waitOccupantsWithin(t, focus, srv.Brewery(), "jvb-jicoco-1 to join through jicoco", hasNick("jvb-jicoco-1"), jicocoJoinWithin)
	if got := occ["jvb-jicoco-1"].Stats["drain"]; got != "false" {
		t.Errorf("presence stat drain = %q after the join, want false (jicoco's presence extension)", got)
	}
	b.waitHealth(t, http.StatusOK, 10*time.Second)
	st := b.state(t)
	if st.MUCClient != "jicoco-mucclient 1.1-153-g24fdb58 (Smack 4.4.8)" || len(st.Shards) != 1 || st.Shards[0].Nickname != "jvb-jicoco-1" {
		t.Errorf("state: muc_client %q shards %+v; want jicoco-mucclient and the one shard", st.MUCClient, st.Shards)
	}
	waitFor(t, "the shard to show joined", 10*time.Second, func() bool { s := b.state(t); return len(s.Shards) == 1 && s.Shards[0].Joined })
	log := b.out.String()
	for _, want := range []string{"Joined MUC: " + srv.Brewery(), "Jitsi's libraries read the configuration in", "JVB 20"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q (jicoco's MucClient logs the join itself):\n%s", want, log)
		}
	}
	if !jicocoJoinLine.MatchString(log) {
		t.Errorf("log lacks jicoco's own line of the join (%s), which the VM tier looks for", jicocoJoinLine)
	}
	if strings.Contains(log, "TEST FIXTURE readers differ") {
		t.Errorf("the stand-in's reader and Jitsi's libraries read this config differently:\n%s", log)
	}

	drainAndShutDown(t, b, focus, srv.Brewery(), "jvb-jicoco-1", 30*time.Second)
}

// A wrong secret: Smack's SASL failure on the log, jicoco retrying, the
// bridge running (healthy: its health is about addresses) and not joined.
func TestStandinJicocoWrongSecret(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	const wrong = "not-the-jms-secret-either"
	b := startJicocoBridge(t, confDir(t, modernConf(srv, wrong, "jvb-jicoco-wrong"), ""))
	checkRefusedLogin(t, b, focus, srv.Brewery(), "jvb-jicoco-wrong", wrong, jicocoJoinWithin,
		"Failed to login", "SASLError using SCRAM-SHA-1: not-authorized")
}

// A legacy shard beside jvb.conf: Jitsi's libraries decide which identity
// logs in (the legacy one), and the stand-in acts on their reading.
func TestStandinJicocoLegacyShardWins(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	legacy := legacyShard(srv, "legacy-jicoco")
	b := startJicocoBridge(t, confDir(t, modernConf(srv, bridgeSecret, "modern-jicoco"), legacy))
	occ := waitOccupantsWithin(t, focus, srv.Brewery(), "legacy-jicoco", hasNick("legacy-jicoco"), jicocoJoinWithin)
	if _, ok := occ["modern-jicoco"]; ok {
		t.Errorf("jvb.conf's nickname joined although a complete legacy shard exists: %v", nicks(occ))
	}
	if st := b.state(t); len(st.Shards) != 1 || st.Shards[0].Nickname != "legacy-jicoco" {
		t.Errorf("state shards %+v: want the legacy shard only", st.Shards)
	}
}

// A 2020-era bridge (the legacy fixture package): the same libraries log
// it in, and the 2020 rules sit on top (--apis decides the REST API, no
// drain endpoint).
func TestStandinJicocoLegacyEra(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	b := startJicocoBridge(t, confDir(t, "", legacyShard(srv, "legacy-era-jicoco")), "--era", "legacy", "--apis=rest")
	waitOccupantsWithin(t, focus, srv.Brewery(), "legacy-era-jicoco", hasNick("legacy-era-jicoco"), jicocoJoinWithin)
	st := b.state(t)
	if st.Era != "legacy" || !st.REST || st.Drain || !strings.HasPrefix(st.MUCClient, "jicoco-mucclient ") {
		t.Errorf("state: era %q REST %v drain endpoint %v client %q; want legacy, REST from --apis, no drain endpoint, jicoco", st.Era, st.REST, st.Drain, st.MUCClient)
	}
	if !jicocoJoinLine.MatchString(b.out.String()) {
		t.Errorf("log lacks jicoco's own line of the join:\n%s", b.out.String())
	}
}
