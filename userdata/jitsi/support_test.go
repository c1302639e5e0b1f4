package jitsi

import (
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

func TestBridgeGeneration(t *testing.T) {
	cases := map[string]Generation{
		"":                    Current, // nothing pinned: the repository's newest
		"2.3-160-g97a1f15f-1": Current,
		"2.3-174+e2e1-1":      Current,
		"1:2.3-9-gabc-1":      Current,
		"2.10-1-1":            Current,
		"3.0-1-1":             Current,
		"2.1-681-g3544ed05-1": Legacy,
		"2.1-273+e2e1-1":      Legacy,
		"2.2-45-g1-1":         Legacy,
		"2.0-1":               Legacy,
	}
	for v, want := range cases {
		if g, ok := BridgeGeneration(v); !ok || g != want {
			t.Errorf("BridgeGeneration(%q) = %q, %v; want %q", v, g, ok, want)
		}
	}
	for _, v := range []string{"latest", "x.1-1", "2-1"} {
		if g, ok := BridgeGeneration(v); ok {
			t.Errorf("BridgeGeneration(%q) = %q: read a version it cannot", v, g)
		}
	}
}

// TestCheckImage: each release refuses exactly the generations it does not
// run, naming versions' fix; an unreadable version is let through.
func TestCheckImage(t *testing.T) {
	legacy := map[string]string{PkgJVB: "2.1-681-g3544ed05-1"}
	refused := map[string]map[Generation]bool{
		"ubuntu 18.04": {Current: true}, "ubuntu 20.04": {}, "ubuntu 22.04": {}, "ubuntu 24.04": {},
		"debian 11": {}, "debian 12": {Legacy: true}, "debian 13": {Legacy: true},
	}
	if len(refused) != len(SupportedOS) {
		t.Fatalf("the test covers %d releases, SupportedOS has %d", len(refused), len(SupportedOS))
	}
	for _, o := range SupportedOS {
		for g, versions := range map[Generation]map[string]string{Current: nil, Legacy: legacy} {
			err := CheckImage(o, node.RoleJVB, versions)
			if (err != nil) != refused[o.String()][g] {
				t.Errorf("CheckImage(%s, %s) = %v, want refused %v", o, g, err, refused[o.String()][g])
				continue
			}
			if err == nil {
				continue
			}
			want := "or bake a newer OS"
			if g == Legacy {
				want = "leave jitsi-videobridge2 out of `versions`"
			}
			if !strings.HasPrefix(err.Error(), o.String()+" ") || !strings.Contains(err.Error(), want) {
				t.Errorf("CheckImage(%s, %s) = %q: want it to start with the release and name the fix %q", o, g, err, want)
			}
		}
		if err := CheckImage(o, node.RoleJVB, map[string]string{PkgJVB: "weird"}); err != nil {
			t.Errorf("CheckImage(%s) of an unreadable version: %v", o, err)
		}
	}
}

func TestProsodyNote(t *testing.T) {
	for _, o := range SupportedOS {
		note := ProsodyNote(o, node.RoleJMS, nil)
		want := o.Runs(Current) && strings.HasPrefix(o.Prosody, "0.11")
		if (note != "") != want {
			t.Errorf("%s (prosody %s): note %q, want one: %v", o, o.Prosody, note, want)
		}
		if ProsodyNote(o, node.RoleJVB, nil) != "" {
			t.Errorf("%s: a bridge image got a prosody note", o)
		}
	}
}

func TestRetired(t *testing.T) {
	r, ok := LookupRetired("debian", "10")
	if !ok || r.Codename != "buster" || !strings.Contains(r.Why, "bake on debian 11 or newer") {
		t.Errorf("LookupRetired(debian 10) = %+v, %v", r, ok)
	}
	if _, ok := LookupOS("debian", "10"); ok {
		t.Error("debian 10 is both retired and supported")
	}
}
