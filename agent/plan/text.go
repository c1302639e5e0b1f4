package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// JSON writes p as indented JSON (see the package doc for its fields).
func (p Plan) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// WriteText writes p for people: the node, its shards, registry and NAT,
// then every file with its keys, the packages and commands, the services,
// and what only the boot decides.
func (p Plan) WriteText(w io.Writer) error {
	var b bytes.Buffer
	n := p.Node
	who := n.Nickname
	if who == "" && n.Group != "" {
		who = "a bridge of group " + n.Group
	}
	if who == "" {
		who = n.Role
	}
	fmt.Fprintf(&b, "First boot of %s %s (JMS %s)", n.Role, who, n.JMSFQDN)
	if p.Source != "" {
		fmt.Fprintf(&b, ", from %s", p.Source)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "node       role %s, jms_fqdn %s", n.Role, n.JMSFQDN)
	for _, kv := range [][2]string{{"nickname", n.Nickname}, {"group", n.Group}, {"format", n.Format}, {"hostname", n.Hostname}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, ", %s %s", kv[0], kv[1])
		}
	}
	b.WriteString("\n")
	for _, s := range p.Shards {
		fmt.Fprintf(&b, "shard      %s: logs in to %s as %s, joins %s\n", s.ID, s.XMPPServer, s.Account, s.Brewery)
	}
	if r := p.Registry; r != nil {
		claim := "nickname given at issue"
		if r.Claim == "group" {
			claim = "claims its identity in group " + n.Group + " at boot"
		}
		ca := "system CAs"
		if r.CustomCA {
			ca = "the CA in node.yaml"
		}
		fmt.Fprintf(&b, "registry   %s (trusting %s), %s credential %s; %s; reports %s\n", r.URL, ca, r.Credential, Masked, claim,
			strings.Join(r.Reports, " or "))
	} else {
		b.WriteString("registry   none: the node reports to no registry\n")
	}
	if t := p.NAT; t != nil {
		fmt.Fprintf(&b, "nat        %s", t.Mode)
		switch {
		case t.PublicAddress != "":
			local := t.LocalAddress
			if local == "" {
				local = tokenLocal
			}
			fmt.Fprintf(&b, ": %s → %s (static mapping)", local, t.PublicAddress)
		case t.Mode == "none":
			b.WriteString(": no mapping, no STUN; health does not require a public address")
		}
		if len(t.STUNServers) > 0 {
			fmt.Fprintf(&b, "; STUN %s", strings.Join(t.STUNServers, ", "))
		}
		b.WriteString("\n")
	}

	b.WriteString("\nfiles\n")
	for _, f := range p.Files {
		fmt.Fprintf(&b, "  %s  %s %s  by %s", f.Path, f.Owner, f.Mode, f.WrittenBy)
		if f.Kind == KindLink {
			fmt.Fprintf(&b, "  → %s", f.Target)
		}
		if f.Purpose != "" {
			fmt.Fprintf(&b, "  (%s)", f.Purpose)
		}
		if f.When != "" {
			fmt.Fprintf(&b, "  [%s]", f.When)
		}
		b.WriteString("\n")
		if f.Kind == KindFile && len(f.Settings) == 0 {
			b.WriteString("      (sets no key: comments only)\n")
		}
		for _, s := range f.Settings {
			writeSetting(&b, "      ", s)
		}
	}
	if len(p.Debconf) > 0 {
		b.WriteString("\ndebconf answers\n")
		for _, s := range p.Debconf {
			writeSetting(&b, "  ", s)
		}
	}
	if len(p.Packages) > 0 {
		fmt.Fprintf(&b, "\npackages   %s\n", strings.Join(p.Packages, " "))
	}
	if len(p.Commands) > 0 {
		b.WriteString("\ncommands\n")
		for _, c := range p.Commands {
			fmt.Fprintf(&b, "  %s", c.Run)
			if c.Stdin != "" {
				fmt.Fprintf(&b, "  < %s", c.Stdin)
			}
			if c.When != "" {
				fmt.Fprintf(&b, "  [%s]", c.When)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\nservices\n")
	for _, s := range p.Services {
		fmt.Fprintf(&b, "  %s: %s", s.Unit, s.Action)
		if s.IfPresent {
			b.WriteString(" (if the image has it)")
		}
		if s.Note != "" {
			fmt.Fprintf(&b, "; %s", s.Note)
		}
		b.WriteString("\n")
	}
	if len(p.AtBoot) > 0 {
		b.WriteString("\ndecided at boot\n")
		for _, a := range p.AtBoot {
			fmt.Fprintf(&b, "  - %s\n", a)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeSetting(b *bytes.Buffer, indent string, s Setting) {
	v := s.Value
	if !s.Secret {
		v = quoteIfNeeded(v)
	}
	fmt.Fprintf(b, "%s%s = %s", indent, s.Key, v)
	if s.AtBoot != "" {
		fmt.Fprintf(b, "    # at boot: %s", s.AtBoot)
	}
	b.WriteString("\n")
}

// quoteIfNeeded quotes values that would read ambiguously (empty, spaces
// at either end, control characters).
func quoteIfNeeded(v string) string {
	if v == "" || strings.TrimSpace(v) != v || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Sprintf("%q", v)
	}
	return v
}
