package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// catalog finds a role's images by either id and their targets.
type catalog struct {
	pkg    string
	byID   map[string]regapi.Image // artifact and build ids of every image
	newest map[lineKey]regapi.Image
	arches map[string]bool // of the role's images
	role   string
}

// lineKey is what an image may be replaced within: the same architecture
// and OS family.
type lineKey struct{ arch, family string }

func newCatalog(imgs []regapi.Image, role, pkg string) *catalog {
	c := &catalog{pkg: pkg, role: role, byID: map[string]regapi.Image{}, newest: map[lineKey]regapi.Image{}, arches: map[string]bool{}}
	for _, img := range imgs {
		c.byID[img.ArtifactID] = img
		if img.BuildID != "" {
			if _, ok := c.byID[img.BuildID]; !ok { // copies of one bake are alike
				c.byID[img.BuildID] = img
			}
		}
		if img.Role != role {
			continue
		}
		c.arches[img.Arch] = true
		k := lineKey{img.Arch, family(img.OS)}
		if cur, ok := c.newest[k]; !ok || img.Built.After(cur.Built) || img.Built.Equal(cur.Built) && img.ArtifactID > cur.ArtifactID {
			c.newest[k] = img
		}
	}
	return c
}

// target returns the image a node runs and the newest of its line, or why
// the node cannot be placed.
func (c *catalog) target(imageID string) (from, to regapi.Image, why string) {
	if imageID == "" {
		return from, to, "no image recorded for this node (issued without --image-id, and its agent sent no image stamp)"
	}
	from, ok := c.byID[imageID]
	if !ok {
		return from, to, fmt.Sprintf("image %s is not recorded (record it with the jitsi-registry post-processor)", imageID)
	}
	if from.Role != c.role {
		return from, to, fmt.Sprintf("image %s is a %s image, not a %s one", imageID, from.Role, c.role)
	}
	// The candidates: the newest image of its line; for an image recorded
	// before images carried their architecture, also of the line of the
	// role's one architecture (if it has several, the line is unclear).
	lines := []lineKey{{from.Arch, family(from.OS)}}
	if from.Arch == "" {
		var known []string
		for a := range c.arches {
			if a != "" {
				known = append(known, a)
			}
		}
		switch len(known) {
		case 0:
		case 1:
			lines = append(lines, lineKey{known[0], family(from.OS)})
		default:
			slices.Sort(known)
			return from, to, fmt.Sprintf("image %s records no architecture and %s images exist for %s: record it again with its arch",
				imageID, c.role, strings.Join(known, " and "))
		}
	}
	to = from
	for _, k := range lines {
		if cand, ok := c.newest[k]; ok && cand.Built.After(to.Built) {
			to = cand
		}
	}
	return from, to, ""
}

func (c *catalog) ref(img regapi.Image) ImageRef {
	return ImageRef{ArtifactID: img.ArtifactID, BuildID: img.BuildID, OS: img.OS, Arch: img.Arch, Version: img.Versions[c.pkg], Built: img.Built}
}

// family is an OS name's distribution: "debian" of "debian-12".
func family(os string) string {
	if i := strings.LastIndexByte(os, '-'); i > 0 {
		return os[:i]
	}
	return os
}

// StaleImages returns the artifact and build ids of the images that have
// a newer image in their line (the same role, architecture and OS family):
// nodes booted from them are due for replacement.
func StaleImages(imgs []regapi.Image) []string {
	cats := map[string]*catalog{}
	var out []string
	for _, img := range imgs {
		c, ok := cats[img.Role]
		if !ok {
			c = newCatalog(imgs, img.Role, "")
			cats[img.Role] = c
		}
		from, to, why := c.target(img.ArtifactID)
		if why != "" || !to.Built.After(from.Built) {
			continue
		}
		out = append(out, img.ArtifactID)
		if img.BuildID != "" {
			out = append(out, img.BuildID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
