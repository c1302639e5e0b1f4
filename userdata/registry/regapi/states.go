package regapi

import (
	"fmt"
	"slices"
	"strings"
)

// transitions lists the state changes a node may make. Moving forward may
// skip states (issued → retired: a node that never booted); pending goes to
// issued once its user-data is on disk (Confirm), to retired when it expires,
// or — its user-data was written but the run died before confirming it — to
// whatever the node reports once booted; draining → active
// is a cancelled scale-in; failed is entered from issued or active (first boot
// or a later re-run could not configure the node) and left by recovering
// (→ active after a fix) or going (→ draining, → retired). Retired is final.
var transitions = map[State][]State{
	StatePending:  {StateIssued, StateActive, StateFailed, StateDraining, StateRetired},
	StateIssued:   {StateActive, StateFailed, StateDraining, StateRetired},
	StateActive:   {StateFailed, StateDraining, StateRetired},
	StateFailed:   {StateActive, StateDraining, StateRetired},
	StateDraining: {StateActive, StateRetired},
	StateRetired:  nil,
}

// CheckTransition says whether a node may move from one state to another;
// staying put is allowed (SetState makes it a no-op or a new reason).
func CheckTransition(from, to State) error {
	if from == to {
		return nil
	}
	next := transitions[from]
	if slices.Contains(next, to) {
		return nil
	}
	if from == StateRetired {
		return fmt.Errorf("%w: the node is retired (final); issue a new node instead", ErrTransition)
	}
	return fmt.Errorf("%w: %s → %s: from %s a node may go to %s only", ErrTransition, from, to, from, JoinStates(next, " or "))
}

// ValidState reports whether s is one of States.
func ValidState(s State) bool { return slices.Contains(States, s) }

// JoinStates lists states for messages: "active, failed or retired".
func JoinStates(states []State, last string) string {
	var b strings.Builder
	for i, s := range states {
		switch {
		case i == 0:
		case i == len(states)-1:
			b.WriteString(last)
		default:
			b.WriteString(", ")
		}
		b.WriteString(string(s))
	}
	return b.String()
}
