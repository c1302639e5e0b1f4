package nodeconfig

import (
	"bytes"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/yamldoc"
)

// Header comments of the two files (they are read by people on the node).
const (
	configHeader  = "# jitsi-node applies this at every boot (packer-plugin-jitsi)\n"
	secretsHeader = "# jitsi-node secrets, root only\n"
)

// Marshal renders node.yaml. The same Config always gives the same bytes.
func (c Config) Marshal() ([]byte, error) { return c.MarshalWith(yamldoc.NewWriter()) }

// MarshalWith is Marshal on w (a node's files share one encoder).
func (c Config) MarshalWith(w *yamldoc.Writer) ([]byte, error) { return marshal(w, configHeader, c) }

// Marshal renders secrets.yaml (map keys sorted: deterministic).
func (s Secrets) Marshal() ([]byte, error) { return s.MarshalWith(yamldoc.NewWriter()) }

// MarshalWith is Marshal on w (a node's files share one encoder).
func (s Secrets) MarshalWith(w *yamldoc.Writer) ([]byte, error) { return marshal(w, secretsHeader, s) }

func marshal(w *yamldoc.Writer, header string, v any) ([]byte, error) {
	out, err := w.Marshal(header, v)
	if err != nil {
		return nil, fmt.Errorf("marshal node config: %w", err)
	}
	return out, nil
}

// ErrNewerVersion: the file is of a version this agent does not know.
var ErrNewerVersion = errors.New("config version is newer than this agent")

// VersionError says which file is too new and which release reads it.
type VersionError struct {
	File            string
	Version         int
	AgentMinVersion string
	// Knows is the newest version this agent reads (Version when zero).
	Knows int
}

func (e *VersionError) Error() string {
	need := "a newer release"
	if e.AgentMinVersion != "" {
		need = "packer-plugin-jitsi ≥ " + e.AgentMinVersion
	}
	knows := e.Knows
	if knows == 0 {
		knows = Version
	}
	return fmt.Sprintf("%s version %d is newer than this agent (knows %d): bake the image with %s", e.File, e.Version, knows, need)
}

func (e *VersionError) Unwrap() error { return ErrNewerVersion }

// Envelope is what every version of node.yaml and secrets.yaml keeps: enough
// for an agent too old to read the rest to say so to the registry.
type Envelope struct {
	Version            int       `yaml:"version"`
	AgentMinVersion    string    `yaml:"agent_min_version"`
	Registry           *Registry `yaml:"registry"`
	RegistryCredential string    `yaml:"registry_credential"`
}

// ReadEnvelope reads the envelope fields of either file, ignoring the rest.
func ReadEnvelope(data []byte) (Envelope, error) {
	var e Envelope
	if err := yaml.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("read config version: %w", err)
	}
	return e, nil
}

// ParseConfig decodes node.yaml strictly.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := decode("node.yaml", data, Version, &c, func() int { return c.Version }); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ParseSecrets decodes secrets.yaml strictly. Errors never quote its values.
func ParseSecrets(data []byte) (Secrets, error) {
	var s Secrets
	if err := decode("secrets.yaml", data, Version, &s, func() int { return s.Version }); err != nil {
		return Secrets{}, err
	}
	return s, nil
}

// decode reads data strictly into out after checking its version is
// between 1 and newest.
func decode(file string, data []byte, newest int, out any, version func() int) error {
	env, err := ReadEnvelope(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, redactYAMLError(err))
	}
	switch {
	case env.Version == 0:
		return fmt.Errorf("%s: no version: not a jitsi-node config (re-issue the node's user-data)", file)
	case env.Version > newest:
		return &VersionError{File: file, Version: env.Version, AgentMinVersion: env.AgentMinVersion, Knows: newest}
	case env.Version < 1:
		return fmt.Errorf("%s: version %d is not a config version", file, env.Version)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: %w", file, redactYAMLError(err))
	}
	if version() != env.Version {
		return fmt.Errorf("%s: version changed while reading", file)
	}
	return nil
}

// redactYAMLError keeps yaml.v3's line numbers and field names but drops
// the values it quotes ("cannot unmarshal !!str `…`"), which in
// secrets.yaml would be a secret.
func redactYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			lines[i] = redactQuoted(e)
		}
		return fmt.Errorf("%s", joinLines(lines))
	}
	return fmt.Errorf("%s", redactQuoted(err.Error()))
}

// redactQuoted replaces `…` spans (yaml.v3 quotes values that way).
func redactQuoted(s string) string {
	var b bytes.Buffer
	in := false
	for _, r := range s {
		if r == '`' {
			if !in {
				b.WriteString("`…")
			} else {
				b.WriteRune('`')
			}
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}
