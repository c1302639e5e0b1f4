package regapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// ImageStamp is the identity of a baked image, written into the image by
// the jitsi provisioner at bake (at jitsi.ImageStampFile) and recorded by
// the jitsi-registry post-processor with the image's artifact id. A node
// cannot know the artifact id its image got after the bake (an AMI id, a
// disk file), but it can read its stamp: the node agent sends BuildID as
// its image_id (GroupClaim.ImageID, Report.ImageID), and the registry
// links the node to the image recorded with that BuildID.
type ImageStamp struct {
	// BuildID is unique per bake (NewBuildID).
	BuildID string `json:"build_id"`
	// BuildName and RunUUID are Packer's names of the build that baked it.
	BuildName string `json:"build_name,omitempty"`
	RunUUID   string `json:"run_uuid,omitempty"`
	Role      string `json:"role"`
	OS        string `json:"os"` // as Image.OS: "debian-12", "ubuntu-18.04"
	Arch      string `json:"arch"`
	// Versions are the image's Jitsi packages (package → version).
	Versions     map[string]string `json:"versions,omitempty"`
	AgentVersion string            `json:"agent_version"`
	Baked        time.Time         `json:"baked"`
}

// NewBuildID makes a bake's build id: "b-", the time, and 64 random bits.
func NewBuildID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return "b-" + now.UTC().Format("20060102t150405z") + "-" + hex.EncodeToString(b[:])
}

// MaxImageStampBytes bounds what a node reads of its stamp.
const MaxImageStampBytes = 64 << 10

// ParseImageStamp reads a stamp and checks what a node sends of it.
func ParseImageStamp(data []byte) (ImageStamp, error) {
	var s ImageStamp
	if len(data) > MaxImageStampBytes {
		return s, fmt.Errorf("image stamp: %d bytes, at most %d", len(data), MaxImageStampBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("image stamp: %w", err)
	}
	var fe fieldErrors
	if s.BuildID == "" {
		fe.add("build_id", "is required")
	}
	checkToken(&fe, "build_id", s.BuildID, maxRefLen)
	if err := fe.err(); err != nil {
		return s, fmt.Errorf("image stamp: %w", err)
	}
	return s, nil
}
