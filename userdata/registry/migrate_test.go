package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonical/go-dqlite/v3/app"
)

// TestMigrateFromVersion2 opens a registry that version 2 of the schema
// wrote (three bridges, the second retired, each with its logged 'issued'
// event) and checks that the migration keeps every rule: live names stay
// unique, the retired name is free, numbering goes on, histories show each
// issue once.
func TestMigrateFromVersion2(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t, 60*time.Second)
	writeVersion2Registry(t, ctx, dir)

	r := openAt(t, dir, logTo(t))
	var v string
	if err := r.db.QueryRowContext(ctx, qSchemaVersion).Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("schema version %q (%v), want %s", v, err, schemaVersion)
	}
	var released int64
	if err := r.db.QueryRowContext(ctx, `SELECT released FROM nodes WHERE nickname = 'jvb-002'`).Scan(&released); err != nil || released != 2 {
		t.Errorf("retired jvb-002: released = %d (%v), want its id 2", released, err)
	}
	if _, err := r.Claim(ctx, jvb("jvb-001")); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("claiming live jvb-001 again: %v, want ErrConflict", err)
	}
	if got := claimOne(t, r, jvb("")).Nickname; got != "jvb-002" {
		t.Errorf("auto after migration gave %s, want the retired jvb-002", got)
	}
	if got := claimOne(t, r, jvb("")).Nickname; got != "jvb-004" {
		t.Errorf("next auto gave %s, want jvb-004", got)
	}
	old, err := r.Events(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 1 || old[0].Kind != "issued" || old[0].Detail != `{"nickname":"jvb-001","role":"jvb","claim_id":"c-1"}` {
		t.Errorf("history of a node issued by version 2: %+v, want its logged issue once", old)
	}
	newer := claimOne(t, r, jvb(""))
	if _, err := r.SetState(ctx, regapi.NodeRef{ID: newer.ID}, regapi.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	evs, err := r.Events(ctx, newer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != "issued" || evs[1].Kind != "state" || !evs[0].At.Equal(newer.Created) {
		t.Errorf("history of a node issued after migration: %+v", evs)
	}
	fresh, _ := openTemp(t)
	if got, want := schemaObjects(t, r), schemaObjects(t, fresh); !slices.Equal(got, want) {
		t.Errorf("migrated schema:\n%s\nfresh schema:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A second open finds the current version and migrates nothing.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	openAt(t, dir)
}

// schemaObjects lists the registry's tables, indexes and triggers with their
// SQL, normalised for what a rename and IF NOT EXISTS change in it.
func schemaObjects(t *testing.T, r *Registry) []string {
	t.Helper()
	rows, err := r.db.QueryContext(testCtx(t, 10*time.Second), `SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			t.Fatal(err)
		}
		sql = strings.Join(strings.Fields(strings.NewReplacer(`"nodes"`, "nodes", `"events"`, "events", `"images"`, "images", "IF NOT EXISTS ", "").Replace(sql)), " ")
		out = append(out, typ+" "+name+": "+sql)
	}
	if err := closeRows(rows); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeVersion2Registry writes, with dqlite directly, a registry as schema
// version 2 left it.
func writeVersion2Registry(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	const at = "2026-11-20T10:00:00.000000Z"
	writeRegistry(t, ctx, dir, append(schemaVersion2[:len(schemaVersion2):len(schemaVersion2)],
		`INSERT INTO shards (jms_fqdn, created_at) VALUES ('`+testShard+`', '`+at+`')`,
		`INSERT INTO nodes (claim_id, shard_id, role, nickname, state, created_at, updated_at) VALUES
			('c-1', 1, 'jvb', 'jvb-001', 'active', '`+at+`', '`+at+`'),
			('c-2', 1, 'jvb', 'jvb-002', 'retired', '`+at+`', '`+at+`'),
			('c-3', 1, 'jvb', 'jvb-003', 'issued', '`+at+`', '`+at+`')`,
		`INSERT INTO number_series (shard_id, prefix) VALUES (1, 'jvb')`,
		`INSERT INTO free_numbers (shard_id, prefix, lo, hi) VALUES (1, 'jvb', 2, 2), (1, 'jvb', 4, 999999999)`,
	))
}

// writeRegistry runs stmts on a new registry database in dir with dqlite
// directly (an older program's registry).
func writeRegistry(t *testing.T, ctx context.Context, dir string, stmts []string) {
	t.Helper()
	addr, err := raftAddress(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "dqlite"), 0o700); err != nil {
		t.Fatal(err)
	}
	node, err := app.New(filepath.Join(dir, "dqlite"), app.WithAddress(addr))
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := node.Open(ctx, dbName)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := node.Handover(ctx); err != nil {
		t.Fatal(err)
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
}

// schemaVersion2 is the schema as version 2 created it (test fixture), frozen
// on purpose: it must not follow the current schema.
var schemaVersion2 = []string{
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
	`INSERT INTO meta (key, value) VALUES ('schema_version', '2') ON CONFLICT (key) DO NOTHING`,
}
