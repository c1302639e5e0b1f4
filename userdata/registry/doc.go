// Package registry records every node the project issues — which shard (JMS),
// role, nickname, image, state — in dqlite, SQLite replicated with Raft
// (github.com/canonical/go-dqlite/v3, libdqlite ≥ 1.18), and hands out
// nicknames that can never be issued twice to live nodes of one shard.
//
// # Verbs
//
//	r, err := registry.Open(ctx, dir)          // embedded single node (the CLI default)
//	nodes, err := r.Claim(ctx, regapi.ClaimRequest{Shard: "meet.example.org", Role: "jvb", Pending: true})
//	nodes, err = r.Confirm(ctx, nodes[0].ID)   // pending → issued: its user-data is on disk
//	_, err = r.SetState(ctx, regapi.NodeRef{ID: nodes[0].ID}, regapi.StateActive, "")
//	list, err := r.Nodes(ctx, regapi.Filter{Shard: "meet.example.org"})
//	g, err := r.RecordGroup(ctx, regapi.GroupRequest{Name: "edge", …, TokenHash: h})
//	p, err := r.Authenticate(ctx, regapi.HashCredential(token)) // who holds a token
//	n, err := r.ClaimInGroup(ctx, p.GroupID, regapi.GroupClaim{…}, credentialHash)
//	_, err = r.RecordImage(ctx, img)
//	err = r.Close()
//
// regapi.Store is the operator's verbs as an interface (the records, requests
// and errors are package regapi's, which has no cgo); regapi.Client
// implements it for a remote cluster through the HTTP API of
// userdata/registry/httpapi, which also serves the identity verbs
// (Authenticate, ClaimInGroup) to booting nodes. Every change records its
// actor, taken from the context (regapi.WithActor; "operator" by default).
//
// # States
//
// A node is issued (recorded as pending first by `issue`, until its
// user-data is on disk: see pending.go), then active once it configured
// itself, draining while scaled in, and retired when gone (its nickname is
// free again). A pending node nobody confirms expires after PendingExpiry:
// the registry retires it (actor "registry"). A node that
// cannot configure itself reports failed with a reason, e.g. "the JMS refused
// the bridge's XMPP login (not-authorized): the secret differs from the
// JMS's"; it stays live and keeps its nickname until it recovers (→ active),
// is drained or is retired. Allowed changes (checkTransition):
//
//	pending  → issued, active, failed, draining, retired
//	issued   → active, failed, draining, retired
//	active   → failed, draining, retired
//	failed   → active, draining, retired
//	draining → active, retired
//	retired  (final)
//
// Every change records its reason (empty when none given) as Node.Reason and
// in the state event: one line of printable UTF-8 of at most MaxReasonBytes,
// checked like any input a node sends. Reporting the current state again
// with another reason records the new reason (a failed node that, once
// re-run, fails differently); with the same reason it changes nothing.
//
// # Embedded and clustered
//
// Open on a data directory starts a dqlite node there. With no options it is a
// single-node registry that listens on no TCP port: its node is bound to a
// Linux abstract socket on which libdqlite accepts connections from its own
// process only (private.go), so other local users — and other processes —
// cannot reach it; the 0700 data directory keeps them from the files. An
// exclusive flock on <dir>/lock serialises processes sharing a directory:
// parallel CLI runs wait their turn (bounded by WithLockTimeout) and all
// succeed. The node's Raft address (a loopback HOST:PORT saved in
// <dir>/raft-address on first use) is its identity only, so that
// `registry serve` can serve the directory later.
//
// WithAddress + WithJoin run a member of a Raft cluster of 3 or more
// (`registry serve`). WithPeerTLS authenticates and encrypts every link
// between members with mutual TLS: a peer must present a certificate signed
// by the cluster CA (InitClusterTLS makes the CA and one certificate per
// node; LoadPeerTLS loads them). The node itself is then bound to a socket
// of its own process only, and the Raft address is a TLS listener that
// hands a connection over only after a completed mutual handshake
// (private.go), so neither a stranger on the network nor a local user can
// join, read or write. `registry serve` refuses plain TCP off loopback.
// The key of the secret checks lives in a file beside the database, never in
// it (secretcheck.go): the cluster's nodes share it (WithSecretKeyFile).
//
// Health reports, from the node's own Raft state and within its context,
// whether the node knows a leader: the API's /v1/health and /v1/leader
// answer from it at once, even without quorum.
//
// # Identities
//
// Credentials name who holds them (regapi's credential.go, group.go): the
// operator does everything; a group token (minted by `issue --group`) only
// claims identities in its group — shard and role from the group's record,
// each instance once (repeating with the same claim key returns the same
// node with a new credential), at most the group's max size live; a node
// credential (minted by `issue` for an issued node, by the API for a group
// member) only reports its own state, and dies with its node's retirement.
// The registry keeps only SHA-256 hashes of tokens, credentials and claim
// keys; the API (httpapi) decides who may call what.
//
// # Guarantees
//
//   - Uniqueness is the database's: a UNIQUE index on (shard, nickname,
//     released), where released is 0 for every live node and a retired
//     node's own id, so live names collide and retired ones never do.
//   - "auto" picks the lowest free "<role>-NNN" (jvb-001, jvb-002, …); a
//     retired node's name is free again. Free numbers are kept as ranges
//     (alloc.go), so a claim reads a handful of index entries whatever the
//     fleet's size: no scan, in Go or SQL.
//   - Group commit (batch.go): concurrent claims share one transaction, and
//     each caller is answered after that transaction's COMMIT.
//   - Every claim carries a claim id (given, or generated), UNIQUE in the
//     database. A retry after a COMMIT that failed but was applied fails on
//     that index, looks its claim ids up and returns the recorded nodes
//     instead of issuing new ones.
//   - Writes survive leader changes: they are retried on driver.ErrBadConn
//     and "no leader" until WithWriteTimeout, then fail with ErrUnavailable
//     (quorum lost) instead of hanging (tx.go). After the leader's SIGKILL
//     a new one is elected in 0.3–0.6 s (WithNetworkLatency 20 ms), and the
//     database handle finds it within 100 ms (leaderconn.go): claims pause
//     for about 0.5–0.7 s (e2e/harness/failover measures it). A node back
//     from a crash catches up by snapshot (raftlog.go).
//   - The secret is never stored, nor anything that lets a reader of the
//     database test guesses of it: a shard keeps an HMAC of the client's
//     proof of the secret under a key outside the database (secretcheck.go).
//   - A node's row records its issue (created_at, claim id, nickname never
//     change; rows are never deleted). The event log (state changes, new
//     credentials, groups, images, secret changes) is append-only: triggers
//     refuse UPDATE and DELETE. Every event names its actor (operator,
//     node:<id>, group:<name>, registry). Events gives a node's whole
//     history, issue included.
//   - All or none across a crash: `issue` claims its nodes pending, puts
//     their user-data in place, then confirms them (Confirm), so no node is
//     issued without its user-data; expired pending nodes free their names.
//
// # Speed
//
// A claim's cost is round trips to the leader and the Raft commit, not
// rows: every statement on the claim path is an index seek (plan_test.go), and
// free numbers are ranges, so 100 000 nodes cost what 100 do. There is one
// claim path (claim.go): a batch is first attempted from what the registry
// remembers (memo.go: shard ids, series, where the lowest free range
// started), which in steady state is ONE exec — BEGIN, a compare-and-swap
// take of k numbers at the remembered range start, the INSERT guarded by it,
// COMMIT. When memory proved wrong (the swap missed, a claim id was already
// recorded) the attempt wrote nothing, and the batch runs again reading
// what proved wrong inside the transaction.
//
// The Raft commit replicates every page the transaction dirtied, and each
// follower reopens the database to apply it, so bytes per commit count: the
// schema keeps the claim path to three B-trees of nodes (rows, claim ids,
// names) and one free range, ≈ 9.6 pages per 16-claim batch; the indexes of
// credentials, group members and pending nodes are partial, so claims
// without them leave them untouched.
// dqlite serialises writers, so a transaction's claims-per-commit decides
// throughput: route claims to one node (the leader; the API's /v1/leader is a
// load-balancer check) rather than spreading them over three group commits.
//
// # Building
//
// Build with -tags libsqlite3 and link libdqlite statically so the binary runs
// where libdqlite is not installed (scripts/install-dqlite.sh builds it):
//
//	CGO_LDFLAGS="-Wl,-Bstatic -ldqlite -Wl,-Bdynamic -luv -llz4 -lsqlite3" go build -tags libsqlite3
package registry
