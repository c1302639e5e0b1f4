package jitsi

import (
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

const nastySecret = testvectors.NastySecret

// escapeCases are shared with the e2e JVM tier, which feeds them to Jitsi's own libraries.
var escapeCases = testvectors.EscapeVectors

func TestPropertiesValueRoundTrip(t *testing.T) {
	for _, v := range escapeCases {
		line := PropertiesKey("k ey:=") + "=" + PropertiesValue(v) + "\n"
		got, err := readback.JavaProperties(line)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got["k ey:="] != v {
			t.Errorf("value %q rendered as %q reads back as %q", v, line, got["k ey:="])
		}
	}
}

func TestPropertiesValueIsASCII(t *testing.T) {
	for _, v := range escapeCases {
		for _, c := range []byte(PropertiesValue(v)) {
			if c < 0x20 || c > 0x7e {
				t.Errorf("PropertiesValue(%q) has byte %#x: Properties.load(InputStream) reads ISO-8859-1", v, c)
			}
		}
	}
}

func TestHOCONStringRoundTrip(t *testing.T) {
	for _, v := range escapeCases {
		doc := "a { b = " + HOCONString(v) + "\n c = 1 }\n"
		got, err := readback.HOCON(doc)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if b, _ := readback.Lookup(got, "a", "b"); b != v {
			t.Errorf("value %q rendered as %q reads back as %q", v, doc, b)
		}
		if c, _ := readback.Lookup(got, "a", "c"); c != "1" {
			t.Errorf("value %q broke the next key: c = %v", v, c)
		}
	}
}

func TestShellValueRoundTrip(t *testing.T) {
	for _, v := range escapeCases {
		doc := "A=" + ShellValue(v) + "\nB=after\n"
		got, err := readback.ShellAssignments(doc)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got["A"] != v || got["B"] != "after" {
			t.Errorf("value %q rendered as %q reads back as A=%q B=%q", v, doc, got["A"], got["B"])
		}
	}
}

func FuzzEscapers(f *testing.F) {
	for _, v := range escapeCases {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// Control characters other than tab never reach a renderer (validation).
		for _, r := range v {
			if r < 0x20 && r != '\t' || r == 0x7f || r == 0xfffd {
				t.Skip()
			}
		}
		props, err := readback.JavaProperties("k=" + PropertiesValue(v) + "\n")
		if err != nil || props["k"] != v {
			t.Fatalf("properties: %q -> %q (%v)", v, props["k"], err)
		}
		h, err := readback.HOCON("k = " + HOCONString(v) + "\n")
		if err != nil || h["k"] != v {
			t.Fatalf("hocon: %q -> %q (%v)", v, h["k"], err)
		}
		sh, err := readback.ShellAssignments("k=" + ShellValue(v) + "\n")
		if err != nil || sh["k"] != v {
			t.Fatalf("shell: %q -> %q (%v)", v, sh["k"], err)
		}
	})
}
