package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/httpapi"
)

var registryCommand = &command{
	name:    "registry",
	summary: "run a node of a registry cluster (registry serve), make its TLS files (registry tls init)",
	run:     runRegistry,
}

const registryHelp = `Usage: packer-plugin-jitsi registry serve --address HOST:PORT [flags]
       packer-plugin-jitsi registry tls init --dir DIR --node HOST… (see registry tls --help)

Runs one node of a registry cluster (dqlite: SQLite replicated with Raft) until
interrupted, and optionally the HTTP API that booting nodes and operators use.
Start three nodes (or five) on three machines: the first alone, the others with
--join; the cluster keeps taking writes while a majority is up. On restart a
node reuses its data directory and waits for a majority. Ctrl-C or SIGTERM hands
leadership over and stops the node.

The links between nodes are authenticated and encrypted with mutual TLS:
--cluster-ca, --cluster-cert and --cluster-key are required unless --address
and --join are loopback addresses (a test cluster on one machine). Make them
with "registry tls init". Keys must be readable by their owner only (0600).

The API serves from the start: until the node has joined its cluster every
request is answered 503 ("starting"). GET /v1/health answers 200 with
{"status": "ready"} when the node can serve, 503 with "starting", "no_quorum"
or "stopping" otherwise; GET /v1/leader answers 200 on the Raft leader only.
Both answer within 1.5 s. Put the API behind a load balancer that checks
/v1/leader: claims then share one group commit. Other commands reach the
cluster with --registry https://HOST1:PORT,https://HOST2:PORT --token-file FILE.
Booting nodes use the credentials issue mints for them (a group token per
group, a credential per node); the registry keeps only their hashes.

The API's listener also serves the fleet page at / (sign in with the
operator token; read-only: shards, groups, nodes by state, images, the upgrade
plan) and Prometheus metrics at /metrics (the operator token, or the token of
--metrics-token-file, which may read /metrics and nothing else).

Every node needs the same key for the registry's secret checks: the first
node makes DATA-DIR/secret-check.key; copy it (mode 0600) to each other
node's data directory before it first starts, or give --secret-key-file.

Examples:
  packer-plugin-jitsi registry tls init --dir tls --node 10.0.0.1 --node 10.0.0.2 --node 10.0.0.3
  # first node, with the API over HTTPS (the node certificate serves both)
  packer-plugin-jitsi registry serve --data-dir /var/lib/jitsi-registry \
      --address 10.0.0.1:9001 --api-address 10.0.0.1:8443 \
      --cluster-ca tls/ca.crt --cluster-cert tls/10.0.0.1.crt --cluster-key tls/10.0.0.1.key \
      --cert tls/10.0.0.1.crt --key tls/10.0.0.1.key \
      --operator-token-file operator.token
  # the second and third
  packer-plugin-jitsi registry serve --data-dir /var/lib/jitsi-registry \
      --address 10.0.0.2:9001 --join 10.0.0.1:9001 \
      --cluster-ca tls/ca.crt --cluster-cert tls/10.0.0.2.crt --cluster-key tls/10.0.0.2.key …

Flags:
`

func runRegistry(ctx context.Context, env Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return runServe(ctx, env, args[1:])
		case "tls":
			return runRegistryTLS(ctx, env, args[1:])
		}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs := newFlagSet(env, "registry serve", registryHelp)
		serveFlagsFor(fs)
		fs.SetOutput(env.Stdout)
		fs.Usage()
		if len(args) == 0 {
			return usageErrorf("registry: give a subcommand (serve, tls)")
		}
		return nil
	}
	return usageErrorf("registry: unknown subcommand %q (serve, tls)", args[0])
}

type serveFlags struct {
	dataDir, address, join, apiAddress            string
	operatorTokenFile, metricsTokenFile           string
	cert, key, clusterCA, clusterCert, clusterKey string
	secretKeyFile                                 string
	writeTimeout                                  time.Duration
}

func serveFlagsFor(fs *flag.FlagSet) *serveFlags {
	f := &serveFlags{}
	fs.StringVar(&f.dataDir, "data-dir", "", "the node's data directory (default as for the embedded registry)")
	fs.StringVar(&f.address, "address", "", "this node's Raft address HOST:PORT, reachable by the other nodes (required)")
	fs.StringVar(&f.join, "join", "", "join the cluster of these nodes (HOST:PORT,…), on first start only")
	fs.StringVar(&f.apiAddress, "api-address", "", "serve the HTTP API on HOST:PORT (default: no API)")
	fs.StringVar(&f.operatorTokenFile, "operator-token-file", "", "with --api-address: file holding the operator token (required, mode 0600)")
	fs.StringVar(&f.metricsTokenFile, "metrics-token-file", "", "with --api-address: file holding a token that may read /metrics and nothing else (mode 0600; the operator token may read it too)")
	fs.StringVar(&f.cert, "cert", "", "with --api-address: PEM certificate of the API (HTTPS); plain HTTP only on loopback")
	fs.StringVar(&f.key, "key", "", "the key of --cert (mode 0600)")
	fs.StringVar(&f.clusterCA, "cluster-ca", "", "the cluster CA that signs every node's --cluster-cert (default: --cluster-cert itself, a self-signed pair shared by all nodes)")
	fs.StringVar(&f.clusterCert, "cluster-cert", "", "this node's cluster certificate: mutual TLS between the nodes (required off loopback)")
	fs.StringVar(&f.clusterKey, "cluster-key", "", "the key of --cluster-cert (mode 0600)")
	fs.StringVar(&f.secretKeyFile, "secret-key-file", "", "key of the registry's secret checks, the same on every node (mode 0600; default DATA-DIR/secret-check.key, made by the first node: copy it to the others)")
	fs.DurationVar(&f.writeTimeout, "write-timeout", 5*time.Second, "bound of one write, leader elections included; past it (no quorum) the API answers 503")
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
	dir := f.dataDir
	if dir == "" {
		if dir, err = defaultDataDir(env); err != nil {
			return err
		}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: "+format+"\n", a...) }

	// The API listens first (a taken port fails before the node starts)
	// and answers 503 "starting" until the node has joined its cluster.
	gate := httpapi.NewGate()
	var apiDone chan struct{} // closed when the API server has stopped
	stopAPI := func() error { return nil }
	if f.apiAddress != "" {
		ln, err := net.Listen("tcp", f.apiAddress)
		if err != nil {
			return fmt.Errorf("listen on --api-address: %w", err)
		}
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var serveErr error
		apiDone = make(chan struct{})
		go func() { serveErr = httpapi.Serve(actx, ln, gate, f.cert, f.key); close(apiDone) }()
		stopAPI = func() error { cancel(); <-apiDone; return serveErr }
		scheme := "http"
		if f.cert != "" {
			scheme = "https"
		}
		logf("registry API on %s://%s (503 \"starting\" until the node has joined its cluster)", scheme, ln.Addr())
	}
	defer func() {
		gate.Close()
		err = errors.Join(err, stopAPI())
	}()

	logf("starting registry node %s (data %s); waiting for its cluster…", f.address, dir)
	reg, err := registry.Open(ctx, dir, opts...)
	if err != nil {
		return registryError(err)
	}
	defer func() {
		gate.Close() // load balancers move away before leadership does
		logf("stopping registry node %s (handing leadership over)", f.address)
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
		logf("registry node %s is up; cluster: %s", reg.Address(), strings.Join(desc, ", "))
	}
	if f.apiAddress != "" {
		api.Health = reg.Health
		api.Raft = func(ctx context.Context) (httpapi.RaftStatus, error) { return raftStatus(ctx, reg) }
		api.RequestTimeout = f.writeTimeout + 2*time.Second
		api.Logf = logf
		h, err := httpapi.New(reg, api)
		if err != nil {
			return err
		}
		gate.Open(h)
	}
	select {
	case <-ctx.Done():
	case <-apiDone: // the API server failed: its error comes from stopAPI
	}
	return nil
}

// raftStatus is the node's place in its cluster, for /metrics.
func raftStatus(ctx context.Context, reg *registry.Registry) (httpapi.RaftStatus, error) {
	st := httpapi.RaftStatus{Leader: reg.Health(ctx).Leader, Members: map[string]int{}}
	ms, err := reg.Members(ctx)
	if err != nil {
		return st, err
	}
	for _, m := range ms {
		st.Members[m.Role]++
	}
	return st, nil
}

// isLoopbackAddr reports whether a HOST:PORT is on this machine only.
func isLoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	if f.clusterCA != "" && f.clusterCert == "" {
		bad("--cluster-ca goes with --cluster-cert and --cluster-key (this node's certificate, signed by the CA)")
	}
	if f.clusterCert == "" {
		for _, a := range append([]string{f.address}, join...) {
			if _, _, err := net.SplitHostPort(a); err == nil && !isLoopbackAddr(a) {
				bad("--address/--join %s is not a loopback address: links between nodes must be authenticated: give --cluster-ca, --cluster-cert and --cluster-key "+
					"(make them with: packer-plugin-jitsi registry tls init --dir DIR --node HOST…); without them only loopback addresses are allowed", a)
				break
			}
		}
	}
	if f.writeTimeout <= 0 {
		bad("--write-timeout %s: give a positive duration, e.g. 5s", f.writeTimeout)
	}
	var api httpapi.Config
	if f.apiAddress == "" {
		if f.operatorTokenFile != "" || f.cert != "" || f.metricsTokenFile != "" {
			bad("--operator-token-file, --metrics-token-file and --cert are for the API: give --api-address too")
		}
	} else {
		host, _, err := net.SplitHostPort(f.apiAddress)
		if err != nil {
			bad("--api-address %q: want HOST:PORT (%v)", f.apiAddress, err)
		} else if ip := net.ParseIP(host); f.cert == "" && (ip == nil || !ip.IsLoopback()) {
			bad("--api-address %s without --cert: tokens would cross the network in clear; give --cert and --key (plain HTTP is allowed on loopback only)", f.apiAddress)
		}
		if f.cert != "" && f.key != "" {
			if _, err := httpapi.LoadCertificate(f.cert, f.key); err != nil {
				bad("--cert/--key: %v", err)
			}
		}
		if f.operatorTokenFile == "" {
			bad("--operator-token-file is required with --api-address")
		} else if api.OperatorToken, err = regapi.LoadToken(f.operatorTokenFile); err != nil {
			bad("--operator-token-file: %v", err)
		}
		if f.metricsTokenFile != "" {
			if api.MetricsToken, err = regapi.LoadToken(f.metricsTokenFile); err != nil {
				bad("--metrics-token-file: %v", err)
			} else if api.MetricsToken == api.OperatorToken {
				bad("--metrics-token-file holds the operator token: give the metrics reader a token of its own (it may read /metrics only)")
			}
		}
	}
	opts := []registry.Option{
		registry.WithAddress(f.address),
		registry.WithLogf(func(format string, a ...any) { fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: "+format+"\n", a...) }),
		registry.WithLockNotice(func(msg string) { fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: %s\n", msg) }),
		registry.WithLockTimeout(5 * time.Second),
		registry.WithWriteTimeout(f.writeTimeout),
	}
	if len(join) > 0 {
		opts = append(opts, registry.WithJoin(join...))
	}
	if f.secretKeyFile != "" {
		opts = append(opts, registry.WithSecretKeyFile(f.secretKeyFile))
	}
	if f.clusterCert != "" && f.clusterKey != "" {
		p, err := registry.LoadPeerTLS(f.clusterCA, f.clusterCert, f.clusterKey)
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
