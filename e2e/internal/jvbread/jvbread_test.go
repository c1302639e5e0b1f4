package jvbread

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLayOutRejectsUnsafePaths(t *testing.T) {
	for _, p := range []string{"etc/jitsi/x", "/etc/../x", "/", "/etc//x"} {
		err := layOut(t.TempDir(), map[string][]byte{p: []byte("x")})
		if err == nil || !strings.Contains(err.Error(), "absolute and clean") {
			t.Errorf("%q: err = %v", p, err)
		}
	}
	root := t.TempDir()
	if err := layOut(root, map[string][]byte{"/etc/jitsi/videobridge/jvb.conf": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "etc/jitsi/videobridge/jvb.conf"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("laid-out file: %v, mode %v (want 0600: bridge files hold secrets)", err, fi.Mode())
	}
}

func TestSourceHashFollowsSources(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pom.xml", "<project/>")
	write("src/main/kotlin/A.kt", "a")
	write("target/classes/A.class", "built")
	write("README.md", "docs")
	files, a, err := sourceFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(files, ",") != "pom.xml,src/main/kotlin/A.kt" {
		t.Errorf("build inputs = %v", files)
	}
	write("README.md", "other docs")
	write("target/classes/A.class", "rebuilt")
	if _, b, _ := sourceFiles(dir); b != a {
		t.Error("hash changed with files that are not build inputs")
	}
	write("src/main/kotlin/A.kt", "b")
	if _, c, _ := sourceFiles(dir); c == a {
		t.Error("hash did not change with a source")
	}
}
