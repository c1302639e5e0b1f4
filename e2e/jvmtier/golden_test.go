package jvmtier

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// TestJitsiReadsGoldenCases: for every golden case (userdata/testdata/golden),
// what Jitsi's libraries read from the bridge's files is what the spec says.
// A JMS gets no bridge files: its local bridge keeps the package's own.
func TestJitsiReadsGoldenCases(t *testing.T) {
	cases := testvectors.Cases()
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	var seen sync.Map
	var read, bridges atomic.Int32 // the known findings are checked once every bridge was read
	t.Cleanup(func() {
		if t.Failed() || read.Load() != bridges.Load() {
			return
		}
		for _, k := range knownFindings {
			if _, ok := seen.Load(k.match); !ok {
				t.Errorf("known finding %q no longer shows in any golden case: remove it from knownFindings", k.match)
			}
		}
	})
	for _, name := range names {
		s := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := defaultBoot(s)
			files, err := bridgeFilesOf(s, b)
			if err != nil {
				t.Fatal(err)
			}
			if s.Role == node.RoleJMS {
				if len(files) != 0 {
					t.Fatalf("a JMS gets bridge files %v: they would replace its local bridge's package configuration", keys(files))
				}
				return
			}
			bridges.Add(1)
			res := readBridge(t, files, nil, b)
			read.Add(1)
			m, known := withoutKnownFindings(mismatches(s, b, res))
			if len(m) > 0 {
				t.Errorf("Jitsi's libraries read %s's bridge files differently from its spec:\n  %s", name, strings.Join(m, "\n  "))
			}
			for _, k := range known {
				seen.Store(k, true)
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// knownFindings are discrepancies this tier found in the current renders and
// that are reported, not yet fixed. Each must still show (the test fails when
// one disappears, so the list cannot go stale); anything else fails the test.
var knownFindings = []struct{ match, why string }{
	// None now. The first one this tier found — JVB_OPTS="--apis=," switching
	// the REST API off on bridges before 2022-10 — was fixed by writing
	// --apis=rest (userdata/jitsi/bridge.go).
}

// withoutKnownFindings splits mismatches into unknown ones and the matches of knownFindings they contain.
func withoutKnownFindings(m []string) (rest, known []string) {
	for _, msg := range m {
		k := ""
		for _, f := range knownFindings {
			if strings.HasPrefix(msg, f.match) {
				k = f.match
			}
		}
		if k != "" {
			known = append(known, k)
		} else {
			rest = append(rest, msg)
		}
	}
	return rest, known
}
