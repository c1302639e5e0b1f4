package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMigrateFromVersion3 opens a registry that version 3 of the schema
// wrote — a shard with a v1 secret fingerprint, bridges live and retired, a
// JMS, state events — and checks that version 4 keeps every rule and every
// row, drops the fingerprint, and that what version 4 adds (credentials,
// groups, pending nodes, actors) works on the migrated tables.
func TestMigrateFromVersion3(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t, 60*time.Second)
	const at = "2026-11-27T10:00:00.000000Z"
	writeRegistry(t, ctx, dir, append(schemaVersion3[:len(schemaVersion3):len(schemaVersion3)],
		`INSERT INTO shards (jms_fqdn, secret_fp, created_at) VALUES ('`+testShard+`', 'v1:3f2a', '`+at+`')`,
		`INSERT INTO nodes (claim_id, shard_id, role, nickname, state, reason, created_at, updated_at, released) VALUES
			('c-1', 1, 'jvb', 'jvb-001', 'active', '', '`+at+`', '`+at+`', 0),
			('c-2', 1, 'jvb', 'jvb-002', 'retired', 'gone', '`+at+`', '`+at+`', 2),
			('c-3', 1, 'jvb', 'jvb-003', 'failed', 'not-authorized', '`+at+`', '`+at+`', 0),
			('c-4', 1, 'jms', 'jms', 'issued', '', '`+at+`', '`+at+`', 0)`,
		`INSERT INTO number_series (shard_id, prefix) VALUES (1, 'jvb')`,
		`INSERT INTO free_numbers (shard_id, prefix, lo, hi) VALUES (1, 'jvb', 2, 2), (1, 'jvb', 4, 999999999)`,
		`INSERT INTO events (at, kind, shard_id, node_id, detail) VALUES ('`+at+`', 'state', 1, 2, '{"from":"issued","to":"retired","reason":"gone"}')`,
		`INSERT INTO events (at, kind, shard_id, node_id, detail) VALUES ('`+at+`', 'secret-recorded', 1, NULL, '')`,
	))

	r := openAt(t, dir, logTo(t))
	var v, fp string
	if err := r.db.QueryRowContext(ctx, qSchemaVersion).Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("schema version %q (%v), want %s", v, err, schemaVersion)
	}
	if err := r.db.QueryRowContext(ctx, `SELECT secret_fp FROM shards WHERE id = 1`).Scan(&fp); err != nil || fp != "" {
		t.Errorf("v1 fingerprint after migration: %q (%v), want it dropped", fp, err)
	}
	all, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range all {
		got = append(got, n.Nickname+" "+string(n.State)+" "+n.Reason)
	}
	if want := []string{"jvb-001 active ", "jvb-002 retired gone", "jvb-003 failed not-authorized", "jms issued "}; !slices.Equal(got, want) {
		t.Errorf("nodes after migration: %q, want %q", got, want)
	}
	// The rules hold: live names collide, the retired number is reused first.
	if _, err := r.Claim(ctx, jvb("jvb-003")); !errors.Is(err, regapi.ErrConflict) {
		t.Errorf("claiming live jvb-003 again: %v, want ErrConflict", err)
	}
	if got := claimOne(t, r, jvb("")).Nickname; got != "jvb-002" {
		t.Errorf("auto after migration gave %s, want the retired jvb-002", got)
	}
	// The old events stay, with no actor; new ones name theirs.
	evs, err := r.Events(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != "issued" || evs[0].Actor != regapi.ActorOperator || evs[1].Actor != "" || !strings.Contains(evs[1].Detail, "gone") {
		t.Errorf("history of a retired v3 node: %+v", evs)
	}
	if _, err := r.SetState(regapi.WithActor(ctx, regapi.NodeActor(1)), regapi.NodeRef{ID: 1}, regapi.StateDraining, ""); err != nil {
		t.Fatal(err)
	}
	if evs, _ := r.Events(ctx, 1); len(evs) != 2 || evs[1].Actor != "node:1" {
		t.Errorf("a state change after migration: %+v, want actor node:1", evs)
	}
	// What version 4 adds works on the migrated tables.
	g, err := r.RecordGroup(ctx, regapi.GroupRequest{Name: "edge", Shard: testShard, Role: "jvb", Format: "modern", MaxSize: 2,
		TokenHash: regapi.HashCredential("jgroup_test-token")})
	if err != nil || g.Tokens != 1 || g.MaxSize != 2 {
		t.Fatalf("group on a migrated registry: %+v, %v", g, err)
	}
	member, err := r.ClaimInGroup(ctx, 1, regapi.GroupClaim{InstanceID: "i-1", ClaimKey: "claim-key-0123456789abcdef"}, regapi.HashCredential("jnode_a"))
	if err != nil || member.Nickname != "jvb-004" || member.Group != "edge" {
		t.Errorf("group member on a migrated registry: %+v, %v", member, err)
	}
	pending := jvb("")
	pending.Pending = true
	if n := claimOne(t, r, pending); n.State != regapi.StatePending || n.Nickname != "jvb-005" {
		t.Errorf("pending claim on a migrated registry: %+v", n)
	}
	fresh, _ := openTemp(t)
	if got, want := schemaObjects(t, r), schemaObjects(t, fresh); !slices.Equal(got, want) {
		t.Errorf("migrated schema:\n%s\nfresh schema:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	openAt(t, dir) // the current version: nothing to migrate
}

// schemaVersion3 is the schema as version 3 created it (test fixture), frozen
// on purpose: it must not follow the current schema.
var schemaVersion3 = []string{
	`CREATE TABLE IF NOT EXISTS meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS shards (
		id         INTEGER PRIMARY KEY,
		jms_fqdn   TEXT NOT NULL UNIQUE,
		secret_fp  TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
	)`,
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
		updated_at  TEXT NOT NULL,
		released    INTEGER NOT NULL DEFAULT 0 CHECK ((released = 0) = (state <> 'retired'))
	)`,
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
	`CREATE TABLE IF NOT EXISTS events (
		id       INTEGER PRIMARY KEY,
		at       TEXT NOT NULL,
		kind     TEXT NOT NULL,
		shard_id INTEGER,
		node_id  INTEGER,
		detail   TEXT NOT NULL DEFAULT ''
	)`,
	`INSERT INTO meta (key, value) VALUES ('schema_version', '3') ON CONFLICT (key) DO NOTHING`,
	`CREATE UNIQUE INDEX IF NOT EXISTS nodes_nickname ON nodes (shard_id, nickname, released)`,
	`CREATE INDEX IF NOT EXISTS images_built ON images (built_at)`,
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
