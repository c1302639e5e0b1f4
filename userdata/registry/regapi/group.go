package regapi

import "time"

// Autoscaling groups.
//
// A group is a set of bridges that share ONE user-data (an autoscaling
// group): each member claims its own identity when it boots. `issue --group`
// records the group — its shard, role, config format, NAT mode and maximum
// size — and mints a group token for the user-data (NewCredential; the
// registry keeps only its hash). The token can only claim into its group
// (GroupClaim): the shard and role come from the group's record, never from
// the request; each instance claims once; at most MaxSize members are live
// at a time.
//
// Revocation: RetireGroup revokes every token of the group and refuses
// further claims; RevokeGroupTokens revokes the live tokens (all, or all but
// the newest: re-issue the group's user-data, roll it out, then revoke the
// older tokens). Members keep their own node credentials either way; a node
// credential dies when its node is retired, and is replaced when its
// instance claims again.

// GroupState is whether a group takes claims.
type GroupState string

const (
	// GroupActive: the group's live tokens may claim.
	GroupActive GroupState = "active"
	// GroupRetired: the group takes no claims; its tokens are revoked. Its
	// name may be used by a new group.
	GroupRetired GroupState = "retired"
)

// DefaultGroupMaxSize is a new group's MaxSize when none is given.
const DefaultGroupMaxSize = 100

// MaxGroupMaxSize bounds MaxSize.
const MaxGroupMaxSize = 100_000

// Group is an autoscaling group as the registry records it.
type Group struct {
	Name    string     `json:"name"`
	Shard   string     `json:"shard"`
	Role    string     `json:"role"`
	Format  string     `json:"format"`
	NAT     string     `json:"nat,omitempty"`
	MaxSize int        `json:"max_size"`
	State   GroupState `json:"state"`
	// Members counts the group's live nodes; Tokens its live tokens.
	Members int       `json:"members"`
	Tokens  int       `json:"tokens"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// GroupRequest creates a group or updates its settings (RecordGroup).
type GroupRequest struct {
	Name string `json:"name"`
	// Shard and Role are fixed for the group's life: a request naming
	// another shard or role for a live group is refused.
	Shard string `json:"shard"`
	Role  string `json:"role"`
	// Format is the bridges' config format (modern or legacy).
	Format string `json:"format"`
	// NAT is how members find their public address (e.g. auto, none, or
	// static: a fixed address); recorded for operators, not interpreted.
	NAT string `json:"nat,omitempty"`
	// MaxSize bounds the live members; 0 keeps the group's (a new group
	// gets DefaultGroupMaxSize).
	MaxSize int `json:"max_size,omitempty"`
	// TokenHash, when given, is recorded as a new live token of the group
	// (HashCredential of a NewCredential(CredentialGroup)).
	TokenHash string `json:"token_hash,omitempty"`
}
