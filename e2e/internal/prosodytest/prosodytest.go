// Package prosodytest runs Debian's real prosody for tests: a private
// instance with its own config, data, certificates and log in a temporary
// directory, c2s on a free loopback port, and the JMS hosts of the stand-in
// jitsi-meet-prosody package (the same vhost template its postinst installs on
// a JMS), so host tests and VM tests exercise one configuration. The server is
// started as a child process and stopped by its PID when the test ends.
package prosodytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
)

// templateFQDN is the placeholder host of Jitsi's vhost template.
const templateFQDN = "jitmeet.example.com"

// templateTurnSecret is the template's placeholder of the TURN secret.
const templateTurnSecret = "__turnSecret__"

// Server is one running prosody.
type Server struct {
	FQDN string
	Port int
	Dir  string
	// TurnSecret is the vhost config's external_service_secret (the
	// package's postinst puts the debconf turn-secret there).
	TurnSecret string
	cfg        string
	log        string
	proc       *testutil.Daemon
}

// Template is the path of the stand-in jitsi-meet-prosody's vhost template.
func Template() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "fixture", "debian", "jitsi-meet-prosody",
		"usr", "share", "jitsi-meet-prosody", "prosody.cfg.lua-jvb.example")
}

// Start runs prosody for fqdn and waits until it accepts connections.
func Start(t testing.TB, fqdn string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prosody")
	if err != nil {
		t.Fatalf("prosody is not installed (Debian package prosody; `make deps` installs it): %v", err)
	}
	s := &Server{FQDN: fqdn, Dir: t.TempDir()}
	s.cfg = filepath.Join(s.Dir, "prosody.cfg.lua")
	s.log = filepath.Join(s.Dir, "prosody.log")
	certs := filepath.Join(s.Dir, "certs")
	for _, h := range []string{fqdn, "auth." + fqdn} {
		if err := writeSelfSigned(certs, h); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := os.ReadFile(Template())
	if err != nil {
		t.Fatalf("read the stand-in jitsi-meet-prosody template: %v", err)
	}
	s.TurnSecret = fmt.Sprintf("prosodytest%x", time.Now().UnixNano())
	vhosts := strings.ReplaceAll(string(tmpl), templateFQDN, fqdn)
	vhosts = strings.ReplaceAll(vhosts, templateTurnSecret, s.TurnSecret)
	vhosts = strings.ReplaceAll(vhosts, "/etc/prosody/certs/", certs+"/")
	s.Port = testutil.FreeTCPPort(t)
	global := fmt.Sprintf(`-- prosodytest: a private prosody for one test.
run_as_root = true
daemonize = false
pidfile = %[1]q
data_path = %[2]q
certificates = %[3]q
interfaces = { "127.0.0.1" }
c2s_ports = { %[4]d }
c2s_direct_tls_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }
modules_disabled = { "s2s" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
log = { info = %[5]q }
`, filepath.Join(s.Dir, "prosody.pid"), filepath.Join(s.Dir, "data"), certs, s.Port, s.log)
	if err := os.MkdirAll(filepath.Join(s.Dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.cfg, []byte(global+"\n"+vhosts), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", s.cfg, "-F")
	cmd.Dir = s.Dir
	s.proc = testutil.StartDaemon(t, "prosody", cmd)
	if err := s.proc.WaitTCP(s.Port, 20*time.Second); err != nil {
		t.Fatalf("prosody did not start: %v\n--- prosody log:\n%s", err, s.Log())
	}
	return s
}

// Stop ends prosody by its PID (t's cleanup does too).
func (s *Server) Stop(t testing.TB) { s.proc.Stop(t) }

// Log is prosody's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// AddUser registers jid with password the way the stand-in
// jitsi-meet-prosody does: prosodyctl, the password on stdin.
func (s *Server) AddUser(t testing.TB, jid, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "prosodyctl", "--config", s.cfg, "adduser", jid)
	cmd.Stdin = strings.NewReader(password + "\n" + password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("prosodyctl adduser %s: %v\n%s", jid, err, out.String())
	}
}

// Brewery is the bridges' MUC on this server.
func (s *Server) Brewery() string { return "jvbbrewery@internal.auth." + s.FQDN }

// Account is a c2s account on auth.<FQDN> reached on the loopback port.
func (s *Server) Account(user, password string) xmppc.Account {
	return xmppc.Account{Host: "127.0.0.1", Port: s.Port, Domain: "auth." + s.FQDN, Username: user, Password: password, InsecureTLS: true}
}
