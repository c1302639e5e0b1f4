package turnc_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/coturntest"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/turnc"
)

// restCredentials are what prosody's mod_external_services hands out for a
// TURN server sharing secret (the TURN REST scheme).
func restCredentials(secret string, expires time.Time) turnc.Credentials {
	user := strconv.FormatInt(expires.Unix(), 10)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(user))
	return turnc.Credentials{Username: user, Password: base64.StdEncoding.EncodeToString(mac.Sum(nil))}
}

// TestAllocateOnCoturn: against Debian's coturn running the agent's config,
// an allocation with TURN REST credentials succeeds over TLS and UDP and is
// released; a wrong password or expired credentials are refused (401).
func TestAllocateOnCoturn(t *testing.T) {
	const realm, secret = "meet.example.org", "ShAr3dTurnSecret0123456789abcdef"
	srv := coturntest.Start(t, realm, secret)
	dial := map[string]func(t *testing.T) net.Conn{
		"tls": func(t *testing.T) net.Conn {
			c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", srv.TLSPort), &tls.Config{ServerName: realm, InsecureSkipVerify: true}) // #nosec G402 -- coturn's test certificate
			if err != nil {
				t.Fatalf("TLS to coturn: %v\n%s", err, srv.Log())
			}
			return c
		},
		"udp": func(t *testing.T) net.Conn {
			c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", srv.UDPPort))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}
	for name, d := range dial {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn := d(t)
			defer conn.Close()
			a, err := turnc.Allocate(ctx, conn, restCredentials(secret, time.Now().Add(time.Hour)))
			if err != nil {
				t.Fatalf("allocate: %v\n%s", err, srv.Log())
			}
			if a.Realm != realm || a.Relayed.Addr().String() != "127.0.0.1" || a.Relayed.Port() == 0 || a.Lifetime <= 0 || !a.Mapped.IsValid() {
				t.Errorf("allocation %+v", a)
			}
			if err := a.Release(ctx); err != nil {
				t.Errorf("release: %v", err)
			}
			for what, creds := range map[string]turnc.Credentials{
				"wrong password": {Username: restCredentials(secret, time.Now().Add(time.Hour)).Username, Password: "bm90IHRoZSBwYXNzd29yZA=="},
				"other secret":   restCredentials("AnotherSecret0123456789abcdefghij", time.Now().Add(time.Hour)),
				"expired":        restCredentials(secret, time.Now().Add(-time.Minute)),
			} {
				c := d(t)
				_, err := turnc.Allocate(ctx, c, creds)
				c.Close()
				if !errors.Is(err, turnc.ErrUnauthorized) {
					t.Errorf("%s: %v, want %v", what, err, turnc.ErrUnauthorized)
				}
			}
		})
	}
}
