package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Change is one difference between two plans.
//
// JSON (packer-plugin-jitsi plan OLD NEW --json): {"changes": [ … ]}, each
// with section (node, shards, registry, nat, files, debconf, packages,
// commands, services, at_boot), item (a file's path, a unit, a field), key
// (a setting's key, for files and debconf), op (added, removed, changed)
// and old/new (values; "***" for secrets, whose change is still told).
type Change struct {
	Section string `json:"section"`
	Item    string `json:"item,omitempty"`
	Key     string `json:"key,omitempty"`
	Op      string `json:"op"`
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
}

// Ops of a Change.
const (
	OpAdded   = "added"
	OpRemoved = "removed"
	OpChanged = "changed"
)

// Diff lists what changes from old to new, in plan order.
func Diff(old, new Plan) []Change {
	var out []Change
	add := func(c Change) { out = append(out, c) }
	fields := func(section string, o, n [][2]string) {
		for i := range o {
			if o[i][1] != n[i][1] {
				add(Change{Section: section, Item: o[i][0], Op: OpChanged, Old: o[i][1], New: n[i][1]})
			}
		}
	}
	fields("node", nodeFields(old.Node), nodeFields(new.Node))
	diffList(&out, "shards", keyed(old.Shards, func(s Shard) (string, string) { return s.ID, fmt.Sprintf("%+v", s) }),
		keyed(new.Shards, func(s Shard) (string, string) { return s.ID, fmt.Sprintf("%+v", s) }))
	fields("registry", registryFields(old.Registry), registryFields(new.Registry))
	fields("nat", natFields(old.NAT), natFields(new.NAT))

	of, nf := map[string]File{}, map[string]File{}
	for _, f := range old.Files {
		of[f.Path] = f
	}
	for _, f := range new.Files {
		nf[f.Path] = f
	}
	for _, f := range old.Files {
		if _, ok := nf[f.Path]; !ok {
			add(Change{Section: "files", Item: f.Path, Op: OpRemoved})
		}
	}
	for _, f := range new.Files {
		o, ok := of[f.Path]
		if !ok {
			add(Change{Section: "files", Item: f.Path, Op: OpAdded, New: f.Owner + " " + f.Mode})
			continue
		}
		if o.Owner != f.Owner || o.Mode != f.Mode || o.Target != f.Target {
			add(Change{Section: "files", Item: f.Path, Key: "(owner, mode)", Op: OpChanged, Old: o.Owner + " " + o.Mode, New: f.Owner + " " + f.Mode})
		}
		diffSettings(&out, "files", f.Path, o.Settings, f.Settings)
	}
	diffSettings(&out, "debconf", "", old.Debconf, new.Debconf)
	diffList(&out, "packages", keyed(old.Packages, same), keyed(new.Packages, same))
	diffList(&out, "commands", keyed(old.Commands, func(c Command) (string, string) { return c.Run, c.Stdin + " " + c.When }),
		keyed(new.Commands, func(c Command) (string, string) { return c.Run, c.Stdin + " " + c.When }))
	diffList(&out, "services", keyed(old.Services, serviceKey), keyed(new.Services, serviceKey))
	diffList(&out, "at_boot", keyed(old.AtBoot, same), keyed(new.AtBoot, same))
	return out
}

func same(s string) (string, string) { return s, s }

func serviceKey(s Service) (string, string) {
	return s.Unit, fmt.Sprintf("%s if_present=%t %s", s.Action, s.IfPresent, s.Note)
}

type pair struct{ key, value string }

// keyed lists xs by key; a key given again is numbered ("… (2)").
func keyed[T any](xs []T, kv func(T) (string, string)) []pair {
	out := make([]pair, len(xs))
	seen := map[string]int{}
	for i, x := range xs {
		out[i].key, out[i].value = kv(x)
		if seen[out[i].key]++; seen[out[i].key] > 1 {
			out[i].key = fmt.Sprintf("%s (%d)", out[i].key, seen[out[i].key])
		}
	}
	return out
}

// diffList compares lists of keyed items.
func diffList(out *[]Change, section string, old, new []pair) {
	om, nm := map[string]string{}, map[string]string{}
	for _, p := range old {
		om[p.key] = p.value
	}
	for _, p := range new {
		nm[p.key] = p.value
	}
	for _, p := range old {
		if _, ok := nm[p.key]; !ok {
			*out = append(*out, Change{Section: section, Item: p.key, Op: OpRemoved})
		}
	}
	for _, p := range new {
		o, ok := om[p.key]
		switch {
		case !ok:
			*out = append(*out, Change{Section: section, Item: p.key, Op: OpAdded})
		case o != p.value:
			*out = append(*out, Change{Section: section, Item: p.key, Op: OpChanged, Old: o, New: p.value})
		}
	}
}

// diffSettings compares keys; a secret is compared by its keyed digest.
func diffSettings(out *[]Change, section, item string, old, new []Setting) {
	om := map[string]Setting{}
	for _, s := range old {
		om[s.Key] = s
	}
	nm := map[string]bool{}
	for _, s := range new {
		nm[s.Key] = true
		o, ok := om[s.Key]
		switch {
		case !ok:
			*out = append(*out, Change{Section: section, Item: item, Key: s.Key, Op: OpAdded, New: s.Value})
		case o.Secret != s.Secret || o.Value != s.Value || o.digest != s.digest:
			*out = append(*out, Change{Section: section, Item: item, Key: s.Key, Op: OpChanged, Old: o.Value, New: s.Value})
		}
	}
	for _, s := range old {
		if !nm[s.Key] {
			*out = append(*out, Change{Section: section, Item: item, Key: s.Key, Op: OpRemoved, Old: s.Value})
		}
	}
}

func nodeFields(n Node) [][2]string {
	return [][2]string{{"role", n.Role}, {"jms_fqdn", n.JMSFQDN}, {"nickname", n.Nickname}, {"group", n.Group}, {"format", n.Format}, {"hostname", n.Hostname}}
}

func registryFields(r *Registry) [][2]string {
	if r == nil {
		r = &Registry{}
	}
	ca := ""
	if r.URL != "" {
		ca = fmt.Sprint(r.CustomCA)
	}
	return [][2]string{{"url", r.URL}, {"custom_ca", ca}, {"credential", r.Credential}, {"claim", r.Claim}, {"reports", strings.Join(r.Reports, ", ")}}
}

func natFields(n *NAT) [][2]string {
	if n == nil {
		n = &NAT{}
	}
	return [][2]string{{"mode", n.Mode}, {"local_address", n.LocalAddress}, {"public_address", n.PublicAddress},
		{"stun_servers", strings.Join(n.STUNServers, ", ")}, {"at_boot", n.AtBoot}}
}

// WriteDiffText writes changes for people, one line each.
func WriteDiffText(w io.Writer, changes []Change) error {
	var b bytes.Buffer
	if len(changes) == 0 {
		b.WriteString("no difference: first boot does the same\n")
	}
	sign := map[string]string{OpAdded: "+", OpRemoved: "-", OpChanged: "~"}
	for _, c := range changes {
		fmt.Fprintf(&b, "%s %s", sign[c.Op], c.Section)
		if c.Item != "" {
			fmt.Fprintf(&b, " %s", c.Item)
		}
		if c.Key != "" {
			fmt.Fprintf(&b, ": %s", c.Key)
		}
		switch {
		case c.Op == OpChanged && c.Old == Masked && c.New == Masked:
			b.WriteString(": *** → *** (the secret changes)")
		case c.Op == OpChanged:
			fmt.Fprintf(&b, ": %s → %s", quoteIfNeeded(c.Old), quoteIfNeeded(c.New))
		case c.Op == OpAdded && c.New != "":
			fmt.Fprintf(&b, " = %s", quoteIfNeeded(c.New))
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// DiffJSON writes changes as {"changes": […]}.
func DiffJSON(w io.Writer, changes []Change) error {
	if changes == nil {
		changes = []Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Changes []Change `json:"changes"`
	}{changes})
}
