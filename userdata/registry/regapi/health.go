package regapi

// Health is the answer of GET /v1/health (and the body of GET /v1/leader):
// what a load balancer, an operator and Client read to decide where to send
// requests. The HTTP status says the same for those that read only it: 200
// when Status is ready (for /v1/leader: and Leader), 503 otherwise.
type Health struct {
	Status HealthStatus `json:"status"`
	// Leader: this node is the cluster's Raft leader; claims sent here share
	// its group commit without a hop.
	Leader bool `json:"leader"`
	// LeaderAddress is the Raft address of the leader this node knows of.
	LeaderAddress string `json:"leader_address,omitempty"`
	// Detail says why the node is not ready, for people.
	Detail string `json:"detail,omitempty"`
}

// HealthStatus is a node's readiness.
type HealthStatus string

const (
	// HealthStarting: the node is joining its cluster or opening the
	// database; it answers every request with 503 (code "starting").
	HealthStarting HealthStatus = "starting"
	// HealthReady: the node knows a leader and serves requests.
	HealthReady HealthStatus = "ready"
	// HealthNoQuorum: the node knows no leader (a majority of the cluster's
	// nodes is down or cut off, or an election is under way); writes would
	// wait for one and fail with 503 "unavailable".
	HealthNoQuorum HealthStatus = "no_quorum"
	// HealthStopping: the node is shutting down; go elsewhere.
	HealthStopping HealthStatus = "stopping"
)

// CodeStarting is the error code of requests a node refuses while it starts
// or stops (HTTP 503): the request did nothing; send it elsewhere or again.
const CodeStarting = "starting"
