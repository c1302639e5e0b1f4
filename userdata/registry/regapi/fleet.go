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

// AttentionQuery selects a page of the live nodes an operator should look
// at, oldest first: failed or draining ones (Stale false), or those booted
// from one of StaleImages (ids of images with a newer image in their line)
// that are neither (Stale true). The fleet page lists the first kind, then
// the second.
type AttentionQuery struct {
	Shard       string // "" for every shard
	Stale       bool
	StaleImages []string // artifact or build ids
	AfterID     int64
	Limit       int // at most MaxPageSize
}
