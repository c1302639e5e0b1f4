package system

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Cmd is one program run.
type Cmd struct {
	Name string
	Args []string
	// Stdin is the only way a secret reaches a program.
	Stdin []byte
	// Env adds KEY=VALUE pairs to the agent's environment (never a secret).
	Env []string
}

func (c Cmd) String() string { return strings.Join(append([]string{c.Name}, c.Args...), " ") }

// Runner runs programs and finds them.
type Runner interface {
	// Run runs c and returns its stdout. A failure (start or exit status)
	// is an error that carries the end of its stderr.
	Run(ctx context.Context, c Cmd) ([]byte, error)
	// LookPath finds a program in PATH.
	LookPath(name string) (string, error)
}

// ExecRunner runs programs on this machine.
type ExecRunner struct{}

// maxStderr bounds the stderr an error carries.
const maxStderr = 2048

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, c Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > maxStderr {
			tail = "…" + tail[len(tail)-maxStderr:]
		}
		if tail != "" {
			return stdout.Bytes(), fmt.Errorf("%s: %w: %s", c.Name, err, tail)
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w", c.Name, err)
	}
	return stdout.Bytes(), nil
}

// LookPath implements Runner.
func (ExecRunner) LookPath(name string) (string, error) { return exec.LookPath(name) }
