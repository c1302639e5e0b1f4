package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

func jmsSpec(url string) node.Spec {
	return node.Spec{Role: node.RoleJMS, JMSFQDN: fqdn, Secret: shardSecret,
		Registry: &node.RegistryLink{URL: url, Credential: issuedCredential}}
}

// TestApplyJMS, for each web server: debconf and prosodyctl get the
// secrets on stdin only; the cached packages are installed (with nginx,
// jitsi-meet-turnserver too); the node gets a TURN secret of its own,
// which coturn and prosody share and which is left in no world-readable
// file (debconf's included); coturn gets its own copy of the web
// certificate; the services start, the local bridge stops; a second boot
// changes nothing.
func TestApplyJMS(t *testing.T) {
	for _, web := range jitsi.WebServers {
		t.Run(string(web), func(t *testing.T) {
			m := newJMS(t, web, "0.12")
			m.configure(jmsSpec(m.regURL))
			if err := m.apply(); err != nil {
				t.Fatalf("apply: %v\n%s", err, m.log)
			}
			secret := m.turnSecret()
			if p := jitsi.TurnSecretProblem(secret); p != "" {
				t.Fatalf("TURN secret %s", p)
			}
			if mode, uid, _ := m.stat(jitsi.TurnSecretState); mode != 0o600 || uid != 0 && os.Geteuid() == 0 {
				t.Errorf("%s: mode %o owner %d, want root 0600", jitsi.TurnSecretState, mode, uid)
			}
			install := "apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 jitsi-meet-prosody jicofo jitsi-meet"
			if web == jitsi.WebNginx {
				install += " jitsi-meet-turnserver"
			}
			var seeds []string
			for _, c := range m.run.cmds {
				if c.Name == "debconf-set-selections" {
					seeds = append(seeds, string(c.Stdin))
				}
				if c.Name == "apt-get" && !strings.Contains(strings.Join(c.Env, " "), "DEBIAN_FRONTEND=noninteractive") {
					t.Error("apt-get may ask questions")
				}
			}
			if len(seeds) != 2 || !strings.Contains(seeds[0], jitsi.QJVBSecret+" password "+shardSecret+"\n") ||
				seeds[1] != jitsi.PkgMeetProsody+" "+jitsi.QTurnSecret+" string "+secret+"\n" {
				t.Errorf("debconf seeds: %q", seeds)
			}
			if got := m.prosody.accounts[jitsi.BridgeAccount(fqdn)]; got != shardSecret {
				t.Errorf("bridge account password %q", got)
			}
			for _, want := range []string{
				install, "make-ssl-cert generate-default-snakeoil --force-overwrite",
				"prosodyctl adduser jvb@auth.meet.example.org",
				"systemctl restart prosody.service", "systemctl disable --now jitsi-videobridge2.service",
				"systemctl restart jicofo.service", "systemctl restart " + web.Service() + ".service", "systemctl restart coturn.service",
			} {
				if !m.run.has(want) {
					t.Errorf("did not run %q:\n%s", want, strings.Join(m.run.ran(), "\n"))
				}
			}
			// prosody runs (enabled) before the packages configure.
			ran := m.run.ran()
			e, i, j := slices.Index(ran, "systemctl enable --no-reload prosody.service"), slices.Index(ran, "systemctl start prosody.service"), slices.Index(ran, install)
			if e < 0 || e > i || i > j {
				t.Errorf("prosody not enabled and started before the install:\n%s", strings.Join(ran, "\n"))
			}
			checkTurnFiles(t, m, secret)
			if r := m.registry.states(); len(r) != 1 || r[0] != "active" {
				t.Errorf("reports %v", r)
			}
			m.assertNoSecrets(shardSecret, issuedCredential, secret)

			// A later boot: nothing installed, renewed, rewritten or restarted.
			before := snapshot(t, m.root)
			m.run.reset()
			if err := m.apply(); err != nil {
				t.Fatal(err)
			}
			for _, c := range m.run.ran() {
				if strings.HasPrefix(c, "apt-get") || strings.HasPrefix(c, "make-ssl-cert") || strings.Contains(c, "restart") ||
					strings.HasPrefix(c, "prosodyctl") || strings.HasPrefix(c, "debconf-communicate") {
					t.Errorf("second apply ran %q", c)
				}
			}
			if after := snapshot(t, m.root); !equalIgnoring(before, after, jitsi.DebconfConfigDBs...) {
				t.Errorf("the second apply changed files:\n%v", diffSnapshots(before, after))
			}
			if m.turnSecret() != secret {
				t.Error("the TURN secret changed on the second boot")
			}
		})
	}
}

// checkTurnFiles: coturn's config carries the node's secret and Jitsi's
// markers, readable by coturn's group only; coturn's certificate copy is
// the web server's; prosody's vhost config (the same secret) is closed;
// debconf holds the secret in neither config.dat nor config.dat-old.
func checkTurnFiles(t *testing.T, m *jmsMachine, secret string) {
	t.Helper()
	conf := m.read(jitsi.TurnServerConfig)
	for _, want := range []string{
		"# jitsi-meet coturn config. Do not modify this line\n", "# jitsi-meet coturn relay disable config. Do not modify this line\n",
		"\nuse-auth-secret\n", "\nstatic-auth-secret=" + secret + "\n", "\nrealm=" + fqdn + "\n",
		"\nlistening-port=3478\n", "\ntls-listening-port=5349\n",
		"\ncert=/etc/coturn/certs/" + fqdn + ".crt\n", "\npkey=/etc/coturn/certs/" + fqdn + ".key\n",
		"\ndenied-peer-ip=10.0.0.0-10.255.255.255\n", "\ndenied-peer-ip=127.0.0.0-127.255.255.255\n", "\ndenied-peer-ip=fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("%s lacks %q:\n%s", jitsi.TurnServerConfig, want, conf)
		}
	}
	if m.read("/etc/coturn/certs/"+fqdn+".key") != m.read(jitsi.WebCertDir+"/"+fqdn+".key") {
		t.Error("coturn's key is not the web server's")
	}
	wantOwner := map[string][3]int{
		jitsi.TurnServerConfig:               {0o640, 0, turnGID},
		"/etc/coturn/certs/" + fqdn + ".key": {0o640, 0, turnGID},
		"/etc/coturn/certs/" + fqdn + ".crt": {0o644, 0, turnGID},
		jitsi.ProsodyHostConfig(fqdn):        {0o640, 0, prosodyGID},
	}
	for p, want := range wantOwner {
		mode, uid, gid := m.stat(p)
		if int(mode) != want[0] || os.Geteuid() == 0 && (uid != want[1] || gid != want[2]) {
			t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", p, mode, uid, gid, want[0], want[1], want[2])
		}
	}
	if !strings.Contains(m.read(jitsi.ProsodyHostConfig(fqdn)), `external_service_secret = "`+secret+`"`) {
		t.Error("prosody's external_service_secret is not the node's TURN secret")
	}
	// No world-readable file of the node holds the secret.
	filepath.WalkDir(m.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, _ := d.Info()
		if data, _ := os.ReadFile(p); fi.Mode().Perm()&0o004 != 0 && strings.Contains(string(data), secret) {
			t.Errorf("world-readable %s holds the TURN secret", strings.TrimPrefix(p, m.root))
		}
		return nil
	})
}

// equalIgnoring compares snapshots except for the paths given.
func equalIgnoring(a, b map[string]string, skip ...string) bool {
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			for _, s := range skip {
				if strings.HasSuffix(k, s) {
					delete(m, k)
				}
			}
		}
	}
	return len(diffSnapshots(a, b)) == 0
}

// TestJMSDebconfForgetsTheTurnSecretWhenTheInstallFails: the secret leaves
// debconf whatever the install's outcome.
func TestJMSDebconfForgetsTheTurnSecretWhenTheInstallFails(t *testing.T) {
	m := newJMS(t, jitsi.WebNginx, "0.12")
	m.failApt = true
	m.configure(jmsSpec(m.regURL))
	if err := m.apply(); err == nil || !strings.Contains(err.Error(), "install jitsi-meet-prosody") {
		t.Fatalf("want the install's failure, got %v", err)
	}
	secret := m.turnSecret()
	for _, p := range jitsi.DebconfConfigDBs {
		if strings.Contains(m.read(p), secret) {
			t.Errorf("%s holds the TURN secret after a failed install", p)
		}
	}
	m.assertNoSecrets(secret, shardSecret)
}

// TestBridgeAccountOnEachProsody: the command sequences that set the
// bridge account's password on prosody 0.12 (the account store directly)
// and 13 (through the running server's admin socket, which answers only
// once prosody is up), for a new account and for one the package made.
func TestBridgeAccountOnEachProsody(t *testing.T) {
	jid := jitsi.BridgeAccount(fqdn)
	for _, tc := range []struct {
		name, version string
		exists        bool
		want          []string
	}{
		{"0.12/new", "0.12", false, []string{"passwd", "adduser"}},
		{"0.12/made by the package", "0.12", true, []string{"passwd"}},
		// prosody restarts, its socket comes up after two tries.
		{"13/new", "13", false, []string{"passwd", "passwd", "passwd", "adduser"}},
		{"13/made by the package", "13", true, []string{"passwd", "passwd", "passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newJMS(t, jitsi.WebNginx, tc.version)
			if tc.exists {
				m.prosody.accounts[jid] = "the package's random secret"
			}
			m.configure(jmsSpec(m.regURL))
			if err := m.apply(); err != nil {
				t.Fatalf("apply: %v\n%s", err, m.log)
			}
			if !slices.Equal(m.prosody.calls, tc.want) {
				t.Errorf("prosodyctl calls %v, want %v", m.prosody.calls, tc.want)
			}
			if m.prosody.accounts[jid] != shardSecret {
				t.Error("the bridge account's password is not the secret")
			}
			for _, c := range m.run.cmds {
				if c.Name == jitsi.ProsodyCtl && string(c.Stdin) != shardSecret+"\n"+shardSecret+"\n" {
					t.Errorf("prosodyctl %v stdin %q", c.Args, c.Stdin)
				}
			}
			m.assertNoSecrets(shardSecret, m.turnSecret())
		})
	}
}

// TestProsody13NeverComesUp: the wait for prosody's admin socket is bounded.
func TestProsody13NeverComesUp(t *testing.T) {
	m := newJMS(t, jitsi.WebApache, "13")
	m.prosody.warmUp = 1 << 30
	m.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.Name == "systemctl" {
			return nil, nil // prosody never starts
		}
		return m.handle(c)
	}
	m.configure(jmsSpec(m.regURL))
	err := m.apply()
	if err == nil || !strings.Contains(err.Error(), "prosodyctl passwd") || !strings.Contains(err.Error(), jitsi.ProsodyNotRunning) {
		t.Fatalf("want prosodyctl's not-running failure, got %v", err)
	}
	if m.clock.slept < 30e9 || m.clock.slept > 40e9 {
		t.Errorf("waited %v for prosody, want about 30 s", m.clock.slept)
	}
}

// TestProgramOutputIsRedacted: a program that echoes the secret (on
// stdout or stderr) does not carry it into the agent's log or error.
func TestProgramOutputIsRedacted(t *testing.T) {
	m := newJMS(t, jitsi.WebNginx, "0.12")
	m.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.Name == "prosodyctl" {
			return []byte("Enter new password: " + shardSecret + "\n"), errors.New("exit status 1: bad password " + shardSecret)
		}
		return m.handle(c)
	}
	m.configure(jmsSpec(m.regURL))
	err := m.apply()
	if err == nil || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("want a redacted failure, got %v", err)
	}
	if r := m.registry.reports; len(r) != 1 || strings.Contains(r[0].Reason, shardSecret) || !strings.Contains(r[0].Reason, "prosodyctl") {
		t.Errorf("reports %+v", r)
	}
	m.assertNoSecrets(shardSecret, issuedCredential, m.turnSecret())
	if failed := m.read(jitsi.FailedState); strings.Contains(failed, shardSecret) {
		t.Errorf("the failed state (world-readable) holds the secret")
	}
}

// TestJMSLocalBridge: with local_bridge the JMS's own bridge runs.
func TestJMSLocalBridge(t *testing.T) {
	m := newJMS(t, jitsi.WebApache, "0.12")
	s := jmsSpec(m.regURL)
	s.LocalBridge = true
	m.configure(s)
	if err := m.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, m.log)
	}
	if !m.run.has("systemctl restart jitsi-videobridge2.service") || m.run.has("systemctl disable --now jitsi-videobridge2.service") {
		t.Errorf("local_bridge: the JMS's bridge was not started: %v", m.run.ran())
	}
}

// TestJMSWithoutImageConfig: an image baked before image.yaml existed
// gets the web server jitsi-meet-web-config would configure.
func TestJMSWithoutImageConfig(t *testing.T) {
	m := newJMS(t, jitsi.WebApache, "0.12")
	if err := os.Remove(filepath.Join(m.root, jitsi.ImageConfig)); err != nil {
		t.Fatal(err)
	}
	m.configure(jmsSpec(m.regURL))
	if err := m.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, m.log)
	}
	if !m.run.has("systemctl restart apache2.service") || !strings.Contains(m.log.String(), "web server apache") {
		t.Errorf("apache not detected:\n%s\n%v", m.log, m.run.ran())
	}
}

// TestJMSImageOfAnotherRole: a bridge image booted with a JMS's user-data
// fails clearly before touching anything.
func TestJMSImageOfAnotherRole(t *testing.T) {
	n := newNode(t, nat.Unknown)
	n.write(jitsi.ImageConfig, "version: 1\nrole: jvb\n", 0o644)
	n.configure(jmsSpec(n.regURL))
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "this is a jvb image") {
		t.Fatalf("want the role mismatch, got %v", err)
	}
	if len(n.run.cmds) != 0 {
		t.Errorf("ran %v", n.run.ran())
	}
}
