package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/atomicfile"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

var issueCommand = &command{
	name:    "issue",
	summary: "record nodes in the registry (unique nicknames) and write their user-data",
	run:     runIssue,
}

const issueHelp = `Usage: packer-plugin-jitsi issue --role jms|jvb --jms-fqdn FQDN --secret-file FILE [flags]

Records new nodes in the registry and writes their cloud-init user-data. The
registry gives each bridge a nickname that no live bridge of its JMS holds:
"auto" (the default) takes the lowest free jvb-001, jvb-002, …; a retired
bridge's name is free again. A JMS is recorded as "` + node.JMSNickname + `", one live per FQDN.

Without --registry the registry is embedded in a per-user data directory:
nothing to start, and parallel runs wait for each other. It stores no secret,
only a 16-bit fingerprint that notices a node issued with another secret than
its JMS's earlier nodes (use --new-secret after changing the secret on purpose).
With --extra-shard, the nickname is reserved in the first JMS's shard only.

Examples:
  # the JMS, then three bridges into ./nodes
  packer-plugin-jitsi issue --role jms --jms-fqdn meet.example.org \
      --secret-file jvb.secret --out jms.yaml
  packer-plugin-jitsi issue --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --count 3 --out-dir nodes

  # one user-data for an autoscaling group: each bridge claims its nickname
  # from the registry API at first boot (and reports active or failed)
  packer-plugin-jitsi issue --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --group bridges-eu \
      --node-registry-url https://registry.example.org:8443 \
      --node-token-file node.token --out group.yaml

  # a bridge with a name of your own, on a registry cluster
  packer-plugin-jitsi issue --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --nickname edge-fra-1 --out edge-fra-1.yaml \
      --registry https://registry.example.org:8443 --token-file operator.token

Flags:
`

type issueFlags struct {
	spec      specFlags
	store     storeFlags
	out       string
	outDir    string
	count     int
	imageID   string
	newSecret bool
	json      bool
}

func runIssue(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "issue", issueHelp)
	var f issueFlags
	f.spec.register(fs)
	f.store.register(fs)
	fs.StringVar(&f.out, "out", "", "write the user-data to this file (atomically, mode 0600) instead of stdout")
	fs.StringVar(&f.outDir, "out-dir", "", "write DIR/<nickname>.yaml for each node (atomically, mode 0600); needed with --count")
	fs.IntVar(&f.count, "count", 1, "jvb: issue this many bridges at once, all or none (up to 1000)")
	fs.StringVar(&f.imageID, "image-id", "", "the image the nodes boot from (the artifact id Packer recorded)")
	fs.BoolVar(&f.newSecret, "new-secret", false, "the JMS's secret was changed on purpose: accept a secret other than the one its earlier nodes got")
	fs.BoolVar(&f.json, "json", false, "print the issued nodes as JSON on stdout (with --out or --out-dir)")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	spec, err := f.spec.spec(env)
	if err != nil {
		return err
	}
	if spec.Group != "" {
		return f.emitGroup(env, spec)
	}
	auto := spec.Nickname == "" || spec.Nickname == regapi.AutoNickname
	if auto {
		spec.Nickname = ""
	}
	if err := f.check(spec, auto); err != nil {
		return err
	}
	if err := spec.ValidatePending(); err != nil {
		return &UsageError{Err: err}
	}
	// Render once with a stand-in nickname before recording anything, so
	// that a spec the renderer refuses leaves no rows behind.
	probe := spec
	if probe.Role == node.RoleJVB && auto {
		probe.Nickname = "jvb-001"
	}
	if _, err := userdata.Render(probe); err != nil {
		return fmt.Errorf("render user-data: %w", err)
	}

	if err := f.prepareOutput(); err != nil {
		return err
	}
	store, err := f.store.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	nodes, err := store.Claim(ctx, f.claims(spec, auto)...)
	if err != nil {
		if spec.Role == node.RoleJMS && errors.Is(err, regapi.ErrConflict) {
			err = fmt.Errorf("%w: a JMS for %s is already issued; retire it first: packer-plugin-jitsi retire jms --jms-fqdn %s",
				regapi.ErrConflict, spec.JMSFQDN, spec.JMSFQDN)
		}
		return registryError(err)
	}
	if err := f.emit(ctx, env, spec, nodes); err != nil {
		// Nothing half-done: the claimed nodes go back.
		for _, n := range nodes {
			if _, rerr := store.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateRetired, issueRolledBack); rerr != nil {
				err = errors.Join(err, fmt.Errorf("retire node %d (%s) after the failure: %w", n.ID, n.Nickname, rerr))
			}
		}
		return err
	}
	return nil
}

// prepareOutput creates the directory the user-data goes to (--out-dir, or
// --out's parent) before anything is recorded: a path that cannot be
// written fails the run while there is nothing to roll back.
func (f *issueFlags) prepareOutput() error {
	switch {
	case f.outDir != "":
		return makeOutputDir("--out-dir", f.outDir)
	case f.out != "" && f.out != "-":
		return makeOutputDir("--out", filepath.Dir(f.out))
	}
	return nil
}

// issueRolledBack is the reason recorded for nodes retired because their
// user-data could not be written.
const issueRolledBack = "issue failed before the user-data was written"

// check refuses flag combinations that cannot work, all at once.
func (f *issueFlags) check(spec node.Spec, auto bool) error {
	var errs []error
	switch {
	case f.count < 1 || f.count > regapi.MaxClaimsPerRequest:
		errs = append(errs, fmt.Errorf("--count %d: give 1 to %d", f.count, regapi.MaxClaimsPerRequest))
	case f.count > 1 && spec.Role == node.RoleJMS:
		errs = append(errs, errors.New("--count: a JMS is one node; --count issues bridges"))
	case f.count > 1 && !auto:
		errs = append(errs, errors.New("--count with --nickname NAME: a name is for one node; leave --nickname out (auto) to issue several"))
	case f.count > 1 && f.outDir == "":
		errs = append(errs, errors.New("--count needs --out-dir: each node gets its own user-data file"))
	}
	if f.out != "" && f.outDir != "" {
		errs = append(errs, errors.New("--out and --out-dir exclude each other"))
	}
	if f.json && f.out == "" && f.outDir == "" {
		errs = append(errs, errors.New("--json prints the nodes on stdout: write the user-data with --out or --out-dir"))
	}
	if len(errs) > 0 {
		return &UsageError{Err: errors.Join(errs...)}
	}
	return nil
}

// claims are the registry requests for the validated spec. The secret
// itself stays here: only its fingerprint goes to the registry.
func (f *issueFlags) claims(spec node.Spec, auto bool) []regapi.ClaimRequest {
	nickname := spec.Nickname
	switch {
	case spec.Role == node.RoleJMS:
		nickname = node.JMSNickname
	case auto:
		nickname = regapi.AutoNickname
	}
	fp := regapi.Fingerprint(spec.JMSFQDN, spec.Secret)
	reqs := make([]regapi.ClaimRequest, f.count)
	for i := range reqs {
		reqs[i] = regapi.ClaimRequest{Shard: spec.JMSFQDN, Role: string(spec.Role), Nickname: nickname,
			ImageID: f.imageID, SecretFingerprint: fp, NewSecret: f.newSecret}
	}
	return reqs
}

// emit renders every node's user-data, then writes them all; on failure it
// removes what it wrote.
func (f *issueFlags) emit(_ context.Context, env Env, spec node.Spec, nodes []regapi.Node) error {
	datas := make([][]byte, len(nodes))
	for i, n := range nodes {
		s := spec
		if s.Role == node.RoleJVB {
			s.Nickname = n.Nickname
		}
		if err := s.Validate(); err != nil {
			return fmt.Errorf("node %s: %w", n.Nickname, err)
		}
		data, err := userdata.Render(s)
		if err != nil {
			return fmt.Errorf("render user-data of %s: %w", n.Nickname, err)
		}
		datas[i] = data
	}
	var written []string
	fail := func(err error) error {
		for _, p := range written {
			_ = os.Remove(p)
		}
		return err
	}
	for i, n := range nodes {
		dest := f.out
		if f.outDir != "" {
			dest = filepath.Join(f.outDir, n.Nickname+".yaml")
			if err := atomicfile.Write(dest, datas[i], 0o600); err != nil {
				return fail(err)
			}
			written = append(written, dest)
		} else if err := writeOutput(env, dest, datas[i]); err != nil {
			return fail(err)
		}
		if dest == "" || dest == "-" {
			dest = "stdout"
		}
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: issued %s %s of %s (node %d) → %s\n", n.Role, n.Nickname, n.Shard, n.ID, dest)
	}
	if f.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(nodes)
	}
	return nil
}

// emitGroup writes the shared user-data of an autoscaling group. Nothing is
// recorded now: each bridge records itself when it claims its nickname at boot.
func (f *issueFlags) emitGroup(env Env, spec node.Spec) error {
	if f.count != 1 || f.outDir != "" || f.json {
		return usageErrorf("--group: one user-data serves the whole group; --count, --out-dir and --json do not apply")
	}
	if err := spec.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	data, err := userdata.Render(spec)
	if err != nil {
		return err
	}
	if err := writeOutput(env, f.out, data); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: user-data for group %s of %s: bridges claim their nicknames from %s at boot\n",
		spec.Group, spec.JMSFQDN, spec.Registry.URL)
	return nil
}
