package registry

import (
	"context"
	"fmt"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Health reports whether this node can serve, from its own Raft state: the
// leader it knows of, if any. It asks the local dqlite node only (no other
// node, no leader search), so it answers within ctx even when most of the
// cluster is gone — which is when a load balancer needs the answer most.
//
// A node that knows no leader is HealthNoQuorum: a majority of the nodes is
// down or cut off from it, or an election is under way (about a second).
func (r *Registry) Health(ctx context.Context) regapi.Health {
	select {
	case <-r.ctx.Done():
		return regapi.Health{Status: regapi.HealthStopping, Detail: "the registry node is closing"}
	default:
	}
	cli, err := r.app.Client(ctx)
	if err != nil {
		return regapi.Health{Status: regapi.HealthNoQuorum, Detail: fmt.Sprintf("ask the local dqlite node: %v", err)}
	}
	defer cli.Close()
	leader, err := cli.Leader(ctx)
	if err != nil {
		return regapi.Health{Status: regapi.HealthNoQuorum, Detail: fmt.Sprintf("ask the local dqlite node for the leader: %v", err)}
	}
	if leader == nil || leader.ID == 0 {
		return regapi.Health{Status: regapi.HealthNoQuorum,
			Detail: "this node knows no leader: a majority of the cluster's nodes is down or unreachable, or an election is under way"}
	}
	return regapi.Health{Status: regapi.HealthReady, Leader: leader.ID == r.app.ID(), LeaderAddress: leader.Address}
}
