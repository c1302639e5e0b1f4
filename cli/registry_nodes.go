package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"unicode/utf8"
)

var nodesCommand = &command{
	name:    "nodes",
	summary: "list the nodes recorded in the registry",
	run:     runNodes,
}

const nodesHelp = `Usage: packer-plugin-jitsi nodes [--shard FQDN] [--state STATE] [--role ROLE] [--group NAME]
                               [--image ID] [--sort ORDER] [--json]

Lists the nodes the registry recorded: id, JMS, role, nickname, state
(pending, issued, active, failed, draining, retired), image, group, times and
the reason given with the latest state change (why a node failed; the table
shortens long reasons, --json shows them whole).

--sort: id (the default), created (the same: ids are given in creation
order, while recorded times come from the leader's clock), nickname (then
JMS), state (by name), or shard (by JMS, then nickname). Filters combine.

The list streams: it is read from the registry a page at a time (5 000
nodes from the embedded registry, 1000 over HTTP), each page a seek in an index, and printed as it comes, so a fleet of
any size lists in constant memory. (Nickname order reads a page of each JMS's
nodes per page: with many JMSs, add --shard.) The table's column widths are those of the first page (later
wider values push their line, never cut it).

Examples:
  packer-plugin-jitsi nodes
  packer-plugin-jitsi nodes --shard meet.example.org --state active --sort nickname
  packer-plugin-jitsi nodes --state failed --json
  packer-plugin-jitsi nodes --group bridges-eu --sort created
  packer-plugin-jitsi nodes --json --registry https://registry.example.org:8443 --token-file operator.token

Flags:
`

func runNodes(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "nodes", nodesHelp)
	var st storeFlags
	st.register(fs)
	var f regapi.Filter
	var state, sort string
	fs.StringVar(&f.Shard, "shard", "", "only nodes of this JMS FQDN")
	fs.StringVar(&state, "state", "", "only nodes in this state: pending, issued, active, failed, draining or retired")
	fs.StringVar(&f.Role, "role", "", "only nodes of this role: jms or jvb")
	fs.StringVar(&f.Group, "group", "", "only members of this autoscaling group")
	fs.StringVar(&f.ImageID, "image", "", "only nodes booted from this image (artifact id)")
	fs.StringVar(&sort, "sort", "id", "order: id, nickname, created, state or shard")
	asJSON := fs.Bool("json", false, "print JSON (an array of nodes) instead of a table")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	f.State, f.Sort = regapi.State(state), regapi.Sort(sort)
	if err := regapi.CheckFilter(f); err != nil {
		return &UsageError{Err: err}
	}
	store, err := st.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	f.Limit = embeddedPageSize
	if _, remote := store.(*regapi.Client); remote {
		f.Limit = regapi.MaxPageSize
	}
	var out listWriter = newNodeTable(env.Stdout)
	if *asJSON {
		out = newJSONArray(env.Stdout)
	}
	err = regapi.ForEachNode(ctx, store, f, func(page []regapi.Node) error {
		rows := make([]any, len(page))
		for i := range page {
			rows[i] = page[i]
		}
		return out.page(rows)
	})
	if err != nil {
		return registryError(err)
	}
	return out.close()
}

// embeddedPageSize is the page of a listing from the embedded registry:
// larger than the API's, because each query to dqlite costs a fixed delay
// when its answer spans several buffers (measured: ~40 ms over its
// loopback TCP), and 5 000 nodes are still only a few MB.
const embeddedPageSize = 5_000

// maxReasonColumn is how many characters of a reason the table shows: enough
// for "the JMS refused the bridge's XMPP login (not-authorized): …".
const maxReasonColumn = 80

// shorten cuts s to at most n characters (not bytes: reasons are UTF-8),
// ending a cut string with "…".
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var retireCommand = &command{
	name:    "retire",
	summary: "mark a node retired: its nickname is free again",
	run:     runRetire,
}

const retireHelp = `Usage: packer-plugin-jitsi retire NICKNAME --jms-fqdn FQDN

Marks the live node NICKNAME of the JMS FQDN retired (a bridge that was
drained and deleted, a failed node that was deleted, a JMS that was
replaced), with the reason "retired by operator". Its row stays in the
registry; its nickname goes back to the pool and is handed out again.

Examples:
  packer-plugin-jitsi retire jvb-002 --jms-fqdn meet.example.org
  packer-plugin-jitsi retire jms --jms-fqdn meet.example.org

Flags:
`

// retiredByOperator is the reason `retire` records.
const retiredByOperator = "retired by operator"

func runRetire(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "retire", retireHelp)
	var st storeFlags
	st.register(fs)
	fqdn := fs.String("jms-fqdn", "", "the JMS the node belongs to (required)")
	asJSON := fs.Bool("json", false, "print the retired node as JSON")
	pos, err := parseFlagsAndArgs(env, fs, args)
	if err != nil {
		return err
	}
	var problems []string
	if len(pos) != 1 {
		problems = append(problems, fmt.Sprintf("give exactly one NICKNAME (got %d)", len(pos)))
	}
	if *fqdn == "" {
		problems = append(problems, "--jms-fqdn is required: nicknames are unique per JMS")
	}
	if len(problems) > 0 {
		return usageErrorf("%s", strings.Join(problems, "\n"))
	}
	store, err := st.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.SetState(ctx, regapi.NodeRef{Shard: *fqdn, Nickname: pos[0]}, regapi.StateRetired, retiredByOperator)
	if err != nil {
		return registryError(err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(n)
	}
	fmt.Fprintf(env.Stdout, "retired %s %s of %s (node %d)\n", n.Role, n.Nickname, n.Shard, n.ID)
	return nil
}

// parseFlagsAndArgs is parseFlags for commands that also take positional
// arguments, accepted before, between or after the flags.
func parseFlagsAndArgs(env Env, fs *flag.FlagSet, args []string) ([]string, error) {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
	}
	fs.Usage = func() {}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &UsageError{Err: err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
