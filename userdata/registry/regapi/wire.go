package regapi

// Request and response bodies of the HTTP API (JSON), shared by the server
// (userdata/registry/httpapi) and Client.

// ClaimsBody is the body of POST /v1/claims: one claim's fields, or a list of
// claims (operator only).
type ClaimsBody struct {
	ClaimRequest
	Claims []ClaimRequest `json:"claims,omitempty"`
}

// NodesPage is a page of nodes: the answer to a batch claim and to GET
// /v1/nodes. A full page of a listing says where the next starts: Next (a
// cursor for ?after=, any order) and, in id order, NextAfterID.
type NodesPage struct {
	Nodes       []Node `json:"nodes"`
	Next        string `json:"next,omitempty"`
	NextAfterID int64  `json:"next_after_id,omitempty"`
}

// StateBody is the body of POST /v1/state.
type StateBody struct {
	NodeRef
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
	// ImageID, when given, is recorded as the node's image (see Report).
	ImageID string `json:"image_id,omitempty"`
}

// ImagesBody is the answer to GET /v1/images.
type ImagesBody struct {
	Images []Image `json:"images"`
}

// MaxPageSize caps GET /v1/nodes?limit (and is its default).
const MaxPageSize = 1000

// GroupClaim is what a member of an autoscaling group sends to POST
// /v1/claims with its group's token: the group, shard, role and format come
// from the group's record, never from the request.
type GroupClaim struct {
	// InstanceID is the cloud's id of the instance (cloud-init's
	// instance_id). A group takes each instance once.
	InstanceID string `json:"instance_id"`
	// ClaimKey is a random value the node made before its first attempt
	// and keeps (root-only): repeating a claim with the same instance id and
	// key returns the same node with a fresh credential (an answer lost on
	// the way), while the same instance id with another key is refused.
	// The registry stores only its hash.
	ClaimKey string `json:"claim_key"`
	// ImageID is the image the instance booted, when the node knows it.
	ImageID string `json:"image_id,omitempty"`
}

// ClaimResult answers a GroupClaim: the node's record and its own
// credential, which this answer carries once (the registry keeps its hash).
type ClaimResult struct {
	Node       Node   `json:"node"`
	Credential string `json:"credential"`
}

// Report is the body a node sends to POST /v1/state with its own
// credential: the node is the credential's, so no NodeRef is needed (one
// naming another node is refused).
type Report struct {
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
	// ImageID is the image the node booted: the build id of its image's
	// stamp (ImageStamp). The registry records it as the node's image_id
	// when it differs, so that the node is linked to its image even when
	// its issue named none or the wrong one.
	ImageID string `json:"image_id,omitempty"`
}

// IDsBody is the body of POST /v1/confirm.
type IDsBody struct {
	IDs []int64 `json:"ids"`
}

// GroupsBody is the answer to GET /v1/groups.
type GroupsBody struct {
	Groups []Group `json:"groups"`
}

// GroupNameBody is the body of POST /v1/groups/retire.
type GroupNameBody struct {
	Name string `json:"name"`
}

// RevokeBody is the body of POST /v1/groups/revoke.
type RevokeBody struct {
	Name       string `json:"name"`
	KeepNewest bool   `json:"keep_newest,omitempty"`
}

// RevokedBody answers POST /v1/groups/revoke.
type RevokedBody struct {
	Revoked int `json:"revoked"`
}
