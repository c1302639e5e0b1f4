package jitsi

import (
	"sort"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// OS is an operating system release the role images are baked on, as
// /etc/os-release names it (ID, VERSION_ID), with what the project knows of
// running Jitsi there.
type OS struct {
	ID        string // "ubuntu" or "debian"
	VersionID string // "22.04", "12"
	Codename  string // "jammy", "bookworm"
	// Generations are the Jitsi generations whose packages install there
	// (CheckImage refuses the others).
	Generations []Generation
	// Prosody is the release's own prosody (a current JMS needs 0.12+).
	Prosody string
	// Tested names, per generation, the e2e tier that boots baked images of
	// the release with it (always in that generation's config format: the
	// legacy one for 2020-era bridges, the modern one for current); a
	// generation it runs without an entry is untested.
	Tested map[Generation]string
	// Note is what else a user should know (the support matrix shows it).
	Note string
}

// String is "ID VERSION_ID", the way errors and manifests name an OS.
func (o OS) String() string { return o.ID + " " + o.VersionID }

// Ubuntu reports whether o is an Ubuntu release; their prosody and several
// Java packages live in the "universe" component, which minimal images lack.
func (o OS) Ubuntu() bool { return o.ID == "ubuntu" }

// The e2e tiers that boot baked images (e2e/README.md): the VM matrix
// (`make e2e-matrix`) bakes a bridge on every release below but 20.04 and
// boots it against a Debian 12 JMS; the VM pipeline (`make e2e`) bakes and
// boots a JMS and bridges on Debian 12.
const (
	testedMatrixBridge = "VM matrix (bridge)"
	testedMatrixJMS    = "VM matrix (bridge; JMS with a bridge logged in)"
	testedPipeline     = "VM pipeline (JMS, bridges, autoscaling group), VM JMS (nginx; apache with ufw; TURN over TLS and UDP) and VM matrix (bridge)"
)

// SupportedOS lists every release the provisioner bakes on, oldest first per
// distribution. Ubuntu 18.04 is the seed procedure's and runs only 2020-era
// Jitsi; current Jitsi is built for Debian 11+ and Ubuntu 22.04+ and needs
// OpenJDK 17/21; 2020-era bridges pre-depend on OpenJDK 8 or 11, which Debian
// 12 and 13 lack.
var SupportedOS = []OS{
	{ID: "ubuntu", VersionID: "18.04", Codename: "bionic", Generations: []Generation{Legacy}, Prosody: "0.10",
		Tested: map[Generation]string{Legacy: testedMatrixBridge}, Note: "the seed procedure's release"},
	{ID: "ubuntu", VersionID: "20.04", Codename: "focal", Generations: []Generation{Legacy, Current}, Prosody: "0.11",
		Note: "never booted: the e2e tier has no 20.04 base image; it bakes with the steps 18.04 and 22.04 take"},
	{ID: "ubuntu", VersionID: "22.04", Codename: "jammy", Generations: []Generation{Legacy, Current}, Prosody: "0.11",
		Tested: map[Generation]string{Current: testedMatrixBridge}},
	{ID: "ubuntu", VersionID: "24.04", Codename: "noble", Generations: []Generation{Legacy, Current}, Prosody: "0.12",
		Tested: map[Generation]string{Current: testedMatrixJMS}},
	{ID: "debian", VersionID: "11", Codename: "bullseye", Generations: []Generation{Legacy, Current}, Prosody: "0.11",
		Tested: map[Generation]string{Legacy: testedMatrixBridge}},
	{ID: "debian", VersionID: "12", Codename: "bookworm", Generations: []Generation{Current}, Prosody: "0.12",
		Tested: map[Generation]string{Current: testedPipeline}},
	{ID: "debian", VersionID: "13", Codename: "trixie", Generations: []Generation{Current}, Prosody: "13.0",
		Tested: map[Generation]string{Current: testedMatrixBridge}, Note: "no tier boots a JMS on it (prosody 13)"},
}

// LookupOS finds a supported release by its os-release ID and VERSION_ID.
func LookupOS(id, versionID string) (OS, bool) {
	for _, o := range SupportedOS {
		if o.ID == id && o.VersionID == versionID {
			return o, true
		}
	}
	return OS{}, false
}

// SupportedOSList is the human list of SupportedOS for error messages.
func SupportedOSList() string {
	names := make([]string, len(SupportedOS))
	for i, o := range SupportedOS {
		names[i] = o.String()
	}
	return strings.Join(names, ", ")
}

// Jitsi's apt repository, and where a baked image keeps its configuration.
const (
	// DefaultAptRepoURL is Jitsi's public repository.
	DefaultAptRepoURL = "https://download.jitsi.org"
	// DefaultAptRepoDist is the rest of the sources.list line after the URL:
	// the public repository is a flat one ("stable/", no components).
	DefaultAptRepoDist = "stable/"
	// DefaultAptKeyURL is the ASCII-armoured signing key of the public repository.
	DefaultAptKeyURL = "https://download.jitsi.org/jitsi-key.gpg.key"
	// AptKeyring is the binary keyring the sources entry names with signed-by
	// (apt-key is deprecated since Ubuntu 22.04 / Debian 11).
	AptKeyring = "/usr/share/keyrings/jitsi-keyring.gpg"
	// AptSourceFile holds the one `deb [signed-by=…] URL DIST` line.
	AptSourceFile = "/etc/apt/sources.list.d/jitsi.list"
	// AptPinFile pins every Jitsi package to the exact version the image was
	// baked with, so first boot and later upgrades cannot drift from what the
	// registry records.
	AptPinFile = "/etc/apt/preferences.d/jitsi-pin"
	// AptAuthFile holds repository credentials during the bake only; the
	// image cleaner removes it.
	AptAuthFile = "/etc/apt/auth.conf.d/jitsi.conf"
)

// Further packages of Jitsi's repository.
const (
	PkgMeetWeb       = "jitsi-meet-web"
	PkgMeetWebConfig = "jitsi-meet-web-config"
	PkgMeetTurn      = "jitsi-meet-turnserver"
)

// RepoPackages are the packages of Jitsi's repository whose versions an image
// records and may pin, sorted.
var RepoPackages = []string{
	PkgJicofo, PkgMeet, PkgMeetProsody, PkgMeetTurn, PkgMeetWeb, PkgMeetWebConfig, PkgJVB,
}

// IsRepoPackage reports whether name is one of RepoPackages.
func IsRepoPackage(name string) bool {
	i := sort.SearchStrings(RepoPackages, name)
	return i < len(RepoPackages) && RepoPackages[i] == name
}

// BakePlaceholderFQDN answers jitsi-videobridge/jvb-hostname while an image is
// baked. The .invalid TLD (RFC 2606) never resolves, so a bridge booted
// without user-data fails loudly instead of talking to "localhost".
const BakePlaceholderFQDN = "jitsi-node-unconfigured.invalid"

// Bake describes what baking a role's image does with packages and services.
type Bake struct {
	// Before are installed first: the JMS's web server (jitsi-meet-web-config
	// configures the one it finds) and, with Apache, coturn.
	Before []string
	// Install are installed and held at bake.
	Install []string
	// Cached are only downloaded into apt's cache at bake, with every
	// dependency they have installed: their postinsts bake the FQDN and
	// secrets in, so first boot installs them once debconf holds the node's.
	Cached []string
	// Disable are stopped and disabled at bake; first boot enables them.
	Disable []string
}

// RoleBake is the bake of each role; w is a JMS's web server (empty:
// DefaultWebServer) and must be empty for a bridge.
func RoleBake(r node.Role, w WebServer) (Bake, bool) {
	switch r {
	case node.RoleJVB:
		if w != "" {
			return Bake{}, false
		}
		return Bake{Install: []string{PkgJVB}, Disable: []string{SvcJVB}}, true
	case node.RoleJMS:
		if w == "" {
			w = DefaultWebServer
		}
		if !w.Valid() {
			return Bake{}, false
		}
		cached := []string{PkgMeet, PkgMeetWeb, PkgMeetWebConfig, PkgMeetProsody, PkgJicofo, PkgJVB}
		before := []string{w.Package()}
		if w == WebNginx {
			// jitsi-meet only recommends the TURN package: name it. Its
			// dependency coturn is installed at bake with the others.
			cached = append(cached, PkgMeetTurn)
		} else {
			// No jitsi-meet-turnserver with Apache (it Breaks apache2 up to
			// 2022-04): the agent configures coturn itself.
			before = append(before, PkgCoturn)
		}
		return Bake{
			Before: before,
			Cached: cached,
			// The node agent enables them at first boot (JMSServices); a
			// local bridge only when asked.
			Disable: []string{SvcProsody, w.Service(), SvcCoturn},
		}, true
	}
	return Bake{}, false
}

// Packages are all the Jitsi packages of the bake (Install then Cached).
func (b Bake) Packages() []string {
	return append(append([]string(nil), b.Install...), b.Cached...)
}
