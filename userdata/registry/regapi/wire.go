package regapi

// Request and response bodies of the HTTP API (JSON), shared by the server
// (userdata/registry/httpapi) and Client.

// ClaimsBody is the body of POST /v1/claims: one claim's fields, or a list of
// claims (operator only).
type ClaimsBody struct {
	ClaimRequest
	Claims []ClaimRequest `json:"claims,omitempty"`
}

// NodesPage is a page of nodes: the answer to a batch claim and to GET /v1/nodes.
type NodesPage struct {
	Nodes       []Node `json:"nodes"`
	NextAfterID int64  `json:"next_after_id,omitempty"`
}

// StateBody is the body of POST /v1/state.
type StateBody struct {
	NodeRef
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// ImagesBody is the answer to GET /v1/images.
type ImagesBody struct {
	Images []Image `json:"images"`
}

// MaxPageSize caps GET /v1/nodes?limit (and is its default).
const MaxPageSize = 1000
