package plan

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Writers of files.
const (
	ByCloudInit = "cloud-init"
	ByAgent     = "jitsi-node"
)

// Build computes the plan of a user-data read by Read.
func Build(u *UserData) (Plan, error) {
	s := u.Spec.WithDefaults()
	p := Plan{
		Node:     Node{Role: string(s.Role), JMSFQDN: s.JMSFQDN, Nickname: s.Nickname, Group: s.Group, Hostname: u.Config.Hostname},
		Files:    []File{},
		Services: []Service{},
	}
	if u.Config.FQDN != "" {
		p.Node.Hostname = u.Config.FQDN
	}
	if s.Role == node.RoleJVB {
		p.Node.Format = string(s.Format)
		if s.Group != "" && p.Node.Hostname == "" {
			p.Node.Hostname = tokenNickname
		}
	}
	for _, wf := range []struct {
		f       fileOf
		purpose string
	}{
		{fileOf{u.NodeConfig.Path, u.NodeConfig.Owner, u.NodeConfig.Permissions, u.NodeConfig.Content}, "the node's config (no secret), read by jitsi-node apply"},
		{fileOf{u.NodeSecrets.Path, u.NodeSecrets.Owner, u.NodeSecrets.Permissions, u.NodeSecrets.Content}, "the node's secrets, root only"},
	} {
		f, err := u.cloudInitFile(wf.f, wf.purpose)
		if err != nil {
			return Plan{}, err
		}
		p.Files = append(p.Files, f)
	}
	for _, unit := range jitsi.AgentUnits() {
		f, err := u.file(unit, nil, unitDescription(unit.Content))
		if err != nil {
			return Plan{}, err
		}
		p.Files = append(p.Files, f)
	}
	link, target := jitsi.AgentUnitEnabled(jitsi.AgentUnit)
	p.Files = append(p.Files, File{Path: link, Owner: jitsi.RootOwner, Mode: "0777", WrittenBy: ByAgent, Kind: KindLink, Target: target,
		Purpose: "enables " + jitsi.AgentUnit})
	p.Services = append(p.Services, Service{Unit: jitsi.AgentUnit, Action: "enable (link)", Note: "runs jitsi-node apply at every later boot"})
	p.Commands = append(p.Commands, Command{Run: "systemctl daemon-reload", When: "the agent's units changed (an image baked by an older plugin: jitsi-node bake installs them)"})

	if s.Registry != nil {
		p.Registry = &Registry{URL: s.Registry.URL, CustomCA: s.Registry.CA != "", Credential: credentialKind(s.Registry.Credential),
			Claim: "issued", Reports: []string{string(regapi.StateActive), string(regapi.StateFailed) + " (with the reason)"}}
		if s.Group != "" {
			p.Registry.Claim = "group"
		}
	}
	var err error
	switch s.Role {
	case node.RoleJVB:
		err = p.bridge(u, s)
	case node.RoleJMS:
		err = p.jms(u, s)
	}
	if err != nil {
		return Plan{}, err
	}
	var ports []string
	for _, port := range jitsi.RolePorts(s.Role, s.LocalBridge) {
		ports = append(ports, port.String())
	}
	p.AtBoot = append(p.AtBoot, "when the image asks for "+jitsi.FirewallUFW+" rules (image.yaml) and "+jitsi.FirewallUFW+" is installed: "+
		jitsi.FirewallUFW+" allow "+strings.Join(ports, ", ")+" (never enabled by the agent)")
	for _, r := range agent.StateFiles(s) {
		p.Files = append(p.Files, File{Path: r.Path, Owner: jitsi.RootOwner, Mode: mode(r.Mode), WrittenBy: ByAgent, Kind: KindRecord,
			Purpose: r.What, When: r.When})
	}
	return p, nil
}

// fileOf is a write_files entry.
type fileOf struct{ path, owner, perm, content string }

func (u *UserData) cloudInitFile(f fileOf, purpose string) (File, error) {
	owner := f.owner
	if owner == "" {
		owner = jitsi.RootOwner // cloud-init's default
	}
	perm := f.perm
	if perm == "" {
		perm = "0644" // cloud-init's default
	}
	out := File{Path: f.path, Owner: owner, Mode: perm, WrittenBy: ByCloudInit, Kind: KindFile, Purpose: purpose}
	kv, err := fileSettings(f.path, []byte(f.content))
	if err != nil {
		return File{}, fmt.Errorf("read %s: %s", f.path, u.secrets.redact(err.Error()))
	}
	for _, k := range sortedKeys(kv) {
		out.Settings = append(out.Settings, u.secrets.setting(k, kv[k]))
	}
	return out, nil
}

// file describes a file the agent writes; variants are the same file
// rendered with other boot-time findings (see boot.go).
func (u *UserData) file(f jitsi.File, variants []variant, purpose string) (File, error) {
	out := File{Path: f.Path, Owner: f.Owner, Mode: mode(f.Mode), WrittenBy: ByAgent, Kind: KindFile, Purpose: purpose}
	kv, err := fileSettings(f.Path, f.Content)
	if err != nil {
		return File{}, fmt.Errorf("read back %s: %s", f.Path, u.secrets.redact(err.Error()))
	}
	others := make([]map[string]string, len(variants))
	for i, v := range variants {
		if others[i], err = fileSettings(f.Path, v.content); err != nil {
			return File{}, fmt.Errorf("read back %s: %s", f.Path, u.secrets.redact(err.Error()))
		}
	}
	for _, k := range sortedKeys(kv) {
		st := u.secrets.setting(k, kv[k])
		if !st.Secret {
			atBoot(&st, kv[k], variants, others)
		}
		out.Settings = append(out.Settings, st)
	}
	return out, nil
}

func mode(m fs.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

func credentialKind(c string) string {
	switch regapi.KindOf(c) {
	case regapi.CredentialGroup:
		return "group"
	case regapi.CredentialNode:
		return "node"
	}
	return "unknown"
}

// unitDescription is a unit's Description=.
func unitDescription(content []byte) string {
	return unitSettings(string(content))["Unit.Description"]
}

// shardsOf lists a bridge's shards as the bridge will use them.
func shardsOf(s node.Spec) []Shard {
	var out []Shard
	for _, sh := range s.Shards() {
		out = append(out, Shard{ID: sh.ID, JMSFQDN: sh.JMSFQDN, XMPPServer: fmt.Sprintf("%s:%d", sh.JMSFQDN, jitsi.XMPPPort),
			Account: jitsi.BridgeAccount(sh.JMSFQDN), Brewery: jitsi.BreweryJID(sh.JMSFQDN)})
	}
	return out
}

// turnSettings are the keys of coturn's config (key=value, or a bare
// flag); static-auth-secret is the node's TURN secret, made at its first
// boot and never in a plan. A key set on several lines is one setting,
// its values joined with ", " (settings are keyed by name).
func turnSettings(content []byte) []Setting {
	var out []Setting
	at := map[string]int{}
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			v = "(set)"
		}
		if i, ok := at[k]; ok {
			out[i].Value += ", " + v
			continue
		}
		at[k] = len(out)
		st := Setting{Key: k, Value: v}
		if k == "static-auth-secret" {
			st = Setting{Key: k, Value: Masked, Secret: true, AtBoot: "the node's TURN secret (" + jitsi.TurnSecretState + ")"}
		}
		out = append(out, st)
	}
	return out
}

// jms is what apply does on a JMS: debconf answers, the packages, the
// certificate, the bridge account, the services.
func (p *Plan) jms(u *UserData, s node.Spec) error {
	for _, line := range strings.Split(strings.TrimSpace(string(jitsi.DebconfSeed(s))), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			return fmt.Errorf("debconf answer %q: want 'package question type value'", strings.Join(f[:min(len(f), 3)], " "))
		}
		p.Debconf = append(p.Debconf, u.secrets.setting(f[0]+" "+f[1]+" "+f[2], f[3]))
	}
	// The web server is the image's (image.yaml), which user-data does not
	// name: the plan shows Jitsi's default and says what apache changes.
	web := jitsi.DefaultWebServer
	packages := jitsi.JMSPackages(web)
	p.Packages = append([]string(nil), packages...)
	p.Commands = append(p.Commands,
		Command{Run: "debconf-set-selections", Stdin: "the debconf answers above (the secret among them)"},
		Command{Run: strings.Join(jitsi.SnakeoilRenew, " "), When: "once (the image's certificate is every clone's), when the image has " + jitsi.SnakeoilRenew[0]},
		Command{Run: "systemctl enable --no-reload " + jitsi.SvcProsody + ".service; systemctl start " + jitsi.SvcProsody + ".service",
			When: "before the install: jitsi-meet-prosody's postinst registers accounts through the running prosody"},
		Command{Run: "debconf-set-selections", Stdin: jitsi.PkgMeetProsody + " " + jitsi.QTurnSecret + " string " + Masked + " (the node's TURN secret)",
			When: "with the install only"},
		Command{Run: "apt-get install " + strings.Join(packages, " "), When: "those not installed yet, from the image's apt cache"},
		Command{Run: "debconf-communicate " + jitsi.PkgMeetProsody, Stdin: "RESET " + jitsi.QTurnSecret,
			When: "after the install, until config.dat and config.dat-old (world-readable) no longer hold the TURN secret"},
		Command{Run: jitsi.ProsodyCtl + " passwd " + jitsi.BridgeAccount(s.JMSFQDN), Stdin: "the secret, twice (" + Masked + ")",
			When: "once prosody runs, on a first boot or a changed config; adduser when the account is new"})
	for _, st := range agent.JMSUnitSteps(s, web) {
		sv := Service{Unit: st.Unit, Action: string(st.Action), IfPresent: st.IfPresent}
		if st.Unit == jitsi.SvcJVB+".service" && st.Action == agent.UnitStop {
			sv.Note = "the JMS's own bridge: bridges join " + jitsi.BreweryJID(s.JMSFQDN)
		}
		if st.Unit == web.Service()+".service" {
			sv.Note = "the image's web server: " + jitsi.SvcApache + ".service on an image baked with web_server = " + string(jitsi.WebApache)
		}
		p.Services = append(p.Services, sv)
	}
	// coturn's files come from the TURN secret the node makes at its first
	// boot and the web certificate its packages make: their paths, owners
	// and modes are known now, their content at boot.
	turn, err := jitsi.TurnFiles(s.JMSFQDN, strings.Repeat("x", jitsi.TurnSecretLength), nil, nil)
	if err != nil {
		return err
	}
	for _, f := range turn {
		out := File{Path: f.Path, Owner: f.Owner, Mode: mode(f.Mode), WrittenBy: ByAgent, Kind: KindCopy,
			Purpose: "coturn's copy of the web certificate or key (turnserver cannot read the originals)",
			When:    "every boot, from the web certificate"}
		if f.Path == jitsi.TurnServerConfig {
			out.Kind, out.Purpose, out.When = KindFile, "coturn: TURN for the JMS's FQDN", "every boot"
			out.Settings = turnSettings(f.Content)
		}
		p.Files = append(p.Files, out)
	}
	p.Files = append(p.Files, File{Path: jitsi.ProsodyHostConfig(s.JMSFQDN), Owner: jitsi.ProsodyOwner, Mode: "0640", WrittenBy: ByAgent,
		Kind: KindCopy, Purpose: "jitsi-meet-prosody's vhost config, closed: it holds the TURN secret (external_service_secret)",
		When: "every boot, once the package wrote it (its content is the package's)"})
	p.AtBoot = append(p.AtBoot,
		"the image's web server (image.yaml): with "+string(jitsi.WebApache)+", "+jitsi.PkgMeetTurn+" is not installed (coturn is baked in)")
	p.AtBoot = append(p.AtBoot, "which of "+strings.Join(packages, ", ")+" the image lacks: those are installed")
	return nil
}
