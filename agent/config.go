package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// errNoConfig: the node has no node.yaml (booted without this project's
// user-data).
var errNoConfig = errors.New("no " + jitsi.NodeConfig + ": this node was not booted with packer-plugin-jitsi user-data")

// loaded is the node's config as the agent acts on it.
type loaded struct {
	spec node.Spec
	// digest of the two files, to tell a changed config.
	digest string
}

// load reads and checks node.yaml and secrets.yaml, and registers every
// secret with the logger before anything can print it.
func (a *Agent) load(ctx context.Context) (loaded, error) {
	cfgData, err := a.fs.ReadFile(jitsi.NodeConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return loaded{}, errNoConfig
	}
	if err != nil {
		return loaded{}, fmt.Errorf("read node config: %w", err)
	}
	secData, err := a.fs.ReadFile(jitsi.NodeSecrets)
	if err != nil {
		return loaded{}, fmt.Errorf("read node secrets: %w", err)
	}
	spec, secrets, err := ReadNodeConfig(cfgData, secData)
	a.log.secret(secrets...)
	var ve *nodeconfig.VersionError
	if errors.As(err, &ve) {
		a.reportEnvelope(ctx, cfgData, secData, err.Error())
	}
	if err != nil {
		return loaded{}, err
	}
	return loaded{spec: spec, digest: digest(cfgData, secData)}, nil
}

// ReadNodeConfig reads node.yaml and secrets.yaml as apply does: strictly,
// refusing a newer config version (a *nodeconfig.VersionError), and
// validates the node's spec (a group bridge's nickname is claimed later).
// It also returns every secret the files hold, found as far as they could
// be read, so that a caller can keep them out of what it prints — errors
// included.
func ReadNodeConfig(cfgData, secData []byte) (node.Spec, []string, error) {
	var secrets []string
	if env, err := nodeconfig.ReadEnvelope(secData); err == nil && env.RegistryCredential != "" {
		secrets = append(secrets, env.RegistryCredential)
	}
	cfg, cerr := nodeconfig.ParseConfig(cfgData)
	sec, serr := nodeconfig.ParseSecrets(secData)
	if err := errors.Join(cerr, serr); err != nil {
		return node.Spec{}, secrets, err
	}
	for _, v := range sec.ShardSecrets {
		secrets = append(secrets, v)
	}
	secrets = append(secrets, sec.JMSSecret, sec.RegistryCredential)
	spec, err := cfg.Spec(sec)
	if err != nil {
		return node.Spec{}, secrets, err
	}
	validate := spec.Validate
	if spec.Group != "" {
		validate = spec.ValidatePending
	}
	if err := validate(); err != nil {
		return node.Spec{}, secrets, fmt.Errorf("%s: %w", jitsi.NodeConfig, err)
	}
	return spec, secrets, nil
}

// reportEnvelope tells the registry that this agent cannot read the
// node's config, from the fields every config version keeps. Only a node's
// own credential can report (a group's token cannot: no node is claimed).
func (a *Agent) reportEnvelope(ctx context.Context, cfgData, secData []byte, why string) {
	cfg, err1 := nodeconfig.ReadEnvelope(cfgData)
	sec, err2 := nodeconfig.ReadEnvelope(secData)
	if err1 != nil || err2 != nil || cfg.Registry == nil || sec.RegistryCredential == "" {
		return
	}
	if regapi.KindOf(sec.RegistryCredential) == regapi.CredentialGroup {
		a.log.printf("cannot tell the registry: a group bridge has no identity before it reads its config")
		return
	}
	a.reportWith(ctx, &node.RegistryLink{URL: cfg.Registry.URL, CA: cfg.Registry.CA, Credential: sec.RegistryCredential},
		regapi.StateFailed, why)
}
