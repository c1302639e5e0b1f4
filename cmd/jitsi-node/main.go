package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: jitsi-node <command> [flags]

The packer-plugin-jitsi node agent: it configures this node from
/etc/jitsi-node at every boot (see the package documentation).

Commands:
  apply    configure the node (at every boot); --check: put the bridge's files back
  drain    take a bridge out of service without dropping calls
  bake     remove per-node identity and install the agent's units (image bake)
  version  print the agent's version

Run "jitsi-node <command> --help" for its flags.
Exit codes: 0 done, 1 failed, 2 bad usage.
`

// hidden flags point the agent at test fixtures; --help leaves them out.
var hidden = map[string]bool{"root": true, "metadata-url": true, "bridge-api": true}

var examples = map[string]string{
	"apply": `Configures this node from /etc/jitsi-node (cloud-init and jitsi-node.service run it).

Examples:
  jitsi-node apply                        # what every boot does
  jitsi-node apply --check                # what every jitsi-videobridge2 start does
  jitsi-node apply --claim-timeout 2h     # a group bridge whose registry may be down longer
`,
	"drain": `Takes this bridge out of service without dropping calls, then reports it retired.

Examples:
  jitsi-node drain                        # scale-in, e.g. from a lifecycle hook
  jitsi-node drain --timeout 15m          # give running conferences 15 minutes
`,
	"bake": `Prepares an image (run as root by the Packer provisioner, after the packages).

Examples:
  jitsi-node bake --image-config /tmp/packer-jitsi/image.yaml   # what the provisioner runs
  jitsi-node bake                         # no image config: first boot tells from the packages
`,
}

// run is the agent's command line; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintf(stdout, "jitsi-node %s\n", version.PluginVersion.FormattedVersion())
		return 0
	}
	fs := flag.NewFlagSet("jitsi-node "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: jitsi-node %s [flags]\n\n%s\nFlags:\n", args[0], examples[args[0]])
		fs.VisitAll(func(f *flag.Flag) {
			if !hidden[f.Name] {
				fmt.Fprintf(fs.Output(), "  --%s\n    \t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	var opts agent.Options
	// Hidden from the manual: they point the agent at test fixtures.
	fs.StringVar(&opts.Root, "root", "/", "node root directory (tests)")
	fs.StringVar(&opts.NAT.MetadataURL, "metadata-url", nat.DefaultMetadataURL, "cloud metadata service (tests)")
	fs.StringVar(&opts.BridgeAPI, "bridge-api", jitsi.BridgeAPI, "the bridge's private HTTP API (tests)")
	var check, onShutdown bool
	var drainTimeout time.Duration
	var cmd func(*agent.Agent) error
	switch args[0] {
	case "apply":
		fs.BoolVar(&check, "check", false, "only put the bridge's files back as the last apply wrote them (before each bridge start)")
		fs.DurationVar(&opts.ClaimTimeout, "claim-timeout", jitsi.ClaimTimeout, "group bridges: how long to retry the claim while the registry is unreachable")
		fs.DurationVar(&opts.HealthTimeout, "health-timeout", jitsi.HealthTimeout, "bridges: how long to wait for the bridge's health")
		cmd = func(a *agent.Agent) error {
			if check {
				return a.Check(ctx)
			}
			return a.Apply(ctx)
		}
	case "drain":
		fs.DurationVar(&drainTimeout, "timeout", jitsi.DrainTimeout, "how long running conferences may take to end")
		fs.BoolVar(&onShutdown, "on-shutdown", false, "run as the ExecStop of "+jitsi.DrainUnit+" (the machine is going down)")
		cmd = func(a *agent.Agent) error { return a.Drain(ctx, drainTimeout, onShutdown) }
	case "bake":
		var imageConfig string
		fs.StringVar(&imageConfig, "image-config", "", "the image config the provisioner made (web server, firewall), installed as "+jitsi.ImageConfig)
		cmd = func(a *agent.Agent) error { return a.Bake(ctx, imageConfig) }
	default:
		fmt.Fprintf(stderr, "jitsi-node: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	for _, a := range args[1:] {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jitsi-node: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	opts.Version = version.PluginVersion.FormattedVersion()
	a := agent.New(opts, agent.Deps{Log: stderr})
	if err := cmd(a); err != nil {
		fmt.Fprintf(stderr, "jitsi-node: error: %s\n", a.Redact(err.Error()))
		return 1
	}
	return 0
}
