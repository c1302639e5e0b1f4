package regapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// Limits of the fields the registry accepts. Claims reach the registry from
// the CLI (after node.Spec validation) and from booting nodes over HTTP (raw
// input), so the registry checks what it stores itself.
const (
	maxShardLen   = 253
	maxRoleLen    = 32
	maxClaimIDLen = 128
	maxRefLen     = 256 // image and instance ids
	// MaxClaimsPerRequest bounds one Claim call (issue --count, one HTTP request).
	MaxClaimsPerRequest = 1000
)

// fieldErrors gathers every problem of a request, each led by its field path.
type fieldErrors []error

func (fe *fieldErrors) add(field, format string, a ...any) {
	*fe = append(*fe, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
}

// err returns nil or all problems at once, wrapping ErrInvalid.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(fe...))
}

// NormalizeClaims validates reqs, fills in generated claim ids and the auto
// nickname, and returns all problems at once.
func NormalizeClaims(reqs []ClaimRequest) ([]ClaimRequest, error) {
	var fe fieldErrors
	if len(reqs) == 0 {
		fe.add("claims", "is empty: give at least one claim")
	}
	if len(reqs) > MaxClaimsPerRequest {
		fe.add("claims", "has %d claims: at most %d per request", len(reqs), MaxClaimsPerRequest)
		return nil, fe.err()
	}
	out := make([]ClaimRequest, len(reqs))
	seen := make(map[string]int, len(reqs))
	for i, r := range reqs {
		p := ""
		if len(reqs) > 1 {
			p = fmt.Sprintf("claims[%d].", i)
		}
		if r.ClaimID == "" {
			r.ClaimID = NewClaimID()
		}
		if r.Nickname == "" {
			r.Nickname = AutoNickname
		}
		checkShard(&fe, p+"shard", r.Shard)
		checkRole(&fe, p+"role", r.Role)
		checkNickname(&fe, p+"nickname", r.Nickname, true)
		checkToken(&fe, p+"claim_id", r.ClaimID, maxClaimIDLen)
		checkToken(&fe, p+"image_id", r.ImageID, maxRefLen)
		checkToken(&fe, p+"instance_id", r.InstanceID, maxRefLen)
		if r.SecretFingerprint != "" && !ValidFingerprint(r.SecretFingerprint) {
			fe.add(p+"secret_fingerprint", "is not a secret proof made by regapi.Fingerprint (v2: and 64 hex digits; a v1 fingerprint comes from an older packer-plugin-jitsi: upgrade it)")
		}
		if r.NewSecret && r.SecretFingerprint == "" {
			fe.add(p+"new_secret", "needs secret_fingerprint: the new secret's fingerprint")
		}
		if r.CredentialHash != "" && !ValidHash(r.CredentialHash) {
			fe.add(p+"credential_hash", "is not a credential hash (HashCredential: 64 lower-case hex digits)")
		}
		if j, dup := seen[r.ClaimID]; dup {
			fe.add(p+"claim_id", "%q repeats claims[%d].claim_id: every claim needs its own id", r.ClaimID, j)
		}
		seen[r.ClaimID] = i
		out[i] = r
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func checkShard(fe *fieldErrors, field, s string) {
	if len(s) > maxShardLen {
		fe.add(field, "is %d characters long: a DNS name has at most %d", len(s), maxShardLen)
	} else if p := node.FQDNProblem(s); p != "" {
		fe.add(field, "%s", p)
	}
}

func checkRole(fe *fieldErrors, field, s string) {
	switch s {
	case string(node.RoleJMS), string(node.RoleJVB):
	case "":
		fe.add(field, "is required: %s or %s", node.RoleJMS, node.RoleJVB)
	default:
		if len(s) > maxRoleLen {
			s = s[:maxRoleLen] + "…"
		}
		fe.add(field, "%q is not a role: use %s or %s", s, node.RoleJMS, node.RoleJVB)
	}
}

func checkNickname(fe *fieldErrors, field, s string, autoOK bool) {
	if s == AutoNickname && autoOK {
		return
	}
	if p := node.NicknameProblem(s); p != "" {
		fe.add(field, "%s (or %q to let the registry pick one)", p, AutoNickname)
	}
}

// checkToken accepts printable ASCII without spaces, up to max bytes.
func checkToken(fe *fieldErrors, field, s string, max int) {
	if len(s) > max {
		fe.add(field, "is %d bytes long: at most %d are allowed", len(s), max)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			fe.add(field, "has a space, control or non-ASCII byte at %d: use printable ASCII", i)
			return
		}
	}
}

// checkRef validates a NodeRef.
func checkRef(fe *fieldErrors, ref NodeRef) {
	switch {
	case ref.ID < 0:
		fe.add("id", "is negative")
	case ref.ID > 0 && (ref.Shard != "" || ref.Nickname != ""):
		fe.add("id", "is given together with shard/nickname: name the node one way")
	case ref.ID == 0:
		checkShard(fe, "shard", ref.Shard)
		checkNickname(fe, "nickname", ref.Nickname, false)
	}
}

// CheckStateChange validates SetState's arguments, all problems at once.
func CheckStateChange(ref NodeRef, to State, reason string) error {
	var fe fieldErrors
	checkRef(&fe, ref)
	checkState(&fe, "state", to, false)
	checkReason(&fe, "reason", reason)
	return fe.err()
}

func checkState(fe *fieldErrors, field string, s State, emptyOK bool) {
	if ValidState(s) || emptyOK && s == "" {
		return
	}
	if s == "" {
		fe.add(field, "is required: one of %s", JoinStates(States, ", "))
		return
	}
	if len(s) > maxRoleLen {
		s = s[:maxRoleLen] + "…"
	}
	fe.add(field, "%q is not one of %s", s, JoinStates(States, ", "))
}

// checkReason accepts one line of printable UTF-8 text of at most
// MaxReasonBytes: nodes send it and operators read it in a terminal, so
// no control characters (newlines, escape sequences) and no invisible
// formatting characters (bidirectional overrides).
func checkReason(fe *fieldErrors, field, s string) {
	if len(s) > MaxReasonBytes {
		fe.add(field, "is %d bytes long: at most %d are allowed; shorten it", len(s), MaxReasonBytes)
	}
	if !utf8.ValidString(s) {
		fe.add(field, "is not valid UTF-8: send UTF-8 text")
		return
	}
	for i, r := range s {
		if !unicode.IsGraphic(r) {
			fe.add(field, "has a control or other non-printing character (%U) at byte %d: send one line of printable text", r, i)
			return
		}
	}
}

func CheckImage(img Image) error {
	var fe fieldErrors
	if img.ArtifactID == "" {
		fe.add("artifact_id", "is required: the image's file name or cloud image id")
	}
	checkToken(&fe, "artifact_id", img.ArtifactID, maxRefLen)
	checkRole(&fe, "role", img.Role)
	if img.OS == "" {
		fe.add("os", "is required, e.g. debian-12 or ubuntu-18.04")
	}
	checkToken(&fe, "os", img.OS, maxRefLen)
	for k, v := range img.Versions {
		checkToken(&fe, "versions["+k+"]", k+"="+v, maxRefLen)
	}
	if img.Built.IsZero() {
		fe.add("built", "is required: when the image was built")
	}
	checkToken(&fe, "build_id", img.BuildID, maxRefLen)
	checkToken(&fe, "arch", img.Arch, maxRoleLen)
	checkToken(&fe, "agent_version", img.AgentVersion, maxRefLen)
	return fe.err()
}

// NewClaimID makes a claim id for callers that gave none (clients that retry
// generate theirs before the first attempt). It starts with the
// time, so new ids land at the end of the claim_id index: a batch of claims
// then dirties one or two index pages instead of one page per claim, and every
// dirty page is replicated to the whole cluster at COMMIT.
func NewClaimID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return fmt.Sprintf("c-%016x-%s", uint64(time.Now().UnixNano()), hex.EncodeToString(b[:]))
}

// CheckImageID validates a node's image id (an artifact or build id; may
// be empty).
func CheckImageID(id string) error {
	var fe fieldErrors
	checkToken(&fe, "image_id", id, maxRefLen)
	return fe.err()
}

// CheckFilter validates a listing filter.
func CheckFilter(f Filter) error {
	var fe fieldErrors
	checkState(&fe, "state", f.State, true)
	if f.Limit < 0 {
		fe.add("limit", "is negative: give 0 (all) or more")
	}
	if f.AfterID < 0 {
		fe.add("after_id", "is negative: give 0 (from the start) or a node id")
	}
	known := false
	for _, s := range Sorts {
		known = known || f.SortOrDefault() == s
	}
	if !known {
		fe.add("sort", "%q is not an order: use %s", truncate(string(f.Sort), 32), sortNames())
	}
	if f.AfterID > 0 && f.SortOrDefault() != SortID {
		fe.add("after_id", "%s", "pages by id only: with another sort give after (the previous page's next)")
	}
	if f.After != "" && known {
		if _, err := DecodeCursor(f.SortOrDefault(), f.After); err != nil {
			fe.add("after", "%s", "is not a cursor of this sort: give the previous page's next")
		}
	}
	for name, v := range map[string]string{"shard": f.Shard, "role": f.Role, "group": f.Group, "image_id": f.ImageID} {
		if len(v) > 255 {
			fe.add(name, "%s", "is longer than 255 bytes")
		}
	}
	return fe.err()
}

// Limits of a group claim's fields.
const (
	// MaxInstanceIDLen bounds GroupClaim.InstanceID (OCI's instance OCIDs,
	// the longest of the clouds', stay well under it).
	MaxInstanceIDLen = 200
	// MinClaimKeyLen and MaxClaimKeyLen bound GroupClaim.ClaimKey: a random
	// value of at least 128 bits in printable ASCII.
	MinClaimKeyLen = 22
	MaxClaimKeyLen = 512
	// MaxGroupNameLen bounds a group's name.
	MaxGroupNameLen = 64
)

// CheckGroupClaim validates a group member's claim, all problems at once.
// Its messages never quote the claim key.
func CheckGroupClaim(gc GroupClaim) error {
	var fe fieldErrors
	switch {
	case gc.InstanceID == "":
		fe.add("instance_id", "is required: the cloud's id of this instance (cloud-init's instance_id)")
	default:
		checkToken(&fe, "instance_id", gc.InstanceID, MaxInstanceIDLen)
	}
	switch {
	case gc.ClaimKey == "":
		fe.add("claim_key", "is required: a random value the node makes once and keeps")
	case len(gc.ClaimKey) < MinClaimKeyLen || len(gc.ClaimKey) > MaxClaimKeyLen:
		fe.add("claim_key", "is %d bytes long: want %d to %d (e.g. 32 random bytes, base64)", len(gc.ClaimKey), MinClaimKeyLen, MaxClaimKeyLen)
	case !printableASCII(gc.ClaimKey):
		fe.add("claim_key", "has a space, control or non-ASCII byte: use printable ASCII")
	}
	checkToken(&fe, "image_id", gc.ImageID, maxRefLen)
	return fe.err()
}

// CheckGroupRequest validates RecordGroup's request, all problems at once.
func CheckGroupRequest(req GroupRequest) error {
	var fe fieldErrors
	checkGroupName(&fe, "name", req.Name)
	checkShard(&fe, "shard", req.Shard)
	checkRole(&fe, "role", req.Role)
	switch req.Format {
	case "modern", "legacy":
	default:
		fe.add("format", "%q is not a config format: modern or legacy", truncate(req.Format, maxRoleLen))
	}
	checkToken(&fe, "nat", req.NAT, maxRoleLen)
	if req.MaxSize < 0 || req.MaxSize > MaxGroupMaxSize {
		fe.add("max_size", "is %d: give 1 to %d (0 keeps the group's)", req.MaxSize, MaxGroupMaxSize)
	}
	if req.TokenHash != "" && !ValidHash(req.TokenHash) {
		fe.add("token_hash", "is not a credential hash (HashCredential: 64 lower-case hex digits)")
	}
	return fe.err()
}

// CheckGroupName validates a group's name.
func CheckGroupName(name string) error {
	var fe fieldErrors
	checkGroupName(&fe, "name", name)
	return fe.err()
}

func checkGroupName(fe *fieldErrors, field, s string) {
	ok := s != "" && len(s) <= MaxGroupNameLen
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		fe.add(field, "%q is not a group name: lower-case letters, digits and '-', starting with a letter, at most %d", truncate(s, MaxGroupNameLen), MaxGroupNameLen)
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func sortNames() string {
	names := make([]string, len(Sorts))
	for i, s := range Sorts {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
