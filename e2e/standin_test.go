package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/prosodytest"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
)

// These tests run the stand-in bridge (a test fixture) against Debian's real
// prosody configured by the stand-in jitsi-meet-prosody's vhost template.

const (
	testFQDN     = "meet.e2e.test"
	bridgeSecret = "s3cr#t=with:odd\\chars \"q\" ü"
	focusSecret  = "focus-test-password"
)

func startJMS(t *testing.T) *prosodytest.Server {
	t.Helper()
	srv := prosodytest.Start(t, testFQDN)
	srv.AddUser(t, "jvb@auth."+testFQDN, bridgeSecret)
	srv.AddUser(t, "focus@auth."+testFQDN, focusSecret)
	return srv
}

// modernConf is jvb.conf as packer-plugin-jitsi's user-data writes it.
func modernConf(srv *prosodytest.Server, password, nickname string) string {
	return fmt.Sprintf(`videobridge {
  apis.xmpp-client.configs {
    "shard" {
      hostname = "127.0.0.1"
      port = %d
      domain = "auth.%s"
      username = "jvb"
      password = %q
      muc_jids = %q
      muc_nickname = %q
      disable_certificate_verification = true
    }
  }
  apis.rest.enabled = true
  rest.shutdown.enabled = true
}
ice4j.harvest.mapping.static-mappings = [ { name = "public", local-address = "10.0.2.15", public-address = "203.0.113.7" } ]
`, srv.Port, srv.FQDN, password, srv.Brewery(), nickname)
}

func confDir(t *testing.T, jvbConf, sipProps string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "jvb.conf"), jvbConf)
	if sipProps != "" {
		writeFile(t, filepath.Join(dir, "sip-communicator.properties"), sipProps)
	}
	return dir
}

func hasNick(n string) func(map[string]xmppc.Occupant) bool {
	return func(o map[string]xmppc.Occupant) bool { _, ok := o[n]; return ok }
}

func TestStandinJoinsBreweryDrainsAndShutsDown(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	b := startBridge(t, confDir(t, modernConf(srv, bridgeSecret, "jvb-e2e-1"), ""))

	occ := waitOccupants(t, focus, srv.Brewery(), "jvb-e2e-1 to join", hasNick("jvb-e2e-1"))
	if got := occ["jvb-e2e-1"].Stats["drain"]; got != "false" {
		t.Errorf("presence stat drain = %q before drain, want false", got)
	}
	b.waitHealth(t, http.StatusOK, 10*time.Second)

	drainAndShutDown(t, b, focus, srv.Brewery(), "jvb-e2e-1", 15*time.Second)
}

func TestStandinWrongSecretFailsClearly(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	const wrong = "not-the-jms-secret"
	b := startBridge(t, confDir(t, modernConf(srv, wrong, "jvb-wrong"), ""))

	// As the real bridge: the refusal is logged in Smack's words and the
	// login retried; the process keeps running and stays healthy (its
	// health check is about addresses, not XMPP).
	checkRefusedLogin(t, b, focus, srv.Brewery(), "jvb-wrong", wrong, 30*time.Second,
		"SASLError using SCRAM-SHA-1: not-authorized", "jvb@auth."+testFQDN, "retrying")
}

// Jitsi's precedence trap: a complete legacy shard in sip-communicator.properties
// replaces every jvb.conf shard.
func TestStandinLegacyKeysOverrideJvbConf(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	legacy := legacyShard(srv, "legacy-nick")
	startBridge(t, confDir(t, modernConf(srv, bridgeSecret, "modern-nick"), legacy))
	occ := waitOccupants(t, focus, srv.Brewery(), "legacy-nick", hasNick("legacy-nick"))
	if _, ok := occ["modern-nick"]; ok {
		t.Errorf("jvb.conf's nickname joined although legacy keys exist: %v", nicks(occ))
	}

	// A stale legacy key alone is an incomplete entry: dropped, and jvb.conf's
	// shard is used (Jitsi's XmppClientConnectionConfig; the JVM tier shows it).
	stale := startBridge(t, confDir(t, modernConf(srv, bridgeSecret, "modern-2"), "org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=stale-uuid\n"))
	waitOccupants(t, focus, srv.Brewery(), "modern-2 (jvb.conf's shard)", hasNick("modern-2"))
	if st := stale.state(t); len(st.Shards) != 1 || st.Shards[0].Nickname != "modern-2" || len(st.Ignored) != 1 ||
		!strings.Contains(st.Ignored[0], `sip-communicator.properties shard "shard" lacks`) {
		t.Errorf("state %+v: want jvb.conf's shard and the ignored legacy entry named", st)
	}
}

// Two bridges cloned with one nickname collide: the brewery shows one
// occupant, so jicofo sees one bridge. This is why nicknames must be unique.
func TestStandinDuplicateNicknameCollides(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	startBridge(t, confDir(t, modernConf(srv, bridgeSecret, "cloned-uuid"), ""))
	startBridge(t, confDir(t, modernConf(srv, bridgeSecret, "cloned-uuid"), ""))
	startBridge(t, confDir(t, modernConf(srv, bridgeSecret, "unique-2"), ""))
	waitOccupants(t, focus, srv.Brewery(), "cloned-uuid and unique-2", func(o map[string]xmppc.Occupant) bool {
		return hasNick("cloned-uuid")(o) && hasNick("unique-2")(o)
	})
	time.Sleep(2 * time.Second)
	if occ := focus.Occupants(srv.Brewery()); len(occ) != 3 {
		t.Errorf("occupants = %v, want focus, cloned-uuid and unique-2 only (three bridges, two nicknames)", nicks(occ))
	}
}
