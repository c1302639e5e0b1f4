package regapi

import (
	"context"
	"errors"
	"time"
)

// State is where a node is in its life: (pending →) issued → active →
// draining → retired, with failed beside active for a node that could not
// configure itself. CheckTransition (states.go) holds the allowed changes.
type State string

// The states of a node.
const (
	// StatePending: `issue` recorded the node and is writing its user-data;
	// it becomes issued once the file is in place (Confirm). A pending node
	// holds its nickname until it expires (the issue was interrupted): then
	// it is retired and its name is free again.
	StatePending State = "pending"
	// StateIssued: user-data was generated (or an identity claimed); the node has not reported yet.
	StateIssued State = "issued"
	// StateActive: the node booted, configured itself and serves.
	StateActive State = "active"
	// StateFailed: the node could not configure itself (Node.Reason says why,
	// e.g. the JMS refused its XMPP login). It is live and keeps its nickname;
	// it goes back to active once fixed, or is drained or retired.
	StateFailed State = "failed"
	// StateDraining: the node is being scaled in and takes no new conferences.
	StateDraining State = "draining"
	// StateRetired: the node is gone; its nickname is free again.
	StateRetired State = "retired"
)

// States lists every state in lifecycle order.
var States = []State{StatePending, StateIssued, StateActive, StateFailed, StateDraining, StateRetired}

// MaxReasonBytes bounds Node.Reason: one line of UTF-8 text without control
// characters. Nodes send it, so the registry checks it like any raw input.
const MaxReasonBytes = 512

// AutoNickname asks the registry to pick the lowest free "<role>-NNN" name.
const AutoNickname = "auto"

// Node is one issued node as the registry records it. It never holds a secret.
type Node struct {
	ID         int64     `json:"id"`
	ClaimID    string    `json:"claim_id"`
	Shard      string    `json:"shard"` // the JMS FQDN the node belongs to
	Role       string    `json:"role"`
	Nickname   string    `json:"nickname"`
	State      State     `json:"state"`
	Reason     string    `json:"reason,omitempty"` // given with the latest state change, e.g. why the node failed
	ImageID    string    `json:"image_id,omitempty"`
	InstanceID string    `json:"instance_id,omitempty"`
	Group      string    `json:"group,omitempty"` // the autoscaling group the node claimed its identity in
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// ClaimRequest asks for one node identity.
type ClaimRequest struct {
	// ClaimID makes the claim idempotent: claiming the same id again returns
	// the node it produced. Empty: the registry generates one.
	ClaimID string `json:"claim_id,omitempty"`
	// Shard is the JMS FQDN (required).
	Shard string `json:"shard"`
	// Role is the node's role, e.g. "jvb" or "jms" (required).
	Role string `json:"role"`
	// Nickname is a name, or "" / AutoNickname for the lowest free "<role>-NNN".
	Nickname   string `json:"nickname,omitempty"`
	ImageID    string `json:"image_id,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
	// SecretFingerprint (from Fingerprint) lets the registry refuse a node
	// given a different secret than the shard's earlier nodes. Optional.
	SecretFingerprint string `json:"secret_fingerprint,omitempty"`
	// NewSecret records SecretFingerprint as the shard's secret even when it
	// differs (the JMS's secret was changed on purpose).
	NewSecret bool `json:"new_secret,omitempty"`
	// CredentialHash (HashCredential of a NewCredential(CredentialNode)) is
	// recorded as the node's own credential, which the node's user-data
	// carries: the node may then report its own state and nothing else.
	// Claiming the same claim id again with another hash replaces it.
	// Optional; operators only.
	CredentialHash string `json:"credential_hash,omitempty"`
	// Pending records the node as pending (see StatePending) instead of
	// issued: `issue` confirms it once the node's user-data is on disk.
	Pending bool `json:"pending,omitempty"`
}

// NodeRef names one node: by ID, or by shard and nickname (the live node
// holding that nickname).
type NodeRef struct {
	ID       int64  `json:"id,omitempty"`
	Shard    string `json:"shard,omitempty"`
	Nickname string `json:"nickname,omitempty"`
}

// Filter selects nodes for Nodes. Zero fields match everything.
type Filter struct {
	Shard string `json:"shard,omitempty"`
	State State  `json:"state,omitempty"`
	Role  string `json:"role,omitempty"`
	// Group: only the members of the autoscaling group of that name.
	Group string `json:"group,omitempty"`
	// ImageID: only nodes booted from that image (artifact id).
	ImageID string `json:"image_id,omitempty"`
	// Sort is the order (SortID when empty).
	Sort Sort `json:"sort,omitempty"`
	// After (a cursor: CursorAfter of a page's last node), or AfterID with
	// SortID, starts the page after that node; Limit caps it. Limit 0:
	// all (one call holds the whole selection: use ForEachNode instead).
	After   string `json:"after,omitempty"`
	AfterID int64  `json:"after_id,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// Image is a baked role image, recorded by the Packer post-processor.
type Image struct {
	ArtifactID string            `json:"artifact_id"` // e.g. the image file or cloud image id
	Role       string            `json:"role"`
	OS         string            `json:"os"`
	Versions   map[string]string `json:"versions,omitempty"` // package → version
	Built      time.Time         `json:"built"`
	// BuildID is the identity the jitsi provisioner stamped into the image
	// at bake (ImageStamp): its nodes send it as their image_id, since a
	// node cannot know the artifact id its image got after the bake.
	// Copies of one bake (several regions) share it. Empty for images
	// recorded before packer-plugin-jitsi stamped them.
	BuildID string `json:"build_id,omitempty"`
	// Arch is the image's architecture (Debian's name: amd64, arm64).
	Arch string `json:"arch,omitempty"`
	// AgentVersion is the version of the jitsi-node agent baked in: the
	// first boot every node of the image runs.
	AgentVersion string `json:"agent_version,omitempty"`
}

// Names reports whether id names img: its artifact id or its build id.
func (img Image) Names(id string) bool {
	return id != "" && (id == img.ArtifactID || id == img.BuildID)
}

// Store is what the CLI and the HTTP API need of a registry. *Registry (an
// embedded or cluster dqlite node) and the HTTP client implement it.
type Store interface {
	// Claim records nodes and returns them with their nicknames, all or none.
	Claim(ctx context.Context, reqs ...ClaimRequest) ([]Node, error)
	// SetState moves a node along its lifecycle and records reason (may be
	// empty; at most MaxReasonBytes) as the node's Reason. Setting the current
	// state again with the same reason is a no-op; with another reason it
	// records the new reason (a failed node that fails again differently),
	// except on a retired node, which is final.
	SetState(ctx context.Context, ref NodeRef, to State, reason string) (Node, error)
	// Nodes lists nodes in f's order (by ID by default), one page when
	// f.Limit > 0 (see ForEachNode).
	Nodes(ctx context.Context, f Filter) ([]Node, error)
	// RecordImage records (or updates, by artifact id) a baked image.
	RecordImage(ctx context.Context, img Image) (Image, error)
	// Images lists recorded images ordered by build time.
	Images(ctx context.Context) ([]Image, error)
	// Confirm moves pending nodes to issued, all or none: their user-data
	// is in place. Nodes already past pending are left as they are; a
	// retired one (it expired first) fails the call with ErrTransition.
	Confirm(ctx context.Context, ids ...int64) ([]Node, error)
	// RecordGroup creates an autoscaling group or updates its settings,
	// and records a new group token when req.TokenHash is given.
	RecordGroup(ctx context.Context, req GroupRequest) (Group, error)
	// Groups lists the groups, live ones first, by name.
	Groups(ctx context.Context) ([]Group, error)
	// RetireGroup ends a group: its tokens are revoked and it takes no
	// more claims; its members stay until they are retired themselves.
	RetireGroup(ctx context.Context, name string) (Group, error)
	// RevokeGroupTokens revokes the live tokens of a group (all, or all
	// but the newest) and returns how many it revoked.
	RevokeGroupTokens(ctx context.Context, name string, keepNewest bool) (int, error)
	// Close releases the store.
	Close() error
}

// Errors callers tell apart with errors.Is. The HTTP API maps each to a
// status code and back.
var (
	// ErrInvalid: the request itself is wrong (a field is missing or malformed).
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the nickname is held by another live node of the shard.
	ErrConflict = errors.New("nickname already in use")
	// ErrSecretMismatch: the secret differs from the one the shard's nodes got.
	ErrSecretMismatch = errors.New("secret differs from the shard's")
	// ErrNotFound: no such node.
	ErrNotFound = errors.New("node not found")
	// ErrTransition: the state change is not allowed (e.g. from retired, or
	// draining → failed).
	ErrTransition = errors.New("state change not allowed")
	// ErrUnavailable: no leader could take the write in time (quorum lost,
	// cluster starting); the write may be retried with the same claim id.
	ErrUnavailable = errors.New("registry unavailable")
	// ErrClosed: the registry was closed.
	ErrClosed = errors.New("registry closed")
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("registry data directory is in use")
	// ErrGroupFull: the group has as many live members as its max size.
	ErrGroupFull = errors.New("group is full")
	// ErrClaimKey: the instance already claimed its identity with another
	// claim key.
	ErrClaimKey = errors.New("instance already claimed with another claim key")
)
