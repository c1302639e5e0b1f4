// Package regapi is the registry as its clients see it: the records (Node,
// Image, Group), the requests (ClaimRequest, GroupClaim, GroupRequest,
// NodeRef, Filter), the states and their allowed changes, the credentials
// that name who holds them (credential.go) and the actors the event log
// names (principal.go), the errors callers tell apart with errors.Is, the
// checks every request passes, the proof of a secret (fingerprint.go), the
// wire format of the HTTP API, and Client, which speaks that API: the
// operator's verbs (Store), a group member's claim (ClaimInGroup) and a
// node's report of its own state (Report) — to one node, or to every node
// of a cluster, sending requests to the leader and moving on to another
// node after a connection error or a 503 (failover.go).
//
// It is free of cgo on purpose: the node agent (cmd/jitsi-node), a static
// binary that runs on every target release, links it to claim its identity
// and report its state. The dqlite store that implements Store lives apart,
// in userdata/registry, and the HTTP server in userdata/registry/httpapi; a
// test fails if this package's imports ever reach go-dqlite or cgo.
package regapi
