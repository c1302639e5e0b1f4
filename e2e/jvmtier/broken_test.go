package jvmtier

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// staleLegacyShard is what the jitsi-videobridge2 postinst before 2025-03
// appends to sip-communicator.properties on reconfigure: a complete shard.
const staleLegacyShard = `org.jitsi.videobridge.xmpp.user.shard.HOSTNAME=localhost
org.jitsi.videobridge.xmpp.user.shard.DOMAIN=auth.meet.example.org
org.jitsi.videobridge.xmpp.user.shard.USERNAME=jvb
org.jitsi.videobridge.xmpp.user.shard.PASSWORD=postinst-random
org.jitsi.videobridge.xmpp.user.shard.MUC_JIDS=jvbbrewery@internal.auth.meet.example.org
org.jitsi.videobridge.xmpp.user.shard.MUC_NICKNAME=5f2c6a8e-uuid-from-postinst
`

// TestBrokenRendersFail: hand-broken renders make the comparison fail, with a
// message naming what Jitsi would read instead. This is what proves the tier
// can fail.
func TestBrokenRendersFail(t *testing.T) {
	modern := testvectors.Cases()["jvb-modern"]
	legacy := testvectors.Cases()["jvb-legacy"]
	group := testvectors.Cases()["jvb-group"]
	cases := []struct {
		name   string
		spec   node.Spec
		boot   func(*boot)
		break_ func(files map[string][]byte, env map[string]string)
		want   []string
	}{
		{
			name: "legacy shard left beside jvb.conf",
			spec: modern,
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBProperties] = append(f[jitsi.JVBProperties], staleLegacyShard...)
			},
			want: []string{
				`xmpp: Jitsi takes the shards from "sip-communicator.properties", want jvb.conf`,
				`xmpp shard: hostname = "localhost", want "meet.example.org"`,
				`xmpp shard: muc_nickname = "5f2c6a8e-uuid-from-postinst", want "jvb-001"`,
				"xmpp shard: password: Jitsi reads another value",
			},
		},
		{
			name: "missing muc_jids",
			spec: modern,
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBConf] = dropLines(f[jitsi.JVBConf], `^\s*muc_jids\s*=`)
			},
			want: []string{
				`xmpp: Jitsi ignores entry "shard" of jvb.conf: it lacks muc_jids`,
				`xmpp: shard "shard" is not among the entries Jitsi uses []`,
			},
		},
		{
			name: "private-only bridge without mapping or STUN",
			spec: modern,
			boot: func(b *boot) { b.local, b.public, b.aws = "", "", false },
			want: []string{`health: no valid address (interfaces [10.0.0.7], mappings [], discovery at run time [])`},
		},
		{
			name: "AWS harvester left to ice4j's default off EC2",
			spec: modern,
			boot: func(b *boot) { b.aws = false },
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBConf] = dropLines(f[jitsi.JVBConf], `^\s*aws\.enabled\s*=`)
			},
			want: []string{"ice4j AWS harvester on (aws runs: yes), want off: at start the bridge probes the EC2 metadata service"},
		},
		{
			name: "old bridge given --apis=xmpp (REST off whatever jvb.conf says)",
			spec: modern,
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBShellConfig] = replaceLine(f[jitsi.JVBShellConfig], `^JVB_OPTS=`, `JVB_OPTS="--apis=xmpp"`)
			},
			want: []string{`rest: a bridge before 2022-10 (Jitsi stable <= 7882) takes JVB_OPTS --apis="xmpp" over jvb.conf: COLIBRI REST false, shutdown API false`},
		},
		{
			name: "JAVA_SYS_PROPS without -Dconfig.file",
			spec: modern,
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBShellConfig] = replaceLine(f[jitsi.JVBShellConfig], `^JAVA_SYS_PROPS=`,
					`JAVA_SYS_PROPS="-Dnet.java.sip.communicator.SC_HOME_DIR_LOCATION=/etc/jitsi -Dnet.java.sip.communicator.SC_HOME_DIR_NAME=videobridge"`)
			},
			want: []string{
				`-Dconfig.file is "", want /etc/jitsi/videobridge/jvb.conf`,
				"xmpp: Jitsi finds no complete shard entry",
				`xmpp: Jitsi uses 0 entries [], want 1`,
				"rest: COLIBRI REST false, shutdown API false",
			},
		},
		{
			name: "legacy password written without escaping",
			spec: legacy,
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBProperties] = replaceLine(f[jitsi.JVBProperties], `^org\.jitsi\.videobridge\.xmpp\.user\.shard\.PASSWORD=`,
					"org.jitsi.videobridge.xmpp.user.shard.PASSWORD="+testvectors.NastySecret)
			},
			want: []string{"xmpp shard: password: Jitsi reads another value"},
		},
		{
			name: "group bridge written with the image's nickname instead of its claimed one",
			spec: group,
			break_: func(f map[string][]byte, _ map[string]string) {
				f[jitsi.JVBConf] = replaceLine(f[jitsi.JVBConf], `^\s*muc_nickname\s*=`, `      muc_nickname = "5f2c6a8e-uuid-from-postinst"`)
			},
			want: []string{`xmpp shard: muc_nickname = "5f2c6a8e-uuid-from-postinst", want "jvb-042"`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := defaultBoot(c.spec)
			if c.boot != nil {
				c.boot(&b)
			}
			files, err := bridgeFilesOf(c.spec, b)
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			if c.break_ != nil {
				c.break_(files, env)
			}
			got, _ := withoutKnownFindings(mismatches(c.spec, b, readBridge(t, files, env, b)))
			t.Logf("Jitsi reads:\n  %s", strings.Join(got, "\n  "))
			all := strings.Join(got, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("want a mismatch containing %q; Jitsi's reading gave:\n  %s", w, strings.Join(got, "\n  "))
				}
			}
		})
	}
}

// dropLines removes the lines matching pattern; the test fails to be
// meaningful if none does, so that is checked by the callers' expectations.
func dropLines(data []byte, pattern string) []byte {
	re := regexp.MustCompile(pattern)
	var out [][]byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if !re.Match(l) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, nil)
}

// replaceLine replaces the lines matching pattern by line.
func replaceLine(data []byte, pattern, line string) []byte {
	re := regexp.MustCompile(pattern)
	var out [][]byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if re.Match(l) {
			l = []byte(line + "\n")
		}
		out = append(out, l)
	}
	return bytes.Join(out, nil)
}
