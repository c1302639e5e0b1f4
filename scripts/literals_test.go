package scripts_test

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScriptsHoldNoRoleFact keeps the role model the one place a Jitsi fact
// is written: no string constant of userdata/jitsi (a path, a package or
// service name, a key, a debconf question) may appear as a literal in the
// shell under scripts/. The bake script gets them from the settings the
// provisioner writes; what only Go can decide runs in the jitsi-node agent.
func TestScriptsHoldNoRoleFact(t *testing.T) {
	// Words that are a role fact AND something else in one named place.
	allowed := map[[2]string]string{
		{"deps.sh", "prosody"}: "Debian's prosody package, installed on the test machine for the host tier, not a node's service",
		{"deps.sh", "coturn"}:  "Debian's coturn package, installed on the test machine for the host tier, not a node's service",
	}
	facts := roleFacts(t, "../userdata/jitsi")
	if len(facts) < 20 {
		t.Fatalf("found only %d string constants in userdata/jitsi: the scan is broken", len(facts))
	}
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue // comments may name what they are about
			}
			for name, re := range facts {
				if _, ok := allowed[[2]string{f, factValue(name)}]; ok {
					continue
				}
				if re.MatchString(line) {
					t.Errorf("%s:%d holds %s of userdata/jitsi as a literal: take it from the provisioner's settings\n\t%s", f, i+1, name, strings.TrimSpace(line))
				}
			}
		}
	}
}

// factValue is the value part of a roleFacts key.
func factValue(name string) string {
	_, v, _ := strings.Cut(name, " (")
	return strings.TrimSuffix(v, ")")
}

// roleFacts maps each string constant of the package in dir (name → a
// pattern matching its value as a whole word or path) with at least four
// characters: shorter ones ("jvb") are words of many other things.
func roleFacts(t *testing.T, dir string) map[string]*regexp.Regexp {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*regexp.Regexp{}
	for _, pkg := range pkgs {
		files := make([]*ast.File, 0, len(pkg.Files))
		for _, f := range pkg.Files {
			files = append(files, f)
		}
		// Type-check without imports' bodies: constants are folded from the
		// package's own declarations.
		conf := types.Config{Importer: nil, Error: func(error) {}}
		info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
		_, _ = conf.Check(pkg.Name, fset, files, info)
		for id, obj := range info.Defs {
			c, ok := obj.(*types.Const)
			if !ok || c.Val().Kind() != constant.String {
				continue
			}
			v := constant.StringVal(c.Val())
			if len(v) < 4 || strings.ContainsAny(v, "\n") {
				continue
			}
			out[id.Name+" ("+v+")"] = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])` + regexp.QuoteMeta(v) + `($|[^A-Za-z0-9_-])`)
		}
	}
	return out
}
