package yamldoc

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type doc struct {
	Name  string   `yaml:"name"`
	List  []string `yaml:"list,omitempty"`
	Multi string   `yaml:"multi,omitempty"`
}

// TestMarshalReadsBack: the header leads, the indentation is two spaces,
// values that look like YAML syntax stay strings, and the document reads
// back as the value it was made of.
func TestMarshalReadsBack(t *testing.T) {
	v := doc{Name: "b: c # d", List: []string{"- y", "'z'", "{a}"}, Multi: "line one\nline two\n"}
	out, err := Marshal("#cloud-config\n", v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "#cloud-config\nname: ") || !strings.Contains(string(out), "\n  - ") {
		t.Errorf("output:\n%s", out)
	}
	var back doc
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != v.Name || strings.Join(back.List, "|") != strings.Join(v.List, "|") || back.Multi != v.Multi {
		t.Errorf("read back %+v, want %+v", back, v)
	}
	again, _ := Marshal("#cloud-config\n", v)
	if string(again) != string(out) {
		t.Error("the same value gave other bytes")
	}
}

// TestWriterWritesWhatMarshalDoes: several documents through one Writer,
// each equal to what Marshal writes (no separator, no state carried over).
func TestWriterWritesWhatMarshalDoes(t *testing.T) {
	values := []any{
		doc{Name: "a"},
		doc{Name: "b: c", List: []string{"x", "- y", "'z'"}},
		doc{Name: "multi", Multi: "line one\n---\nline two\n"},
		map[string]any{"top": []any{1, "two", map[string]string{"three": "3"}}},
	}
	w := NewWriter()
	for i, v := range values {
		got, err := w.Marshal("#h\n", v)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Marshal("#h\n", v)
		if string(got) != string(want) {
			t.Errorf("document %d:\n got %q\nwant %q", i, got, want)
		}
	}
}
