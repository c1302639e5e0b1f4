package credfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOnlyTheOwnerMayRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true},
		{0o640, false}, {0o604, false}, {0o644, false}, {0o660, false}, {0o620, false}, {0o602, false},
	} {
		p := filepath.Join(dir, tc.mode.String())
		if err := os.WriteFile(p, []byte("token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		data, err := Read(p)
		cerr := Check(p)
		if tc.ok {
			if err != nil || cerr != nil || string(data) != "token\n" {
				t.Errorf("mode %04o: Read = %q, %v; Check = %v; want accepted", tc.mode, data, err, cerr)
			}
			continue
		}
		for _, e := range []error{err, cerr} {
			if e == nil || !strings.Contains(e.Error(), "run chmod 600 "+p) {
				t.Errorf("mode %04o: err = %v, want a refusal naming chmod 600 %s", tc.mode, e, p)
			}
		}
		if data != nil {
			t.Errorf("mode %04o: content returned despite the refusal", tc.mode)
		}
	}
	if err := Check(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v", err)
	}
}
