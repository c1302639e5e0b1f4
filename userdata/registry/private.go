package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/canonical/go-dqlite/v3/app"
	"github.com/canonical/go-dqlite/v3/client"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// The doors of a dqlite node. The node itself is bound to a Linux abstract
// Unix socket with a random name, and libdqlite (≥ 1.18) accepts
// connections on such a socket only from its own process: it checks the
// peer's SO_PEERCRED pid and closes every other connection at once. So no
// other process — no other local user — can reach the node directly.
//
//   - The embedded registry has no other door: no TCP listener at all. Its
//     Raft address (saved in the data directory) is its identity only, so
//     that `registry serve` can serve the directory later, and older
//     embedded directories (saved with a loopback port) need no migration:
//     a single node never dials its own Raft address, and the database
//     handle's connections all go to the socket.
//   - A cluster member with cluster TLS listens on its Raft address for
//     mutual TLS: a connection is forwarded to the node only after a
//     completed handshake in which the peer presented a certificate the
//     cluster CA signed. Unauthenticated bytes never reach dqlite.
//   - A cluster member without TLS (loopback only; `registry serve`
//     refuses it elsewhere) is go-dqlite's plain TCP node.
//
// Why not go-dqlite's own WithTLS: it binds the node to the abstract socket
// "@dqlite-<node id>", and every cluster's first node has the same id, so a
// second TLS registry on a machine (another cluster, a test, a restarted
// node racing its old process) fails to start ("failed to set bind
// address"); it also runs the TLS handshake lazily inside its proxy. Why
// not TLS with a CA generated into the embedded data directory: it would
// add a TCP port, certificates and a handshake to what the socket alone
// does. Why not a filesystem socket in the 0700 directory: libdqlite binds
// TCP addresses and abstract sockets ("@NAME") only.
//
// go-dqlite's app package supports this through WithExternalConn (the dial
// function its driver and node use, and a channel of accepted connections
// it forwards to the node) and WithUnixSocket (the node's bind address).
type nodeSocket struct {
	name   string        // "@packer-plugin-jitsi-registry-<random>"
	accept chan net.Conn // connections go-dqlite forwards to the node

	// Cluster TLS only.
	addr  string
	peers *PeerTLS
	ln    net.Listener

	mu      sync.Mutex
	closed  bool
	pending sync.WaitGroup // handshakes under way
}

// tlsHandshakeTimeout bounds a peer's TLS handshake on the Raft address.
const tlsHandshakeTimeout = 10 * time.Second

// newEmbeddedSocket makes the only door of the embedded node of dir, after
// checking that dir holds a registry of one node.
func newEmbeddedSocket(dir string) (*nodeSocket, error) {
	if err := checkSingleNode(dir); err != nil {
		return nil, err
	}
	return newSocket()
}

// newTLSSocket makes the doors of a cluster member: the socket, and (once
// listen is called) mutual TLS on addr.
func newTLSSocket(addr string, peers *PeerTLS) (*nodeSocket, error) {
	s, err := newSocket()
	if err != nil {
		return nil, err
	}
	s.addr, s.peers = addr, peers
	return s, nil
}

func newSocket() (*nodeSocket, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("name the registry's socket: %w", err)
	}
	return &nodeSocket{name: "@packer-plugin-jitsi-registry-" + hex.EncodeToString(b[:]), accept: make(chan net.Conn)}, nil
}

func (s *nodeSocket) appOptions() []app.Option {
	return []app.Option{app.WithExternalConn(s.dial, s.accept), app.WithUnixSocket(s.name)}
}

// dial connects the node (Raft) and the database handle to a node: over
// mutual TLS to a cluster peer's Raft address, or — embedded — to the
// node's own socket, whatever address it is asked for (one node, one door).
func (s *nodeSocket) dial(ctx context.Context, addr string) (net.Conn, error) {
	if s.peers == nil {
		var d net.Dialer
		return d.DialContext(ctx, "unix", s.name)
	}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: s.peers.Dial}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s over TLS: %w", addr, err)
	}
	return conn, nil
}

// listen opens the Raft address to peers (cluster TLS only). Connections
// accepted before the node runs wait, handshake done, until go-dqlite takes
// them (app.New starts its forwarding goroutine once the node is bound).
func (s *nodeSocket) listen() error {
	if s == nil || s.peers == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	go s.serve()
	return nil
}

func (s *nodeSocket) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		if !s.track() {
			c.Close()
			return
		}
		go func() {
			defer s.pending.Done()
			s.handshake(c)
		}()
	}
}

// handshake completes mutual TLS with a peer and hands the connection to
// go-dqlite, which proxies it to the node; anything else is dropped.
func (s *nodeSocket) handshake(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
	defer cancel()
	tc := tls.Server(c, s.peers.Listen)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return
	}
	// go-dqlite writes an HTTP "101 Switching Protocols" line to accepted
	// *tls.Conn and *net.TCPConn values (its HTTP-upgrade transport); ours
	// speak dqlite from the first byte, so they are handed over wrapped.
	s.accept <- peerConn{tc}
}

// peerConn is an authenticated peer connection (see handshake).
type peerConn struct{ net.Conn }

// track counts a handshake in, unless the socket is closing.
func (s *nodeSocket) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pending.Add(1)
	return true
}

// close stops accepting peers and ends go-dqlite's forwarding goroutine.
// Call it before app.App.Close: connections already handed over end with
// the node.
func (s *nodeSocket) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	// Handshakes still under way may be blocked handing a connection over:
	// go-dqlite's goroutine takes them until the channel closes.
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
drain:
	for {
		select {
		case c := <-s.accept:
			c.Close()
		case <-done:
			break drain
		}
	}
	close(s.accept)
}

// checkSingleNode refuses to open a cluster member's data directory as an
// embedded registry: its peers could not reach it.
func checkSingleNode(dir string) error {
	store, err := client.NewYamlNodeStore(filepath.Join(dir, "dqlite", "cluster.yaml"))
	if err != nil {
		return fmt.Errorf("read the node list of %s: %w", dir, err)
	}
	nodes, err := store.Get(context.Background())
	if err != nil {
		return fmt.Errorf("read the node list of %s: %w", dir, err)
	}
	if len(nodes) > 1 {
		return fmt.Errorf("%w: %s holds a node of a registry cluster of %d nodes: serve it with `registry serve` (its address is in %s) and reach the cluster with --registry, or use another --data-dir",
			regapi.ErrInvalid, dir, len(nodes), filepath.Join(dir, addressFile))
	}
	return nil
}
