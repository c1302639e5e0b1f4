package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"

	"github.com/canonical/go-dqlite/v3/app"
	"github.com/canonical/go-dqlite/v3/client"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// The embedded registry listens on no TCP port: its dqlite node is bound to
// a Linux abstract Unix socket, and libdqlite (≥ 1.18) accepts connections
// on such a socket only from its own process (it checks the peer's
// SO_PEERCRED pid and closes every other connection at once). Other local
// users — and the user's own other processes — cannot connect, read or
// write; the 0700 data directory keeps them from the files.
//
// Why not the alternatives:
//   - a loopback TCP port (what the embedded registry did first): any local
//     user could connect to it and read or write the database;
//   - TLS with a CA generated into the data directory: go-dqlite's TLS mode
//     binds the node to an abstract socket anyway and proxies TCP to it, so
//     it would add a TCP port, certificates and a handshake to what the
//     abstract socket alone already does;
//   - a filesystem socket in the 0700 directory: libdqlite binds TCP
//     addresses and abstract sockets only ("@NAME").
//
// go-dqlite's app package supports this through WithExternalConn (the dial
// function its driver and node use) and WithUnixSocket (the node's bind
// address). The node keeps the Raft address saved in the data directory as
// its identity, so a directory first used embedded can later be served by
// `registry serve` at that address (and older embedded directories, saved
// with a loopback port, need no migration): a single node never dials its
// own Raft address, and every connection the driver makes goes to the
// socket.
type privateSocket struct {
	name   string        // "@packer-plugin-jitsi-registry-<random>"
	accept chan net.Conn // go-dqlite forwards connections sent here; we send none
}

// newPrivateSocket picks a fresh abstract socket name for the embedded node
// of dir, after checking that dir holds a registry of one node.
func newPrivateSocket(dir string) (*privateSocket, error) {
	if err := checkSingleNode(dir); err != nil {
		return nil, err
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("name the registry's socket: %w", err)
	}
	return &privateSocket{name: "@packer-plugin-jitsi-registry-" + hex.EncodeToString(b[:]), accept: make(chan net.Conn)}, nil
}

func (p *privateSocket) appOptions() []app.Option {
	return []app.Option{app.WithExternalConn(p.dial, p.accept), app.WithUnixSocket(p.name)}
}

// dial connects to the node, whatever Raft address it is asked for: there
// is one node, and this is its only door.
func (p *privateSocket) dial(ctx context.Context, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", p.name)
}

// close ends go-dqlite's goroutine waiting for forwarded connections.
func (p *privateSocket) close() {
	if p != nil && p.accept != nil {
		close(p.accept)
		p.accept = nil
	}
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
