package regapi

import "time"

// The fleet in aggregate: what the registry's fleet page and its /metrics
// show. A registry of any size answers it with a few GROUP BY queries, not
// a row per node.

// Shard is a JMS and the bridges that serve it.
type Shard struct {
	FQDN    string    `json:"fqdn"`
	Created time.Time `json:"created"`
}

// FleetCount is how many nodes share a shard, role, state and image id.
type FleetCount struct {
	Shard   string `json:"shard"`
	Role    string `json:"role"`
	State   State  `json:"state"`
	ImageID string `json:"image_id,omitempty"`
	Nodes   int    `json:"nodes"`
}

// Fleet is the registry's fleet in aggregate.
type Fleet struct {
	Shards []Shard      `json:"shards"`
	Groups []Group      `json:"groups"`
	Images []Image      `json:"images"`
	Counts []FleetCount `json:"counts"`
}

// AttentionQuery selects the live nodes an operator should look at: failed
// or draining ones, and those booted from one of StaleImages (ids of
// images with a newer image in their line), oldest first, a page at a time.
type AttentionQuery struct {
	Shard       string   // "" for every shard
	StaleImages []string // artifact or build ids
	AfterID     int64
	Limit       int // at most MaxPageSize
}
