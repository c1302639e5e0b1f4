package jitsi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Generation is a generation of Jitsi's packages, told apart by the
// jitsi-videobridge2 version. Every role image holds one: a bridge installs
// it, and a JMS caches it because jitsi-meet depends on one exact version of
// it (and of jicofo, jitsi-meet-web, jitsi-meet-web-config and
// jitsi-meet-prosody), so the bridge's version is the whole image's.
type Generation int

const (
	// Current is jitsi-videobridge2 2.3 and later (2023 on): OpenJDK 17 or
	// 21, prosody 0.12 or newer on a JMS, the modern config format
	// (jvb.conf). The repository's newest is current.
	Current Generation = iota + 1
	// Legacy is jitsi-videobridge2 before 2.3: the 2020-era packages of the
	// seed procedure (2.1-…, Jitsi stables of 2020–2021), which pre-depend on
	// the openjdk-8-jre-headless or openjdk-11-jre-headless package and take
	// the legacy config format (sip-communicator.properties).
	Legacy
)

// String names the generation in messages and docs.
func (g Generation) String() string {
	switch g {
	case Current:
		return "current"
	case Legacy:
		return "2020-era"
	}
	return fmt.Sprintf("Generation(%d)", int(g))
}

// CurrentFrom is the first jitsi-videobridge2 upstream version of Current.
const CurrentFrom = "2.3"

// BridgeGeneration tells a jitsi-videobridge2 Debian version's generation;
// "" (nothing pinned: the repository's newest) is Current. ok is false for
// a version it cannot read (not major.minor-…).
func BridgeGeneration(version string) (g Generation, ok bool) {
	if version == "" {
		return Current, true
	}
	if _, v, found := strings.Cut(version, ":"); found {
		version = v // the epoch
	}
	upstream, _, _ := strings.Cut(version, "-")
	major, minor, ok := majorMinor(upstream)
	if !ok {
		return 0, false
	}
	if major > 2 || major == 2 && minor >= 3 {
		return Current, true
	}
	return Legacy, true
}

// ImageGeneration is the generation of an image of role baked with versions
// (the provisioner's `versions`): its jitsi-videobridge2's.
func ImageGeneration(versions map[string]string) (Generation, bool) {
	return BridgeGeneration(versions[PkgJVB])
}

// Runs reports whether Jitsi packages of generation g install on o.
func (o OS) Runs(g Generation) bool { return slices.Contains(o.Generations, g) }

// CheckImage says whether an image of role with versions can install on o:
// nil, or why not and what to do instead. A version it cannot read is let
// through (apt has the last word).
func CheckImage(o OS, role node.Role, versions map[string]string) error {
	g, ok := ImageGeneration(versions)
	if !ok || o.Runs(g) {
		return nil
	}
	what := fmt.Sprintf("jitsi-videobridge2 %s", versions[PkgJVB])
	if versions[PkgJVB] == "" {
		what = "the repository's newest Jitsi (versions pins no jitsi-videobridge2)"
	}
	switch g {
	case Current:
		return fmt.Errorf("%s runs only 2020-era Jitsi (jitsi-videobridge2 before %s, legacy config format): %s is current Jitsi, "+
			"which is built for Debian 11+ and Ubuntu 22.04+ (OpenJDK 17/21; a JMS needs prosody 0.12+, %s has %s); "+
			"pin a 2020-era version in `versions`, e.g. jitsi-videobridge2 = \"2.1-…\"%s, or bake a newer OS",
			o, CurrentFrom, what, o, o.Prosody, jmsPinsHint(role))
	default:
		return fmt.Errorf("%s cannot install 2020-era Jitsi: %s pre-depends on the openjdk-8-jre-headless or openjdk-11-jre-headless package, "+
			"which %s does not have; leave jitsi-videobridge2 out of `versions` (or pin %s or later), or bake on %s",
			o, what, o, CurrentFrom, strings.Join(releasesRunning(Legacy), ", "))
	}
}

func jmsPinsHint(role node.Role) string {
	if role != node.RoleJMS {
		return ""
	}
	return " with jitsi-meet and the rest of its release (apt-cache show jitsi-meet=VERSION lists them)"
}

// releasesRunning names the supported releases that run g.
func releasesRunning(g Generation) []string {
	var out []string
	for _, o := range SupportedOS {
		if o.Runs(g) {
			out = append(out, o.String())
		}
	}
	return out
}

// ProsodyNote is what a JMS image on o should be told about prosody: a
// current JMS needs prosody 0.12 or newer, which some releases do not have
// themselves. Empty when nothing needs saying.
func ProsodyNote(o OS, role node.Role, versions map[string]string) string {
	major, minor, ok := majorMinor(o.Prosody)
	if role != node.RoleJMS || !ok || major > 0 || minor >= 12 || !o.Runs(Current) {
		return ""
	}
	if g, ok := ImageGeneration(versions); !ok || g != Current {
		return ""
	}
	return fmt.Sprintf("%s's own prosody is %s but current jitsi-meet-prosody needs 0.12 or newer: the base image must "+
		"already carry a newer prosody's repository (prosody.im's packages, or backports), or the install step fails", o, o.Prosody)
}

// RetiredOS are releases the provisioner once listed and no longer bakes,
// each with why: DetectOS says so instead of "not supported".
var RetiredOS = []RetiredRelease{
	{OS: OS{ID: "debian", VersionID: "10", Codename: "buster"},
		Why: "its packages left Debian's mirror (only archive.debian.org keeps them) after its LTS ended in 2024-06, " +
			"and it runs only 2020-era Jitsi; bake on debian 11 or newer"},
}

// RetiredRelease is a release no longer baked, and why.
type RetiredRelease struct {
	OS
	Why string
}

// LookupRetired finds a retired release by os-release ID and VERSION_ID.
func LookupRetired(id, versionID string) (RetiredRelease, bool) {
	for _, r := range RetiredOS {
		if r.ID == id && r.VersionID == versionID {
			return r, true
		}
	}
	return RetiredRelease{}, false
}

// majorMinor reads the "MAJOR.MINOR" that starts a version ("2.1", "0.12.4",
// "13.0+dfsg").
func majorMinor(v string) (major, minor int, ok bool) {
	majorS, rest, _ := strings.Cut(v, ".")
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		rest = rest[:end]
	}
	major, err1 := strconv.Atoi(majorS)
	minor, err2 := strconv.Atoi(rest)
	return major, minor, err1 == nil && err2 == nil
}
