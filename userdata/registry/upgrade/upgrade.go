// Package upgrade plans the replacement of a shard's bridges that run an
// image older than their role's newest recorded image, in an order that
// keeps capacity: at least Keep active bridges in the shard at every step,
// one autoscaling group at a time. Make is a pure function of the
// registry's records (nodes, images); `packer-plugin-jitsi upgrade-plan`
// and the registry's fleet page both show its result.
//
// Which image is a bridge's target: the newest recorded image (by build
// time) of the same role, the same architecture and the same OS family
// (debian, ubuntu) as the image the bridge runs. A newer release of the
// family (debian-11 → debian-12) is a target, flagged OSChange; another
// family or architecture never is: moving a group there means new
// user-data and launch settings, which the operator decides (bake and
// record the image, re-issue the group), not a rolling replacement. A
// bridge whose image is not recorded, or records no architecture while the
// role has images for several, is listed as unknown, never replaced blind.
//
// Why the order matters: jicofo does not mix bridge versions in one
// conference (videobridge.version.release), so while a shard runs two
// releases each conference stays on bridges of its own release. Replacing
// failed and never-reported bridges first costs no capacity; then each wave
// drains at most Active−Keep bridges of one group, and the next wave waits
// until their replacements are active, so both releases keep bridges for
// the conferences they carry and the shard never drops under Keep.
package upgrade

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// KeepDefault asks for the default Keep: all active bridges but one.
const KeepDefault = -1

// ErrBadInput marks a plan that cannot be made from the operator's
// choices (Keep); the message says which and how to fix it.
var ErrBadInput = errors.New("cannot plan")

// Input is what a plan is made from.
type Input struct {
	// Shard is the JMS FQDN whose bridges are planned (required).
	Shard string
	// Role is the nodes' role (default node.RoleJVB); Package is the
	// package whose version a step reports (default the bridge's).
	Role, Package string
	// Keep is how many active bridges the shard keeps at every step;
	// KeepDefault: all but one.
	Keep int
	// Nodes are the shard's nodes (any state; those of other shards and
	// roles, retired and pending ones are ignored).
	Nodes []regapi.Node
	// Images are the recorded images (all roles).
	Images []regapi.Image
}

// ImageRef is an image as a plan names it.
type ImageRef struct {
	ArtifactID string    `json:"artifact_id"`
	BuildID    string    `json:"build_id,omitempty"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch,omitempty"`
	Version    string    `json:"version,omitempty"` // of Input.Package
	Built      time.Time `json:"built"`
}

// Step replaces one bridge.
type Step struct {
	ID       int64        `json:"id"`
	Nickname string       `json:"nickname"`
	Group    string       `json:"group,omitempty"` // "" for an issued node
	State    regapi.State `json:"state"`
	From     ImageRef     `json:"from"`
	To       ImageRef     `json:"to"`
	// VersionChange: the package version differs, so jicofo will not put
	// the replacement in the same conferences as the old bridges.
	VersionChange bool `json:"version_change,omitempty"`
	// OSChange: the replacement runs a newer release of the OS family.
	OSChange bool `json:"os_change,omitempty"`
}

// Wave is a set of bridges of one group replaced together. The next wave
// starts once this wave's replacements are active.
type Wave struct {
	Number int    `json:"number"`
	Group  string `json:"group,omitempty"` // "" for issued nodes
	// Free: the wave's bridges serve nothing (failed, or never reported):
	// replacing them costs no capacity.
	Free  bool   `json:"free,omitempty"`
	Steps []Step `json:"steps"`
	// ActiveDuring is how many bridges stay active while the wave drains.
	ActiveDuring int `json:"active_during"`
}

// Skipped is a bridge the plan does not replace, and why.
type Skipped struct {
	ID       int64        `json:"id"`
	Nickname string       `json:"nickname"`
	Group    string       `json:"group,omitempty"`
	State    regapi.State `json:"state"`
	ImageID  string       `json:"image_id,omitempty"`
	Why      string       `json:"why"`
}

// Plan is the replacement order of one shard's stale bridges.
type Plan struct {
	Shard string `json:"shard"`
	Role  string `json:"role"`
	// Keep is the floor of active bridges; Active how many there are now.
	Keep   int `json:"keep"`
	Active int `json:"active"`
	// Bridges counts the live bridges considered; UpToDate those already
	// on their target.
	Bridges  int `json:"bridges"`
	UpToDate int `json:"up_to_date"`
	// Stale counts the bridges the waves replace.
	Stale int    `json:"stale"`
	Waves []Wave `json:"waves"`
	// Draining bridges are already leaving; Unknown ones run an image the
	// plan cannot place.
	Draining []Skipped `json:"draining,omitempty"`
	Unknown  []Skipped `json:"unknown,omitempty"`
	// Notes are what the operator must know before starting.
	Notes []string `json:"notes,omitempty"`
}

// Make plans the replacement of in.Shard's stale bridges. It fails with
// ErrBadInput when Keep cannot be honoured.
func Make(in Input) (Plan, error) {
	if in.Role == "" {
		in.Role = string(node.RoleJVB)
	}
	if in.Package == "" {
		in.Package = jitsi.PkgJVB
	}
	p := Plan{Shard: in.Shard, Role: in.Role, Waves: []Wave{}}
	if in.Shard == "" {
		return p, fmt.Errorf("%w: shard: give the JMS FQDN whose bridges to plan", ErrBadInput)
	}
	if in.Keep < KeepDefault {
		return p, fmt.Errorf("%w: keep %d: give 0 or more (or leave it out: all active bridges but one)", ErrBadInput, in.Keep)
	}
	images := newCatalog(in.Images, in.Role, in.Package)
	type stale struct {
		n    regapi.Node
		step Step
	}
	var free, busy []stale
	osChanges := map[string]bool{}
	for _, n := range in.Nodes {
		if n.Shard != in.Shard || n.Role != in.Role {
			continue
		}
		switch n.State {
		case regapi.StateRetired, regapi.StatePending:
			continue
		case regapi.StateActive:
			p.Active++
		}
		p.Bridges++
		skip := Skipped{ID: n.ID, Nickname: n.Nickname, Group: n.Group, State: n.State, ImageID: n.ImageID}
		if n.State == regapi.StateDraining {
			skip.Why = "already draining"
			p.Draining = append(p.Draining, skip)
			continue
		}
		from, to, why := images.target(n.ImageID)
		if why != "" {
			skip.Why = why
			p.Unknown = append(p.Unknown, skip)
			continue
		}
		if !to.Built.After(from.Built) {
			p.UpToDate++
			continue
		}
		st := Step{ID: n.ID, Nickname: n.Nickname, Group: n.Group, State: n.State, From: images.ref(from), To: images.ref(to)}
		st.VersionChange = st.From.Version != st.To.Version
		st.OSChange = from.OS != to.OS
		if st.OSChange {
			osChanges[from.OS+" → "+to.OS] = true
		}
		if n.State == regapi.StateActive {
			busy = append(busy, stale{n, st})
		} else {
			free = append(free, stale{n, st})
		}
	}
	p.Keep = in.Keep
	if p.Keep == KeepDefault {
		p.Keep = max(p.Active-1, 0)
	}
	p.Stale = len(free) + len(busy)
	switch {
	case p.Keep > p.Active:
		return p, fmt.Errorf("%w: keep %d: shard %s has only %d active %s bridge(s): give at most %d", ErrBadInput, p.Keep, in.Shard, p.Active, in.Role, p.Active)
	case len(busy) > 0 && p.Keep == p.Active:
		return p, fmt.Errorf("%w: keep %d: shard %s has %d active bridge(s), so no active bridge could be drained: lower keep, or add bridges on the new image first (then plan again)",
			ErrBadInput, p.Keep, in.Shard, p.Active)
	}
	if len(busy) > 0 && p.Active == 1 && p.Keep == 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("shard %s has one active bridge: while it drains the shard has none; start a bridge on the new image first to avoid a gap", in.Shard))
	}
	for _, c := range slices.Sorted(maps.Keys(osChanges)) {
		p.Notes = append(p.Notes, "the OS changes ("+c+"): check that the group's user-data suits the new release before its wave")
	}
	if len(p.Unknown) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d bridge(s) run an image the plan cannot place (see unknown): record their image, or replace them by hand", len(p.Unknown)))
	}

	// Waves: free ones first, then at most Active−Keep active bridges of
	// one group at a time; groups by name, issued nodes last; oldest node
	// first within a group.
	byGroup := func(xs []stale) [][]stale {
		slices.SortStableFunc(xs, func(a, b stale) int {
			return cmp.Or(boolCmp(a.n.Group == "", b.n.Group == ""), strings.Compare(a.n.Group, b.n.Group), cmp.Compare(a.n.ID, b.n.ID))
		})
		var out [][]stale
		for i, x := range xs {
			if i == 0 || xs[i-1].n.Group != x.n.Group {
				out = append(out, nil)
			}
			out[len(out)-1] = append(out[len(out)-1], x)
		}
		return out
	}
	add := func(group []stale, isFree bool) {
		w := Wave{Number: len(p.Waves) + 1, Group: group[0].n.Group, Free: isFree, ActiveDuring: p.Active}
		for _, x := range group {
			w.Steps = append(w.Steps, x.step)
		}
		if !isFree {
			w.ActiveDuring = p.Active - len(group)
		}
		p.Waves = append(p.Waves, w)
	}
	for _, g := range byGroup(free) {
		add(g, true)
	}
	room := p.Active - p.Keep
	for _, g := range byGroup(busy) {
		for len(g) > 0 {
			k := min(room, len(g))
			add(g[:k], false)
			g = g[k:]
		}
	}
	return p, nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
