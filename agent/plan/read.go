package plan

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/cloudinit"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// maxUserData bounds what Read accepts: clouds cap user-data at 16–64 KiB.
const maxUserData = 1 << 20

// UserData is a user-data as cloud-init and the agent will see it.
type UserData struct {
	Config cloudinit.Config
	// NodeConfig and NodeSecrets are the write_files entries of
	// /etc/jitsi-node/node.yaml and secrets.yaml.
	NodeConfig, NodeSecrets cloudinit.WriteFile
	// Spec is what the agent reads from them (agent.ReadNodeConfig).
	Spec node.Spec
	// secrets are every secret value the files hold.
	secrets secrets
}

// Read parses a user-data this project made: a #cloud-config whose
// write_files carry the node's config and secrets, which it reads exactly
// as the agent does. Errors never quote a secret.
func Read(data []byte) (*UserData, error) {
	if len(data) > maxUserData {
		return nil, fmt.Errorf("read user-data: %d bytes, more than any cloud takes (%d)", len(data), maxUserData)
	}
	if !bytes.HasPrefix(data, []byte("#cloud-config")) {
		return nil, fmt.Errorf("read user-data: it does not start with #cloud-config: not a user-data of packer-plugin-jitsi (userdata or issue make them)")
	}
	var u UserData
	if err := yaml.Unmarshal(data, &u.Config); err != nil {
		// yaml.v3 quotes the offending text: keep the line, drop the rest.
		return nil, fmt.Errorf("read user-data: not valid YAML (%s)", firstLineNumber(err.Error()))
	}
	var found [2]bool
	for _, f := range u.Config.WriteFiles {
		switch f.Path {
		case jitsi.NodeConfig:
			u.NodeConfig, found[0] = f, true
		case jitsi.NodeSecrets:
			u.NodeSecrets, found[1] = f, true
		}
	}
	var missing []string
	for i, p := range []string{jitsi.NodeConfig, jitsi.NodeSecrets} {
		if !found[i] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("read user-data: write_files has no %s: not a user-data of packer-plugin-jitsi ≥ %s (re-issue the node)",
			strings.Join(missing, " nor "), nodeconfig.AgentMinVersion)
	}
	spec, found2, err := agent.ReadNodeConfig([]byte(u.NodeConfig.Content), []byte(u.NodeSecrets.Content))
	u.secrets = newSecrets(found2)
	if err != nil {
		return nil, fmt.Errorf("read user-data: %s", u.secrets.redact(err.Error()))
	}
	u.Spec = spec
	return &u, nil
}

var lineNumber = regexp.MustCompile(`line \d+`)

func firstLineNumber(s string) string {
	if m := lineNumber.FindString(s); m != "" {
		return m
	}
	return "no line given"
}

// secrets are the secret values of one user-data, and the key of the
// digests that let Diff tell a changed secret without holding it.
type secrets struct {
	values []string
}

// digestKey is random per process: a digest means nothing outside it.
var digestKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

// minContained: shorter secrets are masked only where a value equals one
// (contained, they would blank out ordinary words).
const minContained = 6

func newSecrets(values []string) secrets {
	var s secrets
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
	return s
}

// secretKey matches keys that hold a secret whatever their value.
var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|credential|token)`)

// setting is key = value, masked when the key or the value says secret.
func (s secrets) setting(key, value string) Setting {
	if s.holds(value) || secretKey.MatchString(lastSegment(key)) {
		m := hmac.New(sha256.New, digestKey)
		m.Write([]byte(value))
		return Setting{Key: key, Value: Masked, Secret: true, digest: hex.EncodeToString(m.Sum(nil))}
	}
	return Setting{Key: key, Value: value}
}

func (s secrets) holds(value string) bool {
	for _, v := range s.values {
		if value == v || (len(v) >= minContained && strings.Contains(value, v)) {
			return true
		}
	}
	return false
}

// redact replaces every secret in text (longest first).
func (s secrets) redact(text string) string {
	vals := append([]string(nil), s.values...)
	for i := range vals {
		for j := i + 1; j < len(vals); j++ {
			if len(vals[j]) > len(vals[i]) {
				vals[i], vals[j] = vals[j], vals[i]
			}
		}
	}
	for _, v := range vals {
		if len(v) >= minContained || text == v {
			text = strings.ReplaceAll(text, v, Masked)
		}
	}
	return text
}

func lastSegment(key string) string {
	if i := strings.LastIndexAny(key, ". "); i >= 0 {
		return key[i+1:]
	}
	return key
}
