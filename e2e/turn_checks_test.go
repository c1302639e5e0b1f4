package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/turnc"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
)

// advertisedTURN logs in to the JMS's own domain anonymously, as a Jitsi
// Meet client does, asks for its external services (XEP-0215) and checks
// they are what Jitsi's prosody config advertises: STUN on 3478, TURN on
// 3478/udp and TURN over TLS on 5349/tcp on the FQDN, both with
// credentials of the TURN REST scheme valid for about a day. It returns
// the turn and turns entries.
func advertisedTURN(t *testing.T, acct xmppc.Account) (turn, turns xmppc.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acct.Anonymous = true
	c, err := xmppc.Dial(ctx, acct)
	if err != nil {
		t.Fatalf("assertion a client logs in anonymously on %s: %v", acct.Domain, err)
	}
	defer c.Close()
	services, err := c.ExternalServices(ctx)
	if err != nil {
		t.Fatalf("assertion prosody answers XEP-0215: %v", err)
	}
	var names []string
	for _, s := range services {
		names = append(names, s.String())
		switch {
		case s.Type == "turn" && s.Transport == "udp":
			turn = s
		case s.Type == "turns" && s.Transport == "tcp":
			turns = s
		}
	}
	sort.Strings(names)
	fqdn := acct.Domain
	want := []string{"stun:" + fqdn + ":3478/", "turn:" + fqdn + ":3478/udp", "turns:" + fqdn + ":5349/tcp"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("assertion prosody advertises %v, got %v", want, names)
	}
	for _, s := range []xmppc.Service{turn, turns} {
		expiry, err := strconv.ParseInt(s.Username, 10, 64)
		left := time.Until(time.Unix(expiry, 0))
		if err != nil || s.Password == "" || !s.Restricted || left < 23*time.Hour || left > 25*time.Hour {
			t.Errorf("assertion %s carries TURN REST credentials valid for a day: username %q (%v left), password set %v, restricted %v",
				s, s.Username, left.Round(time.Minute), s.Password != "", s.Restricted)
		}
	}
	return turn, turns
}

// checkAllocation makes a TURN allocation with svc's credentials over a
// connection from dial, as a client behind a firewall would, releases it,
// and checks the same server refuses a wrong password.
func checkAllocation(t *testing.T, what string, dial func() (net.Conn, error), svc xmppc.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := dial()
	if err != nil {
		t.Fatalf("assertion %s: connect: %v", what, err)
	}
	defer conn.Close()
	a, err := turnc.Allocate(ctx, conn, turnc.Credentials{Username: svc.Username, Password: svc.Password})
	if err != nil {
		t.Fatalf("assertion %s: a TURN allocation with the credentials prosody handed out: %v", what, err)
	}
	if !a.Relayed.IsValid() || a.Realm != svc.Host {
		t.Errorf("assertion %s: allocation %+v (realm %q, want the FQDN)", what, a.Relayed, a.Realm)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("assertion %s: release: %v", what, err)
	}
	progress(t, "assertion ok: %s: relay %s allocated with prosody's credentials (realm %s, lifetime %s)", what, a.Relayed, a.Realm, a.Lifetime)
	bad, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := turnc.Allocate(ctx, bad, turnc.Credentials{Username: svc.Username, Password: "d3JvbmcgcGFzc3dvcmQ="}); !errors.Is(err, turnc.ErrUnauthorized) {
		t.Errorf("assertion %s: a wrong password is refused (401), got %v", what, err)
	}
}

// dialTLS connects to addr with TLS as a browser reaching TURN over TLS does
// (the certificate is the JMS's self-signed one: not verified).
func dialTLS(addr, serverName string) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		d := &net.Dialer{Timeout: 10 * time.Second}
		return tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}) // #nosec G402 -- the JMS's self-signed certificate
	}
}

// checkUDPAllocationInGuest makes the TURN allocation over UDP from inside
// guest g (turn-probe, a TEST FIXTURE: qemu's restricted user network drops
// a guest's UDP replies, so no forward can carry them) on its own address,
// with svc's credentials on the probe's stdin, and checks a wrong password
// is refused.
func checkUDPAllocationInGuest(t *testing.T, what string, g *vm.VM, svc xmppc.Service) {
	t.Helper()
	installTurnProbe(t, g)
	req, err := json.Marshal(map[string]any{"port": svc.Port, "username": svc.Username, "password": svc.Password})
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, g, time.Minute, turnProbePath+" <<'TURN_PROBE_REQUEST'\n"+string(req)+"\nTURN_PROBE_REQUEST")
	var res struct {
		Server, Relayed, Realm, Error string
		LifetimeS                     int    `json:"lifetime_s"`
		WrongRefused                  bool   `json:"wrong_password_refused"`
		WrongOutcome                  string `json:"wrong_password_outcome"`
		ReleaseError                  string `json:"release_error"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		t.Fatalf("assertion %s: turn-probe printed %q: %v", what, out, err)
	}
	if res.Error != "" {
		t.Fatalf("assertion %s: a TURN allocation on %s with the credentials prosody handed out: %s", what, res.Server, res.Error)
	}
	if res.Relayed == "" || res.Realm != svc.Host {
		t.Errorf("assertion %s: allocation on %s: relay %q, realm %q (want the FQDN)", what, res.Server, res.Relayed, res.Realm)
	}
	if res.ReleaseError != "" {
		t.Errorf("assertion %s: release: %s", what, res.ReleaseError)
	}
	if !res.WrongRefused {
		t.Errorf("assertion %s: a wrong password is refused (401), got %s", what, res.WrongOutcome)
	}
	progress(t, "assertion ok: %s: relay %s allocated on %s with prosody's credentials (realm %s, lifetime %ds; a wrong password refused)",
		what, res.Relayed, res.Server, res.Realm, res.LifetimeS)
}

// turnProbePath is where installTurnProbe puts turn-probe in a guest.
const turnProbePath = "/usr/local/bin/e2e-turn-probe"

// installTurnProbe builds e2e/fixture/turn-probe (static) once per test
// binary and copies it into g over SSH.
func installTurnProbe(t *testing.T, g *vm.VM) {
	t.Helper()
	turnProbe.once.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-turn-probe-")
		if err != nil {
			turnProbe.err = err
			return
		}
		removeAtExit(dir)
		bin := filepath.Join(dir, "turn-probe")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./fixture/turn-probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			turnProbe.err = fmt.Errorf("build turn-probe: %v\n%s", err, out)
			return
		}
		turnProbe.bin, turnProbe.err = os.ReadFile(bin)
	})
	if turnProbe.err != nil {
		t.Fatal(turnProbe.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := g.Put(ctx, turnProbePath, "0755", turnProbe.bin); err != nil {
		t.Fatal(err)
	}
}

var turnProbe struct {
	once sync.Once
	bin  []byte
	err  error
}

// dialUDP "connects" a UDP socket to addr (coturn on the host).
func dialUDP(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.Dial("udp", addr) }
}
