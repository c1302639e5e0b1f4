package e2e

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/coturntest"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/prosodytest"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
)

// TestTURNChain is the JMS's TURN on the host, with real parts: Debian's
// prosody with the stand-in jitsi-meet-prosody's vhost config hands an
// anonymous client TURN credentials (XEP-0215) made from its
// external_service_secret; Debian's coturn running the config the node agent
// writes, with the same secret, takes them over TLS and UDP. On prosody 0.12
// the turns entry gets credentials only because the config names
// algorithm = "turn".
func TestTURNChain(t *testing.T) {
	srv := prosodytest.Start(t, testFQDN)
	turn, turns := advertisedTURN(t, xmppc.Account{Host: "127.0.0.1", Port: srv.Port, Domain: srv.FQDN, InsecureTLS: true})
	for _, s := range []struct{ user, password string }{{turn.Username, turn.Password}, {turns.Username, turns.Password}} {
		mac := hmac.New(sha1.New, []byte(srv.TurnSecret))
		mac.Write([]byte(s.user))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); s.password != want {
			t.Errorf("password of %s is not base64(HMAC-SHA1(external_service_secret, username))", s.user)
		}
	}
	coturn := coturntest.Start(t, testFQDN, srv.TurnSecret)
	checkAllocation(t, "TURN over TLS", dialTLS(fmt.Sprintf("127.0.0.1:%d", coturn.TLSPort), testFQDN), turns)
	checkAllocation(t, "TURN over UDP", dialUDP(fmt.Sprintf("127.0.0.1:%d", coturn.UDPPort)), turn)
}
