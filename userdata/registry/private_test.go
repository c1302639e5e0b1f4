package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/outsider"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestEmbeddedRegistryIsClosedToOtherUsers opens an embedded registry (as
// root) and lets another local user (uid 65534, a real second process)
// attack it with a raw dqlite client, a raw driver and a would-be joining
// node, knowing every address the registry has. Nothing gets through. The
// same outsider against a node on a loopback TCP port — how the embedded
// registry listened before — reads and rewrites its rows, so the attack is
// real and the test can fail.
func TestEmbeddedRegistryIsClosedToOtherUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if os.Geteuid() != 0 {
		t.Skip("runs the outsider as uid 65534: needs root")
	}
	bin := outsider.ExecutableForAnyone(t)
	ctx := testCtx(t, 90*time.Second)

	r, _ := openTemp(t)
	claimOne(t, r, jvb(""))
	if l := tcpListenersOfThisProcess(t); len(l) > 0 {
		t.Errorf("the embedded registry listens on TCP %v: another local user can connect", l)
	}
	addrs := []string{r.socket.name, r.Address()}
	socks, err := outsider.AbstractSocketsOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range socks {
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	rep, err := outsider.Start(ctx, bin, outsider.NobodyUID, outsider.Plan{Addrs: addrs, JoinAddrs: []string{freeAddr(t), freeAddr(t)}, Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.UID != outsider.NobodyUID {
		t.Fatalf("the outsider ran as uid %d", rep.UID)
	}
	for _, a := range rep.Attempts {
		t.Logf("uid %d, %s at %s: %+v", rep.UID, a.How, a.Addr, a)
	}
	for _, b := range rep.Breaches() {
		t.Errorf("uid %d got into the embedded registry: %s at %s: %+v", rep.UID, b.How, b.Addr, b)
	}
	nodes, err := r.Nodes(ctx, regapi.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Reason != "" {
			t.Errorf("a row was rewritten: %+v", n)
		}
	}

	// The control: the same outsider, same uid, against a node on a loopback
	// TCP port without TLS.
	open := openAt(t, t.TempDir(), WithAddress(freeAddr(t)))
	claimOne(t, open, jvb(""))
	rep, err = outsider.Start(ctx, bin, outsider.NobodyUID, outsider.Plan{Addrs: []string{open.Address()}, Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Breaches()) == 0 {
		t.Fatalf("control: the outsider could not read a node on a plain loopback port either; the attack proves nothing: %+v", rep.Attempts)
	}
	for _, b := range rep.Breaches() {
		t.Logf("control: uid %d got into a plain loopback node: %s: %+v", rep.UID, b.How, b)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	a, err := freeLoopbackAddress()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tcpListenersOfThisProcess lists the TCP sockets this process listens on
// ("local address" hex fields of /proc/net/tcp{,6}).
func tcpListenersOfThisProcess(t *testing.T) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) >= 10 && f[3] == "0A" && inodes[f[9]] { // 0A: LISTEN
				out = append(out, fmt.Sprintf("%s (%s)", f[1], table))
			}
		}
	}
	return out
}

// TestEmbeddedOpenRefusesAClusterMembersDirectory: a cluster member's data
// directory opened without --address would be a node its peers cannot
// reach; it is refused, naming what to do instead.
func TestEmbeddedOpenRefusesAClusterMembersDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	c := startCluster(t, 3)
	c.stopAll()
	_, err := Open(testCtx(t, 10*time.Second), c.dirs[1])
	if !errors.Is(err, regapi.ErrInvalid) || !strings.Contains(err.Error(), "registry serve") {
		t.Errorf("embedded Open of a member's directory: err = %v", err)
	}
}
