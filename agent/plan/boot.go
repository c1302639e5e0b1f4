package plan

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"

	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// What a bridge finds out only at boot (jitsi.Boot) — a group bridge's
// nickname, the NAT mapping, whether it runs on EC2 — is found here by
// rendering the bridge's files with different findings and comparing: a
// key whose value changes with them is decided at boot, and its value names
// what boot fills in. So the plan never re-states which key carries what.

// Tokens name in a value what boot fills in.
const (
	tokenNickname = "<claimed nickname>"
	tokenLocal    = "<local address>"
	tokenPublic   = "<public address>"
)

// findings are stand-in boot findings; unknown parts differ between two.
type findings struct {
	boot  jitsi.Boot
	swaps map[string]string // stand-in value → token
}

// variant is a file rendered with other findings than the plan's base.
type variant struct {
	content []byte
	// describe says what a value that differs from base's means.
	describe func(base, other string) (value, note string, ok bool)
}

// bridge is what apply does on a videobridge.
func (p *Plan) bridge(u *UserData, s node.Spec) error {
	p.Shards = shardsOf(s)
	nat := agent.PlanNAT(s)
	p.NAT = natOf(nat)
	a, b := standIns(s, nat, 0), standIns(s, nat, 1)
	base, err := jitsi.BridgeFiles(s, a.boot)
	if err != nil {
		return err
	}
	other, err := jitsi.BridgeFiles(s, b.boot)
	if err != nil {
		return err
	}
	ec2 := a.boot
	ec2.AWSHarvester = true
	onEC2, err := jitsi.BridgeFiles(s, ec2)
	if err != nil {
		return err
	}
	for i, f := range base {
		vs := []variant{{content: other[i].Content, describe: func(bv, ov string) (string, string, bool) {
			tb, to := swap(bv, a.swaps), swap(ov, b.swaps)
			if tb != to || tb == bv {
				return "", "", false
			}
			return tb, describeTokens(tb, s), true
		}}}
		if nat.Mode == node.NATAuto {
			vs = append(vs, variant{content: onEC2[i].Content, describe: func(bv, ov string) (string, string, bool) {
				return bv + " | " + ov, ov + " on EC2 (where ice4j's AWS harvester finds the mapping itself), else " + bv, true
			}})
		}
		purpose := "the bridge's configuration"
		if f.Path == jitsi.JVBDropIn {
			purpose = "runs jitsi-node apply --check before every start of " + jitsi.SvcJVB
		}
		pf, err := u.file(f, vs, purpose)
		if err != nil {
			return err
		}
		p.Files = append(p.Files, pf)
	}
	p.Commands = append(p.Commands, Command{Run: "systemctl daemon-reload", When: "the bridge's drop-in changed (an image baked by an older plugin: jitsi-node bake installs it)"})
	if s.Group != "" {
		p.Commands = append(p.Commands, Command{Run: "hostnamectl set-hostname " + tokenNickname, When: "once the nickname is claimed"})
		p.Files = append(p.Files, File{Path: system.HostsFile, Owner: "root:root", Mode: "0644", WrittenBy: "jitsi-node", Kind: KindFile,
			Purpose:  "the host name resolves; the other lines are kept",
			When:     "once the nickname is claimed",
			Settings: []Setting{{Key: "127.0.1.1", Value: tokenNickname}}})
	}
	for _, st := range agent.BridgeUnitSteps() {
		sv := Service{Unit: st.Unit, Action: string(st.Action), IfPresent: st.IfPresent}
		switch {
		case st.Unit == jitsi.SvcJVB+".service":
			sv.Note = fmt.Sprintf("then waits for %s%s (at most %s)", jitsi.BridgeAPI, jitsi.HealthPath, jitsi.HealthTimeout)
		case st.Unit == jitsi.DrainUnit:
			sv.Note = "drains the bridge when the machine stops"
		}
		p.Services = append(p.Services, sv)
	}
	if s.Group != "" {
		p.AtBoot = append(p.AtBoot, fmt.Sprintf("the nickname: claimed from the registry in group %s with the group's token, this instance's id and a claim key; retried while the registry is unreachable, at most %s", s.Group, jitsi.ClaimTimeout))
	}
	if p.NAT.AtBoot != "" {
		p.AtBoot = append(p.AtBoot, "NAT: "+p.NAT.AtBoot)
	}
	return nil
}

// standIns are findings for boot: what the config gives, and distinct
// stand-ins (documentation addresses, RFC 5737) for the rest.
func standIns(s node.Spec, nat agent.NATPlan, i int) findings {
	f := findings{boot: jitsi.Boot{Nickname: s.Nickname}, swaps: map[string]string{}}
	if s.Nickname == "" {
		f.boot.Nickname = fmt.Sprintf("jvb-standin-%c", 'a'+i)
		f.swaps[f.boot.Nickname] = tokenNickname
	}
	standIn := func(prefix, token string) string {
		a := fmt.Sprintf("%s.%d", prefix, 201+i)
		f.swaps[a] = token
		return a
	}
	switch nat.Mode {
	case node.NATStatic:
		f.boot.PublicAddress, f.boot.LocalAddress = nat.Public, nat.Local
		if nat.Local == "" {
			f.boot.LocalAddress = standIn("192.0.2", tokenLocal)
		}
	case node.NATAuto:
		f.boot.LocalAddress = standIn("192.0.2", tokenLocal)
		f.boot.PublicAddress = standIn("198.51.100", tokenPublic)
	}
	return f
}

func swap(v string, swaps map[string]string) string {
	for from, to := range swaps {
		v = strings.ReplaceAll(v, from, to)
	}
	return v
}

// describeTokens says what boot fills into a value holding tokens.
func describeTokens(v string, s node.Spec) string {
	var parts []string
	if strings.Contains(v, tokenNickname) {
		parts = append(parts, tokenNickname+": claimed from the registry in group "+s.Group)
	}
	if strings.Contains(v, tokenLocal) {
		parts = append(parts, tokenLocal+": this node's address the public one maps to")
	}
	if strings.Contains(v, tokenPublic) {
		parts = append(parts, tokenPublic+": found at boot (see nat)")
	}
	return strings.Join(parts, "; ")
}

// atBoot marks st (of value base) when a variant renders it otherwise.
func atBoot(st *Setting, base string, variants []variant, others []map[string]string) {
	for i, v := range variants {
		ov, ok := others[i][st.Key]
		if !ok || ov == base {
			continue
		}
		if value, note, ok := v.describe(base, ov); ok {
			st.Value, st.AtBoot = value, note
			return
		}
	}
}

// natOf describes a bridge's NAT as apply resolves it.
func natOf(n agent.NATPlan) *NAT {
	out := &NAT{Mode: string(n.Mode), PublicAddress: n.Public, LocalAddress: n.Local, STUNServers: n.STUN}
	switch n.Mode {
	case node.NATAuto:
		out.AtBoot = "the public address: the cloud (from DMI) and its metadata service (EC2 IMDSv2, GCE, Azure, OCI, OpenStack-style), " +
			"else STUN (" + strings.Join(n.STUN, ", ") + "); the bridge advertises it as a static mapping of its local address " +
			"(none when the node holds the public address itself); nothing found: apply fails and reports failed"
	case node.NATStatic:
		if n.Local == "" {
			out.AtBoot = "the local address of the mapping: the source address of the default route"
		}
	case node.NATNone:
		out.AtBoot = ""
	}
	return out
}
