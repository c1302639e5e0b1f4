package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"
)

var groupCommand = &command{
	name:    "group",
	summary: "list autoscaling groups, change their max size, revoke their tokens, retire them",
	run:     runGroup,
}

const groupHelp = `Usage: packer-plugin-jitsi group list [--json]
       packer-plugin-jitsi group set NAME --max-size N
       packer-plugin-jitsi group revoke NAME [--keep-newest]
       packer-plugin-jitsi group retire NAME

An autoscaling group is recorded by "issue --group NAME", which also mints
the group token its user-data carries (the registry keeps only its hash).
Issuing the group's user-data again mints another token; both stay valid
until revoked.

  list     the groups: shard, role, format, NAT mode, live members / max
           size, live tokens
  set      change a group's max size (at most N live members)
  revoke   revoke the group's tokens (all, or all but the newest: after
           re-issuing the user-data and rolling it out), e.g. after a
           user-data leaked; members keep their own node credentials
  retire   revoke every token and take no more claims; members stay until
           retired themselves; the name may then serve a new group

Examples:
  packer-plugin-jitsi group list
  packer-plugin-jitsi group set bridges-eu --max-size 80
  packer-plugin-jitsi group revoke bridges-eu --keep-newest
  packer-plugin-jitsi group retire bridges-eu --registry https://registry.example.org:8443 --token-file operator.token

Flags:
`

func runGroup(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "group", groupHelp)
	var st storeFlags
	st.register(fs)
	maxSize := fs.Int("max-size", 0, "set: at most this many live members")
	keepNewest := fs.Bool("keep-newest", false, "revoke: keep the newest token")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	pos, err := parseFlagsAndArgs(env, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErrorf("group: give a subcommand: list, set, revoke or retire (see --help)")
	}
	verb, names := pos[0], pos[1:]
	want := 1
	if verb == "list" {
		want = 0
	}
	switch {
	case verb != "list" && verb != "set" && verb != "revoke" && verb != "retire":
		return usageErrorf("group: unknown subcommand %q: list, set, revoke or retire", verb)
	case len(names) != want:
		return usageErrorf("group %s: give %d group NAME (got %d)", verb, want, len(names))
	case verb == "set" && *maxSize <= 0:
		return usageErrorf("group set: --max-size N is required (1 to %d)", regapi.MaxGroupMaxSize)
	case verb != "set" && *maxSize != 0, verb != "revoke" && *keepNewest:
		return usageErrorf("group %s: --max-size goes with set, --keep-newest with revoke", verb)
	}
	store, err := st.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	switch verb {
	case "list":
		groups, err := store.Groups(ctx)
		if err != nil {
			return registryError(err)
		}
		return printGroups(env, groups, *asJSON)
	case "set":
		g, err := groupByName(ctx, store, names[0])
		if err != nil {
			return err
		}
		g, err = store.RecordGroup(ctx, regapi.GroupRequest{Name: g.Name, Shard: g.Shard, Role: g.Role, Format: g.Format, NAT: g.NAT, MaxSize: *maxSize})
		if err != nil {
			return registryError(err)
		}
		return printGroups(env, []regapi.Group{g}, *asJSON)
	case "revoke":
		n, err := store.RevokeGroupTokens(ctx, names[0], *keepNewest)
		if err != nil {
			return registryError(err)
		}
		fmt.Fprintf(env.Stdout, "revoked %d token(s) of group %s\n", n, names[0])
		return nil
	default:
		g, err := store.RetireGroup(ctx, names[0])
		if err != nil {
			return registryError(err)
		}
		fmt.Fprintf(env.Stdout, "retired group %s: its tokens are revoked; its %d live member(s) stay until retired\n", g.Name, g.Members)
		return nil
	}
}

// groupByName finds a live group.
func groupByName(ctx context.Context, store regapi.Store, name string) (regapi.Group, error) {
	groups, err := store.Groups(ctx)
	if err != nil {
		return regapi.Group{}, registryError(err)
	}
	for _, g := range groups {
		if g.Name == name && g.State == regapi.GroupActive {
			return g, nil
		}
	}
	return regapi.Group{}, registryError(fmt.Errorf("%w: no live group is named %s (see packer-plugin-jitsi group list)", regapi.ErrNotFound, name))
}

func printGroups(env Env, groups []regapi.Group, asJSON bool) error {
	if asJSON {
		if groups == nil {
			groups = []regapi.Group{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(groups)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSHARD\tROLE\tFORMAT\tNAT\tMEMBERS\tTOKENS\tSTATE\tUPDATED")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\n", g.Name, g.Shard, g.Role, g.Format, orDash(g.NAT),
			g.Members, g.MaxSize, g.Tokens, g.State, g.Updated.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
