package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Recovery: the next issue into an output directory (or issue --recover)
// finishes or undoes the runs that were interrupted there (issue_write.go).

// recoverLeftovers finishes or undoes every interrupted run whose journal
// is in the output directory (the lock says none is running), and removes
// their temporary files.
func (w *issueWrite) recoverLeftovers(ctx context.Context) error {
	paths, err := filepath.Glob(filepath.Join(w.out.dir, journalPrefix+"*"+journalSuffix))
	if err != nil {
		return fmt.Errorf("look for interrupted issue runs: %w", err)
	}
	for _, p := range paths {
		if err := w.recoverRun(ctx, p); err != nil {
			return err
		}
	}
	// Temporary files of the journals themselves (no secret in them), and
	// of user-data whose journal was never written (none: it comes first).
	strays, _ := filepath.Glob(filepath.Join(w.out.dir, "."+journalPrefix+"*"+journalSuffix+".tmp-*")) // atomicfile's names
	for _, p := range strays {
		_ = os.Remove(p)
	}
	return nil
}

func (w *issueWrite) recoverRun(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read interrupted issue run %s: %w", path, err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("read interrupted issue run %s: %w", path, err)
	}
	if j.Store != w.storeID {
		fmt.Fprintf(w.env.Stderr, "packer-plugin-jitsi: %s is an interrupted issue run against another registry (%s): run issue --recover with that registry to finish it\n", path, j.Store)
		return nil
	}
	for _, e := range j.Nodes {
		if err := os.Remove(e.Temp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", e.Temp, err)
		}
	}
	ids := make([]int64, len(j.Nodes))
	complete := true
	for i, e := range j.Nodes {
		ids[i] = e.ID
		if _, err := os.Stat(e.Path); err != nil {
			complete = false
		}
	}
	if complete && len(ids) > 0 {
		_, err := w.store.Confirm(ctx, ids...)
		switch {
		case err == nil:
			fmt.Fprintf(w.env.Stderr, "packer-plugin-jitsi: finished an interrupted issue run: %d node(s) issued (%s)\n", len(ids), names(j.Nodes))
			return removeJournal(path)
		case !errors.Is(err, regapi.ErrTransition):
			return fmt.Errorf("finish interrupted issue run %s: %w", path, err)
		}
		// Some expired meanwhile: the run cannot be complete; undo it.
	}
	if err := w.undoRun(ctx, j); err != nil {
		return fmt.Errorf("undo interrupted issue run %s: %w", path, err)
	}
	fmt.Fprintf(w.env.Stderr, "packer-plugin-jitsi: undid an interrupted issue run: %d node(s) not issued, their names free again (%s)\n", len(ids), names(j.Nodes))
	return removeJournal(path)
}

// undoRun retires a run's nodes that are still pending and removes the
// files of every node that is not live and past pending (a node that
// booted from its file and reported keeps it).
func (w *issueWrite) undoRun(ctx context.Context, j journal) error {
	for _, e := range j.Nodes {
		state, err := w.nodeState(ctx, e)
		if err != nil {
			return err
		}
		switch state {
		case regapi.StatePending:
			if _, err := w.store.SetState(ctx, regapi.NodeRef{ID: e.ID}, regapi.StateRetired, issueInterrupted); err != nil {
				return fmt.Errorf("retire node %d (%s): %w", e.ID, e.Nickname, err)
			}
		case regapi.StateRetired, "":
		default:
			continue // live and past pending: its file is its own
		}
		if fi, err := os.Lstat(e.Path); err == nil && fi.Mode().IsRegular() {
			if err := os.Remove(e.Path); err != nil {
				return fmt.Errorf("remove %s: %w", e.Path, err)
			}
		}
	}
	return nil
}

// issueInterrupted is the reason recorded for a pending node whose issue
// run was undone by the next run.
const issueInterrupted = "issue was interrupted before all user-data was in place"

// nodeState reads the state of a journal's node ("" when the registry has
// no such node).
func (w *issueWrite) nodeState(ctx context.Context, e journalEntry) (regapi.State, error) {
	nodes, err := w.store.Nodes(ctx, regapi.Filter{Shard: e.Shard, AfterID: e.ID - 1, Limit: 1})
	if err != nil {
		return "", fmt.Errorf("read node %d (%s): %w", e.ID, e.Nickname, err)
	}
	if len(nodes) == 0 || nodes[0].ID != e.ID || nodes[0].Nickname != e.Nickname {
		return "", nil
	}
	return nodes[0].State, nil
}

func names(es []journalEntry) string {
	var out []string
	for i, e := range es {
		if i == 5 {
			out = append(out, fmt.Sprintf("… %d more", len(es)-5))
			break
		}
		out = append(out, e.Nickname)
	}
	return strings.Join(out, ", ")
}

func removeJournal(path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove issue journal: %w", err)
	}
	return nil
}

// recoverOnly is issue --recover: finish or undo what interrupted runs left
// in the output directory.
func (f *issueFlags) recoverOnly(ctx context.Context, env Env) error {
	if f.outDir == "" && (f.out == "" || f.out == "-") {
		return usageErrorf("--recover needs --out-dir DIR (or --out FILE): the directory an interrupted issue wrote into")
	}
	out, err := f.output()
	if err != nil {
		return err
	}
	store, w, err := f.openAndBegin(ctx, env, out)
	if err != nil {
		return err
	}
	defer store.Close()
	w.end()
	return nil
}

// identity names the registry f chooses, as journals record it: a run is
// only finished or undone against the registry it was recorded in.
func (f *storeFlags) identity(env Env) (string, error) {
	if urls := splitList(f.urls); len(urls) > 0 {
		slices.Sort(urls) // the same cluster, whichever order its URLs come in
		return "registry " + strings.Join(urls, ","), nil
	}
	dir := f.dataDir
	if dir == "" {
		var err error
		if dir, err = defaultDataDir(env); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--data-dir: %w", err)
	}
	return "embedded " + abs, nil
}
