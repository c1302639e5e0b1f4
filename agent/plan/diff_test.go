package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

func has(changes []Change, want Change) bool {
	for _, c := range changes {
		if c == want {
			return true
		}
	}
	return false
}

func TestDiffOfTheSameUserDataIsEmpty(t *testing.T) {
	for name, s := range testvectors.Cases() {
		if d := Diff(planOfSpec(t, s), planOfSpec(t, s)); len(d) != 0 {
			t.Errorf("%s: %+v", name, d)
		}
	}
}

func TestDiff(t *testing.T) {
	c := testvectors.Cases()
	base := c["jvb-modern"]
	conf := jitsi.JVBConf
	const cfgPath = "videobridge.apis.xmpp-client.configs."

	t.Run("nickname", func(t *testing.T) {
		s := base
		s.Nickname = "jvb-007"
		d := Diff(planOfSpec(t, base), planOfSpec(t, s))
		for _, want := range []Change{
			{Section: "node", Item: "nickname", Op: OpChanged, Old: "jvb-001", New: "jvb-007"},
			{Section: "files", Item: conf, Key: cfgPath + "shard.muc_nickname", Op: OpChanged, Old: "jvb-001", New: "jvb-007"},
			{Section: "files", Item: jitsi.NodeConfig, Key: "nickname", Op: OpChanged, Old: "jvb-001", New: "jvb-007"},
		} {
			if !has(d, want) {
				t.Errorf("missing %+v in %+v", want, d)
			}
		}
	})
	t.Run("secret", func(t *testing.T) {
		s := base
		s.Secret += "x"
		d := Diff(planOfSpec(t, base), planOfSpec(t, s))
		want := Change{Section: "files", Item: conf, Key: cfgPath + "shard.password", Op: OpChanged, Old: Masked, New: Masked}
		if !has(d, want) {
			t.Errorf("missing %+v in %+v", want, d)
		}
		for _, ch := range d {
			if ch.Section != "files" || ch.Old != Masked {
				t.Errorf("a secret's change changed more: %+v", ch)
			}
		}
	})
	t.Run("extra shard, nat static, registry", func(t *testing.T) {
		s := c["jvb-modern-nat-two-shards"]
		d := Diff(planOfSpec(t, base), planOfSpec(t, s))
		for _, want := range []Change{
			{Section: "shards", Item: "shard-2", Op: OpAdded},
			{Section: "nat", Item: "mode", Op: OpChanged, Old: "auto", New: "static"},
			{Section: "nat", Item: "public_address", Op: OpChanged, Old: "", New: "203.0.113.7"},
			{Section: "files", Item: conf, Key: cfgPath + "shard-2.password", Op: OpAdded, New: Masked},
			{Section: "files", Item: conf, Key: "ice4j.harvest.mapping.stun.addresses", Op: OpAdded, New: `["stun.example.org:3478"]`},
		} {
			if !has(d, want) {
				t.Errorf("missing %+v in %+v", want, d)
			}
		}
		d = Diff(planOfSpec(t, base), planOfSpec(t, c["jvb-modern-reporting"]))
		if !has(d, Change{Section: "registry", Item: "url", Op: OpChanged, Old: "", New: "https://registry.example.org:8443"}) {
			t.Errorf("registry link added: %+v", d)
		}
	})
	t.Run("format", func(t *testing.T) {
		s := base
		s.Format = node.FormatLegacy
		d := Diff(planOfSpec(t, base), planOfSpec(t, s))
		if !has(d, Change{Section: "files", Item: jitsi.JVBShellConfig, Key: "JVB_SECRET", Op: OpAdded, New: Masked}) ||
			!has(d, Change{Section: "files", Item: conf, Key: cfgPath + "shard.hostname", Op: OpRemoved, Old: "meet.example.org"}) {
			t.Errorf("modern → legacy: %+v", d)
		}
	})
	t.Run("role", func(t *testing.T) {
		d := Diff(planOfSpec(t, base), planOfSpec(t, c["jms"]))
		if !has(d, Change{Section: "files", Item: conf, Op: OpRemoved}) || !has(d, Change{Section: "services", Item: "prosody.service", Op: OpAdded}) ||
			!has(d, Change{Section: "packages", Item: "jicofo", Op: OpAdded}) {
			t.Errorf("jvb → jms: %+v", d)
		}
	})
	t.Run("outputs", func(t *testing.T) {
		s := base
		s.Nickname = "jvb-002"
		d := Diff(planOfSpec(t, base), planOfSpec(t, s))
		var tb, jb bytes.Buffer
		if err := WriteDiffText(&tb, d); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(tb.String(), "~ node nickname: jvb-001 → jvb-002") {
			t.Errorf("text diff:\n%s", tb.String())
		}
		if err := DiffJSON(&jb, d); err != nil {
			t.Fatal(err)
		}
		var back struct{ Changes []Change }
		if err := json.Unmarshal(jb.Bytes(), &back); err != nil || len(back.Changes) != len(d) {
			t.Errorf("JSON diff: %v\n%s", err, jb.String())
		}
	})
}
