// Package nodeconfig is the typed, versioned configuration that user-data
// hands to the node agent (cmd/jitsi-node):
//
//   - /etc/jitsi-node/node.yaml (root 0644, no secret): the node's role, its
//     JMS, its nickname or group, its bridge format and shards, NAT mode and
//     addresses, the registry it reports to (with an optional CA), and a
//     JMS's options;
//   - /etc/jitsi-node/secrets.yaml (root 0600): the shard secrets by shard
//     id (a JMS's own secret), and the registry credential.
//
// Both carry `version`. An agent reads the versions it knows and refuses a
// newer one with a message naming the plugin release that reads it
// (agent_min_version), so an image and a user-data of different ages fail
// clearly, never silently. A few fields form an envelope that keeps its
// name and meaning in every version — version, agent_min_version,
// registry.url, registry.ca and registry_credential — so that even an agent
// too old to read the rest can report `failed` to the registry.
//
// Decoding is strict (unknown fields are errors). FromSpec and Config.Spec
// convert to and from node.Spec, whose validation the agent reuses.
package nodeconfig
