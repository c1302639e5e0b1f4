package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

const registryTLSHelp = `Usage: packer-plugin-jitsi registry tls init --dir DIR --node HOST [--node HOST…] [flags]

Makes what a registry cluster needs for authenticated, encrypted links: a
cluster CA (DIR/ca.crt, DIR/ca.key) and, for each --node, a certificate and
key signed by it (DIR/HOST.crt, DIR/HOST.key). Keys are ECDSA P-256; every file
is written with mode 0600. Each node certificate names the cluster
("jitsi-registry", which peers verify) and the node's HOST (a DNS name or an IP
address, as the other nodes and the API's clients reach it), and is good for
both ends of a TLS link, so it also serves as the node's API certificate
(--api-name adds the names of a load balancer in front of the APIs).

Run it again with new --node values to add nodes: the CA in DIR is reused;
existing node files are never overwritten. Copy each node's files and ca.crt
to that node only; keep ca.key where new nodes are made.

Examples:
  packer-plugin-jitsi registry tls init --dir cluster-tls \
      --node 10.0.0.1 --node 10.0.0.2 --node 10.0.0.3
  # on 10.0.0.1:
  packer-plugin-jitsi registry serve --address 10.0.0.1:9001 \
      --cluster-ca ca.crt --cluster-cert 10.0.0.1.crt --cluster-key 10.0.0.1.key \
      --api-address 10.0.0.1:8443 --cert 10.0.0.1.crt --key 10.0.0.1.key …
  # operators trust the same CA for the API:
  packer-plugin-jitsi nodes --registry https://10.0.0.1:8443 --registry-ca cluster-tls/ca.crt --token-file op.token

Flags:
`

// tlsInitFlags are the flags of `registry tls init`.
type tlsInitFlags struct {
	req             registry.ClusterTLSRequest
	nodes, apiNames listFlag
	days            int
	asJSON          bool
}

func tlsInitFlagSet(env Env) (*flag.FlagSet, *tlsInitFlags) {
	fs := newFlagSet(env, "registry tls init", registryTLSHelp)
	f := &tlsInitFlags{}
	fs.StringVar(&f.req.Dir, "dir", "", "directory for the CA and the node certificates (created 0700; required)")
	fs.Var(&f.nodes, "node", "a node's host, DNS name or IP address (repeatable, or comma-separated; required)")
	fs.Var(&f.apiNames, "api-name", "another name or address on every node certificate, e.g. the load balancer in front of the APIs (repeatable)")
	fs.StringVar(&f.req.Name, "name", registry.DefaultClusterName, "the cluster's name, which every node certificate carries first and peers verify")
	fs.IntVar(&f.days, "days", 3650, "validity of the CA and the certificates, in days")
	fs.BoolVar(&f.asJSON, "json", false, "print the files made as JSON on stdout")
	return fs, f
}

func runRegistryTLS(_ context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "init" {
		fs, _ := tlsInitFlagSet(env)
		fs.SetOutput(env.Stdout)
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return usageErrorf("registry tls: give a subcommand (init)")
	}
	fs, f := tlsInitFlagSet(env)
	if err := parseFlags(env, fs, args[1:]); err != nil {
		return err
	}
	req, nodes, apiNames, days, asJSON := f.req, f.nodes, f.apiNames, f.days, f.asJSON
	req.Nodes = splitList(nodes)
	req.APINames = splitList(apiNames)
	if days < 1 {
		return usageErrorf("--days %d: give a positive number of days", days)
	}
	req.Validity = time.Duration(days) * 24 * time.Hour
	out, err := registry.InitClusterTLS(req)
	if err != nil {
		if errors.Is(err, regapi.ErrInvalid) {
			return &UsageError{Err: fmt.Errorf("registry tls init: %w", err)}
		}
		return fmt.Errorf("registry tls init: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if out.CAReused {
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: reused the cluster CA %s\n", out.CA)
	} else {
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: made the cluster CA %s (key %s: keep it where new nodes are made)\n", out.CA, out.CAKey)
	}
	for _, f := range out.NodeFiles {
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: node %s: --cluster-ca %s --cluster-cert %s --cluster-key %s\n", f.Host, out.CA, f.Cert, f.Key)
	}
	return nil
}
