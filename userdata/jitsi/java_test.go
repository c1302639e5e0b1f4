package jitsi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// typesafeJar is Debian's libtypesafe-config-java, the HOCON library Jitsi uses.
const typesafeJar = "/usr/share/java/typesafe-config.jar"

// javaRead runs testdata/ReadBack.java with the real JDK and Typesafe Config.
// Missing tools fail the test: `make deps` installs them.
func javaRead(t *testing.T, args ...string) map[string]string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (install default-jdk-headless; `make deps` does): %v", err)
	}
	if _, err := os.Stat(typesafeJar); err != nil {
		t.Fatalf("Typesafe Config not found (install libtypesafe-config-java; `make deps` does): %v", err)
	}
	cmd := exec.Command(java, append([]string{"-cp", typesafeJar, "testdata/ReadBack.java"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java ReadBack %v: %v\n%s", args, err, stderr.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		got[unhex(t, k)] = unhex(t, v)
	}
	return got
}

func unhex(t *testing.T, s string) string {
	if s == "-" {
		return ""
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q from ReadBack: %v", s, err)
	}
	return string(b)
}

func writeFiles(t *testing.T, files []File) map[string]string {
	dir := t.TempDir()
	paths := map[string]string{}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Base(f.Path))
		if err := os.WriteFile(p, f.Content, 0o600); err != nil {
			t.Fatal(err)
		}
		paths[f.Path] = p
	}
	return paths
}

// TestNastySecretThroughJitsiReaders renders a bridge in both formats with the
// issue's nasty secret, a second shard and NAT settings, and reads the files
// back with Java's Properties (both charsets), Typesafe Config, bash and dash.
func TestNastySecretThroughJitsiReaders(t *testing.T) {
	second := `z"}${x} \u00e9\\`
	base := node.Spec{
		Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: nastySecret, Nickname: "jvb-007",
		ExtraShards: []node.Shard{{ID: "shard-2", JMSFQDN: "meet2.example.org", Secret: second}},
		NAT:         node.NAT{PublicAddress: "203.0.113.9", LocalAddress: "10.1.2.3", STUNServers: []string{"stun.example.org:3478"}},
	}
	boot := Boot{Nickname: "jvb-007", LocalAddress: "10.1.2.3", PublicAddress: "203.0.113.9"}
	files := func(s node.Spec) []File {
		fs, err := BridgeFiles(s, boot)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}

	t.Run("legacy properties", func(t *testing.T) {
		s := base
		s.Format = node.FormatLegacy
		paths := writeFiles(t, files(s))
		for _, mode := range []string{"properties", "properties-utf8"} {
			got := javaRead(t, mode, paths[JVBProperties])
			want := map[string]string{
				LegacyXMPPKeyPrefix + "shard.PASSWORD":       nastySecret,
				LegacyXMPPKeyPrefix + "shard-2.PASSWORD":     second,
				LegacyXMPPKeyPrefix + "shard.MUC_NICKNAME":   "jvb-007",
				LegacyXMPPKeyPrefix + "shard.DOMAIN":         "auth.meet.example.org",
				LegacyXMPPKeyPrefix + "shard-2.MUC_JIDS":     "jvbbrewery@internal.auth.meet2.example.org",
				LegacyXMPPKeyPrefix + "shard.HOSTNAME":       "meet.example.org",
				propNATLocalAddress:                          "10.1.2.3",
				propNATPublicAddress:                         "203.0.113.9",
				propSTUNAddresses:                            "stun.example.org:3478",
				LegacyXMPPKeyPrefix + "shard.USERNAME":       "jvb",
				propDisableTCP:                               "true",
				propDisableAWS:                               "true",
				propRESTHost:                                 "127.0.0.1",
				propRESTShutdown:                             "true",
				LegacyXMPPKeyPrefix + "shard-2.MUC_NICKNAME": "jvb-007",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %s = %q, want %q", mode, k, got[k], v)
				}
			}
		}
		checkShell(t, paths[JVBShellConfig], "JVB_SECRET", nastySecret)
		checkShell(t, paths[JVBShellConfig], "JVB_OPTS", JVBOpts)
	})

	t.Run("modern hocon", func(t *testing.T) {
		s := base
		s.Format = node.FormatModern
		paths := writeFiles(t, files(s))
		prefix := "videobridge.apis.xmpp-client.configs."
		got := javaRead(t, "hocon", paths[JVBConf],
			prefix+"shard.password", prefix+"shard-2.password", prefix+"shard.muc_nickname",
			prefix+"shard.domain", prefix+"shard-2.muc_jids", prefix+"shard.port",
			"ice4j.harvest.mapping.stun.addresses", "ice4j.harvest.mapping.static-mappings",
			"ice4j.harvest.mapping.aws.enabled", "videobridge.apis.rest.enabled", "videobridge.rest.shutdown.enabled")
		want := map[string]string{
			prefix + "shard.password":           nastySecret,
			prefix + "shard-2.password":         second,
			prefix + "shard.muc_nickname":       "jvb-007",
			prefix + "shard.domain":             "auth.meet.example.org",
			prefix + "shard-2.muc_jids":         "jvbbrewery@internal.auth.meet2.example.org",
			prefix + "shard.port":               "5222",
			"ice4j.harvest.mapping.aws.enabled": "false",
			"videobridge.apis.rest.enabled":     "true",
			"videobridge.rest.shutdown.enabled": "true",
		}
		var stun []string
		var mappings []map[string]string
		if err := json.Unmarshal([]byte(got["ice4j.harvest.mapping.stun.addresses"]), &stun); err != nil ||
			len(stun) != 1 || stun[0] != "stun.example.org:3478" {
			t.Errorf("stun.addresses = %s (%v)", got["ice4j.harvest.mapping.stun.addresses"], err)
		}
		if err := json.Unmarshal([]byte(got["ice4j.harvest.mapping.static-mappings"]), &mappings); err != nil ||
			len(mappings) != 1 || mappings[0]["local-address"] != "10.1.2.3" || mappings[0]["public-address"] != "203.0.113.9" {
			t.Errorf("static-mappings = %s (%v)", got["ice4j.harvest.mapping.static-mappings"], err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		// No legacy xmpp key may survive to override jvb.conf.
		props := javaRead(t, "properties", paths[JVBProperties])
		for k := range props {
			if strings.HasPrefix(k, LegacyXMPPKeyPrefix) {
				t.Errorf("modern node keeps legacy key %s", k)
			}
		}
		checkShell(t, paths[JVBShellConfig], "JVB_SECRET", "")
		checkShell(t, paths[JVBShellConfig], "JVB_OPTS", "--apis=rest")
	})

	t.Run("jms debconf", func(t *testing.T) {
		seed := DebconfSeed(node.Spec{Role: node.RoleJMS, JMSFQDN: "meet.example.org", Secret: nastySecret})
		if !strings.Contains(string(seed), "jitsi-meet-prosody "+QJVBSecret+" password "+nastySecret+"\n") {
			t.Errorf("debconf seed lacks the literal secret line:\n%s", seed)
		}
	})
}

// checkShell sources file with bash and with dash (the package's init scripts
// use /bin/sh) and compares the variable.
func checkShell(t *testing.T, file, name, want string) {
	t.Helper()
	for _, sh := range []string{"bash", "dash"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Fatalf("%s not found: %v", sh, err)
		}
		out, err := exec.Command(path, "-c", `set -eu; . "$1"; printf %s "${`+name+`:-}"`, sh, file).Output()
		if err != nil {
			t.Fatalf("%s sourcing %s: %v", sh, file, err)
		}
		if string(out) != want {
			t.Errorf("%s: %s = %q, want %q", sh, name, out, want)
		}
	}
}

// TestNATNoneAndEC2: nat none lets a private-only bridge be healthy, and
// the AWS harvester is on only where the agent found EC2.
func TestNATNoneAndEC2(t *testing.T) {
	s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s", NAT: node.NAT{Mode: node.NATNone}}
	files, err := BridgeFiles(s, Boot{Nickname: "jvb-1", AWSHarvester: true})
	if err != nil {
		t.Fatal(err)
	}
	paths := writeFiles(t, files)
	got := javaRead(t, "hocon", paths[JVBConf], "videobridge.health.require-valid-address", "ice4j.harvest.mapping.aws.enabled")
	if got["videobridge.health.require-valid-address"] != "false" || got["ice4j.harvest.mapping.aws.enabled"] != "true" {
		t.Errorf("nat none on EC2: %v", got)
	}
	if conf, _ := os.ReadFile(paths[JVBConf]); strings.Contains(string(conf), "static-mappings") || strings.Contains(string(conf), "stun") {
		t.Errorf("nat none writes a mapping or STUN:\n%s", conf)
	}
}
