// Package coturntest runs Debian's real coturn for host tests with the
// configuration the node agent writes on a JMS (jitsi.TurnFiles), moved to
// loopback: free ports instead of 3478/5349, the certificate and database in
// a temporary directory, the log in a file. The server is a child process
// stopped by its PID when the test ends.
package coturntest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// Server is one running coturn.
type Server struct {
	// UDPPort is STUN/TURN over UDP (3478 on a JMS), TLSPort TURN over TLS
	// (5349), both on 127.0.0.1.
	UDPPort, TLSPort int
	Dir              string
	// Config is the configuration it runs, as the agent renders it but for
	// the loopback substitutions.
	Config string
	proc   *testutil.Daemon
}

// Start runs coturn for realm (a JMS's FQDN) with secret as its
// static-auth-secret, waits until its TLS port accepts connections and
// checks it took every option of the config.
func Start(t testing.TB, realm, secret string) *Server {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		t.Fatalf("coturn is not installed (Debian package coturn; `make deps` installs it): %v", err)
	}
	s := &Server{Dir: t.TempDir()}
	crt, key := testutil.SelfSignedCert(t, realm)
	crtPEM, _ := os.ReadFile(crt)
	keyPEM, _ := os.ReadFile(key)
	files, err := jitsi.TurnFiles(realm, secret, crtPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s.UDPPort, s.TLSPort = testutil.FreeUDPPort(t), testutil.FreeTCPPort(t)
	var conf string
	for _, f := range files {
		p := filepath.Join(s.Dir, filepath.Base(f.Path))
		if err := os.WriteFile(p, f.Content, 0o600); err != nil {
			t.Fatal(err)
		}
		if f.Path == jitsi.TurnServerConfig {
			conf = string(f.Content)
		}
	}
	swap := func(key, value string) {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `(=.*)?$`)
		if !re.MatchString(conf) {
			t.Fatalf("coturntest: the agent's coturn config has no %q line:\n%s", key, conf)
		}
		conf = re.ReplaceAllLiteralString(conf, value)
	}
	swap("listening-port", fmt.Sprintf("listening-port=%d", s.UDPPort))
	swap("tls-listening-port", fmt.Sprintf("tls-listening-port=%d", s.TLSPort))
	swap("cert", "cert="+filepath.Join(s.Dir, realm+".crt"))
	swap("pkey", "pkey="+filepath.Join(s.Dir, realm+".key"))
	swap("syslog", strings.Join([]string{
		"listening-ip=127.0.0.1", "relay-ip=127.0.0.1", "min-port=49152", "max-port=65535",
		"log-file=" + filepath.Join(s.Dir, "turn.log"), "simple-log",
		"pidfile=" + filepath.Join(s.Dir, "turn.pid"), "userdb=" + filepath.Join(s.Dir, "turndb"),
	}, "\n"))
	s.Config = conf
	cfg := filepath.Join(s.Dir, "turnserver.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfg)
	cmd.Dir = s.Dir
	out, err := os.Create(filepath.Join(s.Dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	s.proc = testutil.StartDaemon(t, "coturn", cmd)
	out.Close()
	if err := s.proc.WaitTCP(s.TLSPort, 20*time.Second); err != nil {
		t.Fatalf("coturn did not start: %v\n--- its log:\n%s", err, s.Log())
	}
	// coturn goes on past an option it does not know: the agent's config
	// must have none.
	if strings.Contains(s.Log(), "Bad configuration format") {
		t.Fatalf("coturn does not understand the agent's config:\n%s", s.Log())
	}
	return s
}

// Log is what coturn printed and logged.
func (s *Server) Log() string {
	var b strings.Builder
	for _, f := range []string{"stdout.log", "turn.log"} {
		data, _ := os.ReadFile(filepath.Join(s.Dir, f))
		b.Write(data)
	}
	return b.String()
}

// Stop ends coturn by its PID (t's cleanup does too).
func (s *Server) Stop(t testing.TB) { s.proc.Stop(t) }
