//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

// Package jitsi is the `jitsi` Packer provisioner: it bakes a Jitsi Meet
// server (role "jms") or videobridge (role "jvb") image on Ubuntu or Debian,
// and leaves nothing in it that belongs to one node. First boot finishes the
// node from cloud-init user-data (see userdata/ and scripts/node/).
package jitsi

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// DefaultStagingDir is where the provisioner uploads its files on the machine.
const DefaultStagingDir = "/tmp/packer-jitsi"

// Config is the provisioner's configuration. Field comments are its user docs.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The role the image is baked for: `jvb` (a videobridge) or `jms` (the
	// Jitsi Meet server: web server, prosody, jicofo, coturn). Required.
	Role string `mapstructure:"role" required:"true"`
	// Web server of a `jms` image: `nginx` (the default, Jitsi's own) or
	// `apache` (the seed procedure's, e.g. for Shibboleth). It is installed
	// before the Jitsi packages, which configure the one they find. Either
	// way the JMS runs coturn, the TURN server prosody advertises to
	// clients (3478/udp, and 5349/tcp with TLS for clients behind firewalls
	// that pass only TCP): with nginx, Jitsi's `jitsi-meet-turnserver`
	// package sets it up; with Apache, which that package does not support
	// in older releases, coturn is baked in and first boot configures it.
	// First boot gives coturn and prosody a TURN secret of the node's own.
	// Not allowed for `jvb`.
	WebServer string `mapstructure:"web_server"`
	// Firewall that first boot opens the role's ports in: `ufw` adds `ufw
	// allow` rules (idempotent) when ufw is installed on the node, and
	// nothing when it is not (the agent logs it). It does not enable ufw:
	// do that yourself once SSH is allowed. Ports: `jms` 80/tcp, 443/tcp,
	// 3478/udp, 5349/tcp and 5222/tcp (see `firewall_bridge_networks`),
	// plus 10000/udp when it runs its own bridge; `jvb` 10000/udp. Empty
	// (the default): no rules.
	Firewall string `mapstructure:"firewall"`
	// With `firewall` on a `jms`: the networks (CIDR) the bridges connect
	// to prosody's port 5222 from, e.g. `["10.0.0.0/16"]`. Only they may
	// reach it. Empty: 5222 is opened to any address, and first boot logs
	// a warning (bridges log in with the secret, but the port should not
	// face the internet).
	FirewallBridgeNetworks []string `mapstructure:"firewall_bridge_networks"`
	// Base URL of the Jitsi apt repository (`https`, `http` or `file`).
	// Defaults to `https://download.jitsi.org`. Credentials go in
	// `apt_username`/`apt_password`, never in the URL (rejected). A
	// `file:///path` repository (a path on the machine being baked) is
	// written as apt's `copy:/path`, so a JMS's Jitsi packages are copied
	// into apt's cache (`file:` would use them in place and leave first boot
	// without them).
	AptRepoURL string `mapstructure:"apt_repo_url"`
	// The rest of the sources line after the URL: a flat repository's path
	// (`stable/`, the default; `unstable/`) or `SUITE COMPONENT...`.
	AptRepoDist string `mapstructure:"apt_repo_dist"`
	// Path, on the machine running Packer, of the repository's signing key
	// (ASCII-armoured or binary OpenPGP public key). It is installed as the
	// keyring `/usr/share/keyrings/jitsi-keyring.gpg` named by `signed-by`
	// (not `apt-key`, deprecated since Ubuntu 22.04 / Debian 11). A private
	// key, a damaged armour (CRC-24 mismatch) or anything else is rejected
	// by `packer validate`.
	AptKeyFile string `mapstructure:"apt_key_file"`
	// URL the machine running Packer fetches the signing key from when
	// `apt_key_file` is not set. Defaults to
	// `https://download.jitsi.org/jitsi-key.gpg.key`. Set only one of the two.
	AptKeyURL string `mapstructure:"apt_key_url"`
	// User name for a repository behind HTTP authentication.
	AptUsername string `mapstructure:"apt_username"`
	// Password for `apt_username`. Never printed or logged (it is
	// registered with Packer's log filter and passed as an uploaded file,
	// never on a command line), kept in `/etc/apt/auth.conf.d/jitsi.conf`
	// (mode 0600) during the bake only and removed before the image is
	// captured. White space is rejected: apt's `auth.conf` cannot quote it.
	AptPassword string `mapstructure:"apt_password"`
	// Exact Debian versions of Jitsi packages of the role, e.g.
	// `{ "jitsi-videobridge2" = "2.3-160-g97a1f15f-1" }`. Keys:
	// `jitsi-videobridge2` for `jvb`; `jitsi-meet`, `jitsi-meet-web`,
	// `jitsi-meet-web-config`, `jitsi-meet-prosody`, `jicofo`,
	// `jitsi-videobridge2` for `jms`, and `jitsi-meet-turnserver` for a
	// `jms` with nginx. Unlisted packages get the repository's
	// newest. Every Jitsi package of the image is pinned (priority 1001) to
	// the version it was baked with (and held when installed), whether
	// listed here or not, so first boot and later upgrades install exactly
	// what the registry records. Which Jitsi a release can run is checked
	// before anything is uploaded (see Supported releases): Ubuntu 18.04
	// needs a 2020-era `jitsi-videobridge2` (2.1-…; for a JMS, `jitsi-meet`
	// and the rest of its release too), Debian 12 and 13 refuse one.
	Versions map[string]string `mapstructure:"versions"`
	// Directory on the machine where the provisioner uploads its script and
	// files; created mode 0700 and removed afterwards. Defaults to `/tmp/packer-jitsi`.
	StagingDir string `mapstructure:"staging_directory"`
	// Path, on the machine running Packer, of the JSON manifest the
	// provisioner writes (role, OS, Jitsi package versions) for the
	// `jitsi-registry` post-processor. Defaults to
	// `jitsi-manifest-<build name>.json` in Packer's working directory.
	ManifestFile string `mapstructure:"manifest_file"`
	// Path, on the machine running Packer, of a jitsi-node agent binary to
	// install instead of the one the plugin carries for the image's
	// architecture (a development build, say). It must be a static Linux
	// ELF executable: it runs on every release the image may be. Leave it
	// unset in production, so that image and plugin are of one version.
	AgentFile string `mapstructure:"agent_file"`

	ctx interpolate.Context
	// keyData is apt_key_file's content, read and checked by Prepare.
	keyData []byte
	// agentData is agent_file's content, read and checked by Prepare.
	agentData []byte
	// image is the image config Prepare made (web server, firewall).
	image nodeconfig.Image
}

// debianVersion is Debian policy's version syntax ([epoch:]upstream[-revision]).
var debianVersion = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)

// distWord is one word of apt_repo_dist.
var distWord = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// safePath is what staging_directory may contain: it lands in remote commands.
var safePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// Prepare decodes, defaults and validates the configuration, returning every
// problem at once, each led by the attribute it is about.
func (c *Config) Prepare(raws ...interface{}) error {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         "jitsi",
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	if c.AptPassword != "" {
		packersdk.LogSecretFilter.Set(c.AptPassword)
	}
	c.setDefaults()

	var errs *packersdk.MultiError
	add := func(format string, a ...any) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf(format, a...))
	}

	switch node.Role(c.Role) {
	case node.RoleJMS, node.RoleJVB:
	case "":
		add(`role: required; set role = "jvb" or role = "jms"`)
	default:
		add(`role: %q is not a role; use "jvb" or "jms"`, c.Role)
	}

	repo, uerr := url.Parse(c.AptRepoURL)
	switch {
	case uerr != nil || repo.Host == "" && repo.Scheme != "file" || repo.Path == "" && repo.Scheme == "file":
		add("apt_repo_url: not an absolute URL; use e.g. %q", jitsi.DefaultAptRepoURL)
	case repo.User != nil:
		// Do not echo the URL: it holds a credential.
		add("apt_repo_url: must not carry credentials; use apt_username and apt_password")
	case repo.Scheme != "http" && repo.Scheme != "https" && repo.Scheme != "file":
		add("apt_repo_url: scheme %q is not supported; use https, http or file", repo.Scheme)
	case strings.ContainsAny(c.AptRepoURL, " \t\r\n[]"):
		add("apt_repo_url: must not contain white space or brackets")
	}
	if strings.TrimSpace(c.AptRepoDist) == "" || strings.ContainsAny(c.AptRepoDist, "\r\n") {
		add("apt_repo_dist: must be one line such as %q", jitsi.DefaultAptRepoDist)
	} else {
		for _, w := range strings.Fields(c.AptRepoDist) {
			if !distWord.MatchString(w) {
				add("apt_repo_dist: %q is not a suite, component or path; use e.g. %q", w, jitsi.DefaultAptRepoDist)
			}
		}
	}

	c.prepareImage(add)
	c.prepareKey(add)
	c.prepareAgent(add)
	c.prepareCredentials(add, repo)
	c.prepareVersions(add)

	if !safePath.MatchString(c.StagingDir) || strings.Contains(c.StagingDir, "..") || c.StagingDir == "/" {
		add("staging_directory: %q must be an absolute path of letters, digits, '.', '_', '-' and '/' (no '..')", c.StagingDir)
	}
	if fi, err := os.Stat(c.ManifestFile); err == nil && fi.IsDir() {
		add("manifest_file: %q is a directory; give a file path", c.ManifestFile)
	}

	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// prepareImage checks web_server and the firewall settings, and keeps
// them as the image config every node of the image reads at boot.
func (c *Config) prepareImage(add func(string, ...any)) {
	role := node.Role(c.Role)
	img := nodeconfig.Image{Version: nodeconfig.ImageVersion, Role: role}
	switch {
	case role == node.RoleJMS && c.WebServer == "":
		img.WebServer = jitsi.DefaultWebServer
	case role == node.RoleJMS && !jitsi.WebServer(c.WebServer).Valid():
		add("web_server: %q is not a web server; use one of %s", c.WebServer, jitsi.WebServerList())
	case role == node.RoleJMS:
		img.WebServer = jitsi.WebServer(c.WebServer)
	case c.WebServer != "":
		add("web_server: only a jms image has a web server; remove it from this %s build", c.Role)
	}
	switch c.Firewall {
	case "":
		if len(c.FirewallBridgeNetworks) > 0 {
			add(`firewall_bridge_networks: needs firewall = %q`, jitsi.FirewallUFW)
		}
	case jitsi.FirewallUFW:
		img.Firewall = &nodeconfig.Firewall{Tool: c.Firewall, BridgeNetworks: c.FirewallBridgeNetworks}
		if role != node.RoleJMS && len(c.FirewallBridgeNetworks) > 0 {
			add("firewall_bridge_networks: only a jms opens a port to the bridges; remove it from this %s build", c.Role)
		}
		for i, n := range c.FirewallBridgeNetworks {
			if p := nodeconfig.NetworkProblem(n); p != "" {
				add("firewall_bridge_networks[%d]: %q %s", i, n, p)
			}
		}
	default:
		add(`firewall: %q is not supported; use %q or leave it unset`, c.Firewall, jitsi.FirewallUFW)
	}
	c.image = img
}

func (c *Config) setDefaults() {
	if c.AptRepoURL == "" {
		c.AptRepoURL = jitsi.DefaultAptRepoURL
	}
	if c.AptRepoDist == "" {
		c.AptRepoDist = jitsi.DefaultAptRepoDist
	}
	if c.AptKeyFile == "" && c.AptKeyURL == "" {
		c.AptKeyURL = jitsi.DefaultAptKeyURL
	}
	if c.StagingDir == "" {
		c.StagingDir = DefaultStagingDir
	}
	c.StagingDir = strings.TrimRight(c.StagingDir, "/")
	if c.ManifestFile == "" {
		c.ManifestFile = manifest.DefaultFile(c.PackerBuildName)
	}
}

// prepareAgent reads agent_file and checks it is a static Linux executable.
func (c *Config) prepareAgent(add func(string, ...any)) {
	if c.AgentFile == "" {
		return
	}
	data, err := os.ReadFile(c.AgentFile)
	if err != nil {
		add("agent_file: cannot read %q: %v", c.AgentFile, unwrapPathError(err))
		return
	}
	if _, err := agentArch(data); err != nil {
		add("agent_file: %q: %v", c.AgentFile, err)
		return
	}
	c.agentData = data
}

func (c *Config) prepareKey(add func(string, ...any)) {
	if c.AptKeyFile != "" && c.AptKeyURL != "" {
		add("apt_key_file, apt_key_url: set only one of them")
		return
	}
	if c.AptKeyFile != "" {
		data, err := os.ReadFile(c.AptKeyFile)
		if err != nil {
			add("apt_key_file: cannot read %q: %v", c.AptKeyFile, unwrapPathError(err))
			return
		}
		if _, err := Keyring(data); err != nil {
			add("apt_key_file: %q: %v", c.AptKeyFile, err)
			return
		}
		c.keyData = data
		return
	}
	u, err := url.Parse(c.AptKeyURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("apt_key_url: %q is not an http(s) URL; use e.g. %q or set apt_key_file", c.AptKeyURL, jitsi.DefaultAptKeyURL)
	}
}

func (c *Config) prepareCredentials(add func(string, ...any), repo *url.URL) {
	if c.AptUsername == "" && c.AptPassword == "" {
		return
	}
	if c.AptUsername == "" || c.AptPassword == "" {
		add("apt_username, apt_password: set both or neither")
	}
	if strings.ContainsFunc(c.AptUsername, isSpaceOrControl) {
		add("apt_username: must not contain white space (apt's auth.conf cannot quote it)")
	}
	if strings.ContainsFunc(c.AptPassword, isSpaceOrControl) {
		add("apt_password: must not contain white space or control characters (apt's auth.conf cannot quote it)")
	}
	if repo != nil && repo.Scheme == "file" {
		add("apt_username, apt_password: a file:// repository takes no credentials")
	}
}

func (c *Config) prepareVersions(add func(string, ...any)) {
	bake, ok := jitsi.RoleBake(node.Role(c.Role), c.image.WebServer)
	keys := make([]string, 0, len(c.Versions))
	for k := range c.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.Versions[k]
		switch {
		case !jitsi.IsRepoPackage(k):
			add("versions: %q is not a Jitsi package; use one of %s", k, strings.Join(jitsi.RepoPackages, ", "))
		case ok && !contains(bake.Packages(), k):
			add("versions: %q is not part of a %s image%s, which has %s", k, c.Role, c.webServerNote(), strings.Join(bake.Packages(), ", "))
		}
		if !debianVersion.MatchString(v) {
			add("versions: %q: %q is not a Debian version (like 2.3-160-g97a1f15f-1)", k, v)
		}
	}
	// jitsi-meet depends on one exact version of the bridge: the
	// repository's newest jitsi-meet never takes a 2020-era one.
	if node.Role(c.Role) == node.RoleJMS && c.Versions[jitsi.PkgMeet] == "" {
		if g, ok := jitsi.ImageGeneration(c.Versions); ok && g == jitsi.Legacy {
			add("versions: %q = %q is 2020-era, but jitsi-meet is not pinned and the repository's newest jitsi-meet depends on a current jitsi-videobridge2 (its exact version): "+
				"pin jitsi-meet and the rest of its release too (apt-cache show jitsi-meet=VERSION lists jicofo, jitsi-meet-web, jitsi-meet-web-config, jitsi-meet-prosody and jitsi-videobridge2), or unpin jitsi-videobridge2",
				jitsi.PkgJVB, c.Versions[jitsi.PkgJVB])
		}
	}
}

// webServerNote names a jms image's web server in messages.
func (c *Config) webServerNote() string {
	if c.image.WebServer == "" {
		return ""
	}
	return " with " + string(c.image.WebServer)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
