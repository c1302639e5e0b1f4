package agent

import (
	"errors"
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

// TestApplyJMS: debconf and prosodyctl get the secret on stdin only; the
// cached packages are installed; the snakeoil certificate is renewed once;
// the local bridge is stopped.
func TestApplyJMS(t *testing.T) {
	n := newNode(t, nat.Unknown)
	installed := false
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		switch {
		case c.Name == "dpkg-query" && !installed:
			return []byte("unknown ok not-installed"), errors.New("exit status 1")
		case c.Name == "apt-get":
			installed = true
		case c.Name == "prosodyctl" && c.Args[0] == "passwd":
			return []byte("User does not exist\n"), errors.New("exit status 1")
		}
		return nil, nil
	}
	n.configure(jmsSpec(n.regURL))
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v\n%s", err, n.log)
	}
	var seed, pw []byte
	for _, c := range n.run.cmds {
		switch {
		case c.Name == "debconf-set-selections":
			seed = c.Stdin
		case c.Name == "prosodyctl" && c.Args[0] == "adduser":
			pw = c.Stdin
		case c.Name == "apt-get" && !strings.Contains(strings.Join(c.Env, " "), "DEBIAN_FRONTEND=noninteractive"):
			t.Error("apt-get may ask questions")
		}
	}
	if !strings.Contains(string(seed), jitsi.QJVBSecret+" password "+shardSecret+"\n") {
		t.Errorf("debconf seed:\n%s", seed)
	}
	if string(pw) != shardSecret+"\n"+shardSecret+"\n" {
		t.Errorf("prosodyctl stdin %q", pw)
	}
	for _, want := range []string{
		"apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 jitsi-meet-prosody jicofo jitsi-meet",
		"make-ssl-cert generate-default-snakeoil --force-overwrite",
		"prosodyctl adduser jvb@auth.meet.example.org",
		"systemctl restart prosody.service", "systemctl disable --now jitsi-videobridge2.service",
		"systemctl restart jicofo.service", "systemctl restart apache2.service",
	} {
		if !n.run.has(want) {
			t.Errorf("did not run %q:\n%s", want, strings.Join(n.run.ran(), "\n"))
		}
	}
	if r := n.registry.states(); len(r) != 1 || r[0] != "active" {
		t.Errorf("reports %v", r)
	}
	n.assertNoSecrets(shardSecret, issuedCredential)

	// A later boot: nothing installed, renewed or restarted again.
	n.run.reset()
	if err := n.apply(); err != nil {
		t.Fatal(err)
	}
	for _, c := range n.run.ran() {
		if strings.HasPrefix(c, "apt-get") || strings.HasPrefix(c, "make-ssl-cert") || strings.Contains(c, "restart") || strings.HasPrefix(c, "prosodyctl") {
			t.Errorf("second apply ran %q", c)
		}
	}
}

// TestProsody13WaitsForTheServer: prosodyctl ≥ 13 talks to the running
// server; while it starts, the password is retried.
func TestProsody13WaitsForTheServer(t *testing.T) {
	n := newNode(t, nat.Unknown)
	tries := 0
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.Name == "prosodyctl" {
			tries++
			if tries < 3 {
				return []byte("** Unable to connect to server - is it running? Is mod_admin_shell enabled?\n"), errors.New("exit status 1")
			}
		}
		return nil, nil
	}
	s := jmsSpec(n.regURL)
	s.LocalBridge = true
	n.configure(s)
	if err := n.apply(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if tries != 3 || !n.run.has("prosodyctl passwd jvb@auth.meet.example.org") || n.run.has("prosodyctl adduser jvb@auth.meet.example.org") {
		t.Errorf("tries %d: %v", tries, n.run.ran())
	}
	if !n.run.has("systemctl restart jitsi-videobridge2.service") {
		t.Error("local_bridge: the JMS's bridge was not started")
	}
}

// TestProgramOutputIsRedacted: a program that echoes the secret (on
// stdout or stderr) does not carry it into the agent's log or error.
func TestProgramOutputIsRedacted(t *testing.T) {
	n := newNode(t, nat.Unknown)
	n.run.handler = func(c system.Cmd) ([]byte, error) {
		if c.Name == "prosodyctl" {
			return []byte("Enter new password: " + shardSecret + "\n"), errors.New("exit status 1: bad password " + shardSecret)
		}
		return nil, nil
	}
	n.configure(jmsSpec(n.regURL))
	err := n.apply()
	if err == nil || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("want a redacted failure, got %v", err)
	}
	if r := n.registry.reports; len(r) != 1 || strings.Contains(r[0].Reason, shardSecret) || !strings.Contains(r[0].Reason, "prosodyctl") {
		t.Errorf("reports %+v", r)
	}
	n.assertNoSecrets(shardSecret, issuedCredential)
	if failed := n.read(jitsi.FailedState); strings.Contains(failed, shardSecret) {
		t.Errorf("the failed state (world-readable) holds the secret")
	}
}
