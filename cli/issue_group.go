package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// emitGroup records an autoscaling group (or updates its settings) with a
// new group token, and writes the group's shared user-data, which carries
// that token. No node is recorded now: each member claims its identity at
// boot. The token is minted here; the registry records its hash.
func (f *issueFlags) emitGroup(ctx context.Context, env Env, spec node.Spec) error {
	var errs []error
	if f.count != 1 || f.outDir != "" || (f.json && !f.dryRun) {
		errs = append(errs, errors.New("--group: one user-data serves the whole group; --count, --out-dir and --json do not apply"))
	}
	if f.maxSize < 0 || f.maxSize > regapi.MaxGroupMaxSize {
		errs = append(errs, fmt.Errorf("--max-size %d: give 1 to %d", f.maxSize, regapi.MaxGroupMaxSize))
	}
	if len(errs) > 0 {
		return &UsageError{Err: errors.Join(errs...)}
	}
	token, hash := regapi.NewCredential(regapi.CredentialGroup)
	if spec.Registry != nil {
		link := *spec.Registry
		link.Credential = token
		spec.Registry = &link
	}
	if err := spec.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	data, err := userdata.Render(spec)
	if err != nil {
		return err
	}
	spec = spec.WithDefaults()
	req := regapi.GroupRequest{Name: spec.Group, Shard: spec.JMSFQDN, Role: string(spec.Role), Format: string(spec.Format),
		NAT: natMode(spec.NAT), MaxSize: f.maxSize, TokenHash: hash}
	if err := regapi.CheckGroupRequest(req); err != nil {
		return &UsageError{Err: err}
	}
	if f.dryRun {
		return dryRun(env, spec, f.json, "")
	}

	// The user-data goes to a temporary file first: a group whose record
	// failed leaves no file with a token nobody recorded, and a file that
	// cannot be placed leaves only an unused token's hash.
	var tmp string
	if f.out != "" && f.out != "-" {
		if err := makeOutputDir("--out", filepath.Dir(f.out)); err != nil {
			return err
		}
		tmp = filepath.Join(filepath.Dir(f.out), "."+filepath.Base(f.out)+".group.tmp")
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", tmp, err)
		}
		if err := writeSynced(tmp, data); err != nil {
			return err
		}
		defer os.Remove(tmp)
	}
	if err := f.writeGeneratedSecret(env); err != nil {
		return err
	}
	store, err := f.store.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	g, err := store.RecordGroup(ctx, req)
	if err != nil {
		return registryError(err)
	}
	if tmp != "" {
		if err := os.Rename(tmp, f.out); err != nil {
			return fmt.Errorf("write %s: %w (the group's new token is recorded but unused: revoke it with packer-plugin-jitsi group revoke %s --keep-newest after a successful issue)", f.out, err, g.Name)
		}
		syncDir(filepath.Dir(f.out))
	} else if _, err := env.Stdout.Write(data); err != nil {
		return fmt.Errorf("write user-data to stdout: %w", err)
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: user-data for group %s (%s bridges of %s, at most %d live, %d live token(s)): bridges claim their nicknames from %s at boot\n",
		g.Name, g.Role, g.Shard, g.MaxSize, g.Tokens, spec.Registry.URL)
	return nil
}

// natMode says how a group's members find their public address, as the
// group's record shows it: the spec's mode (auto, or none for a
// private-only deployment; a group cannot share one static address).
func natMode(n node.NAT) string {
	return string(node.Spec{Role: node.RoleJVB, NAT: n}.WithDefaults().NAT.Mode)
}
