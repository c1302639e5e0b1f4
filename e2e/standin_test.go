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

	if code := b.post(t, "/colibri/drain/enable", ""); code != http.StatusOK {
		t.Fatalf("POST /colibri/drain/enable = %d, want 200", code)
	}
	waitOccupants(t, focus, srv.Brewery(), "the drain stat", func(o map[string]xmppc.Occupant) bool {
		return o["jvb-e2e-1"].Stats["drain"] == "true"
	})

	// A draining bridge takes no new conference (jicofo would not choose it).
	if code := b.post(t, "/test-fixture/conferences", `{"count":1,"seconds":3}`); code != http.StatusConflict {
		t.Errorf("a conference started on a draining bridge: HTTP %d, want 409", code)
	}
	if code := b.post(t, "/colibri/shutdown", `{"graceful-shutdown":"true"}`); code != http.StatusOK {
		t.Fatalf("POST /colibri/shutdown = %d, want 200", code)
	}
	if code := b.waitExit(t, 15*time.Second); code != 0 {
		t.Errorf("exit code after graceful shutdown = %d, want 0", code)
	}
	waitOccupants(t, focus, srv.Brewery(), "jvb-e2e-1 to leave", func(o map[string]xmppc.Occupant) bool {
		_, ok := o["jvb-e2e-1"]
		return !ok
	})
	if strings.Contains(b.out.String(), bridgeSecret) {
		t.Error("the bridge's log contains the secret")
	}
}

func TestStandinWrongSecretFailsClearly(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	const wrong = "not-the-jms-secret"
	b := startBridge(t, confDir(t, modernConf(srv, wrong, "jvb-wrong"), ""))

	// As the real bridge: the refusal is logged in Smack's words and the
	// login retried; the process keeps running and stays healthy (its
	// health check is about addresses, not XMPP).
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.out.String(), "SASLError using SCRAM-SHA-1: not-authorized") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	log := b.out.String()
	for _, want := range []string{"SASLError using SCRAM-SHA-1: not-authorized", "jvb@auth." + testFQDN, "retrying"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	b.waitHealth(t, http.StatusOK, 10*time.Second)
	select {
	case <-b.done:
		t.Errorf("the bridge exited on a refused login; the real one keeps running and retrying")
	default:
	}
	if strings.Contains(log, wrong) {
		t.Error("the bridge's log contains the password it tried")
	}
	if strings.Contains(log, "Joined MUC") {
		t.Error("the bridge logged a join although its login was refused")
	}
	if _, in := focus.Occupants(srv.Brewery())["jvb-wrong"]; in {
		t.Error("a bridge with a wrong secret is in the brewery")
	}
}

// Jitsi's precedence trap: a complete legacy shard in sip-communicator.properties
// replaces every jvb.conf shard.
func TestStandinLegacyKeysOverrideJvbConf(t *testing.T) {
	srv := startJMS(t)
	focus := checker(t, srv, focusSecret)
	legacy := fmt.Sprintf(`org.jitsi.videobridge.xmpp.user.shard.HOSTNAME=127.0.0.1
org.jitsi.videobridge.xmpp.user.shard.PORT=%d
org.jitsi.videobridge.xmpp.user.shard.DOMAIN=auth.%s
org.jitsi.videobridge.xmpp.user.shard.USERNAME=jvb
org.jitsi.videobridge.xmpp.user.shard.PASSWORD=%s
org.jitsi.videobridge.xmpp.user.shard.MUC_JIDS=%s
org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=legacy-nick
org.jitsi.videobridge.xmpp.user.shard.DISABLE_CERTIFICATE_VERIFICATION=true
`, srv.Port, testFQDN, strings.NewReplacer(`\`, `\\`, " ", `\ `, ":", `\:`, "=", `\=`).Replace(bridgeSecret), srv.Brewery())
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
