package jvmtier

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// TestFuzzSeedsThroughJitsi feeds the escaper and renderer fuzzers' seeds —
// their f.Add values and any corpus `go test -fuzz` saved under testdata/fuzz
// — to Jitsi's libraries: every value that passes validation, as a secret and
// as a nickname, in both formats, must read back unchanged. Secrets go in one
// render per format (one shard each), to keep the JVM runs few.
func TestFuzzSeedsThroughJitsi(t *testing.T) {
	secrets := validValues(append(append(append([]string{}, testvectors.EscapeVectors...), testvectors.SecretSeeds...),
		corpus(t, "userdata/jitsi/testdata/fuzz/FuzzEscapers", "userdata/testdata/fuzz/FuzzSecret")...),
		func(v string) node.Spec {
			return node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: v, Nickname: "jvb-1"}
		})
	nicknames := validValues(append(append(append([]string{}, testvectors.NicknameSeeds...), testvectors.EscapeVectors...),
		corpus(t, "userdata/testdata/fuzz/FuzzNickname")...),
		func(v string) node.Spec {
			return node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s", Nickname: v}
		})
	if len(secrets) < 5 || len(nicknames) < 2 {
		t.Fatalf("too few seeds pass validation (secrets %d, nicknames %d): the seed lists moved?", len(secrets), len(nicknames))
	}
	t.Logf("%d secrets and %d nicknames pass validation", len(secrets), len(nicknames))
	for _, format := range []node.Format{node.FormatModern, node.FormatLegacy} {
		t.Run(string(format)+"/secrets", func(t *testing.T) {
			t.Parallel()
			s := node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: secrets[0], Nickname: "jvb-1", Format: format}
			for i, v := range secrets[1:] {
				s.ExtraShards = append(s.ExtraShards, node.Shard{ID: fmt.Sprintf("s%02d", i+1), JMSFQDN: fmt.Sprintf("meet%02d.example.org", i+1), Secret: v})
			}
			checkSeedNode(t, s)
		})
		for _, nick := range nicknames {
			t.Run(string(format)+"/nickname="+nick, func(t *testing.T) {
				t.Parallel()
				checkSeedNode(t, node.Spec{Role: node.RoleJVB, JMSFQDN: "meet.example.org", Secret: "s", Nickname: nick, Format: format})
			})
		}
	}
}

func checkSeedNode(t *testing.T, s node.Spec) {
	t.Helper()
	b := defaultBoot(s)
	files, err := bridgeFilesOf(s, b)
	if err != nil {
		t.Fatal(err)
	}
	res := readBridge(t, files, nil, b)
	m, _ := withoutKnownFindings(mismatches(s, b, res))
	for _, sh := range s.Shards() {
		if c := res.XMPP.Client(sh.ID); c != nil && deref(c.PasswordSHA256) != jvbread.SHA256(sh.Secret) {
			m = append(m, fmt.Sprintf("seed %q (shard %s) reads back as another password", sh.Secret, sh.ID))
		}
	}
	if len(m) > 0 {
		t.Errorf("Jitsi's libraries read the seeds differently:\n  %s", strings.Join(m, "\n  "))
	}
}

// validValues keeps the distinct values whose spec passes validation.
func validValues(vals []string, spec func(string) node.Spec) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vals {
		if !seen[v] && spec(v).Validate() == nil {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// corpus reads the string values of `go test -fuzz` corpus files ("go test
// fuzz v1", one `string("…")` per line) under the module's dirs, if any.
func corpus(t *testing.T, dirs ...string) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return corpusIn(t, filepath.Join(filepath.Dir(file), "..", ".."), dirs...)
}

func corpusIn(t *testing.T, root string, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		entries, err := os.ReadDir(filepath.Join(root, d))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(root, d, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				lit, ok := strings.CutPrefix(strings.TrimSpace(line), "string(")
				if !ok || !strings.HasSuffix(lit, ")") {
					continue
				}
				v, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
				if err != nil {
					t.Fatalf("%s/%s: %v", d, e.Name(), err)
				}
				out = append(out, v)
			}
		}
	}
	return out
}

func TestCorpusReadsGoFuzzFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\nstring(\"a\\\\b \\\"q\\\" \\u00fc\")\nint(3)\n"
	if err := os.WriteFile(filepath.Join(dir, "f", "0123"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got := corpusIn(t, dir, "f", "missing")
	if len(got) != 1 || got[0] != "a\\b \"q\" ü" {
		t.Errorf("corpus = %q", got)
	}
}
