package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// All SQL of the registry lives in this file, but the listings' (list.go).
//
// Every statement on the claim path is an index seek (TestQueryPlansDoNotScan
// checks the plans), so a claim costs the same with 100 or 100 000 nodes.

// dbName is the dqlite database the registry keeps its tables in.
const dbName = "registry"

// schemaVersion is stored in meta; bump it with a migration when tables change.
//
//	2: nodes.reason and state 'failed'.
//	3: nodes.released and one index for names and shards (one dirty index
//	   page less per claim batch); a node's issue is its row, no longer also
//	   an 'issued' event.
//	4: identities and crash safety: groups and their tokens; per node its
//	   credential's hash, its group, its claim key's hash, who made its latest
//	   change (actor, copied into the state events), and state 'pending' with
//	   an expiry; events.actor; secret checks are keyed HMACs (the v1
//	   fingerprints are dropped).
//	5: images carry their build identity (build_id, the stamp the jitsi
//	   provisioner bakes into the image, which its nodes send), arch and
//	   agent_version.
const schemaVersion = "5"

// nextSchemaVersion is the version a migration from v leads to.
func nextSchemaVersion(v string) string {
	n, _ := strconv.Atoi(v)
	return strconv.Itoa(n + 1)
}

// schema creates the tables of a new registry; every statement is
// idempotent. schemaIndexes follow, after any migration (migrations).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID`,
	// A shard is one JMS and the bridges that serve it. secret_fp is the
	// keyed check (secretcheck.go) of the secret its nodes were issued with.
	`CREATE TABLE IF NOT EXISTS shards (
		id         INTEGER PRIMARY KEY,
		jms_fqdn   TEXT NOT NULL UNIQUE,
		secret_fp  TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
	)`,
	// An autoscaling group (regapi.Group). Its shard and role never change;
	// released is 0 while the group is active and its own id once retired,
	// so that a retired group's name may be used again (groups_name).
	`CREATE TABLE IF NOT EXISTS groups (
		id         INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		shard_id   INTEGER NOT NULL REFERENCES shards (id),
		role       TEXT NOT NULL,
		format     TEXT NOT NULL,
		nat        TEXT NOT NULL DEFAULT '',
		max_size   INTEGER NOT NULL CHECK (max_size > 0),
		state      TEXT NOT NULL CHECK (state IN ('active', 'retired')),
		released   INTEGER NOT NULL DEFAULT 0 CHECK ((released = 0) = (state = 'active')),
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	)`,
	// A group's tokens, by the SHA-256 of the token (never the token):
	// several may be live; revoked_at is set when one is revoked.
	`CREATE TABLE IF NOT EXISTS group_tokens (
		id         INTEGER PRIMARY KEY,
		hash       TEXT NOT NULL UNIQUE,
		group_id   INTEGER NOT NULL REFERENCES groups (id),
		created_at TEXT NOT NULL,
		revoked_at TEXT
	)`,
	// A node's row is also the record of its issue: created_at, claim_id and
	// nickname never change. reason is what came with the node's latest state
	// change (Node.Reason). released is 0 while the node holds its nickname
	// and the node's own id once it is retired: see nodes_nickname.
	`CREATE TABLE IF NOT EXISTS nodes ` + nodesTable,
	// Numbered nicknames (alloc.go): a series per (shard, role prefix) and its
	// free numbers as disjoint ranges.
	`CREATE TABLE IF NOT EXISTS number_series (
		shard_id INTEGER NOT NULL REFERENCES shards (id),
		prefix   TEXT NOT NULL,
		PRIMARY KEY (shard_id, prefix)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS free_numbers (
		shard_id INTEGER NOT NULL,
		prefix   TEXT NOT NULL,
		lo       INTEGER NOT NULL,
		hi       INTEGER NOT NULL CHECK (hi >= lo),
		PRIMARY KEY (shard_id, prefix, lo)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS images ` + imagesTable,
	// The event log is append-only, and the database enforces it. It holds
	// what happens to nodes after their issue (state changes, new
	// credentials), groups, images and secrets, each with its actor
	// (regapi.ActorFrom); Events adds a node's issue from its row.
	`CREATE TABLE IF NOT EXISTS events ` + eventsTable,
	`INSERT INTO meta (key, value) VALUES ('schema_version', '` + schemaVersion + `') ON CONFLICT (key) DO NOTHING`,
}

// nodesTable is the nodes table's definition (schema, migrations). actor
// made the row's latest change. A group member has its group_id and the
// SHA-256 of its claim key; credential is the SHA-256 of the node's own
// credential (NULL when it has none, or is retired). A pending node expires
// at expires_at.
const nodesTable = `(
	id          INTEGER PRIMARY KEY,
	claim_id    TEXT NOT NULL UNIQUE,
	shard_id    INTEGER NOT NULL REFERENCES shards (id),
	role        TEXT NOT NULL,
	nickname    TEXT NOT NULL,
	state       TEXT NOT NULL CHECK (state IN ('pending', 'issued', 'active', 'failed', 'draining', 'retired')),
	reason      TEXT NOT NULL DEFAULT '',
	image_id    TEXT NOT NULL DEFAULT '',
	instance_id TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	released    INTEGER NOT NULL DEFAULT 0 CHECK ((released = 0) = (state <> 'retired')),
	actor       TEXT NOT NULL DEFAULT 'operator',
	group_id    INTEGER REFERENCES groups (id),
	credential  TEXT,
	claim_key   TEXT,
	expires_at  TEXT CHECK ((expires_at IS NOT NULL) = (state = 'pending'))
)`

// imagesTable is the images table's definition (schema, migrations). An
// image is recorded under its artifact id (the cloud image or file);
// build_id is the identity the jitsi provisioner stamped into it at bake
// (regapi.ImageStamp), which its nodes send: a node's image_id is either.
// Copies of one bake (an image copied to several regions) share a build_id.
const imagesTable = `(
	id            INTEGER PRIMARY KEY,
	artifact_id   TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	os            TEXT NOT NULL,
	versions      TEXT NOT NULL DEFAULT '{}',
	built_at      TEXT NOT NULL,
	recorded_at   TEXT NOT NULL,
	build_id      TEXT NOT NULL DEFAULT '',
	arch          TEXT NOT NULL DEFAULT '',
	agent_version TEXT NOT NULL DEFAULT ''
)`

// eventsTable is the events table's definition (schema, migrations).
const eventsTable = `(
	id       INTEGER PRIMARY KEY,
	at       TEXT NOT NULL,
	kind     TEXT NOT NULL,
	shard_id INTEGER,
	node_id  INTEGER,
	actor    TEXT NOT NULL DEFAULT '',
	detail   TEXT NOT NULL DEFAULT ''
)`

// schemaIndexes creates indexes and triggers, on tables that are up to date.
var schemaIndexes = []string{
	// The rule the whole registry exists for: a nickname is held by at most
	// one live node of a shard. Live nodes all have released = 0 and so
	// collide; a retired node's released is its own id, so it collides with
	// nothing and its name is free again. The same index serves lookups by
	// name and listings by shard. Few indexes on purpose: every index a claim
	// touches is more dirty pages that COMMIT replicates to the whole
	// cluster; listings by state alone, and the event log, are read rarely
	// and may scan.
	`CREATE UNIQUE INDEX IF NOT EXISTS nodes_nickname ON nodes (shard_id, nickname, released)`,
	// Partial indexes hold only the rows they are about, so a claim of a
	// node without a credential, outside any group and not pending (the
	// bulk of a fleet's claims) leaves them untouched.
	`CREATE UNIQUE INDEX IF NOT EXISTS nodes_credential ON nodes (credential) WHERE credential IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS nodes_group ON nodes (group_id, released) WHERE group_id IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS nodes_pending ON nodes (expires_at) WHERE state = 'pending'`,
	// One active group per name; retired ones keep theirs (released = id).
	`CREATE UNIQUE INDEX IF NOT EXISTS groups_name ON groups (name, released)`,
	`CREATE INDEX IF NOT EXISTS group_tokens_group ON group_tokens (group_id)`,
	// Foreign keys: a shard upsert checks the groups that reference it.
	`CREATE INDEX IF NOT EXISTS groups_shard ON groups (shard_id)`,
	`CREATE INDEX IF NOT EXISTS images_built ON images (built_at)`,
	// Listings by state (list.go). Partial: a claim inserts pending or
	// issued rows, which it leaves out, so claims never write it (every
	// index a claim writes costs claim throughput); those two states are
	// listed by walking the ids.
	`CREATE INDEX IF NOT EXISTS nodes_by_state ON nodes (state) WHERE ` + stateIndexed,
	// The fleet's counts by shard, role, state and image (/metrics, the
	// fleet page) walk this covering index in order instead of sorting the
	// whole table. Partial: claims insert pending or issued rows only, so
	// they never write it (BenchmarkClaim16 keeps its throughput); nodes
	// still pending or issued, few in a fleet that runs, are counted by a
	// scan (qFleetCounts).
	`CREATE INDEX IF NOT EXISTS nodes_counts ON nodes (shard_id, role, state, image_id) WHERE ` + stateCounted,
	// A node's image_id may be a build id (what its agent sends).
	`CREATE INDEX IF NOT EXISTS images_build ON images (build_id) WHERE build_id <> ''`,
	// A state change logs itself, with its actor: no code path can forget
	// the event. A new reason without a new state (a failed node failing
	// differently) is logged too, as a state event with from = to.
	`CREATE TRIGGER IF NOT EXISTS nodes_log_state AFTER UPDATE OF state, reason ON nodes
		WHEN OLD.state <> NEW.state OR OLD.reason <> NEW.reason BEGIN
		INSERT INTO events (at, kind, shard_id, node_id, actor, detail) VALUES (NEW.updated_at, 'state', NEW.shard_id, NEW.id, NEW.actor,
			json_object('from', OLD.state, 'to', NEW.state, 'reason', NEW.reason));
	END`,
	`CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
	`CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
}

// migrations bring an older registry's tables one version up, keyed by the
// version they start from; they run in turn in the transaction that opens
// the registry, before schemaIndexes. A table is rebuilt when SQLite cannot
// alter it in place (a new CHECK, a changed one); its indexes and triggers
// go with the old table and schemaIndexes makes them again.
var migrations = map[string][]string{
	// nodes gains released: SQLite checks a new column's CHECK against the
	// old rows, and their released comes from their state. The 'issued'
	// events logged so far stay (the log is append-only), and Events shows
	// a node's issue once. (The rebuilt table has today's columns; the next
	// migration copies it once more.)
	"2": {
		`CREATE TABLE nodes_v3 ` + nodesTable,
		`INSERT INTO nodes_v3 (id, claim_id, shard_id, role, nickname, state, reason, image_id, instance_id, created_at, updated_at, released)
			SELECT id, claim_id, shard_id, role, nickname, state, reason, image_id, instance_id, created_at, updated_at,
				CASE WHEN state = 'retired' THEN id ELSE 0 END FROM nodes`,
		`DROP TABLE nodes`,
		`ALTER TABLE nodes_v3 RENAME TO nodes`,
	},
	// nodes gains state 'pending' (a changed CHECK) and the identity
	// columns, events its actor (rebuilt too, so that a migrated registry's
	// schema reads like a new one's; DROP TABLE fires no trigger). The
	// shards' v1 secret fingerprints — 16 bits of a PBKDF2 of the secret,
	// salted with public data — are dropped: they let a reader of the
	// database test secret guesses offline. The next issue of each shard
	// records its keyed check.
	"3": {
		`CREATE TABLE nodes_v4 ` + nodesTable,
		`INSERT INTO nodes_v4 (id, claim_id, shard_id, role, nickname, state, reason, image_id, instance_id, created_at, updated_at, released)
			SELECT id, claim_id, shard_id, role, nickname, state, reason, image_id, instance_id, created_at, updated_at, released FROM nodes`,
		`DROP TABLE nodes`,
		`ALTER TABLE nodes_v4 RENAME TO nodes`,
		`CREATE TABLE events_v4 ` + eventsTable,
		`INSERT INTO events_v4 (id, at, kind, shard_id, node_id, detail) SELECT id, at, kind, shard_id, node_id, detail FROM events`,
		`DROP TABLE events`,
		`ALTER TABLE events_v4 RENAME TO events`,
		`UPDATE shards SET secret_fp = ''`,
	},
	// images gain build_id, arch and agent_version (rebuilt rather than
	// altered, so that a migrated schema reads like a new one's); images
	// recorded before know none of them.
	"4": {
		`CREATE TABLE images_v5 ` + imagesTable,
		`INSERT INTO images_v5 (id, artifact_id, role, os, versions, built_at, recorded_at)
			SELECT id, artifact_id, role, os, versions, built_at, recorded_at FROM images`,
		`DROP TABLE images`,
		`ALTER TABLE images_v5 RENAME TO images`,
	},
}

// qSetSchemaVersion ends a migration.
const qSetSchemaVersion = `UPDATE meta SET value = '` + schemaVersion + `' WHERE key = 'schema_version'`

const qSchemaVersion = `SELECT value FROM meta WHERE key = 'schema_version'`

// The id of the key of the secret checks (secretcheck.go).
const (
	qSecretKeyID    = `SELECT value FROM meta WHERE key = 'secret_key_id'`
	qSetSecretKeyID = `INSERT INTO meta (key, value) VALUES ('secret_key_id', ?)`
)

// Transactions: BEGIN IMMEDIATE takes the write lock at once, so a writer
// waits (busy timeout) instead of failing on a stale snapshot later.
const (
	qBegin    = `BEGIN IMMEDIATE`
	qCommit   = `COMMIT`
	qRollback = `ROLLBACK`
	// A unit's explicit names are reserved under a savepoint, so that a
	// refused name undoes the unit's earlier cuts (claimTx.reserveExplicit).
	qSavepoint           = `SAVEPOINT unit`
	qRollbackToSavepoint = `ROLLBACK TO unit`
	qReleaseSavepoint    = `RELEASE unit`
)

// Shards.
const qSetShardFingerprint = `UPDATE shards SET secret_fp = ? WHERE id = ?`

// qUpsertShards creates missing shards and returns all n rows (the no-op
// update makes RETURNING include the shards that existed).
func qUpsertShards(n int) string {
	return `INSERT INTO shards (jms_fqdn, created_at) VALUES ` + rows(n, 2) +
		` ON CONFLICT (jms_fqdn) DO UPDATE SET jms_fqdn = excluded.jms_fqdn RETURNING id, jms_fqdn, secret_fp`
}

// Nodes. nodeColumns are what queryNodes scans, in order.
const nodeColumns = `SELECT n.id, n.claim_id, s.jms_fqdn, n.role, n.nickname, n.state, n.reason,
	n.image_id, n.instance_id, COALESCE(g.name, ''), n.created_at, n.updated_at`

// nodesFrom joins what a node's record needs.
const nodesFrom = ` FROM nodes n JOIN shards s ON s.id = n.shard_id LEFT JOIN groups g ON g.id = n.group_id`

const (
	qNodeByID           = nodeColumns + nodesFrom + ` WHERE n.id = ?`
	qLiveNodeByNickname = nodeColumns + nodesFrom + ` WHERE s.jms_fqdn = ? AND n.nickname = ? AND n.released = 0`
	qLiveNicknameTaken  = `SELECT id FROM nodes WHERE shard_id = ? AND nickname = ? AND released = 0`
	// Retiring releases the name (see nodes_nickname) and drops the node's
	// credential; retired is final. No state change sets pending, so every
	// one ends a pending node's expiry.
	qUpdateNodeState = `UPDATE nodes SET state = ?1, reason = ?2, updated_at = ?3, actor = ?5,
		released = CASE WHEN ?1 = 'retired' THEN id ELSE 0 END, expires_at = NULL,
		credential = CASE WHEN ?1 = 'retired' THEN NULL ELSE credential END WHERE id = ?4`
	qNodeShardID = `SELECT shard_id FROM nodes WHERE id = ?`
	// nodeInsertColumns are the columns claimTx.nodeArgs gives, in order.
	nodeInsertColumns = `claim_id, shard_id, role, nickname, state, image_id, instance_id, created_at, updated_at,
		actor, group_id, credential, claim_key, expires_at`
	nodeInsertColumnCount = 14
	// qSetNodeCredential replaces a node's credential (a claim repeated
	// with a new one).
	qSetNodeCredential = `UPDATE nodes SET credential = ?, updated_at = ?, actor = ? WHERE id = ?`
	// qSetNodeImage records the image a node reports it booted.
	qSetNodeImage = `UPDATE nodes SET image_id = ? WHERE id = ?`
	// qNodeByCredential finds a live node by its credential's hash.
	qNodeByCredential = nodeColumns + nodesFrom + ` WHERE n.credential = ?`
)

// qRecordedClaims looks n claim ids up, with what a repeated claim checks:
// the node's group, its claim key's hash and its credential's hash.
func qRecordedClaims(n int) string {
	return nodeColumns + `, COALESCE(n.group_id, 0), COALESCE(n.claim_key, ''), COALESCE(n.credential, '')` +
		nodesFrom + ` WHERE n.claim_id IN (` + params(n) + `)`
}

// qInsertNodes inserts n nodes; SQLite gives them ids (see claimTx.write).
func qInsertNodes(n int) string {
	return `INSERT INTO nodes (` + nodeInsertColumns + `) VALUES ` + rows(n, nodeInsertColumnCount)
}

// qInsertNodesIfChanged is qInsertNodes guarded by the statement before it
// in the same exec (qTakeAtHint): it inserts the rows only if that statement
// changed exactly one row.
func qInsertNodesIfChanged(n int) string {
	return `INSERT INTO nodes (` + nodeInsertColumns + `) SELECT * FROM (VALUES ` +
		rows(n, nodeInsertColumnCount) + `) WHERE changes() = 1`
}

// maxClaimsPerTx bounds the claims of one transaction so that its nodes fit
// one INSERT (SQLite takes at most 32 766 bound parameters). It caps
// WithMaxBatch and is above regapi.MaxClaimsPerRequest.
const maxClaimsPerTx = 1024

// Pending nodes (pending.go).
const (
	qNodeStatesHead = `SELECT id, state, nickname FROM nodes WHERE id IN (`
	qNodesByIDHead  = nodeColumns + nodesFrom + ` WHERE n.id IN (`
	// qExpiredPending lists pending nodes whose expiry passed (nodes_pending).
	qExpiredPending = `SELECT id FROM nodes WHERE state = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?`
	qNodeExpiry     = `SELECT expires_at FROM nodes WHERE id = ?`
)

func qNodeStates(n int) string { return qNodeStatesHead + params(n) + `)` }

func qNodesByID(n int) string { return qNodesByIDHead + params(n) + `) ORDER BY n.id` }

// qConfirmNodes ends n pending nodes' wait: their user-data is in place.
func qConfirmNodes(n int) string {
	return `UPDATE nodes SET state = 'issued', expires_at = NULL, updated_at = ?, actor = ? WHERE state = 'pending' AND id IN (` + params(n) + `)`
}

// Groups (groups.go).
const groupColumns = `SELECT g.id, g.name, s.jms_fqdn, g.role, g.format, g.nat, g.max_size, g.state, g.created_at, g.updated_at,
	(SELECT count(*) FROM nodes n WHERE n.group_id = g.id AND n.released = 0),
	(SELECT count(*) FROM group_tokens t WHERE t.group_id = g.id AND t.revoked_at IS NULL)
	FROM groups g JOIN shards s ON s.id = g.shard_id`

const (
	qLiveGroupByName = groupColumns + ` WHERE g.name = ? AND g.released = 0`
	qGroupByID       = groupColumns + ` WHERE g.id = ?`
	// Live groups first, then retired ones, newest first.
	qListGroups  = groupColumns + ` ORDER BY g.released <> 0, g.name, g.id DESC`
	qInsertGroup = `INSERT INTO groups (name, shard_id, role, format, nat, max_size, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`
	qUpdateGroup = `UPDATE groups SET format = ?, nat = ?, max_size = ?, updated_at = ? WHERE id = ?`
	qRetireGroup = `UPDATE groups SET state = 'retired', released = id, updated_at = ? WHERE id = ?`
	// qGroupOfClaim is what a member's claim checks inside the transaction.
	qGroupOfClaim     = `SELECT state, max_size FROM groups WHERE id = ?`
	qGroupLiveMembers = `SELECT count(*) FROM nodes WHERE group_id = ? AND released = 0`
	qInsertGroupToken = `INSERT INTO group_tokens (hash, group_id, created_at) VALUES (?, ?, ?)`
	// qRevokeGroupTokens revokes a group's live tokens up to id ?3.
	qRevokeGroupTokens = `UPDATE group_tokens SET revoked_at = ?1 WHERE group_id = ?2 AND revoked_at IS NULL AND id <= ?3`
	// qNewestGroupToken is the id of a group's newest live token (NULL: none).
	qNewestGroupToken = `SELECT max(id) FROM group_tokens WHERE group_id = ? AND revoked_at IS NULL`
	// qGroupByToken finds an active group by a live token's hash.
	qGroupByToken = `SELECT g.id, g.name FROM group_tokens t JOIN groups g ON g.id = t.group_id
		WHERE t.hash = ? AND t.revoked_at IS NULL AND g.state = 'active'`
)

// Number series and free ranges.
const (
	qSeriesExists   = `SELECT 1 FROM number_series WHERE shard_id = ? AND prefix = ?`
	qInsertSeries   = `INSERT INTO number_series (shard_id, prefix) VALUES (?, ?)`
	qLowestRanges   = `SELECT lo, hi FROM free_numbers WHERE shard_id = ? AND prefix = ? ORDER BY lo LIMIT ?`
	qRangeAtOrBelow = `SELECT lo, hi FROM free_numbers WHERE shard_id = ? AND prefix = ? AND lo <= ? ORDER BY lo DESC LIMIT 1`
	qRangeAt        = `SELECT lo, hi FROM free_numbers WHERE shard_id = ? AND prefix = ? AND lo = ?`
	qRaiseRange     = `UPDATE free_numbers SET lo = ? WHERE shard_id = ? AND prefix = ? AND lo = ?`
	// qTakeFromLowest is the common case of planTake in one statement: when
	// the lowest free range holds MORE than k numbers, take its first k and
	// return the first one taken. No row: fall back to planTake.
	qTakeFromLowest = `UPDATE free_numbers SET lo = lo + ?1
		WHERE shard_id = ?2 AND prefix = ?3 AND hi - lo + 1 > ?1
		AND lo = (SELECT lo FROM free_numbers WHERE shard_id = ?2 AND prefix = ?3 ORDER BY lo LIMIT 1)
		RETURNING lo - ?1`
)

// qTakeAtHint is qTakeFromLowest as a compare-and-swap on a remembered
// lowest range start lo: it changes one row or none. Under the write lock it
// checks that the range still starts at lo, is still the lowest and holds
// more than k numbers. Its values are written into the SQL because it
// shares an exec with qInsertNodesIfChanged, and only one statement of a
// multi-statement exec may take parameters: two integers, a count, and a
// prefix that validation limits to a role name (quoted all the same).
func qTakeAtHint(key seriesKey, k int, lo int64) string {
	shard, prefix, kk, l := strconv.FormatInt(key.shard, 10), sqlQuote(key.prefix), strconv.Itoa(k), strconv.FormatInt(lo, 10)
	return `UPDATE free_numbers SET lo = lo + ` + kk +
		` WHERE shard_id = ` + shard + ` AND prefix = ` + prefix + ` AND lo = ` + l + ` AND hi - lo + 1 > ` + kk +
		` AND NOT EXISTS (SELECT 1 FROM free_numbers WHERE shard_id = ` + shard + ` AND prefix = ` + prefix + ` AND lo < ` + l + `)`
}

// sqlQuote writes s as an SQL string literal.
func sqlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func qDeleteRanges(n int) string {
	return `DELETE FROM free_numbers WHERE shard_id = ? AND prefix = ? AND lo IN (` + params(n) + `)`
}

func qInsertRanges(n int) string {
	return `INSERT INTO free_numbers (shard_id, prefix, lo, hi) VALUES ` + rows(n, 4)
}

// Events.
const eventInsertColumnCount = 6

func qInsertEvents(n int) string {
	return `INSERT INTO events (at, kind, shard_id, node_id, actor, detail) VALUES ` + rows(n, eventInsertColumnCount)
}

// qEventsOfNode is a node's history: its issue, read from its row (logged as
// an event only by registries from before schema version 3) — by its group's
// token for a group member, else by an operator, the only other actor that
// may claim — then its events.
const qEventsOfNode = `SELECT at, kind, actor, detail FROM (
	SELECT n.created_at AS at, 'issued' AS kind, COALESCE('group:' || g.name, 'operator') AS actor,
		json_object('nickname', n.nickname, 'role', n.role, 'claim_id', n.claim_id) AS detail, 0 AS ord
		FROM nodes n LEFT JOIN groups g ON g.id = n.group_id
		WHERE n.id = ?1 AND NOT EXISTS (SELECT 1 FROM events WHERE node_id = ?1 AND kind = 'issued')
	UNION ALL SELECT at, kind, actor, detail, id FROM events WHERE node_id = ?1
) ORDER BY ord`

// Images.
const (
	qUpsertImage = `INSERT INTO images (artifact_id, role, os, versions, built_at, recorded_at, build_id, arch, agent_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (artifact_id) DO UPDATE SET role = excluded.role, os = excluded.os,
		versions = excluded.versions, built_at = excluded.built_at, recorded_at = excluded.recorded_at,
		build_id = excluded.build_id, arch = excluded.arch, agent_version = excluded.agent_version`
	qListImages = `SELECT artifact_id, role, os, versions, built_at, build_id, arch, agent_version FROM images ORDER BY built_at, artifact_id`
)

// params returns "?, ?, …" with n placeholders.
func params(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rows returns "(?, ?), (?, ?), …": n rows of cols placeholders.
func rows(n, cols int) string {
	row := "(" + params(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// maxRowsPerInsert keeps multi-row statements well under SQLite's limit of
// 32 766 bound parameters.
const maxRowsPerInsert = 500

// Times are stored as fixed-width UTC text, so they sort as strings.
const dbTimeLayout = "2006-01-02T15:04:05.000000Z"

func dbTime(t time.Time) string { return t.UTC().Format(dbTimeLayout) }

func parseDBTime(s string) (time.Time, error) {
	t, err := time.Parse(dbTimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}

// The fleet in aggregate (fleet.go): the fleet page and /metrics. Counts
// group the nodes table in one scan (no index a claim would write: see
// nodes_nickname); the others read small tables.
// stateCounted is the condition of nodes_counts (the states no claim
// writes, as stateIndexed of nodes_by_state); qFleetCounts repeats it word
// for word, so that SQLite sees the index applies.
const stateCounted = stateIndexed

const (
	qFleetCounts = `SELECT s.jms_fqdn, c.role, c.state, c.image_id, c.n FROM (
		SELECT shard_id, role, state, image_id, count(*) AS n FROM nodes WHERE ` + stateCounted + `
			GROUP BY shard_id, role, state, image_id
		UNION ALL
		SELECT shard_id, role, state, image_id, count(*) AS n FROM nodes WHERE state IN ('pending', 'issued')
			GROUP BY shard_id, role, state, image_id
	) c JOIN shards s ON s.id = c.shard_id ORDER BY s.jms_fqdn, c.role, c.state, c.image_id`
	qListShards = `SELECT jms_fqdn, created_at FROM shards ORDER BY jms_fqdn`
	// qLiveNodesOfShard: a shard's live nodes of a role (the upgrade plan),
	// by the shard prefix of nodes_nickname.
	qLiveNodesOfShard = nodeColumns + nodesFrom + ` WHERE n.shard_id = (SELECT id FROM shards WHERE jms_fqdn = ?)
		AND n.role = ? AND n.released = 0 ORDER BY n.id`
)

// qAttention selects a page of the live nodes that need attention: failed
// or draining, or (stale) on one of k stale images and neither; of one
// shard when shard is true.
func qAttention(stale bool, k int, shard bool) string {
	q := nodeColumns + nodesFrom + ` WHERE n.id > ? AND n.released = 0 AND `
	switch {
	case !stale:
		q += `n.state IN ('failed', 'draining')`
	case k > 0:
		q += `n.state NOT IN ('failed', 'draining', 'pending') AND n.image_id IN (` + params(k) + `)`
	default:
		q += `0`
	}
	if shard {
		q += ` AND s.jms_fqdn = ?`
	}
	return q + ` ORDER BY n.id LIMIT ?`
}
