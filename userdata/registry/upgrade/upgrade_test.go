package upgrade

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

const shard = "meet.example.org"

var day = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func img(id, build, os, arch, version string, built int) regapi.Image {
	return regapi.Image{ArtifactID: id, BuildID: build, Role: "jvb", OS: os, Arch: arch,
		Versions: map[string]string{"jitsi-videobridge2": version}, Built: day.AddDate(0, 0, built)}
}

var (
	oldImg   = img("ami-old", "b-old", "debian-12", "amd64", "2.3-100", 0)
	newImg   = img("ami-new", "b-new", "debian-12", "amd64", "2.3-174", 10)
	rebuilt  = img("ami-rebuilt", "b-rebuilt", "debian-12", "amd64", "2.3-100", 5) // same bridge, newer OS packages
	armOld   = img("ami-arm-old", "b-arm-old", "debian-12", "arm64", "2.3-100", 0)
	deb11    = img("ami-deb11", "b-deb11", "debian-11", "amd64", "2.3-90", -10)
	ubuntu   = img("ami-ubuntu", "b-ubuntu", "ubuntu-22.04", "amd64", "2.3-200", 20)
	noArch   = img("ami-noarch", "", "debian-12", "", "2.3-90", -5)
	jmsImage = regapi.Image{ArtifactID: "ami-jms", Role: "jms", OS: "debian-12", Arch: "amd64", Built: day.AddDate(0, 0, 30)}
)

// fleet makes nodes from "nickname:state:group:image" specs.
func fleet(specs ...string) []regapi.Node {
	var out []regapi.Node
	for i, s := range specs {
		f := strings.Split(s, ":")
		out = append(out, regapi.Node{ID: int64(i + 1), Shard: shard, Role: "jvb", Nickname: f[0], State: regapi.State(f[1]), Group: f[2], ImageID: f[3]})
	}
	return out
}

// waves renders a plan's waves as "group[nick nick]" ("-" for issued
// nodes, "free:" for free waves).
func waves(p Plan) []string {
	var out []string
	for _, w := range p.Waves {
		var nicks []string
		for _, s := range w.Steps {
			nicks = append(nicks, s.Nickname)
		}
		g := w.Group
		if g == "" {
			g = "-"
		}
		if w.Free {
			g = "free:" + g
		}
		out = append(out, g+"["+strings.Join(nicks, " ")+"]")
	}
	return out
}

func TestMake(t *testing.T) {
	images := []regapi.Image{oldImg, newImg, rebuilt, armOld, deb11, jmsImage}
	cases := []struct {
		name              string
		keep              int
		images            []regapi.Image
		nodes             []regapi.Node
		waves             []string
		upToDate, active  int
		keepGot           int
		unknown, draining []string
		notes             []string
		err               string
	}{
		{name: "no newer image", keep: KeepDefault,
			nodes:    fleet("jvb-001:active:edge:ami-new", "jvb-002:active:edge:b-new", "jvb-003:failed::ami-new"),
			upToDate: 3, active: 2, keepGot: 1, waves: nil},
		{name: "one group, default keep: one at a time, oldest first", keep: KeepDefault,
			nodes:  fleet("jvb-001:active:edge:ami-old", "jvb-002:active:edge:b-rebuilt", "jvb-003:active:edge:ami-new"),
			active: 3, keepGot: 2, upToDate: 1, waves: []string{"edge[jvb-001]", "edge[jvb-002]"}},
		{name: "groups one at a time, issued nodes last, never mixed", keep: 2,
			nodes: fleet("jvb-001:active::ami-old", "jvb-002:active:west:ami-old", "jvb-003:active:east:ami-old",
				"jvb-004:active:west:ami-old", "jvb-005:active:east:ami-old", "jvb-006:active:east:ami-old", "jvb-007:active::ami-old"),
			active: 7, keepGot: 2,
			waves: []string{"east[jvb-003 jvb-005 jvb-006]", "west[jvb-002 jvb-004]", "-[jvb-001 jvb-007]"}},
		{name: "a shard with one bridge: default keep drains it, with a note", keep: KeepDefault,
			nodes: fleet("jvb-001:active:edge:ami-old"), active: 1, keepGot: 0, waves: []string{"edge[jvb-001]"},
			notes: []string{"shard meet.example.org has one active bridge: while it drains the shard has none"}},
		{name: "a shard with one bridge and keep 1", keep: 1, nodes: fleet("jvb-001:active:edge:ami-old"),
			err: "keep 1: shard meet.example.org has 1 active bridge(s), so no active bridge could be drained: lower keep, or add bridges on the new image first"},
		{name: "keep larger than the fleet", keep: 5, nodes: fleet("jvb-001:active:edge:ami-old", "jvb-002:active:edge:ami-new"),
			err: "keep 5: shard meet.example.org has only 2 active jvb bridge(s): give at most 2"},
		{name: "negative keep", keep: -2, nodes: fleet("jvb-001:active:edge:ami-old"), err: "keep -2: give 0 or more"},
		{name: "keep equal to active is fine when only free bridges are stale", keep: 1,
			nodes:  fleet("jvb-001:active:edge:ami-new", "jvb-002:failed:edge:ami-old", "jvb-003:issued::ami-old"),
			active: 1, keepGot: 1, upToDate: 1, waves: []string{"free:edge[jvb-002]", "free:-[jvb-003]"}},
		{name: "failed and never-reported first, draining left alone", keep: KeepDefault,
			nodes: fleet("jvb-001:active:edge:ami-old", "jvb-002:failed:edge:ami-old", "jvb-003:draining:edge:ami-old",
				"jvb-004:active:edge:ami-new", "jvb-005:issued:edge:ami-old", "jvb-006:retired:edge:ami-old", "jvb-007:pending:edge:ami-old"),
			active: 2, keepGot: 1, upToDate: 1, draining: []string{"jvb-003: already draining"},
			waves: []string{"free:edge[jvb-002 jvb-005]", "edge[jvb-001]"}},
		{name: "unknown images are listed, not replaced", keep: KeepDefault,
			nodes:  fleet("jvb-001:active:edge:", "jvb-002:active:edge:ami-gone", "jvb-003:active:edge:ami-jms", "jvb-004:active:edge:ami-old"),
			active: 4, keepGot: 3, waves: []string{"edge[jvb-004]"},
			unknown: []string{"jvb-001: no image recorded", "jvb-002: image ami-gone is not recorded", "jvb-003: image ami-jms is a jms image"},
			notes:   []string{"3 bridge(s) run an image the plan cannot place"}},
		{name: "arch: an arm64 bridge has no newer arm64 image", keep: KeepDefault,
			nodes:  fleet("jvb-001:active:edge:ami-arm-old", "jvb-002:active:edge:ami-old", "jvb-003:active:edge:ami-new"),
			active: 3, keepGot: 2, upToDate: 2, waves: []string{"edge[jvb-002]"}},
		{name: "OS: a newer release of the family is a target (flagged), another family never", keep: 0,
			images: []regapi.Image{deb11, newImg, ubuntu},
			nodes:  fleet("jvb-001:active:edge:ami-deb11", "jvb-002:active:edge:ami-new", "jvb-003:active:edge:ami-ubuntu"),
			active: 3, keepGot: 0, upToDate: 2, waves: []string{"edge[jvb-001]"},
			notes: []string{"the OS changes (debian-11 → debian-12)"}},
		{name: "an image without arch: the role's one arch", keep: KeepDefault,
			images: []regapi.Image{noArch, newImg},
			nodes:  fleet("jvb-001:active:edge:ami-noarch", "jvb-002:active:edge:ami-new"),
			active: 2, keepGot: 1, upToDate: 1, waves: []string{"edge[jvb-001]"}},
		{name: "an image without arch while the role has two", keep: KeepDefault,
			images: []regapi.Image{noArch, newImg, armOld},
			nodes:  fleet("jvb-001:active:edge:ami-noarch", "jvb-002:active:edge:ami-new"),
			active: 2, keepGot: 1, upToDate: 1,
			unknown: []string{"jvb-001: image ami-noarch records no architecture and jvb images exist for amd64 and arm64"},
			notes:   []string{"1 bridge(s) run an image the plan cannot place"}},
		{name: "other shards and roles are ignored", keep: KeepDefault,
			nodes: append(fleet("jvb-001:active:edge:ami-old", "jvb-002:active:edge:ami-new"),
				regapi.Node{ID: 9, Shard: "other.example.org", Role: "jvb", Nickname: "jvb-001", State: regapi.StateActive, ImageID: "ami-old"},
				regapi.Node{ID: 10, Shard: shard, Role: "jms", Nickname: "jms", State: regapi.StateActive, ImageID: "ami-jms"}),
			active: 2, keepGot: 1, upToDate: 1, waves: []string{"edge[jvb-001]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imgs := tc.images
			if imgs == nil {
				imgs = images
			}
			p, err := Make(Input{Shard: shard, Keep: tc.keep, Nodes: tc.nodes, Images: imgs})
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrBadInput saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := waves(p); !slices.Equal(got, tc.waves) {
				t.Errorf("waves %q, want %q", got, tc.waves)
			}
			if p.UpToDate != tc.upToDate || p.Active != tc.active || p.Keep != tc.keepGot {
				t.Errorf("up to date %d active %d keep %d, want %d %d %d", p.UpToDate, p.Active, p.Keep, tc.upToDate, tc.active, tc.keepGot)
			}
			checkSkipped(t, "unknown", p.Unknown, tc.unknown)
			checkSkipped(t, "draining", p.Draining, tc.draining)
			if len(p.Notes) != len(tc.notes) {
				t.Errorf("notes %q, want %d like %q", p.Notes, len(tc.notes), tc.notes)
			}
			for i := range min(len(p.Notes), len(tc.notes)) {
				if !strings.Contains(p.Notes[i], tc.notes[i]) {
					t.Errorf("note %q, want %q", p.Notes[i], tc.notes[i])
				}
			}
			checkInvariants(t, p)
		})
	}
}

func checkSkipped(t *testing.T, what string, got []Skipped, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s %+v, want %q", what, got, want)
		return
	}
	for i, s := range got {
		if !strings.HasPrefix(s.Nickname+": "+s.Why, want[i]) {
			t.Errorf("%s[%d] = %s: %s, want %q", what, i, s.Nickname, s.Why, want[i])
		}
	}
}

// checkInvariants: every wave is of one group, waves that drain active
// bridges keep at least Keep active, free waves come first, each stale
// bridge is replaced once and by a newer image of its arch.
func checkInvariants(t *testing.T, p Plan) {
	t.Helper()
	seen := map[int64]bool{}
	sawBusy := false
	for i, w := range p.Waves {
		if w.Number != i+1 || len(w.Steps) == 0 {
			t.Errorf("wave %d: number %d, %d steps", i, w.Number, len(w.Steps))
		}
		if w.Free && sawBusy {
			t.Errorf("free wave %d after a wave that drains active bridges", w.Number)
		}
		if !w.Free {
			sawBusy = true
			if w.ActiveDuring < p.Keep {
				t.Errorf("wave %d leaves %d active, under keep %d", w.Number, w.ActiveDuring, p.Keep)
			}
		}
		for _, s := range w.Steps {
			if s.Group != w.Group {
				t.Errorf("wave %d (group %q) holds %s of group %q", w.Number, w.Group, s.Nickname, s.Group)
			}
			if seen[s.ID] {
				t.Errorf("%s replaced twice", s.Nickname)
			}
			seen[s.ID] = true
			if !s.To.Built.After(s.From.Built) || s.To.Arch != s.From.Arch && s.From.Arch != "" {
				t.Errorf("%s: %+v → %+v is no upgrade of its line", s.Nickname, s.From, s.To)
			}
			if (s.State == regapi.StateActive) == w.Free {
				t.Errorf("%s (%s) in a wave with free=%v", s.Nickname, s.State, w.Free)
			}
		}
	}
	if len(seen) != p.Stale {
		t.Errorf("stale %d, %d replaced", p.Stale, len(seen))
	}
}

// TestMakeSteps: a step says where a bridge goes and whether jicofo will
// keep the two apart (another bridge version).
func TestMakeSteps(t *testing.T) {
	p, err := Make(Input{Shard: shard, Keep: 0, Images: []regapi.Image{oldImg, rebuilt, newImg},
		Nodes: fleet("jvb-001:active:edge:b-old", "jvb-002:active:edge:ami-rebuilt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Waves) != 1 || len(p.Waves[0].Steps) != 2 || p.Waves[0].ActiveDuring != 0 {
		t.Fatalf("plan %+v", p)
	}
	s := p.Waves[0].Steps[0]
	if s.From.ArtifactID != "ami-old" || s.From.BuildID != "b-old" || s.To.ArtifactID != "ami-new" || s.From.Version != "2.3-100" ||
		s.To.Version != "2.3-174" || !s.VersionChange || s.OSChange {
		t.Errorf("step %+v", s)
	}
	if s := p.Waves[0].Steps[1]; s.From.Version != "2.3-100" || !s.VersionChange {
		t.Errorf("rebuilt image's step %+v", s)
	}
}

// TestMakeLargeFleet: 10 000 bridges in 10 groups, keep all but 50: each
// wave drains ≤ 50 of one group, and the plan is quick (the fleet page
// makes it on every load).
func TestMakeLargeFleet(t *testing.T) {
	var specs []string
	for i := range 10_000 {
		specs = append(specs, fmt.Sprintf("jvb-%05d:active:g%d:ami-old", i, i%10))
	}
	nodes := fleet(specs...)
	active := len(nodes)
	start := time.Now()
	p, err := Make(Input{Shard: shard, Keep: active - 50, Nodes: nodes, Images: []regapi.Image{oldImg, newImg}})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("planning 10 000 bridges took %s", el)
	}
	if len(p.Waves) != 200 || p.Stale != 10_000 {
		t.Errorf("%d waves, %d stale; want 200 of 50", len(p.Waves), p.Stale)
	}
	checkInvariants(t, p)
}

func TestStaleImages(t *testing.T) {
	got := StaleImages([]regapi.Image{oldImg, rebuilt, newImg, armOld, deb11, ubuntu, jmsImage,
		{ArtifactID: "ami-jms-old", Role: "jms", OS: "debian-12", Arch: "amd64", Built: day}})
	want := []string{"ami-deb11", "ami-jms-old", "ami-old", "ami-rebuilt", "b-deb11", "b-old", "b-rebuilt"}
	if !slices.Equal(got, want) {
		t.Errorf("stale images %q, want %q", got, want)
	}
}
