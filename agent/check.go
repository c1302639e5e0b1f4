package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Check runs before every start of jitsi-videobridge2 (the unit's
// ExecStartPre): it compares the bridge's files with what the role model
// makes of the node's config and of the last apply's findings (claimed
// nickname, NAT mapping), puts back whatever a package script or a person
// changed, and logs exactly what it fixed. It asks nobody (no registry, no
// metadata) and returns an error only when the config is unusable, so its
// own trouble never keeps the bridge down.
func (a *Agent) Check(ctx context.Context) error {
	l, err := a.load(ctx)
	if errors.Is(err, errNoConfig) {
		a.log.printf("check: %v: nothing to check", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("check: the node config is unusable: %w", err)
	}
	if l.spec.Role != node.RoleJVB {
		return nil
	}
	var st applied
	ok, err := a.readJSON(jitsi.AppliedState, &st)
	if err != nil || !ok {
		a.log.printf("check: not applied yet (%v): nothing to compare with", err)
		return nil
	}
	if st.Config != l.digest {
		a.log.printf("check: the node config changed since the last apply: run `jitsi-node apply`; checking against the last apply")
	}
	files, err := jitsi.BridgeFiles(l.spec, st.boot())
	if err != nil {
		a.log.printf("check: %v", err)
		return nil
	}
	fixed := 0
	for _, f := range files {
		want := system.File{Path: f.Path, Owner: f.Owner, Mode: f.Mode, Content: f.Content}
		old, _ := a.fs.ReadFile(f.Path)
		d, err := a.fs.Write(want)
		if err != nil {
			a.log.printf("check: %v", err)
			continue
		}
		if !d.Changed() {
			continue
		}
		fixed++
		a.log.printf("check: %s: put back (%s)%s", f.Path, d, describeLines(old, f.Content))
	}
	if fixed == 0 {
		a.log.printf("check: the bridge's files are as applied")
	}
	return nil
}

// describeLines names the settings added to and missing from a config file
// by their keys, never their values (which may be secrets).
func describeLines(have, want []byte) string {
	added := lineKeys(have, want)
	missing := lineKeys(want, have)
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "removed "+strings.Join(added, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "restored "+strings.Join(missing, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// lineKeys lists the keys of the lines of a that b lacks.
func lineKeys(a, b []byte) []string {
	inB := map[string]bool{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		inB[string(line)] = true
	}
	seen := map[string]bool{}
	var keys []string
	for _, line := range bytes.Split(a, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || inB[string(line)] {
			continue
		}
		k := lineKey(s)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// lineKey is what a line sets: the text before '=' or ':' (properties,
// shell, HOCON), a comment marker, or a brace.
func lineKey(s string) string {
	if s[0] == '#' || s[0] == '!' {
		return "a comment"
	}
	if i := strings.IndexAny(s, "=:{"); i > 0 {
		return strings.TrimSpace(s[:i])
	}
	if strings.Trim(s, "{}[] ") == "" {
		return s
	}
	return "a line" // a bare value: never shown
}
