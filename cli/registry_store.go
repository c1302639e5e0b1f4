package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
)

// storeFlags choose the registry a command works on: the embedded one in a
// per-user data directory (default: nothing to start), or a registry
// cluster through its HTTP API (--registry).
type storeFlags struct {
	dataDir, tokenFile, caFile string
	urls                       listFlag
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "", "embedded registry directory (default $XDG_DATA_HOME/packer-plugin-jitsi/registry, else ~/.local/share/packer-plugin-jitsi/registry)")
	fs.Var(&f.urls, "registry", "use the registry cluster whose API is at this URL (https://HOST:PORT) instead of the embedded registry; "+
		"give every node's URL (repeat, or comma-separate): requests go to the leader and move on to another node when one is down")
	fs.StringVar(&f.tokenFile, "token-file", "", "with --registry: file holding the operator token (mode 0600)")
	fs.StringVar(&f.caFile, "registry-ca", "", "with --registry: PEM certificate(s) to trust for its HTTPS (default: the system's)")
}

// defaultDataDir is where the embedded registry lives unless --data-dir says.
func defaultDataDir(env Env) (string, error) {
	if d := env.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "packer-plugin-jitsi", "registry"), nil
	}
	home := env.Getenv("HOME")
	if home == "" {
		return "", usageErrorf("--data-dir: neither XDG_DATA_HOME nor HOME is set: give --data-dir")
	}
	return filepath.Join(home, ".local", "share", "packer-plugin-jitsi", "registry"), nil
}

// open returns the chosen registry; the caller closes it.
func (f *storeFlags) open(ctx context.Context, env Env) (regapi.Store, error) {
	if urls := splitList(f.urls); len(urls) > 0 {
		var errs []error
		if f.dataDir != "" {
			errs = append(errs, errors.New("--data-dir and --registry exclude each other: the data directory is the embedded registry's"))
		}
		if f.tokenFile == "" {
			errs = append(errs, errors.New("--registry needs --token-file: a file holding the operator token"))
		}
		if len(errs) > 0 {
			return nil, &UsageError{Err: errors.Join(errs...)}
		}
		tok, err := regapi.LoadToken(f.tokenFile)
		if err != nil {
			return nil, usageErrorf("--token-file: %w", err)
		}
		var opts []regapi.ClientOption
		if f.caFile != "" {
			opts = append(opts, regapi.WithCAFile(f.caFile))
		}
		c, err := regapi.NewClient(strings.Join(urls, ","), tok, opts...)
		if err != nil {
			return nil, usageErrorf("--registry: %w", err)
		}
		return c, nil
	}
	if f.tokenFile != "" || f.caFile != "" {
		return nil, usageErrorf("--token-file and --registry-ca go with --registry only")
	}
	dir := f.dataDir
	if dir == "" {
		var err error
		if dir, err = defaultDataDir(env); err != nil {
			return nil, err
		}
	}
	r, err := registry.Open(ctx, dir, registry.WithLockNotice(func(msg string) {
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: %s\n", msg)
	}))
	if err != nil {
		return nil, registryError(err)
	}
	return r, nil
}

// registryError marks the registry's refusals of the request itself (exit
// code 2, the user must change something) apart from failures (exit code 1).
func registryError(err error) error {
	for _, bad := range []error{regapi.ErrInvalid, regapi.ErrConflict, regapi.ErrSecretMismatch,
		regapi.ErrTransition, regapi.ErrNotFound, regapi.ErrGroupFull, regapi.ErrClaimKey} {
		if errors.Is(err, bad) {
			return &UsageError{Err: err}
		}
	}
	return err
}

// splitList flattens repeated, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
