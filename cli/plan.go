package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/plan"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

var planCommand = &command{
	name:    "plan",
	summary: "show what a node's first boot will do with a user-data (or what changes between two)",
	run:     runPlan,
}

const planHelp = `Usage: packer-plugin-jitsi plan FILE|-           [--json]
       packer-plugin-jitsi plan OLD NEW             [--json]

Reads a user-data that userdata or issue made (FILE, or - for stdin) and
prints what the node's first boot will do, computed with the node agent's
own code: the node and its shards, every file cloud-init and jitsi-node write
with owner, mode and the keys they set, a JMS's debconf answers, packages and
commands, the services (re)started and enabled in order, the registry claim
and reports, the NAT mode, and what only the boot decides (a group bridge's
nickname, the public address in mode auto). Secrets, passwords, credentials
and tokens read ***; nothing is changed anywhere.

With two files it prints what changes from OLD to NEW (files and keys added,
removed or changed — a secret's change is told, never its value — services,
NAT, registry): useful before re-issuing a node.

--json prints the plan (or {"changes": […]}) for machines; the fields are
documented in "go doc github.com/jitsi-packer/packer-plugin-jitsi/agent/plan".

Examples:
  packer-plugin-jitsi plan nodes/jvb-001.yaml
  packer-plugin-jitsi plan group.yaml --json | jq '.files[].path'
  packer-plugin-jitsi plan old/jvb-001.yaml nodes/jvb-001.yaml
  base64 -d < user-data.b64 | packer-plugin-jitsi plan -

Flags:
`

func runPlan(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "plan", planHelp)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	pos, err := parseFlagsAndArgs(env, fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 1:
		p, err := planOf(env, pos[0])
		if err != nil {
			return err
		}
		return writePlan(env.Stdout, p, *asJSON)
	case 2:
		if pos[0] == "-" && pos[1] == "-" {
			return usageErrorf("plan OLD NEW: only one of them can be - (stdin)")
		}
		old, err := planOf(env, pos[0])
		if err != nil {
			return err
		}
		new, err := planOf(env, pos[1])
		if err != nil {
			return err
		}
		changes := plan.Diff(old, new)
		if *asJSON {
			return plan.DiffJSON(env.Stdout, changes)
		}
		return plan.WriteDiffText(env.Stdout, changes)
	}
	return usageErrorf("give one user-data (FILE or -), or two to compare (OLD NEW); got %d arguments", len(pos))
}

// maxPlanInput bounds what plan reads (clouds cap user-data far lower).
const maxPlanInput = 2 << 20

// planOf reads and plans the user-data at path ("-": stdin).
func planOf(env Env, path string) (plan.Plan, error) {
	var r io.Reader = env.Stdin
	source := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return plan.Plan{}, usageErrorf("plan: %w", err)
		}
		defer f.Close()
		r, source = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPlanInput))
	if err != nil {
		return plan.Plan{}, fmt.Errorf("read %s: %w", source, err)
	}
	u, err := plan.Read(data)
	if err != nil {
		return plan.Plan{}, &UsageError{Err: fmt.Errorf("%s: %w", source, err)}
	}
	p, err := plan.Build(u)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("plan %s: %w", source, err)
	}
	p.Source = source
	return p, nil
}

func writePlan(w io.Writer, p plan.Plan, asJSON bool) error {
	if asJSON {
		return p.JSON(w)
	}
	return p.WriteText(w)
}

// dryRun renders the user-data of spec (a validated stand-in: see issue)
// and prints its plan; nothing is recorded or written. nicknameNote says
// who picks the nickname when the registry would.
func dryRun(env Env, spec node.Spec, asJSON bool, note string) error {
	data, err := userdata.Render(spec)
	if err != nil {
		return fmt.Errorf("render user-data: %w", err)
	}
	u, err := plan.Read(data)
	if err != nil {
		return err
	}
	p, err := plan.Build(u)
	if err != nil {
		return err
	}
	p.Source = "issue --dry-run (nothing recorded, no file written)"
	if note != "" {
		p.AtBoot = append([]string{note}, p.AtBoot...)
	}
	return writePlan(env.Stdout, p, asJSON)
}

// dryRunNote says what issue would decide that the dry run cannot.
func dryRunNote(spec node.Spec, auto bool, count int) string {
	switch {
	case spec.Role == node.RoleJVB && auto && count > 1:
		return fmt.Sprintf("at issue: the registry gives each of the %d bridges the lowest free jvb-NNN nickname (shown: jvb-001); each gets this plan with its own", count)
	case spec.Role == node.RoleJVB && auto:
		return "at issue: the registry gives the bridge the lowest free jvb-NNN nickname (shown: jvb-001)"
	}
	return ""
}
