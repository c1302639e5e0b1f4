// Package docsgen generates the plugin's documentation the Packer way: the
// option lists come from the Config field comments (packer-sdc
// struct-markdown writes them as partials under docs-partials/), the pages
// in docs/ include them (`@include 'plugin/provisioner/jitsi/Config-required.mdx'`),
// packer-sdc renderdocs resolves the includes, and the result is laid out
// in .web-docs/ as HashiCorp's integration pages expect:
//
//	.web-docs/README.md                                   docs/README.md
//	.web-docs/metadata.hcl                                (kept as it is: written by hand)
//	.web-docs/components/provisioner/jitsi/README.md      docs/provisioners/jitsi.mdx
//	.web-docs/components/post-processor/jitsi-registry/README.md
//
// A field's comment is thus written once. `make generate` runs Generate on
// the repository; a test runs it into a scratch directory and fails when
// the committed docs-partials/ or .web-docs/ differ (a comment changed
// without regenerating).
package docsgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// Sources are the Go files whose structs document the components' options.
var Sources = []string{
	"plugin/provisioner/jitsi/config.go",
	"plugin/postprocessor/registry/post-processor.go",
}

// Generated are partials made from the project's models rather than from
// Config comments (path under docs-partials/ → content).
var Generated = map[string]func() string{
	// The releases × Jitsi generations the provisioner bakes (README.md has
	// the same table; userdata/jitsi's tests check it).
	"userdata/jitsi/SupportMatrix.mdx": jitsi.SupportMatrix,
}

// Components maps each page of docs/ to its place in .web-docs/components.
var Components = map[string]string{
	"provisioners/jitsi.mdx":             "provisioner/jitsi",
	"post-processors/jitsi-registry.mdx": "post-processor/jitsi-registry",
}

// Output is what Generate makes, relative to its destination.
const (
	PartialsDir = "docs-partials"
	WebDocsDir  = ".web-docs"
)

// Generate writes docs-partials/ and .web-docs/ (but metadata.hcl) under
// dest from the sources and docs/ of the repository at root. dest may be
// root itself. packer-sdc is run as `go tool packer-sdc` from root's module.
func Generate(ctx context.Context, root, dest string) error {
	// struct-markdown guesses the project root by walking up to a folder
	// named packer-plugin-*, and loops forever when there is none: give it
	// a scratch root so named, holding copies of the sources.
	scratch, err := os.MkdirTemp("", "docsgen-")
	if err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	defer os.RemoveAll(scratch)
	proj := filepath.Join(scratch, "packer-plugin-jitsi")
	for _, src := range Sources {
		if err := copyFile(filepath.Join(root, src), filepath.Join(proj, src)); err != nil {
			return fmt.Errorf("generate docs: %w", err)
		}
		if err := sdc(ctx, root, "struct-markdown", filepath.Join(proj, src)); err != nil {
			return err
		}
	}
	partials := filepath.Join(proj, PartialsDir)
	for name, content := range Generated {
		if err := writeFile(filepath.Join(partials, name), []byte(content())); err != nil {
			return fmt.Errorf("generate docs: %w", err)
		}
	}
	rendered := filepath.Join(scratch, "rendered")
	if root, err = filepath.Abs(root); err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	if err := sdc(ctx, root, "renderdocs", "-src", filepath.Join(root, "docs"), "-partials", partials, "-dst", rendered); err != nil {
		return err
	}

	if err := replaceDir(partials, filepath.Join(dest, PartialsDir)); err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	web := filepath.Join(scratch, "web")
	if err := layOut(rendered, web); err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	// metadata.hcl is hand-written: carry the repository's over.
	if b, err := os.ReadFile(filepath.Join(root, WebDocsDir, "metadata.hcl")); err == nil {
		if err := os.WriteFile(filepath.Join(web, "metadata.hcl"), b, 0o644); err != nil {
			return fmt.Errorf("generate docs: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("generate docs: %w", err)
	}
	if err := replaceDir(web, filepath.Join(dest, WebDocsDir)); err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	return nil
}

// sdc runs one packer-sdc command of root's module (paths absolute),
// bounded: struct-markdown's known hang must fail the run, not stall it.
func sdc(ctx context.Context, root string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "packer-sdc"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-tags=libsqlite3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("packer-sdc %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// layOut turns rendered docs/ into the .web-docs layout, front matter off.
func layOut(rendered, web string) error {
	readme, err := os.ReadFile(filepath.Join(rendered, "README.md"))
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(web, "README.md"), readme); err != nil {
		return err
	}
	pages := make([]string, 0, len(Components))
	for p := range Components {
		pages = append(pages, p)
	}
	sort.Strings(pages)
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(rendered, page))
		if err != nil {
			return fmt.Errorf("docs/%s: %w", page, err)
		}
		if err := writeFile(filepath.Join(web, "components", Components[page], "README.md"), withoutFrontMatter(b)); err != nil {
			return err
		}
	}
	return nil
}

// withoutFrontMatter drops a leading "---" … "---" block and blank lines.
func withoutFrontMatter(b []byte) []byte {
	if rest, ok := bytes.CutPrefix(b, []byte("---\n")); ok {
		if i := bytes.Index(rest, []byte("\n---\n")); i >= 0 {
			b = rest[i+len("\n---\n"):]
		}
	}
	return append(bytes.TrimLeft(b, "\n"), []byte{}...)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFile(dst, b)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// replaceDir makes dst hold exactly src's files.
func replaceDir(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}
