package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

var issueCommand = &command{
	name:    "issue",
	summary: "record nodes in the registry (unique nicknames) and write their user-data",
	run:     runIssue,
}

const issueHelp = `Usage: packer-plugin-jitsi issue --role jms|jvb --jms-fqdn FQDN --secret-file FILE [flags]
       packer-plugin-jitsi issue --recover --out-dir DIR   (or --out FILE)

Records new nodes in the registry and writes their cloud-init user-data. The
registry gives each bridge a nickname that no live bridge of its JMS holds:
"auto" (the default) takes the lowest free jvb-001, jvb-002, …; a retired
bridge's name is free again. A JMS is recorded as "` + node.JMSNickname + `", one live per FQDN.

All or none, even when killed: the nodes are recorded as pending, their
user-data written to temporary files (mode 0600) and renamed into place, and
only then are they confirmed (issued). A run that was interrupted is finished
or undone by the next issue into the same directory (or by --recover); a
pending node nobody confirms expires after 10 minutes and frees its name.

The secret: --generate-secret FILE writes a new strong one (mode 0600) and
uses it; --secret-file reads one. A secret weaker than about 96 bits is
refused unless --allow-weak-secret: it is the bridges' XMPP password, the
only thing between the internet and the JMS's XMPP server.

Without --registry the registry is embedded in a per-user data directory:
nothing to start, and parallel runs wait for each other. It stores no secret,
only a keyed check of it (the key stays outside the database) that notices a
node issued with another secret than its JMS's earlier nodes (use
--new-secret after changing the secret on purpose). With --extra-shard, the
nickname is reserved in the first JMS's shard only.

With --node-registry-url, each node reports its state to the registry with a
credential of its own (minted here, carried by its user-data; the registry
keeps its hash): it may report its own state and nothing else. With --group,
the user-data is shared by an autoscaling group: it carries a group token
that may only claim identities in that group (its shard, role, at most
--max-size live members, each instance once).

Examples:
  # a new secret, the JMS, then three bridges into ./nodes
  packer-plugin-jitsi issue --role jms --jms-fqdn meet.example.org \
      --generate-secret jvb.secret --out jms.yaml
  packer-plugin-jitsi issue --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --count 3 --out-dir nodes

  # one user-data for an autoscaling group of at most 50 bridges: each
  # claims its nickname from the registry API at first boot
  packer-plugin-jitsi issue --role jvb --jms-fqdn meet.example.org \
      --secret-file jvb.secret --group bridges-eu --max-size 50 \
      --node-registry-url https://registry.example.org:8443 --out group.yaml \
      --registry https://registry.example.org:8443 --token-file operator.token

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
	maxSize   int
	recover   bool
	json      bool
	dryRun    bool
	// generateSecret is --generate-secret FILE: a new secret is made here
	// and written there before anything is recorded.
	generateSecret string
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
	fs.IntVar(&f.maxSize, "max-size", 0, fmt.Sprintf("with --group: at most this many live members (default %d for a new group; given again, it changes the group's)", regapi.DefaultGroupMaxSize))
	fs.StringVar(&f.generateSecret, "generate-secret", "", "make a new strong secret, write it to FILE (mode 0600; an existing FILE is refused) and use it; instead of --secret-file")
	fs.BoolVar(&f.recover, "recover", false, "only finish or undo an interrupted issue into --out-dir (or --out's directory), then exit")
	fs.BoolVar(&f.json, "json", false, "print the issued nodes as JSON on stdout (with --out or --out-dir); with --dry-run, the plan")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate and render, record nothing, write no file, and print the plan of the node's first boot (see plan)")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if f.recover {
		return f.recoverOnly(ctx, env)
	}
	if f.generateSecret != "" {
		if f.spec.secretFile != "" {
			return usageErrorf("--generate-secret and --secret-file exclude each other: make a new secret, or use one")
		}
		f.spec.generated = node.NewSecret()
	}
	spec, err := f.spec.spec(env)
	if err != nil {
		return err
	}
	if spec.Group != "" {
		return f.emitGroup(ctx, env, spec)
	}
	auto := spec.Nickname == "" || spec.Nickname == regapi.AutoNickname
	if auto {
		spec.Nickname = ""
	}
	if err := f.check(spec, auto); err != nil {
		return err
	}
	// Render once with a stand-in nickname and credential before recording
	// anything, so that a spec the renderer refuses leaves no rows behind.
	probe := spec
	if probe.Role == node.RoleJVB && auto {
		probe.Nickname = "jvb-001"
	}
	if probe.Registry != nil {
		link := *probe.Registry
		link.Credential, _ = regapi.NewCredential(regapi.CredentialNode)
		probe.Registry = &link
	}
	if err := probe.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	if _, err := userdata.Render(probe); err != nil {
		return fmt.Errorf("render user-data: %w", err)
	}
	if f.dryRun {
		return dryRun(env, probe, f.json, dryRunNote(spec, auto, f.count))
	}

	out, err := f.output()
	if err != nil {
		return err
	}
	if err := f.writeGeneratedSecret(env); err != nil {
		return err
	}
	store, w, err := f.openAndBegin(ctx, env, out)
	if err != nil {
		return err
	}
	defer store.Close()
	defer w.end()

	reqs, creds := f.claims(spec, auto)
	nodes, err := store.Claim(ctx, reqs...)
	if err != nil {
		if spec.Role == node.RoleJMS && errors.Is(err, regapi.ErrConflict) {
			err = fmt.Errorf("%w: a JMS for %s is already issued; retire it first: packer-plugin-jitsi retire jms --jms-fqdn %s",
				regapi.ErrConflict, spec.JMSFQDN, spec.JMSFQDN)
		}
		return registryError(err)
	}
	datas, err := render(spec, nodes, creds)
	var issued []regapi.Node
	if err == nil {
		issued, err = w.write(ctx, nodes, datas)
	}
	if err != nil {
		return w.rollback(ctx, nodes, err)
	}
	nodes = issued
	for _, n := range nodes {
		fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: issued %s %s of %s (node %d) → %s\n", n.Role, n.Nickname, n.Shard, n.ID, out.dest(n))
	}
	if f.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(nodes)
	}
	return nil
}

// writeGeneratedSecret writes the secret --generate-secret made, once
// everything else was checked and before anything is recorded. It never
// replaces a file: that file may hold the secret running nodes use.
func (f *issueFlags) writeGeneratedSecret(env Env) error {
	if f.generateSecret == "" {
		return nil
	}
	if err := makeOutputDir("--generate-secret", filepath.Dir(f.generateSecret)); err != nil {
		return err
	}
	err := writeSynced(f.generateSecret, []byte(f.spec.generated+"\n"))
	if errors.Is(err, os.ErrExist) {
		return usageErrorf("--generate-secret %s: the file exists, and may hold the secret your nodes use: give it with --secret-file, or choose another path", f.generateSecret)
	}
	if err != nil {
		return fmt.Errorf("--generate-secret: %w", err)
	}
	fmt.Fprintf(env.Stderr, "packer-plugin-jitsi: wrote a new secret (%d letters and digits, about %.0f bits) to %s (mode 0600); keep it: every node of this JMS needs it\n",
		node.GeneratedSecretLen, node.SecretBits(f.spec.generated), f.generateSecret)
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
	case f.count > 1 && f.outDir == "" && !f.dryRun:
		errs = append(errs, errors.New("--count needs --out-dir: each node gets its own user-data file"))
	}
	if f.out != "" && f.outDir != "" {
		errs = append(errs, errors.New("--out and --out-dir exclude each other"))
	}
	if f.json && f.out == "" && f.outDir == "" && !f.dryRun {
		errs = append(errs, errors.New("--json prints the nodes on stdout: write the user-data with --out or --out-dir"))
	}
	if f.maxSize != 0 {
		errs = append(errs, errors.New("--max-size is a group's: give --group too"))
	}
	if len(errs) > 0 {
		return &UsageError{Err: errors.Join(errs...)}
	}
	return nil
}

// claims are the registry requests for the validated spec, and the node
// credentials minted for them (one per claim, only with a registry link).
// The secret itself stays here: only its check goes to the registry.
func (f *issueFlags) claims(spec node.Spec, auto bool) ([]regapi.ClaimRequest, []string) {
	nickname := spec.Nickname
	switch {
	case spec.Role == node.RoleJMS:
		nickname = node.JMSNickname
	case auto:
		nickname = regapi.AutoNickname
	}
	fp := regapi.Fingerprint(spec.JMSFQDN, spec.Secret)
	reqs := make([]regapi.ClaimRequest, f.count)
	var creds []string
	for i := range reqs {
		reqs[i] = regapi.ClaimRequest{Shard: spec.JMSFQDN, Role: string(spec.Role), Nickname: nickname,
			ImageID: f.imageID, SecretFingerprint: fp, NewSecret: f.newSecret, Pending: true}
		if spec.Registry != nil {
			cred, hash := regapi.NewCredential(regapi.CredentialNode)
			reqs[i].CredentialHash = hash
			creds = append(creds, cred)
		}
	}
	return reqs, creds
}

// render makes every node's user-data: the spec with the node's nickname
// and, with a registry link, its own credential.
func render(spec node.Spec, nodes []regapi.Node, creds []string) ([][]byte, error) {
	datas := make([][]byte, len(nodes))
	for i, n := range nodes {
		s := spec
		if s.Role == node.RoleJVB {
			s.Nickname = n.Nickname
		}
		if s.Registry != nil {
			link := *s.Registry
			link.Credential = creds[i]
			s.Registry = &link
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Nickname, err)
		}
		data, err := userdata.Render(s)
		if err != nil {
			return nil, fmt.Errorf("render user-data of %s: %w", n.Nickname, err)
		}
		datas[i] = data
	}
	return datas, nil
}
