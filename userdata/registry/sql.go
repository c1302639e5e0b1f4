package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"fmt"
	"strconv"
	"strings"
	"time"
)

// All SQL of the registry lives in this file.
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
const schemaVersion = "3"

// schema creates the tables of a new registry; every statement is
// idempotent. schemaIndexes follow, after any migration (migrations).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID`,
	// A shard is one JMS and the bridges that serve it. secret_fp is the
	// fingerprint (fingerprint.go) of the secret its nodes were issued with.
	`CREATE TABLE IF NOT EXISTS shards (
		id         INTEGER PRIMARY KEY,
		jms_fqdn   TEXT NOT NULL UNIQUE,
		secret_fp  TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
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
	`CREATE TABLE IF NOT EXISTS images (
		id          INTEGER PRIMARY KEY,
		artifact_id TEXT NOT NULL UNIQUE,
		role        TEXT NOT NULL,
		os          TEXT NOT NULL,
		versions    TEXT NOT NULL DEFAULT '{}',
		built_at    TEXT NOT NULL,
		recorded_at TEXT NOT NULL
	)`,
	// The event log is append-only, and the database enforces it. It holds
	// what happens to nodes after their issue (state changes), images and
	// secrets; Events adds a node's issue from its row.
	`CREATE TABLE IF NOT EXISTS events (
		id       INTEGER PRIMARY KEY,
		at       TEXT NOT NULL,
		kind     TEXT NOT NULL,
		shard_id INTEGER,
		node_id  INTEGER,
		detail   TEXT NOT NULL DEFAULT ''
	)`,
	`INSERT INTO meta (key, value) VALUES ('schema_version', '` + schemaVersion + `') ON CONFLICT (key) DO NOTHING`,
}

// nodesTable is the nodes table's definition (schema, migrations).
const nodesTable = `(
	id          INTEGER PRIMARY KEY,
	claim_id    TEXT NOT NULL UNIQUE,
	shard_id    INTEGER NOT NULL REFERENCES shards (id),
	role        TEXT NOT NULL,
	nickname    TEXT NOT NULL,
	state       TEXT NOT NULL CHECK (state IN ('issued', 'active', 'failed', 'draining', 'retired')),
	reason      TEXT NOT NULL DEFAULT '',
	image_id    TEXT NOT NULL DEFAULT '',
	instance_id TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	released    INTEGER NOT NULL DEFAULT 0 CHECK ((released = 0) = (state <> 'retired'))
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
	`CREATE INDEX IF NOT EXISTS images_built ON images (built_at)`,
	// A state change logs itself: no code path can forget the event. A new
	// reason without a new state (a failed node failing differently) is
	// logged too, as a state event with from = to.
	`CREATE TRIGGER IF NOT EXISTS nodes_log_state AFTER UPDATE OF state, reason ON nodes
		WHEN OLD.state <> NEW.state OR OLD.reason <> NEW.reason BEGIN
		INSERT INTO events (at, kind, shard_id, node_id, detail) VALUES (NEW.updated_at, 'state', NEW.shard_id, NEW.id,
			json_object('from', OLD.state, 'to', NEW.state, 'reason', NEW.reason));
	END`,
	`CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
	`CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
}

// migrations bring an older registry's tables to schemaVersion, keyed by the
// version they start from; each runs in the transaction that opens the
// registry, before schemaIndexes.
var migrations = map[string][]string{
	// nodes gains released: the table is rebuilt (SQLite checks a new
	// column's CHECK against the old rows, and their released comes from
	// their state). Its indexes and triggers go with the old table; the
	// 'issued' events logged so far stay (the log is append-only), and
	// Events shows a node's issue once.
	"2": {
		`CREATE TABLE nodes_v3 ` + nodesTable,
		`INSERT INTO nodes_v3 (id, claim_id, shard_id, role, nickname, state, reason, image_id, instance_id, created_at, updated_at, released)
			SELECT id, claim_id, shard_id, role, nickname, state, reason, image_id, instance_id, created_at, updated_at,
				CASE WHEN state = 'retired' THEN id ELSE 0 END FROM nodes`,
		`DROP TABLE nodes`,
		`ALTER TABLE nodes_v3 RENAME TO nodes`,
	},
}

// qSetSchemaVersion ends a migration.
const qSetSchemaVersion = `UPDATE meta SET value = '` + schemaVersion + `' WHERE key = 'schema_version'`

const qSchemaVersion = `SELECT value FROM meta WHERE key = 'schema_version'`

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

// Nodes.
const nodeColumns = `SELECT n.id, n.claim_id, s.jms_fqdn, n.role, n.nickname, n.state, n.reason,
	n.image_id, n.instance_id, n.created_at, n.updated_at
	FROM nodes n JOIN shards s ON s.id = n.shard_id`

const (
	qNodeByID           = nodeColumns + ` WHERE n.id = ?`
	qLiveNodeByNickname = nodeColumns + ` WHERE s.jms_fqdn = ? AND n.nickname = ? AND n.released = 0`
	qLiveNicknameTaken  = `SELECT id FROM nodes WHERE shard_id = ? AND nickname = ? AND released = 0`
	// Retiring releases the name (see nodes_nickname); retired is final.
	qUpdateNodeState = `UPDATE nodes SET state = ?1, reason = ?2, updated_at = ?3,
		released = CASE WHEN ?1 = 'retired' THEN id ELSE 0 END WHERE id = ?4`
	qNodeShardID = `SELECT shard_id FROM nodes WHERE id = ?`
	// nodeInsertColumns are the columns claimTx.nodeArgs gives, in order.
	nodeInsertColumns     = `claim_id, shard_id, role, nickname, state, image_id, instance_id, created_at, updated_at`
	nodeInsertColumnCount = 9
)

func qNodesByClaimID(n int) string {
	return nodeColumns + ` WHERE n.claim_id IN (` + params(n) + `)`
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

// qListNodes selects nodes matching f; each filter adds an indexed condition.
func qListNodes(f regapi.Filter) (string, []any) {
	var where []string
	var args []any
	if f.Shard != "" {
		where, args = append(where, `s.jms_fqdn = ?`), append(args, f.Shard)
	}
	if f.State != "" {
		where, args = append(where, `n.state = ?`), append(args, string(f.State))
	}
	if f.Role != "" {
		where, args = append(where, `n.role = ?`), append(args, f.Role)
	}
	where, args = append(where, `n.id > ?`), append(args, f.AfterID)
	q := nodeColumns + ` WHERE ` + strings.Join(where, ` AND `) + ` ORDER BY n.id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

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
const eventInsertColumnCount = 5

func qInsertEvents(n int) string {
	return `INSERT INTO events (at, kind, shard_id, node_id, detail) VALUES ` + rows(n, eventInsertColumnCount)
}

// qEventsOfNode is a node's history: its issue, read from its row (logged as
// an event only by registries from before schema version 3), then its events.
const qEventsOfNode = `SELECT at, kind, detail FROM (
	SELECT created_at AS at, 'issued' AS kind, json_object('nickname', nickname, 'role', role, 'claim_id', claim_id) AS detail, 0 AS ord
		FROM nodes WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM events WHERE node_id = ?1 AND kind = 'issued')
	UNION ALL SELECT at, kind, detail, id FROM events WHERE node_id = ?1
) ORDER BY ord`

// Images.
const (
	qUpsertImage = `INSERT INTO images (artifact_id, role, os, versions, built_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (artifact_id) DO UPDATE SET role = excluded.role, os = excluded.os,
		versions = excluded.versions, built_at = excluded.built_at, recorded_at = excluded.recorded_at`
	qListImages = `SELECT artifact_id, role, os, versions, built_at FROM images ORDER BY built_at, artifact_id`
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
