package agentbin

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"testing"
)

// TestEmbeddedAgents: what `make build` embeds is, for each architecture, a
// static executable of that architecture. `make test` sets
// JITSI_AGENT_EMBEDDED=1 so that a plugin built without them fails here;
// a bare `go test` checks the error a provisioner would give instead.
func TestEmbeddedAgents(t *testing.T) {
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	required := os.Getenv("JITSI_AGENT_EMBEDDED") == "1"
	for _, arch := range Archs {
		data, err := For(arch)
		if errors.Is(err, ErrMissing) && !required {
			t.Logf("%s: %v (run `make agent` to embed it)", arch, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: not an ELF file: %v", arch, err)
		}
		if f.Machine != machine[arch] {
			t.Errorf("%s: built for %s", arch, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked: it would not run on every release", arch)
			}
		}
	}
	if _, err := For("riscv64"); err == nil {
		t.Error("For(riscv64) = nil error")
	}
}
