package agent

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// Test identities of a JMS's services in the scratch root.
const prosodyUID, prosodyGID, turnUID, turnGID = 64010, 64011, 64020, 64021

// jmsMachine is a scratch JMS as its Debian packages leave it. The fake
// runner plays what the programs the agent runs do, following the real
// ones: apt-get runs the postinsts (jitsi-meet-web-config's certificate;
// jitsi-meet-prosody's vhost config with external_service_secret from
// debconf, world-readable as the package makes it; with nginx,
// jitsi-meet-turnserver's /etc/turnserver.conf, world-readable too);
// debconf keeps string answers in config.dat and the previous file as
// config.dat-old at each save; prosodyctl behaves as prosody 0.12 or 13.
type jmsMachine struct {
	*testNode
	web      jitsi.WebServer
	prosody  *prosodyModel
	debconf  map[string]string // string questions (config.dat); passwords are not modelled
	aptRuns  int
	oldDB    string // config.dat-old's content
	failApt  bool
	ufw      *ufwModel
	postinst []string // what the postinsts did, in order
}

func newJMS(t *testing.T, web jitsi.WebServer, prosodyVersion string) *jmsMachine {
	t.Helper()
	m := &jmsMachine{testNode: newNode(t, nat.Unknown), web: web, debconf: map[string]string{},
		prosody: &prosodyModel{version: prosodyVersion, accounts: map[string]string{}}}
	m.write("/etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\njvb:x:%d:%d::/:/bin/false\nprosody:x:%d:%d::/:/bin/false\nturnserver:x:%d:%d::/:/bin/false\n",
		jvbUID, jitsiGID, prosodyUID, prosodyGID, turnUID, turnGID), 0o644)
	m.write("/etc/group", fmt.Sprintf("root:x:0:\njitsi:x:%d:\nprosody:x:%d:\nturnserver:x:%d:\n", jitsiGID, prosodyGID, turnGID), 0o644)
	// Debian's coturn ships its commented example as the config.
	m.write(jitsi.TurnServerConfig, "# Coturn TURN SERVER configuration file\n#listening-port=3478\n", 0o640)
	m.setImage(nodeconfig.Image{Version: nodeconfig.ImageVersion, Role: node.RoleJMS, WebServer: web})
	m.run.handler = m.handle
	return m
}

func (m *jmsMachine) setImage(img nodeconfig.Image) {
	m.t.Helper()
	data, err := img.Marshal()
	if err != nil {
		m.t.Fatal(err)
	}
	m.write(jitsi.ImageConfig, string(data), 0o644)
}

// turnSecret is the node's TURN secret as the agent stored it.
func (m *jmsMachine) turnSecret() string { return strings.TrimSpace(m.read(jitsi.TurnSecretState)) }

var seedLine = regexp.MustCompile(`(?m)^(\S+) (\S+) (\S+) (.*)$`)

func (m *jmsMachine) handle(c system.Cmd) ([]byte, error) {
	if m.ufw != nil && c.Name == jitsi.FirewallUFW {
		return m.ufw.run(c.Args)
	}
	switch {
	case c.Name == "dpkg-query":
		p := c.Args[len(c.Args)-1]
		if p == m.web.Package() || p == jitsi.PkgCoturn || m.aptRuns > 0 {
			return []byte("install ok installed"), nil
		}
		return []byte("unknown ok not-installed"), errors.New("exit status 1")
	case c.Name == "debconf-set-selections":
		for _, l := range seedLine.FindAllStringSubmatch(string(c.Stdin), -1) {
			if l[3] == "string" {
				m.debconf[l[2]] = l[4]
			}
		}
		m.saveDebconf()
	case c.Name == "debconf-communicate":
		q := strings.TrimPrefix(strings.TrimSpace(string(c.Stdin)), "RESET ")
		delete(m.debconf, q)
		m.saveDebconf()
		return []byte("0\n"), nil
	case c.Name == "apt-get":
		m.aptRuns++
		if m.failApt {
			return []byte("E: Sub-process /usr/bin/dpkg returned an error code (1)\n"), errors.New("exit status 100")
		}
		m.runPostinsts(c.Args)
	case c.Name == jitsi.ProsodyCtl:
		return m.prosody.ctl(c)
	case c.Name == "systemctl" && len(c.Args) == 2 && (c.Args[0] == "restart" || c.Args[0] == "start") && c.Args[1] == jitsi.SvcProsody+".service":
		m.prosody.started()
	}
	return nil, nil
}

// saveDebconf writes config.dat as debconf's File driver does: the old
// file becomes config.dat-old.
func (m *jmsMachine) saveDebconf() {
	var b strings.Builder
	for q, v := range m.debconf {
		fmt.Fprintf(&b, "Name: %s\nValue: %s\n\n", q, v)
	}
	if m.exists(jitsi.DebconfConfigDBs[0]) {
		m.oldDB = m.read(jitsi.DebconfConfigDBs[0])
		m.write(jitsi.DebconfConfigDBs[1], m.oldDB, 0o644)
	}
	m.write(jitsi.DebconfConfigDBs[0], b.String(), 0o644)
}

func (m *jmsMachine) exists(p string) bool { return system.NewFS(m.root).Exists(p) }

// runPostinsts does what the packages' postinsts do for the FQDN debconf holds.
func (m *jmsMachine) runPostinsts(args []string) {
	secret := m.debconf[jitsi.QTurnSecret]
	m.write(jitsi.WebCertDir+"/"+fqdn+".crt", "-----BEGIN CERTIFICATE-----\nweb\n-----END CERTIFICATE-----\n", 0o644)
	m.write(jitsi.WebCertDir+"/"+fqdn+".key", "-----BEGIN PRIVATE KEY-----\nweb\n-----END PRIVATE KEY-----\n", 0o600)
	m.write(jitsi.ProsodyHostConfig(fqdn), "external_service_secret = \""+secret+"\";\n", 0o644)
	m.postinst = append(m.postinst, "jitsi-meet-prosody")
	for _, a := range args {
		if a == jitsi.PkgMeetTurn {
			m.write(jitsi.TurnServerConfig, "# jitsi-meet coturn config. Do not modify this line\nstatic-auth-secret="+secret+"\n", 0o644)
			m.postinst = append(m.postinst, a)
		}
	}
}

// prosodyModel is prosodyctl's account commands as prosody's sources have
// them. 0.12 (prosodyctl, util/prosodyctl): passwd and adduser work on the
// account store directly. 13 (prosodyctl → util/prosodyctl/shell,
// mod_admin_shell): both run user:password / user:create in the running
// server through its admin socket, asking for the password twice on stdin.
type prosodyModel struct {
	version  string
	accounts map[string]string
	running  bool
	// warmUp is how many calls after a (re)start still find no socket.
	warmUp int
	calls  []string
}

func (p *prosodyModel) started() { p.running, p.warmUp = true, 2 }

func (p *prosodyModel) ctl(c system.Cmd) ([]byte, error) {
	verb, jid := c.Args[0], c.Args[1]
	p.calls = append(p.calls, verb)
	pw, again, _ := strings.Cut(strings.TrimSuffix(string(c.Stdin), "\n"), "\n")
	if p.version == "13" {
		if !p.running || p.warmUp > 0 {
			p.warmUp--
			return []byte("** Unable to connect to server - is it running? Is mod_admin_shell enabled?\n** Connection error: connection refused\n"), errors.New("exit status 1")
		}
		_, exists := p.accounts[jid]
		switch {
		case verb == "passwd" && !exists:
			return nil, errors.New("exit status 1: No such user")
		case verb == "adduser" && exists:
			return nil, errors.New("exit status 1: User exists")
		}
		if pw != again {
			return []byte("Enter new password: \nRetype new password: \n"), errors.New("exit status 1: Passwords did not match")
		}
		p.accounts[jid] = pw
		if verb == "adduser" {
			return []byte("Enter new password: \nRetype new password: \nCreated " + jid + " with role 'prosody:member'\n"), nil
		}
		return []byte("Enter new password: \nRetype new password: \nUser password changed\n"), nil
	}
	_, exists := p.accounts[jid]
	switch {
	case verb == "passwd" && !exists:
		return []byte("That user does not exist, use prosodyctl adduser to create a new user\n"), errors.New("exit status 1")
	case verb == "adduser" && exists:
		return []byte("That user already exists\n"), errors.New("exit status 1")
	case pw != again:
		return []byte("Passwords do not match\n"), errors.New("exit status 1")
	}
	p.accounts[jid] = pw
	return nil, nil
}

// ufwModel is ufw's rule list: `ufw allow` adds a rule or skips one it has.
type ufwModel struct {
	active bool
	rules  []string
}

func (u *ufwModel) run(args []string) ([]byte, error) {
	if args[0] == "status" {
		if u.active {
			return []byte("Status: active\n"), nil
		}
		return []byte("Status: inactive\n"), nil
	}
	rule := strings.Join(args, " ")
	for _, r := range u.rules {
		if r == rule {
			return []byte("Skipping adding existing rule\nSkipping adding existing rule (v6)\n"), nil
		}
	}
	u.rules = append(u.rules, rule)
	return []byte("Rules updated\nRules updated (v6)\n"), nil
}
