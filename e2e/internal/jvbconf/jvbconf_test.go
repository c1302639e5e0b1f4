package jvbconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const modernConf = `# as packer-plugin-jitsi writes it
videobridge {
  http-servers.private { host = 127.0.0.1, port = ${?E2E_PORT} }
  apis.xmpp-client.configs {
    "shard" {
      HOSTNAME = "meet.example.org"
      port = 5223
      domain = "auth.meet.example.org"
      username = "jvb"
      password = "a#b=c:d\\e \"f\" ü"
      muc_jids = "jvbbrewery@internal.auth.meet.example.org, other@internal.auth.meet.example.org"
      muc_nickname = "jvb-001"
      disable_certificate_verification = true
    }
    incomplete { hostname = x, username = jvb }
  }
  apis.rest.enabled = true
  rest.shutdown.enabled = true
}
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestModernShard(t *testing.T) {
	cfg, err := Parse(modernConf, "# no legacy keys\norg.jitsi.videobridge.DISABLE_TCP_HARVESTER=true\n", env(map[string]string{"E2E_PORT": "9999"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Shard{{
		ID: "shard", Hostname: "meet.example.org", Port: 5223, Domain: "auth.meet.example.org",
		Username: "jvb", Password: `a#b=c:d\e "f" ü`,
		MUCJIDs:  []string{"jvbbrewery@internal.auth.meet.example.org", "other@internal.auth.meet.example.org"},
		Nickname: "jvb-001", InsecureTLS: true, Source: ModernFile,
	}}
	if !reflect.DeepEqual(cfg.Shards, want) {
		t.Errorf("shards:\n got %+v\nwant %+v", cfg.Shards, want)
	}
	if len(cfg.Ignored) != 1 || !strings.Contains(cfg.Ignored[0], `"incomplete" lacks password, muc_jids, muc_nickname`) {
		t.Errorf("ignored = %q, want the incomplete shard named with what it lacks", cfg.Ignored)
	}
	if cfg.HTTPAddr != "127.0.0.1:9999" || !cfg.ShutdownEnabled || !cfg.DrainEnabled {
		t.Errorf("http %q shutdown %v drain %v, want 127.0.0.1:9999 true true", cfg.HTTPAddr, cfg.ShutdownEnabled, cfg.DrainEnabled)
	}
}

// TestLegacyKeysOverrideModern is Jitsi's precedence trap: one complete
// legacy shard (the postinst's) replaces every jvb.conf shard.
func TestLegacyKeysOverrideModern(t *testing.T) {
	legacy := `org.jitsi.videobridge.xmpp.user.shard.HOSTNAME=localhost
org.jitsi.videobridge.xmpp.user.shard.DOMAIN=auth.meet.example.org
org.jitsi.videobridge.xmpp.user.shard.USERNAME=jvb
org.jitsi.videobridge.xmpp.user.shard.PASSWORD=old\=secret
org.jitsi.videobridge.xmpp.user.shard.MUC_JIDS=JvbBrewery@internal.auth.meet.example.org
org.jitsi.videobridge.xmpp.user.shard.muc_nickname=6f1c2d3e-uuid-from-postinst
`
	cfg, err := Parse(modernConf, legacy, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Shards) != 1 {
		t.Fatalf("shards = %+v, want the one legacy shard", cfg.Shards)
	}
	s := cfg.Shards[0]
	if s.Source != LegacyFile || s.Hostname != "localhost" || s.Password != "old=secret" || s.Nickname != "6f1c2d3e-uuid-from-postinst" || s.Port != 5222 || s.InsecureTLS {
		t.Errorf("shard = %+v, want the legacy values (localhost, old=secret, the postinst's nickname, port 5222)", s)
	}
	if len(cfg.Ignored) != 0 {
		t.Errorf("ignored = %q: jvb.conf's shards must not even be read", cfg.Ignored)
	}
}

// A stale nickname alone is an incomplete legacy entry: Jitsi drops it and
// falls back to jvb.conf (the e2e JVM tier shows Jitsi's own code doing so).
func TestStaleLegacyNicknameFallsBackToJvbConf(t *testing.T) {
	cfg, err := Parse(modernConf, "org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=stale\n", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Shards) != 1 || cfg.Shards[0].Source != ModernFile || cfg.Shards[0].Nickname != "jvb-001" {
		t.Errorf("shards %+v: want jvb.conf's shard", cfg.Shards)
	}
	if len(cfg.Ignored) < 1 || !strings.Contains(cfg.Ignored[0], LegacyFile) {
		t.Errorf("ignored %q: want the incomplete legacy entry reported", cfg.Ignored)
	}
}

func TestDefaultsAndErrors(t *testing.T) {
	cfg, err := Parse("", "", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != DefaultHTTPAddr || cfg.ShutdownEnabled || !cfg.DrainEnabled || len(cfg.Shards) != 0 {
		t.Errorf("empty config = %+v, want defaults", cfg)
	}
	bad := []struct{ conf, props, want string }{
		{"videobridge { ", "", "unclosed"},
		{`videobridge.apis.xmpp-client.configs.s { hostname = h, username = u, password = p, muc_jids = m, muc_nickname = n, port = 70000 }`, "", "not a TCP port"},
		{`videobridge.apis.xmpp-client.configs.s { hostname = ${NOPE} }`, "", "${NOPE}: no such setting"},
		{"", "a=\\u12", "sip-communicator.properties"},
	}
	for _, b := range bad {
		if _, err := Parse(b.conf, b.props, env(nil)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Parse(%q, %q) error = %v, want it to mention %q", b.conf, b.props, err, b.want)
		}
	}
}

func TestLoadMissingFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ModernFile), []byte(modernConf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Shards) != 1 || cfg.Shards[0].Nickname != "jvb-001" || cfg.HTTPAddr != "127.0.0.1:8080" {
		t.Errorf("Load = %+v", cfg)
	}
}
