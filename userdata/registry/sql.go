package registry

import (
	"fmt"
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
// 2: nodes.reason and state 'failed' (no migration: no version-1 registry was
// deployed; one left from development fails to open with a version error).
const schemaVersion = "2"

// schema creates the tables; every statement is idempotent.
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
	// reason is what came with the node's latest state change (Node.Reason).
	`CREATE TABLE IF NOT EXISTS nodes (
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
		updated_at  TEXT NOT NULL
	)`,
	// The rule the whole registry exists for: a nickname is held by at most
	// one live node of a shard. Retired nodes keep their row and free the name.
	`CREATE UNIQUE INDEX IF NOT EXISTS nodes_live_nickname ON nodes (shard_id, nickname) WHERE state <> 'retired'`,
	// Few indexes on purpose: every index a claim touches is one more dirty
	// page that COMMIT replicates to the whole cluster. Listings by shard use
	// this one; listings by state alone, and the event log, are read rarely
	// and may scan.
	`CREATE INDEX IF NOT EXISTS nodes_shard_state ON nodes (shard_id, state)`,
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
	`CREATE INDEX IF NOT EXISTS images_built ON images (built_at)`,
	// The event log is append-only, and the database enforces it.
	`CREATE TABLE IF NOT EXISTS events (
		id       INTEGER PRIMARY KEY,
		at       TEXT NOT NULL,
		kind     TEXT NOT NULL,
		shard_id INTEGER,
		node_id  INTEGER,
		detail   TEXT NOT NULL DEFAULT ''
	)`,
	// Node rows log their own changes: no code path can forget an event, and
	// a claim batch needs no extra statement for them.
	`CREATE TRIGGER IF NOT EXISTS nodes_log_issued AFTER INSERT ON nodes BEGIN
		INSERT INTO events (at, kind, shard_id, node_id, detail) VALUES (NEW.created_at, 'issued', NEW.shard_id, NEW.id,
			json_object('nickname', NEW.nickname, 'role', NEW.role, 'claim_id', NEW.claim_id));
	END`,
	// A new reason without a new state (a failed node failing differently)
	// is logged too, as a state event with from = to.
	`CREATE TRIGGER IF NOT EXISTS nodes_log_state AFTER UPDATE OF state, reason ON nodes
		WHEN OLD.state <> NEW.state OR OLD.reason <> NEW.reason BEGIN
		INSERT INTO events (at, kind, shard_id, node_id, detail) VALUES (NEW.updated_at, 'state', NEW.shard_id, NEW.id,
			json_object('from', OLD.state, 'to', NEW.state, 'reason', NEW.reason));
	END`,
	`CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
	`CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
	`INSERT INTO meta (key, value) VALUES ('schema_version', '` + schemaVersion + `') ON CONFLICT (key) DO NOTHING`,
}

const qSchemaVersion = `SELECT value FROM meta WHERE key = 'schema_version'`

// Transactions: BEGIN IMMEDIATE takes the write lock at once, so a writer
// waits (busy timeout) instead of failing on a stale snapshot later.
const (
	qBegin    = `BEGIN IMMEDIATE`
	qCommit   = `COMMIT`
	qRollback = `ROLLBACK`
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
	qNodeByID             = nodeColumns + ` WHERE n.id = ?`
	qLiveNodeByNickname   = nodeColumns + ` WHERE s.jms_fqdn = ? AND n.nickname = ? AND n.state <> 'retired'`
	qLiveNicknameTaken    = `SELECT id FROM nodes WHERE shard_id = ? AND nickname = ? AND state <> 'retired'`
	qUpdateNodeState      = `UPDATE nodes SET state = ?, reason = ?, updated_at = ? WHERE id = ?`
	qNodeShardID          = `SELECT shard_id FROM nodes WHERE id = ?`
	nodeInsertColumnCount = 9
)

func qNodesByClaimID(n int) string {
	return nodeColumns + ` WHERE n.claim_id IN (` + params(n) + `)`
}

// qInsertNodes inserts n nodes; SQLite gives them ids (see claimTx.insert).
func qInsertNodes(n int) string {
	return `INSERT INTO nodes (claim_id, shard_id, role, nickname, state, image_id, instance_id, created_at, updated_at) VALUES ` +
		rows(n, nodeInsertColumnCount)
}

// qReturningIDs makes qInsertNodes return each row's id.
const qReturningIDs = ` RETURNING id, claim_id`

// qListNodes selects nodes matching f; each filter adds an indexed condition.
func qListNodes(f Filter) (string, []any) {
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
	// qTakeAtHint is qTakeFromLowest as a compare-and-swap on a remembered
	// lowest range start (?4): it changes one row or none.
	qTakeAtHint = `UPDATE free_numbers SET lo = lo + ?1
		WHERE shard_id = ?2 AND prefix = ?3 AND lo = ?4 AND hi - lo + 1 > ?1
		AND NOT EXISTS (SELECT 1 FROM free_numbers WHERE shard_id = ?2 AND prefix = ?3 AND lo < ?4)`
)

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

const qEventsOfNode = `SELECT at, kind, detail FROM events WHERE node_id = ? ORDER BY id`

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
