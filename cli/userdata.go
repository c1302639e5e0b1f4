package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/atomicfile"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
)

var userdataCommand = &command{
	name:    "userdata",
	summary: "print the cloud-init user-data of one node (no registry)",
	run:     runUserdata,
}

const userdataHelp = `Usage: packer-plugin-jitsi userdata --role jms|jvb --jms-fqdn FQDN --secret-file FILE [flags]

Prints the #cloud-config user-data that configures one node at first boot:
the node's config for the jitsi-node agent baked into the image, and the one
command that runs it. It records nothing: use "issue" to have the registry
pick unique nicknames and give nodes their registry credentials. The secret
is read from a file (- for stdin), never from the command line.

Examples:
  # a bridge for meet.example.org, modern jvb.conf
  packer-plugin-jitsi userdata --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --nickname jvb-001 > jvb-001.yaml

  # a bridge behind NAT, legacy format (Ubuntu 18.04-era packages)
  packer-plugin-jitsi userdata --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --nickname jvb-002 --format legacy \
      --public-ip 203.0.113.7 --stun stun.example.org:3478 --out jvb-002.yaml

  # a bridge on a private network only (no public address to find)
  packer-plugin-jitsi userdata --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --nickname jvb-003 --nat none

  # the JMS, secret from stdin
  pass show jitsi/jvb | packer-plugin-jitsi userdata --role jms \
      --jms-fqdn meet.example.org --secret-file - --out jms.yaml

Flags:
`

// outputFlag is --out: write atomically with mode 0600 instead of stdout.
func writeOutput(env Env, out string, data []byte) error {
	if out == "" || out == "-" {
		_, err := env.Stdout.Write(data)
		return err
	}
	if err := makeOutputDir("--out", filepath.Dir(out)); err != nil {
		return err
	}
	return atomicfile.Write(out, data, 0o600)
}

// makeOutputDir creates the directory an output flag writes into.
func makeOutputDir(flagName, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: create directory %s: %w", flagName, dir, err)
	}
	return nil
}

func newFlagSet(env Env, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, help)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; help requests go to stdout, errors are usage errors.
func parseFlags(env Env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	return nil
}

func runUserdata(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "userdata", userdataHelp)
	var sf specFlags
	sf.register(fs)
	out := fs.String("out", "", "write the user-data to this file (atomically, mode 0600) instead of stdout")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	spec, err := sf.spec(env)
	if err != nil {
		return err
	}
	if spec.Registry != nil || spec.Group != "" {
		return usageErrorf("--node-registry-url and --group need the registry, which mints each node's credential: use \"packer-plugin-jitsi issue\" (userdata records nothing)")
	}
	if err := spec.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	data, err := userdata.Render(spec)
	if err != nil {
		return err
	}
	return writeOutput(env, *out, data)
}
