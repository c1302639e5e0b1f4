package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canonical/go-dqlite/v3/app"
	"github.com/canonical/go-dqlite/v3/client"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/atomicfile"
)

// Registry is one dqlite node of the registry with its database handle: the
// embedded single-node registry of the CLI, or a member of a Raft cluster
// (`registry serve`). It implements Store.
type Registry struct {
	opts options
	dir  string
	lock *dirLock
	app  *app.App
	// socket is the node's doors (private.go); nil for a plain TCP node
	// (a cluster on loopback without TLS).
	socket *nodeSocket
	db     *sql.DB
	batch  *batcher
	ctx    context.Context // ends when the registry closes
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error

	memo           memo          // what claim batches remember (memo.go); the batcher's goroutine only
	reaped         chan struct{} // closed when reapLoop (pending.go) has stopped
	batches        atomic.Int64  // committed claim transactions (tests check grouping)
	oneExecBatches atomic.Int64  // batches sent as one exec (claim.go); counted when it committed, even if unacknowledged

	// faultAfterCommit, when set (tests only), runs after every successful
	// COMMIT; an error it returns is reported as the commit's, as when a
	// leader dies between applying a commit and answering it.
	faultAfterCommit func() error

	secretKey     secretKey // of the secret checks (secretcheck.go)
	secretKeyPath string
}

var _ regapi.Store = (*Registry)(nil)

// handoverTimeout bounds Close's attempt to pass leadership on; the last
// nodes of a cluster being shut down have nobody to pass it to.
const handoverTimeout = 5 * time.Second

// addressFile holds the node's Raft address, chosen on first Open.
const addressFile = "raft-address"

// Open starts (or restarts) the registry node kept in dir and waits until it
// can take writes. With no options it is an embedded single-node registry on
// a loopback port. Only one process at a time opens a data directory: others
// wait for its lock (WithLockTimeout). Close releases everything.
func Open(ctx context.Context, dir string, opts ...Option) (_ *Registry, err error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.join) > 0 && o.address == "" {
		return nil, fmt.Errorf("open registry: %w: joining a cluster needs this node's own address (WithAddress / --address) that the others can reach", regapi.ErrInvalid)
	}
	if dir == "" {
		return nil, fmt.Errorf("open registry: %w: the data directory is empty", regapi.ErrInvalid)
	}

	// Unwind a partial start-up in reverse order.
	var cleanups []func()
	defer func() {
		if err != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}
	}()

	if err := os.MkdirAll(filepath.Join(dir, "dqlite"), 0o700); err != nil {
		return nil, fmt.Errorf("open registry: create data directory: %w", err)
	}
	lock, err := lockDir(ctx, dir, o.lockTimeout, o.lockNotice)
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	cleanups = append(cleanups, func() { _ = lock.unlock() })

	addr, err := raftAddress(dir, o.address)
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	keyPath := o.secretKeyFile
	if keyPath == "" {
		keyPath = filepath.Join(dir, secretKeyFileName)
	}
	// A joining node must be given the cluster's key; others make one.
	key, err := loadSecretKey(keyPath, len(o.join) == 0)
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	logf := func(l client.LogLevel, format string, a ...any) {
		if l >= client.LogWarn {
			o.logf("dqlite: "+format, a...)
		}
	}
	appOpts := []app.Option{
		app.WithAddress(addr),
		app.WithNetworkLatency(o.networkLatency),
		app.WithBusyTimeout(o.busyTimeout),
		app.WithLogFunc(logf),
		app.WithSnapshotParams(snapshotParams),
	}
	if len(o.join) > 0 {
		appOpts = append(appOpts, app.WithCluster(o.join))
	}
	dial := client.DefaultDialFunc // how the database handle reaches the nodes
	var socket *nodeSocket
	switch {
	case o.address == "" && len(o.join) == 0:
		socket, err = newEmbeddedSocket(dir)
	case o.peerTLS != nil:
		socket, err = newTLSSocket(addr, o.peerTLS)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	if socket != nil {
		appOpts = append(appOpts, socket.appOptions()...)
		dial = socket.dial
		// Peers (and the node itself: it probes every member, itself
		// included, when it decides its role at start-up) must find the
		// Raft address open as soon as the node runs.
		if err := socket.listen(); err != nil {
			return nil, fmt.Errorf("open registry: %w", err)
		}
		cleanups = append(cleanups, socket.close)
	}
	node, err := app.New(filepath.Join(dir, "dqlite"), appOpts...)
	if err != nil {
		return nil, fmt.Errorf("open registry: start dqlite node at %s: %w", addr, err)
	}
	cleanups = append(cleanups, func() { socket.close(); _ = node.Close() })

	if err := node.Ready(ctx); err != nil {
		return nil, fmt.Errorf("open registry: wait for node %s to join its cluster: %w", addr, err)
	}
	db, err := openDB(ctx, filepath.Join(dir, "dqlite"), dial, logf)
	if err != nil {
		return nil, fmt.Errorf("open registry: open database: %w", err)
	}
	db.SetMaxIdleConns(8)
	cleanups = append(cleanups, func() { _ = db.Close() })

	rctx, cancel := context.WithCancel(context.Background())
	cleanups = append(cleanups, cancel)
	r := &Registry{opts: o, dir: dir, lock: lock, app: node, socket: socket, db: db, ctx: rctx, cancel: cancel, memo: newMemo(),
		secretKey: key, secretKeyPath: keyPath}
	if err := r.migrate(ctx); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	if err := r.checkSecretKeyID(ctx); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	r.batch = newBatcher(o.gather, o.maxBatch, r.execClaims)
	r.reaped = make(chan struct{})
	go r.reapLoop()
	return r, nil
}

// raftAddress returns the node's saved address, or saves want (or a free
// loopback port when want is empty) on first use.
func raftAddress(dir, want string) (string, error) {
	path := filepath.Join(dir, addressFile)
	saved, err := os.ReadFile(path)
	switch {
	case err == nil:
		addr := strings.TrimSpace(string(saved))
		if want != "" && want != addr {
			return "", fmt.Errorf("%w: address %s differs from %s saved in %s: a node keeps its address for life (use a new data directory for a new node)",
				regapi.ErrInvalid, want, addr, path)
		}
		return addr, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read raft address: %w", err)
	}
	addr := want
	if addr == "" {
		if addr, err = freeLoopbackAddress(); err != nil {
			return "", err
		}
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("%w: address %q: want HOST:PORT: %v", regapi.ErrInvalid, addr, err)
	}
	if err := atomicfile.Write(path, []byte(addr+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save raft address: %w", err)
	}
	return addr, nil
}

func freeLoopbackAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a loopback port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// migrate creates the tables, brings an older registry's up to date, and
// checks the stored schema version, all in one transaction.
func (r *Registry) migrate(ctx context.Context) error {
	var from string // the version migrated from, if any
	err := r.write(ctx, func(ctx context.Context, c *tx) error {
		from = ""
		if err := execAll(ctx, c, schema, "create schema"); err != nil {
			return err
		}
		var v string
		if err := c.scanRow(ctx, qSchemaVersion, nil, &v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		// Each migration brings the tables one version up, until they are
		// at schemaVersion.
		for v != schemaVersion {
			steps, ok := migrations[v]
			if !ok {
				return fmt.Errorf("registry schema version is %s, this program knows %s: upgrade packer-plugin-jitsi", v, schemaVersion)
			}
			if err := execAll(ctx, c, steps, "migrate schema from version "+v); err != nil {
				return err
			}
			if from == "" {
				from = v
			}
			v = nextSchemaVersion(v)
		}
		if from != "" {
			if err := execAll(ctx, c, []string{qSetSchemaVersion}, "migrate schema"); err != nil {
				return err
			}
		}
		return execAll(ctx, c, schemaIndexes, "create schema")
	})
	if err == nil && from != "" {
		r.opts.logf("registry: schema migrated from version %s to %s", from, schemaVersion)
	}
	return err
}

func execAll(ctx context.Context, c *tx, stmts []string, what string) error {
	for _, stmt := range stmts {
		if _, err := c.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// Address is the node's Raft address. An embedded node does not listen on
// it (private.go): it is the node's identity, kept so that `registry serve`
// can serve the same data directory later.
func (r *Registry) Address() string { return r.app.Address() }

// Member is one node of the registry's Raft cluster.
type Member struct {
	ID      uint64 `json:"id"`
	Address string `json:"address"`
	Role    string `json:"role"` // voter, stand-by or spare
	Leader  bool   `json:"leader"`
}

// Members lists the cluster's nodes as the leader sees them.
func (r *Registry) Members(ctx context.Context) ([]Member, error) {
	cli, err := r.app.FindLeader(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w: %w", regapi.ErrUnavailable, err)
	}
	defer cli.Close()
	nodes, err := cli.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	leader, err := cli.Leader(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := make([]Member, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, Member{ID: n.ID, Address: n.Address, Role: n.Role.String(), Leader: leader != nil && leader.ID == n.ID})
	}
	return out, nil
}

// Close stops the node gracefully: pending claims finish, the database handle
// closes, leadership and voting rights move to another node (Handover), then
// the dqlite node stops and the data directory is unlocked.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.batch.close()
		r.cancel()
		<-r.reaped
		var errs []error
		if err := r.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close database: %w", err))
		}
		hctx, cancel := context.WithTimeout(context.Background(), handoverTimeout)
		if err := r.app.Handover(hctx); err != nil {
			// Not fatal: the others elect a leader without us, only slower.
			r.opts.logf("registry: hand over leadership: %v", err)
		}
		cancel()
		r.socket.close()
		if err := r.app.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop dqlite node: %w", err))
		}
		if err := r.lock.unlock(); err != nil {
			errs = append(errs, fmt.Errorf("unlock data directory: %w", err))
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}
