package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/upgrade"
)

var upgradePlanCommand = &command{
	name:    "upgrade-plan",
	summary: "which bridges of a shard run an older image, and in what order to replace them",
	run:     runUpgradePlan,
}

const upgradePlanHelp = `Usage: packer-plugin-jitsi upgrade-plan --shard FQDN [--keep N] [--json]

Lists the bridges of a shard whose image is older than the newest image
recorded for their role (same architecture and OS family; a newer release
of the family is flagged), and an order to replace them that keeps at least
N bridges active in the shard at every step, one autoscaling group at a
time: failed and never-reported bridges first (they serve nothing), then
waves of at most ACTIVE−N bridges of one group; start a wave when the
previous wave's replacements are active. Draining bridges, and bridges
whose image is not recorded, are listed and left alone.

Order matters because jicofo does not mix bridge versions in one conference:
while a shard runs two releases, each conference stays on bridges of its
own release, so each side must keep bridges for the conferences it carries.

The registry's fleet page (registry serve, /) shows the same plan.

Examples:
  packer-plugin-jitsi upgrade-plan --shard meet.example.org
  packer-plugin-jitsi upgrade-plan --shard meet.example.org --keep 8 --json
  packer-plugin-jitsi upgrade-plan --shard meet.example.org --registry https://registry.example.org:8443 --token-file operator.token

Flags:
`

func runUpgradePlan(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "upgrade-plan", upgradePlanHelp)
	var st storeFlags
	st.register(fs)
	shard := fs.String("shard", "", "the JMS FQDN whose bridges to plan (required)")
	keep := upgrade.KeepDefault
	fs.Func("keep", "active bridges the shard keeps at every step (default: all but one)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q: give 0 or more", v)
		}
		keep = n
		return nil
	})
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	var bad []error
	if *shard == "" {
		bad = append(bad, errors.New("--shard: give the JMS FQDN whose bridges to plan"))
	}
	if len(bad) > 0 {
		return &UsageError{Err: errors.Join(bad...)}
	}
	store, err := st.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	in := upgrade.Input{Shard: *shard, Keep: keep}
	if in.Images, err = store.Images(ctx); err != nil {
		return registryError(err)
	}
	for f := (regapi.Filter{Shard: *shard, Role: string(node.RoleJVB), Limit: regapi.MaxPageSize}); ; {
		page, err := store.Nodes(ctx, f)
		if err != nil {
			return registryError(err)
		}
		in.Nodes = append(in.Nodes, page...)
		if len(page) < f.Limit {
			break
		}
		f.AfterID = page[len(page)-1].ID
	}
	p, err := upgrade.Make(in)
	if errors.Is(err, upgrade.ErrBadInput) {
		return &UsageError{Err: err}
	} else if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return upgrade.WriteText(env.Stdout, p)
}
