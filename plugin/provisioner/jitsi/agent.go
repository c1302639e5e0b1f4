package jitsi

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/agentbin"
)

// ArchCommand prints the machine's architecture as its kernel names it
// (x86_64, aarch64, …). The bake script's preflight checks that dpkg agrees.
const ArchCommand = "uname -m"

// agentFor returns the agent binary to install on a machine of arch:
// agent_file when given (it must be built for arch), else the plugin's own.
func (c *Config) agentFor(arch string) ([]byte, error) {
	if c.agentData == nil {
		return agentbin.For(arch)
	}
	got, err := agentArch(c.agentData)
	if err != nil {
		return nil, fmt.Errorf("agent_file: %w", err)
	}
	if got != arch {
		return nil, fmt.Errorf("agent_file: %q is built for %s, but the machine is %s", c.AgentFile, got, arch)
	}
	return c.agentData, nil
}

// agentArch checks that data is a static Linux executable (no program
// interpreter: it must run on every release, Ubuntu 18.04's glibc included)
// and returns its architecture in Debian's words.
func agentArch(data []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("not a Linux executable (ELF): %v", err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("an ELF file of type %s, not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("dynamically linked: build the agent with CGO_ENABLED=0 (make agent)")
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return "", fmt.Errorf("built for %s; the agent is built for %s", f.Machine, strings.Join(agentbin.Archs, " and "))
}

// ParseArch reads ArchCommand's output and returns Debian's name of it.
func ParseArch(out string) (string, error) {
	machine := strings.TrimSpace(out)
	switch machine {
	case "x86_64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	case "":
		return "", fmt.Errorf("detect architecture: %q printed nothing", ArchCommand)
	}
	return "", fmt.Errorf("detect architecture: the machine is %s; the jitsi-node agent is built for %s", machine, strings.Join(agentbin.Archs, " and "))
}
