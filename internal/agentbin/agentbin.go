// Package agentbin holds the jitsi-node node agent (cmd/jitsi-node) for each
// image architecture, embedded in the plugin so that the `jitsi` provisioner
// can install it into every image it bakes: a Packer plugin is installed as
// one binary, so the agent travels inside it.
//
// `make build` builds the agents (static, no cgo) and gzips them into bin/
// before it builds the plugin. A plugin built without them (a bare `go
// build`) still works as the CLI; its provisioner then stops the bake and
// says how to build it properly, or takes `agent_file`.
package agentbin

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
)

//go:embed bin
var bin embed.FS

// Archs are the architectures the agent is built for (Debian's names, which
// are Go's for these two).
var Archs = []string{"amd64", "arm64"}

// ErrMissing means the plugin was built without the agent for an architecture.
var ErrMissing = errors.New("the plugin was built without the jitsi-node agent")

// name is the embedded file of arch.
func name(arch string) string { return "bin/jitsi-node_linux_" + arch + ".gz" }

// For returns the agent binary for arch ("amd64", "arm64").
func For(arch string) ([]byte, error) {
	if !supported(arch) {
		return nil, fmt.Errorf("jitsi-node agent: no build for architecture %q: images must be %s", arch, strings.Join(Archs, " or "))
	}
	gz, err := bin.ReadFile(name(arch))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w for linux/%s: build the plugin with `make build`, or set agent_file", ErrMissing, arch)
	}
	if err != nil {
		return nil, fmt.Errorf("jitsi-node agent for %s: %w", arch, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("jitsi-node agent for %s: %w", arch, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("jitsi-node agent for %s: %w", arch, err)
	}
	return data, nil
}

// Embedded lists the architectures this plugin carries an agent for.
func Embedded() []string {
	var out []string
	for _, a := range Archs {
		if _, err := fs.Stat(bin, name(a)); err == nil {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func supported(arch string) bool {
	for _, a := range Archs {
		if a == arch {
			return true
		}
	}
	return false
}
