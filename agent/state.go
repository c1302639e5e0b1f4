package agent

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// applied is AppliedState: what the last successful apply found and wrote,
// so `apply --check` can put the same files back without asking anyone.
// It holds no secret (root 0644) and no time, so an unchanged apply does
// not rewrite it.
type applied struct {
	Role     node.Role `json:"role"`
	Nickname string    `json:"nickname,omitempty"`
	// NAT mapping and harvester the bridge files carry.
	LocalAddress  string `json:"local_address,omitempty"`
	PublicAddress string `json:"public_address,omitempty"`
	AWSHarvester  bool   `json:"aws_harvester,omitempty"`
	NATSource     string `json:"nat_source,omitempty"`
	// Config is the SHA-256 of node.yaml and secrets.yaml that were applied.
	Config string `json:"config_sha256"`
	Agent  string `json:"agent,omitempty"`
}

func (s applied) boot() jitsi.Boot {
	return jitsi.Boot{Nickname: s.Nickname, LocalAddress: s.LocalAddress, PublicAddress: s.PublicAddress, AWSHarvester: s.AWSHarvester}
}

// identity is IdentityState: a group bridge's claimed identity and its own
// registry credential (root 0600).
type identity struct {
	InstanceID string `json:"instance_id"`
	Shard      string `json:"shard"`
	Nickname   string `json:"nickname"`
	NodeID     int64  `json:"node_id"`
	Credential string `json:"credential"`
}

// claimKey is ClaimKeyState: made before the first claim attempt, so a
// retried claim (an answer lost on the way) is recognised (root 0600).
type claimKey struct {
	InstanceID string `json:"instance_id"`
	Key        string `json:"claim_key"`
}

func newClaimKey(instanceID string) claimKey {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on Linux
	return claimKey{InstanceID: instanceID, Key: base64.RawURLEncoding.EncodeToString(b[:])}
}

// readJSON reads a state file; a missing one is (false, nil).
func (a *Agent) readJSON(path string, v any) (bool, error) {
	data, err := a.fs.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("read %s: %v", path, err) // no %w: the text may quote the content
	}
	return true, nil
}

// writeJSON writes a state file with mode (0600 for anything secret).
func (a *Agent) writeJSON(path string, mode fs.FileMode, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = a.fs.Write(system.File{Path: path, Owner: jitsi.RootOwner, Mode: mode, Content: append(data, '\n')})
	return err
}

func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
