package httpapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/upgrade"
)

// What the fleet page shows, built from a few aggregate reads: counts per
// state, never a row per node beyond one page of the nodes that need
// attention and the waves of one shard's upgrade plan.

const (
	// attentionPage is how many nodes that need attention a page lists.
	attentionPage = 50
	// wavesShown is how many waves of the plan the page lists, stepsShown
	// how many bridges of each.
	wavesShown = 20
	stepsShown = 20
	// pageRefresh is how often the page reloads itself (meta refresh).
	pageRefresh = 30
)

// liveStates are the states the tables count, in lifecycle order.
var liveStates = []regapi.State{regapi.StatePending, regapi.StateIssued, regapi.StateActive, regapi.StateFailed, regapi.StateDraining}

type fleetView struct {
	Now     time.Time
	Refresh int
	Health  regapi.Health
	States  []regapi.State
	Totals  map[regapi.State]int
	Retired int
	Stale   int
	Shards  []shardRow
	Groups  []regapi.Group
	Images  []imageRow
	// Attention is one page of the nodes that need attention.
	Attention      []attentionRow
	AttentionTotal int
	After          int64
	NextAfter      int64
	NextStale      bool   // the next page goes on in the stale-image list
	Shard          string // the page's shard filter ("" all)
	// The upgrade view: the plan of PlanShard.
	PlanShard string
	Plan      *upgrade.Plan
	PlanErr   string
	Waves     []waveRow
	MoreWaves int
	Keep      string
}

type shardRow struct {
	FQDN    string
	Created time.Time
	Counts  map[regapi.State]int
	Stale   int
	Groups  int
}

type imageRow struct {
	regapi.Image
	Version string
	Nodes   int
	Stale   bool
}

// waveRow is a wave of the plan on one line.
type waveRow struct {
	upgrade.Wave
	Bridges       []string // "nickname (state)", at most stepsShown
	More          int
	From          []string // the distinct images replaced
	To            string
	VersionChange bool
	OSChange      bool
}

func newWaveRow(w upgrade.Wave) waveRow {
	r := waveRow{Wave: w, More: max(len(w.Steps)-stepsShown, 0)}
	seen := map[string]bool{}
	for i, st := range w.Steps {
		if i < stepsShown {
			r.Bridges = append(r.Bridges, st.Nickname+" ("+string(st.State)+")")
		}
		from := st.From.ArtifactID + " " + st.From.Version
		if !seen[from] {
			seen[from] = true
			r.From = append(r.From, from)
		}
		r.To = st.To.ArtifactID + " " + st.To.Version
		r.VersionChange = r.VersionChange || st.VersionChange
		r.OSChange = r.OSChange || st.OSChange
	}
	return r
}

type attentionRow struct {
	regapi.Node
	Why   string
	Age   string
	Image string // its artifact id and version when recorded, else its id
}

// pageQuery is what the page's URL may ask.
type pageQuery struct {
	shard string
	// after and stalePhase are the attention list's cursor.
	after      int64
	stalePhase bool
	keep       int
}

func (s *Server) buildFleetView(ctx context.Context, q pageQuery) (fleetView, error) {
	v := fleetView{Now: s.cfg.Now().UTC(), Refresh: pageRefresh, States: liveStates, Totals: map[regapi.State]int{},
		After: q.after, Shard: q.shard}
	if q.keep != upgrade.KeepDefault {
		v.Keep = strconv.Itoa(q.keep)
	}
	v.Health = s.healthNow(ctx)
	f, err := s.store.Fleet(ctx)
	if err != nil {
		return v, err
	}
	stale := upgrade.StaleImages(f.Images)
	isStale := map[string]bool{}
	for _, id := range stale {
		isStale[id] = true
	}
	shards := map[string]*shardRow{}
	for _, sh := range f.Shards {
		shards[sh.FQDN] = &shardRow{FQDN: sh.FQDN, Created: sh.Created, Counts: map[regapi.State]int{}}
	}
	onImage := map[string]int{}
	imageLabel := map[string]string{}
	for _, img := range f.Images {
		label := img.ArtifactID + " " + imageVersion(img)
		imageLabel[img.ArtifactID] = label
		if img.BuildID != "" {
			if _, ok := imageLabel[img.BuildID]; !ok {
				imageLabel[img.BuildID] = label
			}
		}
	}
	for _, c := range f.Counts {
		row := shards[c.Shard]
		if row == nil {
			continue
		}
		if c.State == regapi.StateRetired {
			if q.shard == "" || c.Shard == q.shard {
				v.Retired += c.Nodes
			}
			continue
		}
		row.Counts[c.State] += c.Nodes
		onImage[c.ImageID] += c.Nodes
		stale := isStale[c.ImageID] && c.State != regapi.StatePending
		if stale {
			row.Stale += c.Nodes
		}
		if q.shard != "" && c.Shard != q.shard {
			continue // the tiles and the attention count follow the filter
		}
		v.Totals[c.State] += c.Nodes
		if stale {
			v.Stale += c.Nodes
		}
		if stale || c.State == regapi.StateFailed || c.State == regapi.StateDraining {
			v.AttentionTotal += c.Nodes
		}
	}
	for _, g := range f.Groups {
		if g.State == regapi.GroupActive {
			if row := shards[g.Shard]; row != nil {
				row.Groups++
			}
			v.Groups = append(v.Groups, g)
		}
	}
	for _, sh := range f.Shards {
		v.Shards = append(v.Shards, *shards[sh.FQDN])
	}
	for i := len(f.Images) - 1; i >= 0; i-- { // newest first
		img := f.Images[i]
		row := imageRow{Image: img, Version: imageVersion(img), Nodes: onImage[img.ArtifactID], Stale: isStale[img.ArtifactID]}
		if img.BuildID != "" && img.BuildID != img.ArtifactID {
			row.Nodes += onImage[img.BuildID]
		}
		v.Images = append(v.Images, row)
	}

	// Failed and draining nodes first, then those on a stale image; the
	// page's cursor says which list and where in it.
	var nodes []regapi.Node
	stalePhase, after := q.stalePhase, q.after
	for len(nodes) <= attentionPage {
		page, err := s.store.Attention(ctx, regapi.AttentionQuery{Shard: q.shard, Stale: stalePhase, StaleImages: stale, AfterID: after,
			Limit: attentionPage + 1 - len(nodes)})
		if err != nil {
			return v, err
		}
		nodes = append(nodes, page...)
		if len(nodes) > attentionPage || stalePhase {
			break
		}
		stalePhase, after = true, 0
	}
	if len(nodes) > attentionPage {
		nodes = nodes[:attentionPage]
		last := nodes[len(nodes)-1]
		v.NextAfter = last.ID
		v.NextStale = isStale[last.ImageID] && last.State != regapi.StateFailed && last.State != regapi.StateDraining
	}
	for _, n := range nodes {
		why := string(n.State)
		if isStale[n.ImageID] {
			if n.State == regapi.StateFailed || n.State == regapi.StateDraining {
				why += ", stale image"
			} else {
				why = "stale image"
			}
		}
		label, ok := imageLabel[n.ImageID]
		if !ok {
			label = n.ImageID
		}
		v.Attention = append(v.Attention, attentionRow{Node: n, Why: why, Age: age(v.Now.Sub(n.Updated)), Image: label})
	}

	// The upgrade view: the shard asked for, else the first with stale
	// bridges, else the first.
	v.PlanShard = q.shard
	if v.PlanShard == "" {
		for _, sh := range v.Shards {
			if sh.Stale > 0 {
				v.PlanShard = sh.FQDN
				break
			}
		}
	}
	if v.PlanShard == "" && len(v.Shards) > 0 {
		v.PlanShard = v.Shards[0].FQDN
	}
	if v.PlanShard != "" {
		live, err := s.store.LiveNodes(ctx, v.PlanShard, string(node.RoleJVB))
		if err != nil {
			return v, err
		}
		p, err := upgrade.Make(upgrade.Input{Shard: v.PlanShard, Keep: q.keep, Nodes: live, Images: f.Images})
		if err != nil {
			v.PlanErr = err.Error()
		} else {
			v.Plan = &p
			for _, w := range p.Waves[:min(len(p.Waves), wavesShown)] {
				v.Waves = append(v.Waves, newWaveRow(w))
			}
			v.MoreWaves = len(p.Waves) - len(v.Waves)
		}
	}
	return v, nil
}

// imageVersion is the version of the role's main package in img.
func imageVersion(img regapi.Image) string {
	if img.Role == string(node.RoleJVB) {
		return img.Versions[jitsi.PkgJVB]
	}
	return img.Versions[jitsi.PkgMeet]
}

// age says how long ago, coarsely.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// stateClass is the CSS class of a state's cell.
func stateClass(st regapi.State) string {
	if slices.Contains([]regapi.State{regapi.StateFailed, regapi.StateDraining, regapi.StateActive}, st) {
		return "st-" + string(st)
	}
	return ""
}
