package regapi

import (
	"context"
	"strconv"
)

// Actors. Every change the registry records names who made it — the
// events' actor column — as one of:
//
//	operator        the operator token, or the CLI on the embedded registry
//	node:<id>       a node's own credential
//	group:<name>    a group token (a member's claim)
//	registry        the registry itself (expired pending nodes)
const (
	ActorOperator = "operator"
	ActorRegistry = "registry"
)

// NodeActor is the actor of node id's own credential.
func NodeActor(id int64) string { return "node:" + strconv.FormatInt(id, 10) }

// GroupActor is the actor of a group's token.
func GroupActor(name string) string { return "group:" + name }

type actorKey struct{}

// WithActor returns ctx carrying actor: the registry records it with the
// changes made under ctx (the API server sets it per request).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor ctx carries, ActorOperator when none.
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return ActorOperator
}

// Principal is who holds a node credential or a group token (the registry
// finds it by the credential's hash).
type Principal struct {
	Kind CredentialKind
	// Node is the node whose credential it is (CredentialNode).
	Node Node
	// GroupID and Group name the group whose token it is (CredentialGroup).
	GroupID int64
	Group   string
}

// Actor is the principal as the event log names it.
func (p Principal) Actor() string {
	if p.Kind == CredentialNode {
		return NodeActor(p.Node.ID)
	}
	return GroupActor(p.Group)
}
