package jitsi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/version"
)

// Provisioner is the `jitsi` provisioner.
type Provisioner struct {
	config Config
}

var _ packersdk.Provisioner = (*Provisioner)(nil)

// ConfigSpec is the provisioner's HCL2 schema (generated from Config).
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and validates the configuration (every error at once).
func (p *Provisioner) Prepare(raws ...interface{}) error { return p.config.Prepare(raws...) }

// Provision bakes the role onto the machine behind comm: detect the OS,
// upload the bake script and its files, run the plan's steps with their
// output streamed to the UI, and write the manifest of Jitsi versions.
// The staging directory (which may hold repository credentials) is removed
// whether the bake succeeds or not.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, generatedData map[string]interface{}) (err error) {
	cfg := &p.config
	// A manifest left by an earlier run must not be recorded for this one.
	if err := os.Remove(cfg.ManifestFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old manifest %s: %w", cfg.ManifestFile, err)
	}

	ui.Say(fmt.Sprintf("jitsi: baking a %s image%s: detecting the operating system", cfg.Role, cfg.webServerNote()))
	var osRelease bytes.Buffer
	if code, err := run(ctx, comm, &packersdk.RemoteCmd{Command: OSReleaseCommand, Stdout: &osRelease}); err != nil {
		return fmt.Errorf("read /etc/os-release: %w", err)
	} else if code != 0 {
		return fmt.Errorf("read /etc/os-release: exit status %d: is this a Linux machine?", code)
	}
	target, err := DetectOS(osRelease.String())
	if err != nil {
		return err
	}
	// What the release can install is known now, before anything is uploaded.
	if err := jitsi.CheckImage(target, node.Role(cfg.Role), cfg.Versions); err != nil {
		return fmt.Errorf("versions: %w", err)
	}
	if note := jitsi.ProsodyNote(target, node.Role(cfg.Role), cfg.Versions); note != "" {
		ui.Say("jitsi: note: " + note)
	}
	var archOut bytes.Buffer
	if code, err := run(ctx, comm, &packersdk.RemoteCmd{Command: ArchCommand, Stdout: &archOut}); err != nil {
		return fmt.Errorf("detect architecture: %w", err)
	} else if code != 0 {
		return fmt.Errorf("detect architecture: %q: exit status %d", ArchCommand, code)
	}
	arch, err := ParseArch(archOut.String())
	if err != nil {
		return err
	}
	ui.Say(fmt.Sprintf("jitsi: %s (%s), %s", target, target.Codename, arch))
	agent, err := cfg.agentFor(arch)
	if err != nil {
		return err
	}

	keyring, err := p.keyring(ctx, ui)
	if err != nil {
		return err
	}
	plan, err := NewPlan(cfg, target, arch, keyring, agent)
	if err != nil {
		return err
	}

	if code, err := run(ctx, comm, &packersdk.RemoteCmd{Command: plan.PrepareCommand()}); err != nil || code != 0 {
		return fmt.Errorf("create staging directory %s: %w", plan.StagingDir, exitError(code, err))
	}
	defer func() {
		code, cerr := run(context.WithoutCancel(ctx), comm, &packersdk.RemoteCmd{Command: plan.CleanupCommand()})
		if cerr != nil || code != 0 {
			cerr = fmt.Errorf("remove staging directory %s: %w", plan.StagingDir, exitError(code, cerr))
			if err == nil {
				err = cerr
			} else {
				ui.Error(cerr.Error())
			}
		}
	}()
	for _, u := range plan.Uploads {
		if err := comm.Upload(u.Path, bytes.NewReader(u.Data), privateFile(u.Path, len(u.Data))); err != nil {
			return fmt.Errorf("upload %s: %w", u.Path, err)
		}
	}

	var versionsOut, agentOut bytes.Buffer
	var m manifest.Manifest
	for i, step := range plan.Steps {
		if step == StepStamp {
			// The versions are known: stamp the image with its identity.
			if m, err = p.manifest(generatedData, target, arch, versionsOut.String(), agentOut.String()); err != nil {
				return err
			}
			stamp, err := json.MarshalIndent(m.Stamp(), "", "  ")
			if err != nil {
				return fmt.Errorf("encode image stamp: %w", err)
			}
			if err := comm.Upload(plan.StampPath(), bytes.NewReader(append(stamp, '\n')), privateFile(plan.StampPath(), len(stamp)+1)); err != nil {
				return fmt.Errorf("upload %s: %w", plan.StampPath(), err)
			}
		}
		ui.Say(fmt.Sprintf("jitsi: step %d/%d: %s", i+1, len(plan.Steps), step))
		cmd := &packersdk.RemoteCmd{Command: plan.StepCommand(step)}
		switch step {
		case StepVersions:
			cmd.Stdout = &versionsOut
		case StepAgent:
			cmd.Stdout = &agentOut
		}
		if err := cmd.RunWithUi(ctx, comm, ui); err != nil {
			return fmt.Errorf("run step %s: %w", step, err)
		}
		if code := cmd.ExitStatus(); code != 0 {
			return fmt.Errorf("run step %s: exit status %d%s (see the jitsi-provision output above)", step, code, exitHint(code))
		}
	}

	if err := manifest.Write(cfg.ManifestFile, m); err != nil {
		return err
	}
	ui.Say(fmt.Sprintf("jitsi: manifest written to %s", cfg.ManifestFile))
	return nil
}

// manifest is what the bake learnt, with a new build id: the identity the
// image is stamped with and recorded under.
func (p *Provisioner) manifest(generatedData map[string]interface{}, target jitsi.OS, arch, versionsOut, agentOut string) (manifest.Manifest, error) {
	cfg := &p.config
	now := time.Now().UTC().Truncate(time.Second)
	m := manifest.Manifest{
		BuildName:     cfg.PackerBuildName,
		BuilderType:   cfg.PackerBuilderType,
		RunUUID:       runUUID(generatedData),
		Role:          cfg.Role,
		OS:            manifest.OS{ID: target.ID, VersionID: target.VersionID, Codename: target.Codename},
		Packages:      ParseVersions(versionsOut),
		PluginVersion: version.PluginVersion.FormattedVersion(),
		Arch:          arch,
		AgentVersion:  ParseAgentVersion(agentOut),
		BuildID:       regapi.NewBuildID(now),
		Baked:         now,
	}
	if len(m.Packages) == 0 {
		return m, errors.New("read package versions: the versions step reported no Jitsi package")
	}
	if m.AgentVersion == "" {
		return m, errors.New("read agent version: the agent step did not report the installed jitsi-node's version")
	}
	return m, nil
}

// keyring returns the binary repository keyring from apt_key_file (read by
// Prepare) or fetched from apt_key_url by the machine running Packer.
func (p *Provisioner) keyring(ctx context.Context, ui packersdk.Ui) ([]byte, error) {
	data := p.config.keyData
	if data == nil {
		ui.Say(fmt.Sprintf("jitsi: fetching the repository key from %s", p.config.AptKeyURL))
		var err error
		if data, err = fetchKey(ctx, p.config.AptKeyURL); err != nil {
			return nil, err
		}
	}
	bin, err := Keyring(data)
	if err != nil {
		return nil, fmt.Errorf("read repository key: %w", err)
	}
	return bin, nil
}

// maxKeySize bounds what fetchKey reads: signing keys are a few KiB.
const maxKeySize = 1 << 20

func fetchKey(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch repository key %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch repository key: %w (or set apt_key_file)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch repository key %s: HTTP %s (or set apt_key_file)", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySize))
	if err != nil {
		return nil, fmt.Errorf("fetch repository key %s: %w", url, err)
	}
	return data, nil
}

// ParseVersions reads the versions step's "jitsi-version NAME VERSION STATE"
// lines and ignores everything else.
func ParseVersions(out string) []manifest.Package {
	var pkgs []manifest.Package
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "jitsi-version" {
			pkgs = append(pkgs, manifest.Package{Name: f[1], Version: f[2], State: f[3]})
		}
	}
	return pkgs
}

// ParseAgentVersion reads the agent step's "jitsi-node-version VERSION" line.
func ParseAgentVersion(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "jitsi-node-version" {
			return f[1]
		}
	}
	return ""
}

// run starts cmd without showing its output and waits for its exit status.
func run(ctx context.Context, comm packersdk.Communicator, cmd *packersdk.RemoteCmd) (int, error) {
	if err := comm.Start(ctx, cmd); err != nil {
		return 0, err
	}
	return cmd.Wait(), nil
}

func exitError(code int, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("exit status %d", code)
}

// exitHint explains jitsi-provision's own exit codes.
func exitHint(code int) string {
	switch code {
	case 2:
		return ": bad settings, a bug of the plugin"
	case 3:
		return ": this machine cannot be baked"
	}
	return ""
}

func runUUID(generatedData map[string]interface{}) string {
	if s, ok := generatedData["PackerRunUUID"].(string); ok && !strings.HasPrefix(s, "Build_") {
		return s
	}
	return os.Getenv("PACKER_RUN_UUID")
}

// privateFile is the FileInfo of an upload: mode 0600, for scp.
func privateFile(name string, size int) *os.FileInfo {
	var fi os.FileInfo = fileInfo{name: name, size: int64(size)}
	return &fi
}

type fileInfo struct {
	name string
	size int64
}

func (f fileInfo) Name() string       { return path.Base(f.name) }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) Mode() os.FileMode  { return 0o600 }
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return false }
func (f fileInfo) Sys() interface{}   { return nil }
