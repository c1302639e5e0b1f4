package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/httpapi"
)

var registryCommand = &command{
	name:    "registry",
	summary: "run a node of a registry cluster (registry serve)",
	run:     runRegistry,
}

const registryHelp = `Usage: packer-plugin-jitsi registry serve --address HOST:PORT [flags]

Runs one node of a registry cluster (dqlite: SQLite replicated with Raft) until
interrupted, and optionally the HTTP API that booting nodes and operators use.
Start three nodes (or five) on three machines: the first alone, the others with
--join; the cluster keeps taking writes while a majority is up. On restart a
node reuses its data directory and waits for a majority. Ctrl-C or SIGTERM hands
leadership over and stops the node.

Put the API behind a load balancer that checks GET /v1/leader (200 on the
leader only): claims then share one group commit. Other commands reach the
cluster with --registry https://HOST:PORT --token-file FILE. Booting nodes
use the credentials issue mints for them (a group token per group, a
credential per node); the registry keeps only their hashes.

Every node needs the same key for the registry's secret checks: the first
node makes DATA-DIR/secret-check.key; copy it (mode 0600) to each other
node's data directory before it first starts, or give --secret-key-file.

Examples:
  # first node, with the API over HTTPS
  packer-plugin-jitsi registry serve --data-dir /var/lib/jitsi-registry \
      --address 10.0.0.1:9001 --api-address 10.0.0.1:8443 \
      --cert api.crt --key api.key --cluster-cert cluster.crt --cluster-key cluster.key \
      --operator-token-file operator.token
  # the second and third
  packer-plugin-jitsi registry serve --data-dir /var/lib/jitsi-registry \
      --address 10.0.0.2:9001 --join 10.0.0.1:9001 --cluster-cert cluster.crt --cluster-key cluster.key …

Flags:
`

func runRegistry(ctx context.Context, env Env, args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(ctx, env, args[1:])
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs := newFlagSet(env, "registry serve", registryHelp)
		serveFlagsFor(fs)
		fs.SetOutput(env.Stdout)
		fs.Usage()
		if len(args) == 0 {
			return usageErrorf("registry: give a subcommand (serve)")
		}
		return nil
	}
	return usageErrorf("registry: unknown subcommand %q (serve)", args[0])
}

type serveFlags struct {
	dataDir, address, join, apiAddress string
	operatorTokenFile                  string
	cert, key, clusterCert, clusterKey string
	secretKeyFile                      string
}

func serveFlagsFor(fs interface {
	StringVar(p *string, name, value, usage string)
}) *serveFlags {
	f := &serveFlags{}
	fs.StringVar(&f.dataDir, "data-dir", "", "the node's data directory (default as for the embedded registry)")
	fs.StringVar(&f.address, "address", "", "this node's Raft address HOST:PORT, reachable by the other nodes (required)")
	fs.StringVar(&f.join, "join", "", "join the cluster of these nodes (HOST:PORT,…), on first start only")
	fs.StringVar(&f.apiAddress, "api-address", "", "serve the HTTP API on HOST:PORT (default: no API)")
	fs.StringVar(&f.operatorTokenFile, "operator-token-file", "", "with --api-address: file holding the operator token (required, mode 0600)")
	fs.StringVar(&f.cert, "cert", "", "with --api-address: PEM certificate of the API (HTTPS); plain HTTP only on loopback")
	fs.StringVar(&f.key, "key", "", "the key of --cert")
	fs.StringVar(&f.clusterCert, "cluster-cert", "", "shared cluster certificate: TLS between the nodes (the same on every node)")
	fs.StringVar(&f.clusterKey, "cluster-key", "", "the key of --cluster-cert")
	fs.StringVar(&f.secretKeyFile, "secret-key-file", "", "key of the registry's secret checks, the same on every node (mode 0600; default DATA-DIR/secret-check.key, made by the first node: copy it to the others)")
	return f
}

func runServe(ctx context.Context, env Env, args []string) (err error) {
	fs := newFlagSet(env, "registry serve", registryHelp)
	f := serveFlagsFor(fs)
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	// Validate and load everything before starting anything.
	opts, api, err := f.prepare(env)
	if err != nil {
		return err
	}
	var ln net.Listener
	if f.apiAddress != "" {
		if ln, err = net.Listen("tcp", f.apiAddress); err != nil {
			return fmt.Errorf("listen on --api-address: %w", err)
		}
		defer ln.Close()
	}
	dir := f.dataDir
	if dir == "" {
		if dir, err = defaultDataDir(env); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: starting registry node %s (data %s); waiting for its cluster…\n", f.address, dir)
	reg, err := registry.Open(ctx, dir, opts...)
	if err != nil {
		return registryError(err)
	}
	defer func() {
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: stopping registry node %s (handing leadership over)\n", f.address)
		if cerr := reg.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if ms, merr := reg.Members(ctx); merr == nil {
		var desc []string
		for _, m := range ms {
			d := m.Address + " " + m.Role
			if m.Leader {
				d += " (leader)"
			}
			desc = append(desc, d)
		}
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: registry node %s is up; cluster: %s\n", reg.Address(), strings.Join(desc, ", "))
	}
	if ln == nil {
		<-ctx.Done()
		return nil
	}
	api.IsLeader = reg.IsLeader
	api.Logf = func(format string, a ...any) { fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: "+format+"\n", a...) }
	h, err := httpapi.New(reg, api)
	if err != nil {
		return err
	}
	scheme := "http"
	if f.cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: registry API on %s://%s\n", scheme, ln.Addr())
	return httpapi.Serve(ctx, ln, h, f.cert, f.key)
}

// prepare checks the flags, all problems at once, and loads tokens and
// certificates.
func (f *serveFlags) prepare(env Env) ([]registry.Option, httpapi.Config, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, _, err := net.SplitHostPort(f.address); err != nil {
		bad("--address %q: want HOST:PORT reachable by the other nodes (%v)", f.address, err)
	}
	var join []string
	for _, a := range strings.Split(f.join, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("--join %q: want HOST:PORT,… (%v)", a, err)
		}
		join = append(join, a)
	}
	if (f.cert == "") != (f.key == "") {
		bad("--cert and --key go together")
	}
	if (f.clusterCert == "") != (f.clusterKey == "") {
		bad("--cluster-cert and --cluster-key go together")
	}
	var api httpapi.Config
	if f.apiAddress == "" {
		if f.operatorTokenFile != "" || f.cert != "" {
			bad("--operator-token-file and --cert are for the API: give --api-address too")
		}
	} else {
		host, _, err := net.SplitHostPort(f.apiAddress)
		if err != nil {
			bad("--api-address %q: want HOST:PORT (%v)", f.apiAddress, err)
		} else if ip := net.ParseIP(host); f.cert == "" && (ip == nil || !ip.IsLoopback()) {
			bad("--api-address %s without --cert: tokens would cross the network in clear; give --cert and --key (plain HTTP is allowed on loopback only)", f.apiAddress)
		}
		if f.operatorTokenFile == "" {
			bad("--operator-token-file is required with --api-address")
		} else if api.OperatorToken, err = regapi.LoadToken(f.operatorTokenFile); err != nil {
			bad("--operator-token-file: %v", err)
		}
	}
	opts := []registry.Option{
		registry.WithAddress(f.address),
		registry.WithLogf(func(format string, a ...any) { fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: "+format+"\n", a...) }),
		registry.WithLockNotice(func(msg string) { fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: %s\n", msg) }),
		registry.WithLockTimeout(5 * time.Second),
	}
	if len(join) > 0 {
		opts = append(opts, registry.WithJoin(join...))
	}
	if f.secretKeyFile != "" {
		opts = append(opts, registry.WithSecretKeyFile(f.secretKeyFile))
	}
	if f.clusterCert != "" && f.clusterKey != "" {
		p, err := registry.LoadPeerTLS(f.clusterCert, f.clusterKey)
		if err != nil {
			bad("--cluster-cert: %v", err)
		}
		opts = append(opts, registry.WithPeerTLS(p))
	}
	if len(errs) > 0 {
		return nil, api, &UsageError{Err: errors.Join(errs...)}
	}
	return opts, api, nil
}
