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

// openAndBegin opens the registry and begins writing into out, which first
// finishes (or undoes) a run that was interrupted there. The caller ends the
// write, then closes the store.
func (f *issueFlags) openAndBegin(ctx context.Context, env Env, out *output) (regapi.Store, *issueWrite, error) {
	store, err := f.store.open(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	storeID, err := f.store.identity(env)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	w, err := out.begin(ctx, env, store, storeID)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, w, nil
}

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
