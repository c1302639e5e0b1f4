// Package outsider is a TEST FIXTURE: a process that holds none of a
// registry's credentials and tries to get in through dqlite's own wire
// protocol — the attack the registry must withstand. Tests run it as a
// separate process (and as another uid) against real nodes: it dials each
// address in the clear and with a TLS certificate of its own, asks for the
// leader and the member list, reads every shard and nickname and runs an
// UPDATE through a raw go-dqlite driver, and tries to join the cluster as a
// new node. The report says what worked; a closed registry lets nothing
// through.
package outsider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/v3/app"
	"github.com/canonical/go-dqlite/v3/client"
	"github.com/canonical/go-dqlite/v3/driver"
)

// EnvPlan is the environment variable that makes a test binary act as the
// outsider (see Main).
const EnvPlan = "REGISTRY_OUTSIDER_PLAN"

// Plan is what the outsider attacks.
type Plan struct {
	// Addrs are the nodes' addresses: HOST:PORT, or "@NAME" for an abstract
	// Unix socket.
	Addrs []string `json:"addrs"`
	// JoinAddrs are free loopback HOST:PORTs the outsider may take as its own
	// node's address to join the cluster: the first joins in the clear, the
	// second with its own TLS certificate. None: no join attempts.
	JoinAddrs []string `json:"join_addrs,omitempty"`
	// Timeout bounds each attempt. Default 3 s.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Attempt is one try and what it got.
type Attempt struct {
	How     string `json:"how"`
	Addr    string `json:"addr"`
	Leader  string `json:"leader,omitempty"`  // the leader the node named
	Members int    `json:"members,omitempty"` // the member list it gave
	Rows    int    `json:"rows,omitempty"`    // nodes read (shard, nickname)
	Updated int64  `json:"updated,omitempty"` // rows an UPDATE changed
	Joined  bool   `json:"joined,omitempty"`
	Err     string `json:"err,omitempty"`
}

// Breached reports whether the attempt got anything from the registry.
func (a Attempt) Breached() bool {
	return a.Leader != "" || a.Members > 0 || a.Rows > 0 || a.Updated > 0 || a.Joined
}

// Report lists every attempt.
type Report struct {
	UID      int       `json:"uid"`
	Attempts []Attempt `json:"attempts"`
}

// Breaches are the attempts that got something.
func (r Report) Breaches() []Attempt {
	var out []Attempt
	for _, a := range r.Attempts {
		if a.Breached() {
			out = append(out, a)
		}
	}
	return out
}

// Main runs the plan in EnvPlan and prints the report as JSON on stdout. A
// test binary's TestMain calls it when the variable is set; it returns the
// exit code.
func Main() int {
	var p Plan
	if err := json.Unmarshal([]byte(os.Getenv(EnvPlan)), &p); err != nil {
		fmt.Fprintf(os.Stderr, "outsider: plan: %v\n", err)
		return 2
	}
	if err := json.NewEncoder(os.Stdout).Encode(Run(p)); err != nil {
		return 1
	}
	return 0
}

// Run carries the plan out.
func Run(p Plan) Report {
	if p.Timeout <= 0 {
		p.Timeout = 3 * time.Second
	}
	rep := Report{UID: os.Getuid()}
	own, err := selfSignedTLS()
	if err != nil {
		rep.Attempts = append(rep.Attempts, Attempt{How: "make own certificate", Err: err.Error()})
		return rep
	}
	dials := []struct {
		how  string
		dial client.DialFunc
	}{
		{"clear", client.DefaultDialFunc},
		{"tls with its own certificate", client.DialFuncWithTLS(client.DefaultDialFunc, own.dial)},
	}
	for _, d := range dials {
		for _, addr := range p.Addrs {
			rep.Attempts = append(rep.Attempts, ask(p.Timeout, addr, d.how, d.dial))
		}
		// The driver tries every address itself, looking for the leader.
		rep.Attempts = append(rep.Attempts, query(p.Timeout, p.Addrs, d.how, d.dial))
	}
	for i, addr := range p.JoinAddrs {
		if i > 1 {
			break
		}
		var tlsCfg *tlsPair
		if i == 1 {
			tlsCfg = own
		}
		rep.Attempts = append(rep.Attempts, join(p.Timeout, p.Addrs, addr, tlsCfg))
	}
	return rep
}

// ask requests the leader and the member list from one node.
func ask(timeout time.Duration, addr, how string, dial client.DialFunc) Attempt {
	a := Attempt{How: "raw client, " + how, Addr: addr}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cli, err := client.New(ctx, addr, client.WithDialFunc(dial))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer cli.Close()
	if l, err := cli.Leader(ctx); err != nil {
		a.Err = err.Error()
		return a
	} else if l != nil && l.Address != "" {
		a.Leader = l.Address
	}
	ms, err := cli.Cluster(ctx)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	a.Members = len(ms)
	return a
}

// query reads every shard's nicknames and rewrites a row through a raw
// driver, which looks for the leader among addrs by itself.
func query(timeout time.Duration, addrs []string, how string, dial client.DialFunc) Attempt {
	a := Attempt{How: "raw driver SELECT + UPDATE, " + how, Addr: strings.Join(addrs, ",")}
	store := client.NewInmemNodeStore()
	var infos []client.NodeInfo
	for _, addr := range addrs {
		infos = append(infos, client.NodeInfo{Address: addr})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = store.Set(ctx, infos)
	drv, err := driver.New(store, driver.WithDialFunc(dial), driver.WithLogFunc(func(client.LogLevel, string, ...any) {}))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	connector, err := drv.OpenConnector("registry")
	if err != nil {
		a.Err = err.Error()
		return a
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	a.Rows, a.Updated, err = readAndWrite(ctx, db)
	if err != nil {
		a.Err = err.Error()
	}
	return a
}

func readAndWrite(ctx context.Context, db *sql.DB) (rows int, updated int64, err error) {
	rs, err := db.QueryContext(ctx, `SELECT s.jms_fqdn, n.nickname FROM nodes n JOIN shards s ON s.id = n.shard_id`)
	if err != nil {
		return 0, 0, fmt.Errorf("select: %w", err)
	}
	for rs.Next() {
		rows++
	}
	if err := rs.Close(); err != nil {
		return rows, 0, err
	}
	res, err := db.ExecContext(ctx, `UPDATE nodes SET reason = 'an outsider was here'`)
	if err != nil {
		return rows, 0, fmt.Errorf("update: %w", err)
	}
	updated, err = res.RowsAffected()
	return rows, updated, err
}

// join starts a dqlite node of its own at addr that asks the cluster to
// take it in, then reads and writes through it.
func join(timeout time.Duration, addrs []string, addr string, own *tlsPair) Attempt {
	how := "clear"
	opts := []app.Option{app.WithAddress(addr), app.WithCluster(addrs), app.WithLogFunc(func(client.LogLevel, string, ...any) {})}
	if own != nil {
		how = "tls with its own certificate"
		opts = append(opts, app.WithTLS(own.listen, own.dial))
	}
	a := Attempt{How: "join as a node, " + how, Addr: addr}
	dir, err := os.MkdirTemp("", "outsider-node-")
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer os.RemoveAll(dir)
	node, err := app.New(dir, opts...)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer func() {
		if a.Joined { // leave a control cluster as found, as far as it goes
			hctx, cancel := context.WithTimeout(context.Background(), timeout)
			_ = node.Handover(hctx)
			cancel()
		}
		_ = node.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	if err := node.Ready(ctx); err != nil {
		a.Err = "not taken in: " + err.Error()
		return a
	}
	a.Joined = true
	db, err := node.Open(ctx, "registry")
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer db.Close()
	a.Rows, a.Updated, err = readAndWrite(ctx, db)
	if err != nil {
		a.Err = err.Error()
	}
	return a
}

type tlsPair struct{ listen, dial *tls.Config }

// selfSignedTLS makes the outsider's own certificate, as good as any that
// is not signed by the cluster's CA. It trusts any server (an attacker does
// not care whom it talks to).
func selfSignedTLS() (*tlsPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "jitsi-registry"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames:    []string{"jitsi-registry"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tlsPair{
		listen: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert},
		dial:   &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, ServerName: "jitsi-registry"}, //nolint:gosec // the outsider trusts anyone
	}, nil
}
