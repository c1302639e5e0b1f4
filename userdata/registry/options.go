package registry

import "time"

// Option tunes Open. Each option's comment gives its default.
type Option func(*options)

type options struct {
	address        string
	join           []string
	peerTLS        *PeerTLS // nil: plain TCP between peers
	secretKeyFile  string   // "": secret-check.key in the data directory (secretcheck.go)
	lockTimeout    time.Duration
	writeTimeout   time.Duration
	busyTimeout    time.Duration
	networkLatency time.Duration
	gather         time.Duration
	maxBatch       int
	logf           func(format string, a ...any)
	lockNotice     func(msg string)
	now            func() time.Time
}

func defaultOptions() options {
	return options{
		lockTimeout:    2 * time.Minute,
		writeTimeout:   15 * time.Second,
		busyTimeout:    5 * time.Second,
		networkLatency: 20 * time.Millisecond,
		gather:         200 * time.Microsecond,
		maxBatch:       1024,
		logf:           func(string, ...any) {},
		lockNotice:     func(string) {},
		now:            time.Now,
	}
}

// WithAddress sets this node's Raft address (host:port), which its cluster
// peers dial, and makes the node listen there. Default: an embedded
// single-node registry that listens on no port (private.go); on first Open a
// free port on 127.0.0.1 is saved in the data directory as its Raft address
// (its identity, for a later `registry serve`). A given address must match
// the saved one.
func WithAddress(hostport string) Option { return func(o *options) { o.address = hostport } }

// WithJoin makes a brand-new node join the cluster reachable at these
// addresses (any of its members). Ignored once the node has joined. Default:
// none (the node starts a new cluster of its own).
func WithJoin(addrs ...string) Option { return func(o *options) { o.join = append(o.join, addrs...) } }

// WithPeerTLS encrypts and authenticates Raft and SQL traffic between cluster
// nodes: every node presents its certificate and accepts only peers whose
// certificate the cluster CA signed (see LoadPeerTLS, InitClusterTLS).
// Default: plain TCP, which `registry serve` allows on loopback only.
func WithPeerTLS(p *PeerTLS) Option { return func(o *options) { o.peerTLS = p } }

// WithLockTimeout bounds the wait for the data-directory lock held by another
// process (parallel CLI runs queue on it). Default 2 minutes.
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// WithWriteTimeout bounds one write, retries through leader changes included;
// past it the write fails with ErrUnavailable. Default 15 s.
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// WithBusyTimeout is how long a writer waits for another writer's lock before
// the attempt fails and is retried. Default 5 s (dqlite's own default is 0).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithNetworkLatency is the Raft round-trip the cluster is tuned for; election
// timeouts scale with it. Default 20 ms: after an abrupt leader loss a new
// leader is elected in about a second (dqlite's default takes 4–11 s).
func WithNetworkLatency(d time.Duration) Option { return func(o *options) { o.networkLatency = d } }

// WithGatherWindow is how long the group commit waits, after the first claim
// of a batch arrives, for more claims to share its transaction. Default 200 µs.
func WithGatherWindow(d time.Duration) Option { return func(o *options) { o.gather = d } }

// WithMaxBatch caps the claims one group-commit transaction holds. Default 1024.
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = max(n, 1) } }

// WithLogf receives dqlite's warnings and the registry's own notes (retries,
// leader changes). Default: discarded.
func WithLogf(f func(format string, a ...any)) Option { return func(o *options) { o.logf = f } }

// WithClock replaces time.Now for stored times (tests). Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLockNotice is told, once, when Open has to wait for another process's
// lock on the data directory (a CLI prints it as a progress line). Default: silent.
func WithLockNotice(f func(msg string)) Option { return func(o *options) { o.lockNotice = f } }
