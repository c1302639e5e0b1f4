package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	in := Manifest{
		BuildName: "jms", BuilderType: "qemu", RunUUID: "r", Role: "jms",
		OS: OS{ID: "ubuntu", VersionID: "18.04", Codename: "bionic"},
		Packages: []Package{
			{Name: "jitsi-meet", Version: "2.0.9823-1", State: "cached"},
			{Name: "jicofo", Version: "1.0-1100-1", State: "cached"},
		},
		PluginVersion: "0.1.0",
	}
	if err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Packages[0].Name != "jicofo" {
		t.Errorf("packages not sorted: %+v", got.Packages)
	}
	if !reflect.DeepEqual(got.Versions(), map[string]string{"jicofo": "1.0-1100-1", "jitsi-meet": "2.0.9823-1"}) {
		t.Errorf("Versions = %v", got.Versions())
	}
	if got.OS.String() != "ubuntu 18.04" || got.RunUUID != "r" {
		t.Errorf("read back %+v", got)
	}
	// Deterministic: writing what was read gives the same bytes.
	if err := Write(path, got); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if string(first) != string(second) {
		t.Errorf("rewrite differs:\n%s\n%s", first, second)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(filepath.Join(dir, "none.json"))
	if !errors.Is(err, ErrMissing) {
		t.Errorf("missing file: %v, want ErrMissing", err)
	}
	bad := filepath.Join(dir, "bad.json")
	for content, want := range map[string]string{
		"{":              "unexpected end of JSON",
		`{"role":"jvb"}`: "role, os and packages are required",
	} {
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%q) = %v, want %q", content, err, want)
		}
	}
}

func TestWriteIntoMissingDirectory(t *testing.T) {
	err := Write(filepath.Join(t.TempDir(), "no", "such", "m.json"), Manifest{Role: "jvb"})
	if err == nil || !strings.Contains(err.Error(), "write manifest") {
		t.Fatalf("Write = %v, want a write manifest error", err)
	}
}
