package docsgen

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedDocsAreGenerated regenerates the docs into a scratch folder
// and fails when the committed docs-partials/ or .web-docs/ differ: a Config
// field comment (the one place an option is described) changed without
// `make generate`, or a generated file was edited by hand.
func TestCommittedDocsAreGenerated(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if err := Generate(context.Background(), root, dest); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{PartialsDir, WebDocsDir} {
		want, got := tree(t, filepath.Join(dest, dir)), tree(t, filepath.Join(root, dir))
		for name, w := range want {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s/%s is missing: run `make generate`", dir, name)
			case !bytes.Equal(g, w):
				t.Errorf("%s/%s is stale: run `make generate` (edit the Config field comments, not this file)", dir, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s is not generated any more: remove it (make generate does)", dir, name)
			}
		}
	}
	// Every option of every component is in its rendered page.
	page, err := os.ReadFile(filepath.Join(dest, WebDocsDir, "components", "provisioner", "jitsi", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"`role`", "`apt_repo_url`", "`versions`", "`manifest_file`"} {
		if !bytes.Contains(page, []byte(opt)) {
			t.Errorf("the provisioner's page lacks option %s", opt)
		}
	}
	if bytes.Contains(page, []byte("@include")) {
		t.Error("the provisioner's page has an unresolved @include")
	}
}

func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[rel] = b
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}
