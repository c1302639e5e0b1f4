//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

// Package registry is the `jitsi-registry` Packer post-processor: it records
// the image a build made (artifact id, role, OS, Jitsi package versions from
// the `jitsi` provisioner's manifest) in the project's dqlite registry, and
// passes the artifact on unchanged.
package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	reg "github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

// Config is the post-processor's configuration. Field comments are its user docs.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// Data directory of the embedded registry, the same one the operator CLI
	// uses to issue nodes. Created when missing. The post-processor opens it
	// as an embedded single-node registry, records the image in a
	// transaction and closes it; when another process holds the directory it
	// waits for it (see `lock_timeout`). Set this or `registry_url`.
	RegistryDir string `mapstructure:"registry_dir"`
	// Base URL of a registry's HTTP API, e.g. a registry cluster's:
	// `https://HOST[:PORT]` (plain `http` is accepted on loopback only: the
	// token would travel in clear). Needs `registry_token_file`. Set this or
	// `registry_dir`.
	RegistryURL string `mapstructure:"registry_url"`
	// With `registry_url`: a file holding the API's operator token
	// (recording images needs it), mode 0600 (a group- or world-readable
	// file is refused). The token is read by `packer validate`/`build`,
	// registered with Packer's log filter and sent only in the
	// `Authorization` header: never printed, logged or put in an error.
	RegistryTokenFile string `mapstructure:"registry_token_file"`
	// With `registry_url`: PEM file of the CA that signed the API's
	// certificate (e.g. a self-signed one). Defaults to the system's roots.
	RegistryCAFile string `mapstructure:"registry_ca_file"`
	// The manifest the `jitsi` provisioner wrote in this build. Defaults to
	// the provisioner's default, `jitsi-manifest-<build name>.json`; set both
	// to the same path when you change one.
	ManifestFile string `mapstructure:"manifest_file"`
	// The id the image is recorded under. Defaults to the artifact's own id
	// when it names the image (a cloud image such as `eu-west-1:ami-…`), and
	// to the absolute path of the artifact's first file otherwise (the qemu
	// builder's disk image: its artifact id is just `VM`). An artifact with
	// neither (the `null` builder) needs `artifact_id`. Printable ASCII
	// without spaces.
	ArtifactID string `mapstructure:"artifact_id"`
	// How long to wait for the registry's data directory when another
	// process (a CLI run) holds it. Defaults to `2m`.
	LockTimeout time.Duration `mapstructure:"lock_timeout"`

	ctx interpolate.Context
	// token is registry_token_file's content, read by Configure.
	token string
}

// PostProcessor is the `jitsi-registry` post-processor.
type PostProcessor struct {
	config Config
	// open opens the configured registry; tests replace it.
	open func(ctx context.Context, c *Config) (imageRecorder, error)
}

// imageRecorder is what the post-processor needs of a registry.
type imageRecorder interface {
	RecordImage(ctx context.Context, img regapi.Image) (regapi.Image, error)
	Close() error
}

var _ packersdk.PostProcessor = (*PostProcessor)(nil)

// ConfigSpec is the post-processor's HCL2 schema (generated from Config).
func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Configure decodes and validates the configuration (every error at once).
func (p *PostProcessor) Configure(raws ...interface{}) error {
	c := &p.config
	if err := config.Decode(c, &config.DecodeOpts{
		PluginType:         "jitsi-registry",
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...); err != nil {
		return err
	}
	if c.ManifestFile == "" {
		c.ManifestFile = manifest.DefaultFile(c.PackerBuildName)
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = 2 * time.Minute
	}

	var errs *packersdk.MultiError
	add := func(format string, a ...any) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf(format, a...))
	}
	switch {
	case c.RegistryDir == "" && c.RegistryURL == "":
		add("registry_dir, registry_url: set one: the registry's data directory, or its HTTP API's URL")
	case c.RegistryDir != "" && c.RegistryURL != "":
		add("registry_dir, registry_url: set only one of them")
	case c.RegistryDir != "":
		if fi, err := os.Stat(c.RegistryDir); err == nil && !fi.IsDir() {
			add("registry_dir: %q is not a directory", c.RegistryDir)
		}
	default:
		c.prepareRemote(add)
	}
	if c.ArtifactID != "" && !printableToken(c.ArtifactID) {
		add("artifact_id: %q must be printable ASCII without spaces", c.ArtifactID)
	}
	if c.LockTimeout < 0 {
		add("lock_timeout: must be positive, got %s", c.LockTimeout)
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// PostProcess records the image and returns the artifact unchanged (kept).
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, artifact packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	c := &p.config
	m, err := manifest.Read(c.ManifestFile)
	if err != nil {
		return nil, false, false, err
	}
	if run := os.Getenv("PACKER_RUN_UUID"); run != "" && m.RunUUID != "" && run != m.RunUUID {
		return nil, false, false, fmt.Errorf("read manifest %s: it is from another Packer run (%s, this is %s): run the jitsi provisioner in this build",
			c.ManifestFile, m.RunUUID, run)
	}
	if m.BuildName != "" && c.PackerBuildName != "" && m.BuildName != c.PackerBuildName {
		return nil, false, false, fmt.Errorf("read manifest %s: it is build %q's, not %q's: give each build its own manifest_file",
			c.ManifestFile, m.BuildName, c.PackerBuildName)
	}
	id, err := artifactID(c.ArtifactID, artifact)
	if err != nil {
		return nil, false, false, err
	}
	img := regapi.Image{
		ArtifactID: id,
		Role:       m.Role,
		OS:         m.OS.OSName(),
		Versions:   m.Versions(),
		Built:      time.Now().UTC(),
		// What links the nodes booted from the image to this record.
		BuildID:      m.BuildID,
		Arch:         m.Arch,
		AgentVersion: m.AgentVersion,
	}

	open := p.open
	if open == nil {
		open = openStore
	}
	where := c.RegistryDir
	if where == "" {
		where = c.RegistryURL
	}
	ui.Say(fmt.Sprintf("jitsi-registry: recording image %s in %s", id, where))
	store, err := open(ctx, c)
	if err != nil {
		return nil, false, false, err
	}
	recorded, err := store.RecordImage(ctx, img)
	if cerr := store.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close registry: %w", cerr)
	}
	if err != nil {
		return nil, false, false, err
	}
	ui.Say(fmt.Sprintf("jitsi-registry: image %s: %s on %s, %s", recorded.ArtifactID, recorded.Role, recorded.OS, versionList(recorded.Versions)))
	if recorded.BuildID != "" {
		ui.Say(fmt.Sprintf("jitsi-registry: image %s: build %s, %s, jitsi-node %s", recorded.ArtifactID, recorded.BuildID, recorded.Arch, recorded.AgentVersion))
	}
	// keep=true, forceOverride=false: the input artifact is kept unless the
	// user says otherwise, and it is the one passed on.
	return artifact, true, false, nil
}

// openStore opens the embedded registry in registry_dir, or a client of the
// API at registry_url.
func openStore(ctx context.Context, c *Config) (imageRecorder, error) {
	if c.RegistryDir != "" {
		return reg.Open(ctx, c.RegistryDir, reg.WithLockTimeout(c.LockTimeout))
	}
	var opts []regapi.ClientOption
	if c.RegistryCAFile != "" {
		opts = append(opts, regapi.WithCAFile(c.RegistryCAFile))
	}
	return regapi.NewClient(c.RegistryURL, c.token, opts...)
}

// placeholderIDs are artifact ids that name no image: qemu's "VM", the
// null builder's "Null", the file builder's "File".
var placeholderIDs = map[string]bool{"": true, "VM": true, "Null": true, "File": true}

func artifactID(configured string, a packersdk.Artifact) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if id := a.Id(); !placeholderIDs[id] {
		return id, nil
	}
	if files := a.Files(); len(files) > 0 {
		abs, err := filepath.Abs(files[0])
		if err != nil {
			return "", fmt.Errorf("artifact_id: resolve %s: %w", files[0], err)
		}
		return abs, nil
	}
	return "", fmt.Errorf("artifact_id: the %s artifact names no image (id %q, no files); set artifact_id", a.BuilderId(), a.Id())
}

func versionList(v map[string]string) string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + " " + v[k]
	}
	return strings.Join(parts, ", ")
}

func printableToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
