package registry

import dqlite "github.com/canonical/go-dqlite/v3"

// snapshotParams decide how a node that missed part of the Raft log (it
// was down, or restarted) catches up.
//
// From the leader's log, dqlite resends every missing entry at each
// heartbeat (30 ms) until the node answers, and a claim batch's entry
// carries about ten database pages (≈ 40 KB): a node back after a few
// seconds under full load lagged 400–600 entries and needed 5–10 s to chew
// through the resent copies. Until then the cluster's majority depended on
// it: when the leader died in that window, claims paused for up to 4 s
// (measured with e2e/harness/failover) while the new leader brought it up
// to date. With the dynamic trailing strategy a node keeps no more log
// after a snapshot than the snapshot's own size, so a node that far behind
// gets the snapshot instead, sent once; a snapshot every 256 entries keeps
// that window short. Measured after the change: pauses of 0.4–0.8 s, kills
// 1 s after a rejoin included. Snapshots cost a copy of the database (a few
// MB) every 256 commits, i.e. every few seconds at full load, rarely
// otherwise.
var snapshotParams = dqlite.SnapshotParams{
	Threshold: 256,
	Trailing:  8192, // a cap; the dynamic strategy keeps fewer
	Strategy:  dqlite.TrailingStrategyDynamic,
}
