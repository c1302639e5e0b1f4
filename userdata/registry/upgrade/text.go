package upgrade

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// How tells what to do with the bridges of a wave.
func (w Wave) How() string {
	switch {
	case w.Group == "" && w.Free:
		return "issue a replacement for each (issue … --image-id with the new image), then retire the old node"
	case w.Group == "":
		return "issue a replacement for each (issue … --image-id with the new image), wait until it is active, then drain the old bridge (jitsi-node drain) and retire it"
	case w.Free:
		return "point group " + w.Group + "'s launch template at the new image, then terminate these instances: the group launches their replacements"
	}
	return "point group " + w.Group + "'s launch template at the new image, then drain these bridges (jitsi-node drain, or scale them in): the group launches their replacements; start the next wave once they are active"
}

// WriteText prints p for people.
func WriteText(w io.Writer, p Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrade plan for shard %s (%s): %d live bridge(s), %d active; keep %d active at every step\n",
		p.Shard, p.Role, p.Bridges, p.Active, p.Keep)
	fmt.Fprintf(&b, "  up to date %d, to replace %d, draining %d, unknown image %d\n", p.UpToDate, p.Stale, len(p.Draining), len(p.Unknown))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	if len(p.Waves) == 0 {
		b.WriteString("Nothing to replace: every bridge whose image is known runs its line's newest image.\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	for _, wv := range p.Waves {
		group := wv.Group
		if group == "" {
			group = "issued nodes"
		} else {
			group = "group " + group
		}
		cost := fmt.Sprintf("%d active while it drains", wv.ActiveDuring)
		if wv.Free {
			cost = "no capacity lost: these serve nothing"
		}
		fmt.Fprintf(w, "\nWave %d: %s, %d bridge(s), %s\n  %s\n", wv.Number, group, len(wv.Steps), cost, wv.How())
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range wv.Steps {
			var flags []string
			if s.VersionChange {
				flags = append(flags, "bridge version changes")
			}
			if s.OSChange {
				flags = append(flags, "OS changes")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t→ %s\t%s\n", s.Nickname, s.State, imageText(s.From), imageText(s.To), strings.Join(flags, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, list := range []struct {
		title string
		xs    []Skipped
	}{{"Draining (left alone)", p.Draining}, {"Unknown image (not replaced)", p.Unknown}} {
		if len(list.xs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", list.title)
		for _, s := range list.xs {
			fmt.Fprintf(w, "  %s (%s): %s\n", s.Nickname, s.State, s.Why)
		}
	}
	return nil
}

func imageText(r ImageRef) string {
	s := r.ArtifactID
	if r.Version != "" {
		s += " " + r.Version
	}
	return s + " (" + r.OS + " " + orDash(r.Arch) + ", " + r.Built.UTC().Format(time.DateOnly) + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
