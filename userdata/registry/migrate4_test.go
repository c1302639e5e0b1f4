package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"slices"
	"strings"
	"testing"
	"time"
)

// TestMigrateFromVersion4 opens a registry that version 4 of the schema
// wrote — two images, nodes booted from them, a group — and checks that
// version 5 keeps every image with its versions and build time, that the
// new columns start empty, that an image recorded again gains its build
// identity, and that the migrated schema reads like a new one's.
func TestMigrateFromVersion4(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t, 60*time.Second)
	const at = "2026-11-28T10:00:00.000000Z"
	writeRegistry(t, ctx, dir, append(schemaVersion4[:len(schemaVersion4):len(schemaVersion4)],
		`INSERT INTO shards (jms_fqdn, created_at) VALUES ('`+testShard+`', '`+at+`')`,
		`INSERT INTO images (artifact_id, role, os, versions, built_at, recorded_at) VALUES
			('ami-old', 'jvb', 'debian-12', '{"jitsi-videobridge2":"2.3-100-g1"}', '2026-10-01T10:00:00.000000Z', '`+at+`'),
			('ami-new', 'jvb', 'debian-12', '{"jitsi-videobridge2":"2.3-174-g2"}', '2026-11-01T10:00:00.000000Z', '`+at+`')`,
		`INSERT INTO nodes (claim_id, shard_id, role, nickname, state, image_id, created_at, updated_at) VALUES
			('c-1', 1, 'jvb', 'jvb-001', 'active', 'ami-old', '`+at+`', '`+at+`'),
			('c-2', 1, 'jvb', 'jvb-002', 'active', 'ami-new', '`+at+`', '`+at+`')`,
		`INSERT INTO number_series (shard_id, prefix) VALUES (1, 'jvb')`,
		`INSERT INTO free_numbers (shard_id, prefix, lo, hi) VALUES (1, 'jvb', 3, 999999999)`,
		`INSERT INTO events (at, kind, actor, detail) VALUES ('`+at+`', 'image', 'operator', '{"artifact_id":"ami-old"}')`,
	))

	r := openAt(t, dir, logTo(t))
	var v string
	if err := r.db.QueryRowContext(ctx, qSchemaVersion).Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("schema version %q (%v), want %s", v, err, schemaVersion)
	}
	imgs, err := r.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range imgs {
		got = append(got, img.ArtifactID+" "+img.Role+" "+img.OS+" "+img.Versions["jitsi-videobridge2"]+" "+img.Built.Format(time.DateOnly)+
			" ["+img.BuildID+"|"+img.Arch+"|"+img.AgentVersion+"]")
	}
	if want := []string{"ami-old jvb debian-12 2.3-100-g1 2026-10-01 [||]", "ami-new jvb debian-12 2.3-174-g2 2026-11-01 [||]"}; !slices.Equal(got, want) {
		t.Errorf("images after migration:\n%q\nwant\n%q", got, want)
	}
	// Recorded again (the post-processor of a newer plugin), an image
	// gains its build identity, arch and agent version.
	again := imgs[1]
	again.BuildID, again.Arch, again.AgentVersion = "b-0123456789abcdef01234567", "amd64", "0.3.0"
	if _, err := r.RecordImage(ctx, again); err != nil {
		t.Fatal(err)
	}
	imgs, err = r.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if img := imgs[1]; img.BuildID != again.BuildID || img.Arch != "amd64" || img.AgentVersion != "0.3.0" || len(imgs) != 2 {
		t.Errorf("image recorded again: %+v", imgs)
	}
	// Nodes keep the image they booted from.
	nodes, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil || len(nodes) != 2 || nodes[0].ImageID != "ami-old" || nodes[1].ImageID != "ami-new" {
		t.Errorf("nodes after migration: %+v, %v", nodes, err)
	}
	if n := claimOne(t, r, jvb("")); n.Nickname != "jvb-003" {
		t.Errorf("auto after migration gave %s, want jvb-003", n.Nickname)
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

// schemaVersion4 is the schema as version 4 created it (test fixture), frozen
// on purpose: it must not follow the current schema.
var schemaVersion4 = []string{
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
	`CREATE TABLE IF NOT EXISTS group_tokens (
		id         INTEGER PRIMARY KEY,
		hash       TEXT NOT NULL UNIQUE,
		group_id   INTEGER NOT NULL REFERENCES groups (id),
		created_at TEXT NOT NULL,
		revoked_at TEXT
	)`,
	`CREATE TABLE IF NOT EXISTS nodes (
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
		actor    TEXT NOT NULL DEFAULT '',
		detail   TEXT NOT NULL DEFAULT ''
	)`,
	`INSERT INTO meta (key, value) VALUES ('schema_version', '4') ON CONFLICT (key) DO NOTHING`,
	`CREATE UNIQUE INDEX IF NOT EXISTS nodes_nickname ON nodes (shard_id, nickname, released)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS nodes_credential ON nodes (credential) WHERE credential IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS nodes_group ON nodes (group_id, released) WHERE group_id IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS nodes_pending ON nodes (expires_at) WHERE state = 'pending'`,
	`CREATE UNIQUE INDEX IF NOT EXISTS groups_name ON groups (name, released)`,
	`CREATE INDEX IF NOT EXISTS group_tokens_group ON group_tokens (group_id)`,
	`CREATE INDEX IF NOT EXISTS groups_shard ON groups (shard_id)`,
	`CREATE INDEX IF NOT EXISTS images_built ON images (built_at)`,
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
