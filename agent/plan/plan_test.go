package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

var update = flag.Bool("update", false, "rewrite the golden plans in testdata/golden")

// planOfSpec renders spec's user-data and plans it, as `plan FILE` does.
func planOfSpec(t *testing.T, s node.Spec) Plan {
	t.Helper()
	data, err := userdata.Render(s)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	u, err := Read(data)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	p, err := Build(u)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return p
}

func texts(t *testing.T, p Plan) (text, js string) {
	t.Helper()
	var tb, jb bytes.Buffer
	if err := p.WriteText(&tb); err != nil {
		t.Fatal(err)
	}
	if err := p.JSON(&jb); err != nil {
		t.Fatal(err)
	}
	return tb.String(), jb.String()
}

// TestGoldenPlans: the plan of every golden user-data case, as text and
// JSON (go test ./agent/plan -update rewrites them).
func TestGoldenPlans(t *testing.T) {
	cases := testvectors.Cases()
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			text, js := texts(t, planOfSpec(t, cases[name]))
			for ext, got := range map[string]string{".txt": text, ".json": js} {
				path := filepath.Join("testdata", "golden", name+ext)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./agent/plan -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the golden file (go test ./agent/plan -update, then review the diff):\n%s", path, got)
				}
			}
		})
	}
}

// TestPlanIsDeterministic: the same user-data gives the same plan.
func TestPlanIsDeterministic(t *testing.T) {
	for name, s := range testvectors.Cases() {
		a, aj := texts(t, planOfSpec(t, s))
		b, bj := texts(t, planOfSpec(t, s))
		if a != b || aj != bj {
			t.Errorf("%s: two plans of one user-data differ", name)
		}
	}
}

// TestJSONFieldNames: the documented top-level fields, whatever the role.
func TestJSONFieldNames(t *testing.T) {
	for name, s := range testvectors.Cases() {
		_, js := texts(t, planOfSpec(t, s))
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"node", "registry", "nat", "files", "services"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: no %q in the JSON plan", name, k)
			}
		}
		var p struct {
			Files []struct {
				Path, Owner, Mode, WrittenBy string
			}
		}
		_ = json.Unmarshal([]byte(js), &p)
		if len(p.Files) < 5 {
			t.Errorf("%s: %d files in the plan", name, len(p.Files))
		}
	}
}

// TestUnknownsAreMarked: what only the boot knows is named, never guessed.
func TestUnknownsAreMarked(t *testing.T) {
	c := testvectors.Cases()
	text, _ := texts(t, planOfSpec(t, c["jvb-group"]))
	for _, want := range []string{"muc_nickname = <claimed nickname>", "public-address\":\"<public address>", "aws.enabled = false | true"} {
		if !strings.Contains(text, want) {
			t.Errorf("group bridge plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "jvb-standin") || strings.Contains(text, "192.0.2.20") || strings.Contains(text, "198.51.100.20") {
		t.Errorf("a stand-in value leaks into the plan:\n%s", text)
	}
	text, _ = texts(t, planOfSpec(t, c["jvb-legacy-nat-two-shards"]))
	for _, want := range []string{"NAT_HARVESTER_LOCAL_ADDRESS = 10.0.0.7", "NAT_HARVESTER_PUBLIC_ADDRESS = 203.0.113.7", "MUC_NICKNAME = jvb-001"} {
		if !strings.Contains(text, want) {
			t.Errorf("static legacy plan lacks %q", want)
		}
	}
	if strings.Contains(text, "<") {
		t.Errorf("a fully given bridge has values decided at boot:\n%s", text)
	}
	text, _ = texts(t, planOfSpec(t, c["jvb-modern-nat-two-shards"]))
	if !strings.Contains(text, `"local-address":"<local address>","name":"public","public-address":"203.0.113.7"`) {
		t.Errorf("static mapping without --local-ip: the local address is not marked:\n%s", text)
	}
}

func TestReadRefusesWhatItCannotPlan(t *testing.T) {
	for name, data := range map[string]string{
		"not cloud-config": "#!/bin/sh\necho hi\n",
		"no node.yaml":     "#cloud-config\nwrite_files:\n- path: /etc/x\n  content: y\n",
		"bad yaml":         "#cloud-config\nwrite_files: [\n",
	} {
		if _, err := Read([]byte(data)); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}
