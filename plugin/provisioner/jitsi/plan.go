package jitsi

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/scripts"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Names of the files the plan uploads into the staging directory; the bake
// script (scripts/node/jitsi-provision) expects these.
const (
	fileScript   = "jitsi-provision"
	fileSettings = "settings.env"
	fileKeyring  = "jitsi-keyring.gpg"
	fileAgent    = "jitsi-node"
	fileSeed     = "bake.seed"
	fileAuth     = "apt-auth.conf"
	fileImage    = "image.yaml"
	fileStamp    = "image-stamp.json"
)

// Steps of the bake script, in the order a plan runs them.
const (
	StepPreflight = "preflight"
	StepUniverse  = "universe"
	StepRepo      = "repo"
	StepInstall   = "install"
	StepServices  = "services"
	StepAgent     = "agent"
	StepVersions  = "versions"
	// StepStamp installs the image's identity (regapi.ImageStamp), which
	// Provision uploads once the versions are known.
	StepStamp = "stamp"
	StepClean = "clean"
)

// Upload is one file the plan puts on the machine.
type Upload struct {
	Path string
	Data []byte
	// Secret uploads are never shown, only named.
	Secret bool
}

// Plan is everything Provision does on one machine, decided up front from
// the configuration and the detected OS, so tests can assert it exactly.
type Plan struct {
	StagingDir string
	Uploads    []Upload
	Steps      []string
}

// NewPlan builds the plan of cfg (prepared) on o, with the binary keyring
// and the node agent built for the machine's architecture.
func NewPlan(cfg *Config, o jitsi.OS, arch string, keyring, agent []byte) (Plan, error) {
	bake, _ := jitsi.RoleBake(node.Role(cfg.Role), cfg.image.WebServer)
	image, err := cfg.image.Marshal()
	if err != nil {
		return Plan{}, err
	}
	dir := cfg.StagingDir
	p := Plan{StagingDir: dir}
	add := func(name string, data []byte, secret bool) {
		p.Uploads = append(p.Uploads, Upload{Path: path.Join(dir, name), Data: data, Secret: secret})
	}
	add(fileScript, scripts.Provisioner, false)
	add(fileSettings, settings(cfg, o, arch, bake), false)
	add(fileKeyring, keyring, false)
	add(fileAgent, agent, false)
	add(fileImage, image, false)
	if seed := bakeSeed(bake); len(seed) > 0 {
		add(fileSeed, seed, false)
	}
	if cfg.AptUsername != "" {
		add(fileAuth, authConf(cfg), true)
	}

	p.Steps = append(p.Steps, StepPreflight)
	if o.Ubuntu() {
		p.Steps = append(p.Steps, StepUniverse)
	}
	p.Steps = append(p.Steps, StepRepo, StepInstall, StepServices, StepAgent, StepVersions, StepStamp, StepClean)
	return p, nil
}

// StampPath is where the image's stamp is uploaded before StepStamp.
func (p Plan) StampPath() string { return path.Join(p.StagingDir, fileStamp) }

// PrepareCommand creates the staging directory, private to the SSH user.
func (p Plan) PrepareCommand() string {
	return "umask 077 && mkdir -p " + shellQuote(p.StagingDir)
}

// StepCommand runs one step of the bake script. The script elevates itself
// with `sudo -n` when the SSH user is not root.
func (p Plan) StepCommand(step string) string {
	return fmt.Sprintf("bash %s %s %s",
		shellQuote(path.Join(p.StagingDir, fileScript)), shellQuote(path.Join(p.StagingDir, fileSettings)), step)
}

// CleanupCommand removes the staging directory (and any credentials in it).
func (p Plan) CleanupCommand() string {
	return "rm -rf " + shellQuote(p.StagingDir)
}

// OSReleaseCommand reads the machine's OS identification.
const OSReleaseCommand = "cat /etc/os-release"

// settings is the bake script's settings file: shell assignments with every
// value escaped by jitsi.ShellValue, no secret.
func settings(cfg *Config, o jitsi.OS, arch string, bake jitsi.Bake) []byte {
	var b strings.Builder
	b.WriteString("# Settings of jitsi-provision, written by packer-plugin-jitsi's jitsi provisioner.\n")
	kv := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, jitsi.ShellValue(v)) }
	words := func(k string, v []string) { kv(k, strings.Join(v, " ")) }
	kv("JITSI_ROLE", cfg.Role)
	kv("JITSI_OS_ID", o.ID)
	kv("JITSI_OS_VERSION", o.VersionID)
	kv("JITSI_OS_CODENAME", o.Codename)
	kv("JITSI_ARCH", arch)
	kv("JITSI_STAGING", cfg.StagingDir)
	kv("JITSI_REPO_LINE", RepoLine(cfg))
	kv("JITSI_KEYRING", jitsi.AptKeyring)
	kv("JITSI_SOURCE_FILE", jitsi.AptSourceFile)
	kv("JITSI_PIN_FILE", jitsi.AptPinFile)
	kv("JITSI_AUTH_FILE", jitsi.AptAuthFile)
	words("JITSI_PINS", pins(cfg.Versions))
	words("JITSI_BEFORE", bake.Before)
	words("JITSI_INSTALL", bake.Install)
	words("JITSI_CACHED", bake.Cached)
	words("JITSI_DISABLE", bake.Disable)
	words("JITSI_REPO_PACKAGES", jitsi.RepoPackages)
	kv("JITSI_KEYRING_UPLOAD", fileKeyring)
	kv("JITSI_SEED_UPLOAD", fileSeed)
	kv("JITSI_AUTH_UPLOAD", fileAuth)
	kv("JITSI_AGENT_UPLOAD", fileAgent)
	kv("JITSI_IMAGE_UPLOAD", fileImage)
	kv("JITSI_AGENT", jitsi.AgentBinary)
	kv("JITSI_STAMP_UPLOAD", fileStamp)
	kv("JITSI_IMAGE_STAMP", jitsi.ImageStampFile)
	words("JITSI_AGENT_DEPENDS", jitsi.AgentDepends)
	return []byte(b.String())
}

// RepoLine is the sources.list entry of the Jitsi repository. A file://
// repository is written with apt's copy: method: file: uses packages in
// place, so `apt-get install --download-only` would leave a JMS's Jitsi
// packages out of apt's cache, and first boot without them.
func RepoLine(cfg *Config) string {
	repo := cfg.AptRepoURL
	if u, err := url.Parse(repo); err == nil && u.Scheme == "file" {
		repo = "copy:" + u.Path
	}
	return fmt.Sprintf("deb [signed-by=%s] %s %s", jitsi.AptKeyring, repo, strings.Join(strings.Fields(cfg.AptRepoDist), " "))
}

func pins(versions map[string]string) []string {
	out := make([]string, 0, len(versions))
	for k, v := range versions {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// bakeSeed preseeds what a package installed at bake asks: only the bridge's
// hostname, with a placeholder that can never resolve. Nothing secret.
func bakeSeed(bake jitsi.Bake) []byte {
	for _, p := range bake.Install {
		if p == jitsi.PkgJVB {
			return fmt.Appendf(nil, "%s %s string %s\n", jitsi.PkgJVB, jitsi.QJVBHostname, jitsi.BakePlaceholderFQDN)
		}
	}
	return nil
}

// authConf is apt's auth.conf(5) entry for the repository's host and path.
func authConf(cfg *Config) []byte {
	u, _ := url.Parse(cfg.AptRepoURL)
	machine := u.Host + strings.TrimRight(u.Path, "/")
	return fmt.Appendf(nil, "machine %s login %s password %s\n", machine, cfg.AptUsername, cfg.AptPassword)
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
