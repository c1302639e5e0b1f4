// Package cli is the operator command line of packer-plugin-jitsi: it turns
// flags into node specs, validates them, and prints user-data.
//
// Exit codes: 0 success, 1 failure, 2 bad input (usage or validation).
// Errors go to stderr; results go to stdout (or --out).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jitsi-packer/packer-plugin-jitsi/version"
)

// Env is what a command may touch of the outside world; tests replace it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// StdEnv is the process's own environment.
func StdEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// command is one verb of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

// commands is the CLI's verb table, in the order --help lists them.
var commands = []*command{
	userdataCommand, planCommand,
	issueCommand, nodesCommand, imagesCommand, retireCommand, groupCommand, upgradePlanCommand, registryCommand,
}

// UsageError marks bad input: it makes the CLI exit with code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// Main runs the CLI with args (without the program name) and returns the exit code.
func Main(args []string, env Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		printHelp(env.Stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printHelp(env.Stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintf(env.Stdout, "packer-plugin-jitsi %s\n", version.PluginVersion.FormattedVersion())
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return exitCode(env, c.run(ctx, env, args[1:]))
		}
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: unknown command %q (see --help)\n", args[0])
	return 2
}

func exitCode(env Env, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: %s\n", strings.TrimSpace(err.Error()))
	var ue *UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `packer-plugin-jitsi: bake, issue and scale Jitsi Meet clusters.

Run by Packer it is the "jitsi" plugin; run by you it is this CLI.

Usage:
  packer-plugin-jitsi <command> [flags]

Commands:
`)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "packer-plugin-jitsi <command> --help" for a command's flags and examples.
Exit codes: 0 ok, 1 failure, 2 bad input.
`)
}
