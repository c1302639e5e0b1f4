package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/atomicfile"
)

// All or none across a crash. Files and registry rows cannot change in one
// transaction, so issue orders its steps so that, wherever it is killed, no
// node is issued without its user-data on disk and no user-data is on disk
// for a name the registry does not hold:
//
//  1. claim the nodes as pending (they hold their names, and expire);
//  2. write a journal (the run, the registry, each node's id and paths);
//  3. write each user-data to a temporary file (mode 0600, synced);
//  4. rename them all into place;
//  5. confirm the nodes (pending → issued, all or none), remove the journal.
//
// The output directory is locked for the run, so the next issue into it —
// or issue --recover — knows that any journal there is an interrupted run,
// and finishes it (every file in place: confirm) or undoes it (retire its
// pending nodes, remove its files), and removes its temporary files.

// output is where issue writes user-data: files in a directory, or stdout.
type output struct {
	dir  string // the directory of the files; "" for stdout
	file string // --out: the one file; "" with --out-dir
}

// output resolves --out / --out-dir and creates the directory before
// anything is recorded: a path that cannot be written fails the run while
// there is nothing to roll back.
func (f *issueFlags) output() (*output, error) {
	switch {
	case f.outDir != "":
		return &output{dir: f.outDir}, makeOutputDir("--out-dir", f.outDir)
	case f.out != "" && f.out != "-":
		o := &output{dir: filepath.Dir(f.out), file: f.out}
		return o, makeOutputDir("--out", o.dir)
	}
	return &output{}, nil
}

// path is where node n's user-data goes ("" for stdout).
func (o *output) path(n regapi.Node) string {
	switch {
	case o.file != "":
		return o.file
	case o.dir != "":
		return filepath.Join(o.dir, n.Nickname+".yaml")
	}
	return ""
}

func (o *output) dest(n regapi.Node) string {
	if p := o.path(n); p != "" {
		return p
	}
	return "stdout"
}

// issueWrite is one run's writing of user-data.
type issueWrite struct {
	out     *output
	env     Env
	store   regapi.Store
	storeID string // which registry (storeFlags.identity), recorded in the journal
	lock    *dirLock
	run     string
	journal string // its path, once written
	entries []journalEntry
	placed  []string // user-data files renamed into place
}

// journal is what an issue run records in its output directory before it
// writes any user-data.
type journal struct {
	Run   string         `json:"run"`
	Store string         `json:"store"`
	Nodes []journalEntry `json:"nodes"`
}

type journalEntry struct {
	ID       int64  `json:"id"`
	Shard    string `json:"shard"`
	Nickname string `json:"nickname"`
	Path     string `json:"path"`
	Temp     string `json:"temp"`
}

const (
	journalPrefix = ".issue-"
	journalSuffix = ".journal"
	tempSuffix    = ".yaml.tmp"
)

// begin locks the output directory and finishes or undoes what an
// interrupted run left there.
func (o *output) begin(ctx context.Context, env Env, store regapi.Store, storeID string) (*issueWrite, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	w := &issueWrite{out: o, env: env, store: store, storeID: storeID, run: hex.EncodeToString(b[:])}
	if o.dir == "" {
		return w, nil
	}
	lock, err := lockOutputDir(ctx, env, o.dir)
	if err != nil {
		return nil, err
	}
	w.lock = lock
	if err := w.recoverLeftovers(ctx); err != nil {
		lock.unlock()
		return nil, err
	}
	return w, nil
}

// end releases the output directory.
func (w *issueWrite) end() {
	if w.lock != nil {
		w.lock.unlock()
	}
}

// write puts every node's user-data in place and confirms the nodes; it
// returns them as confirmed.
func (w *issueWrite) write(ctx context.Context, nodes []regapi.Node, datas [][]byte) ([]regapi.Node, error) {
	if w.out.dir == "" {
		for _, d := range datas {
			if _, err := w.env.Stdout.Write(d); err != nil {
				return nil, fmt.Errorf("write user-data to stdout: %w", err)
			}
		}
		return w.confirm(ctx, nodes)
	}
	j := journal{Run: w.run, Store: w.storeID}
	for _, n := range nodes {
		j.Nodes = append(j.Nodes, journalEntry{ID: n.ID, Shard: n.Shard, Nickname: n.Nickname, Path: w.out.path(n),
			Temp: filepath.Join(w.out.dir, journalPrefix+w.run+"-"+n.Nickname+tempSuffix)})
	}
	data, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode issue journal: %w", err)
	}
	path := filepath.Join(w.out.dir, journalPrefix+w.run+journalSuffix)
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("write issue journal: %w", err)
	}
	w.journal, w.entries = path, j.Nodes
	for i, e := range j.Nodes {
		if err := writeSynced(e.Temp, datas[i]); err != nil {
			return nil, err
		}
	}
	for _, e := range j.Nodes {
		if err := os.Rename(e.Temp, e.Path); err != nil {
			return nil, fmt.Errorf("write %s: %w", e.Path, err)
		}
		w.placed = append(w.placed, e.Path)
	}
	syncDir(w.out.dir)
	confirmed, err := w.confirm(ctx, nodes)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("remove issue journal: %w", err)
	}
	w.journal = ""
	return confirmed, nil
}

func (w *issueWrite) confirm(ctx context.Context, nodes []regapi.Node) ([]regapi.Node, error) {
	ids := make([]int64, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	confirmed, err := w.store.Confirm(ctx, ids...)
	if err != nil {
		return nil, registryError(err)
	}
	return confirmed, nil
}

// rollback undoes a failed run: its files go, its pending nodes are retired
// (their names free again). It returns cause with any failure of its own.
func (w *issueWrite) rollback(ctx context.Context, nodes []regapi.Node, cause error) error {
	errs := []error{cause}
	var ours []string
	for _, e := range w.entries {
		ours = append(ours, e.Temp)
	}
	for _, p := range append(ours, w.placed...) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	for _, n := range nodes {
		if _, err := w.store.SetState(ctx, regapi.NodeRef{ID: n.ID}, regapi.StateRetired, issueRolledBack); err != nil {
			errs = append(errs, fmt.Errorf("retire node %d (%s) after the failure: %w", n.ID, n.Nickname, err))
		}
	}
	if w.journal != "" && len(errs) == 1 {
		if err := os.Remove(w.journal); err != nil {
			errs = append(errs, fmt.Errorf("remove issue journal: %w", err))
		}
	}
	return errors.Join(errs...)
}

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

// writeSynced creates path (it must not exist) with mode 0600 and data,
// synced to disk.
func writeSynced(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", path, cerr)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
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
	store, err := f.store.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	storeID, err := f.store.identity(env)
	if err != nil {
		return err
	}
	w, err := out.begin(ctx, env, store, storeID)
	if err != nil {
		return err
	}
	w.end()
	return nil
}

// identity names the registry f chooses, as journals record it: a run is
// only finished or undone against the registry it was recorded in.
func (f *storeFlags) identity(env Env) (string, error) {
	if f.url != "" {
		return "registry " + f.url, nil
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
