package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/fakecloud"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// TestVMMatrix's machinery: the baker in the background, the JMSs, and
// what each row boots and checks.

// matrixRun is what the rows share: the registry, the baker, the guests'
// network, the harness's key.
type matrixRun struct {
	out, nodesDir string
	jitsiRepo     string
	api           registryAPI
	reg           []string
	relay         []string
	key           *vm.SSHKey
	network       vm.Network
	baker         *baker
	reused        map[matrixEntry]bakeResult
	bridges       byte // bridges booted so far: each gets its own public address
}

func newMatrixRun(t *testing.T, out string) *matrixRun {
	t.Helper()
	m := &matrixRun{out: out, nodesDir: filepath.Join(out, "nodes"), jitsiRepo: fixtureRepo(t), network: vm.MetadataNetwork,
		reused: map[matrixEntry]bakeResult{}}
	var err error
	if m.relay, err = vm.RelayCommand(); err != nil {
		t.Fatal(err)
	}
	if m.key, err = vm.NewSSHKey(out); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(m.nodesDir, 0o700); err != nil {
		t.Fatal(err)
	}
	m.api = startRegistry(t, out, m.network.IP(102))
	m.reg = m.api.flags()
	m.baker = newBaker(t, out, m.jitsiRepo, m.api, m.relay, m.key)
	return m
}

// matrixBake is a bake of the matrix, or why there is none.
type matrixBake struct {
	bakeResult
	notRun string // the base image's "NOT RUN: …" line
}

// startBakes bakes jobs one at a time, in order, in the background: each
// bake runs beside the boot of the row before it (two TCG guests on two
// cores). A job's base image is built first when not cached; an Ubuntu
// archive that does not answer makes the job not run. The test waits for
// the baker before its registry stops.
func (m *matrixRun) startBakes(t *testing.T, jobs []bakeJob) map[matrixEntry]<-chan matrixBake {
	t.Helper()
	chans := map[matrixEntry]<-chan matrixBake{}
	sends := make([]chan matrixBake, len(jobs))
	for i, j := range jobs {
		sends[i] = make(chan matrixBake, 1)
		chans[matrixEntry{j.OS, j.Role}] = sends[i]
	}
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for i, j := range jobs {
			select {
			case <-stop:
				sends[i] <- matrixBake{bakeResult: bakeResult{err: fmt.Errorf("the matrix stopped before this bake")}}
				continue
			default:
			}
			sends[i] <- m.bakeOne(t, j)
		}
	}()
	return chans
}

func (m *matrixRun) bakeOne(t *testing.T, j bakeJob) matrixBake {
	base, err := runScript(t, "build-base-image.sh", j.OS)
	switch {
	case err != nil:
		return matrixBake{bakeResult: bakeResult{err: fmt.Errorf("base image: %w", err)}}
	case base.notRun != "":
		return matrixBake{notRun: base.notRun}
	}
	srv, err := serveRepos(base.dir, m.jitsiRepo)
	if err != nil {
		return matrixBake{bakeResult: bakeResult{err: err}}
	}
	defer srv.Close()
	j.Base, j.RepoPort = base.dir, srv.Port
	image, took, err := m.baker.bake(t, j)
	return matrixBake{bakeResult: bakeResult{image: image, took: took, err: err}}
}

// cluster is a booted JMS and a checker in its brewery.
type cluster struct {
	fqdn, secret, brewery string
	prosody               string // the JMS's prosody version
	jms                   *vm.VM
	xmpp                  int // the JMS's 5222 on 127.0.0.1
	check                 *xmppc.Client
	booted                time.Duration
}

// bootCluster issues a JMS for fqdn, boots image with that user-data, and
// logs in as the bridge account with the JMS's secret — what a bridge
// does — and sits in the brewery as jicofo would.
func (m *matrixRun) bootCluster(t *testing.T, fqdn, image, name string) *cluster {
	t.Helper()
	c := m.issueJMS(t, fqdn, name)
	c.jms = m.bootJMS(t, c, image, name)
	start := time.Now()
	waitBooted(t, c.jms, 20*time.Minute)
	c.prosody = prosodyVersion(t, c.jms)
	m.joinBrewery(t, c, start)
	return c
}

// prosodyVersion is the JMS guest's prosody package version.
func prosodyVersion(t *testing.T, v *vm.VM) string {
	t.Helper()
	return strings.TrimSpace(run(t, v, time.Minute, "dpkg-query -W -f '${Version}' prosody"))
}

func (m *matrixRun) issueJMS(t *testing.T, fqdn, name string) *cluster {
	t.Helper()
	c := &cluster{fqdn: fqdn, brewery: jitsi.BreweryJID(fqdn), secret: filepath.Join(m.out, name+".secret")}
	m.issue(t, fqdn, "--role", "jms", "--generate-secret", c.secret, "--out", filepath.Join(m.nodesDir, name+".yaml"))
	var err error
	if c.xmpp, err = vm.FreePort(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (m *matrixRun) bootJMS(t *testing.T, c *cluster, image, name string) *vm.VM {
	t.Helper()
	return bootVM(t, vm.Config{
		Name: name, Image: image, Dir: filepath.Join(m.out, "vm-"+name), MemoryMB: 1024, Network: m.network,
		UserData: []byte(readFile(t, filepath.Join(m.nodesDir, name+".yaml"))), VendorData: vendorData(m.key.Public, ""),
		InstanceID: "i-e2e-" + name, Hostname: name, SSHKey: m.key, SSHUser: "root", Relay: m.relay,
		HostForwards:  []vm.HostForward{{Host: c.xmpp, Guest: jitsi.XMPPPort}},
		GuestForwards: []vm.GuestForward{{GuestIP: m.network.IP(102), GuestPort: 443, HostPort: m.api.port}},
	})
}

// joinBrewery logs in as jvb@auth.<fqdn> with the JMS's secret (the JMS's
// prosody took the bridge account) and joins the brewery as a checker.
func (m *matrixRun) joinBrewery(t *testing.T, c *cluster, start time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	for {
		c.check, err = xmppc.Dial(ctx, xmppc.Account{Host: "127.0.0.1", Port: c.xmpp, Domain: jitsi.AuthDomain(c.fqdn),
			Username: jitsi.BridgeUser, Password: strings.TrimSpace(readFile(t, c.secret)), InsecureTLS: true})
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(3 * time.Second)
	}
	if err != nil {
		t.Fatalf("assertion %s@%s logs in with the JMS's secret: %v (JMS serial log %s)", jitsi.BridgeUser, jitsi.AuthDomain(c.fqdn), err, c.jms.Serial)
	}
	t.Cleanup(func() { c.check.Close() })
	c.booted = time.Since(start)
	if err := c.check.Join(ctx, c.brewery, "e2e-checker", nil); err != nil {
		t.Fatal(err)
	}
}

func (m *matrixRun) issue(t *testing.T, fqdn string, args ...string) string {
	t.Helper()
	full := append(append([]string{"issue", "--jms-fqdn", fqdn}, args...), m.reg...)
	return cli(t, append(full, "--node-registry-url", m.api.guestURL, "--node-registry-ca", m.api.ca)...)
}

// bootBridge boots a bridge image with its issued user-data as an EC2
// instance with a metadata service of its own (public address returned),
// its JMS's FQDN leading to c's JMS.
func (m *matrixRun) bootBridge(t *testing.T, c *cluster, name, image, userData string) (*vm.VM, string) {
	t.Helper()
	m.bridges++
	public := fmt.Sprintf("203.0.113.%d", 10+m.bridges)
	md, err := fakecloud.ServeMetadata(&fakecloud.FakeMetadata{Cloud: nat.EC2, PrivateIP: m.network.DHCPStart, PublicIP: public}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	jmsIP := m.network.IP(100)
	v := bootVM(t, vm.Config{
		Name: name, Image: image, Dir: filepath.Join(m.out, "vm-"+name), MemoryMB: 512, Network: m.network,
		SMBIOS:   vm.EC2SMBIOS(fmt.Sprintf("%012d", m.bridges)),
		UserData: []byte(readFile(t, userData)), VendorData: vendorData(m.key.Public, jmsIP+" "+c.fqdn),
		InstanceID: "i-e2e-" + name, Hostname: name, SSHKey: m.key, SSHUser: "root", Relay: m.relay,
		GuestForwards: []vm.GuestForward{
			{GuestIP: m.network.IP(102), GuestPort: 443, HostPort: m.api.port},
			{GuestIP: jmsIP, GuestPort: jitsi.XMPPPort, HostPort: c.xmpp},
			{GuestIP: vm.MetadataIP, GuestPort: 80, HostPort: portOf(t, md.URL)},
		},
	})
	return v, public
}

// bridgeRow: issue a bridge (legacy format where the row is legacy), boot
// it, and check it joins under its nickname, reports active, runs the
// stand-in of the row's era, advertises the metadata's public address, and
// leaves and reports retired on `jitsi-node drain`.
func (m *matrixRun) bridgeRow(t *testing.T, rec *rowRecord, e matrixEntry, image string, c *cluster) {
	t.Helper()
	rec.at(t, "issue")
	args := []string{"--role", "jvb", "--secret-file", c.secret, "--out", filepath.Join(m.nodesDir, e.OS+".yaml"), "--json"}
	if e.Format() != node.FormatModern {
		args = append(args, "--format", string(e.Format()))
	}
	nick := issuedNodes(t, m.issue(t, c.fqdn, args...))[0]

	rec.at(t, "first boot")
	start := time.Now()
	v, public := m.bootBridge(t, c, vmName("jvb", e.OS), image, filepath.Join(m.nodesDir, e.OS+".yaml"))
	waitBooted(t, v, 15*time.Minute)
	rec.at(t, "join the brewery as "+nick)
	waitOccupantsFor(t, c.check, c.brewery, 5*time.Minute, nick+" in the brewery", func(o map[string]xmppc.Occupant) bool { _, in := o[nick]; return in })
	rec.row.BootS = seconds(time.Since(start))
	progress(t, "assertion ok: %s: %s joined %s %s after its boot began", e, nick, c.brewery, time.Since(start).Round(time.Second))
	rec.at(t, "report active")
	waitStatesIn(t, m.reg, c.fqdn, map[string]string{nick: "active"})

	rec.at(t, "era and public address")
	if st := fixtureState(t, v); st.Era != e.Era() {
		rec.fail(t, "era", fmt.Errorf("the bridge behaves as a %q-era one, want %q (%s pinned %v)", st.Era, e.Era(), e, e.Versions()))
	}
	checkMapping(t, v, m.network.DHCPStart, public)

	rec.at(t, "drain")
	out := run(t, v, 7*time.Minute, jitsi.AgentBinary+" drain --timeout 5m 2>&1")
	waitOccupantsFor(t, c.check, c.brewery, 2*time.Minute, nick+" to leave", func(o map[string]xmppc.Occupant) bool { _, in := o[nick]; return !in })
	rec.at(t, "report retired")
	waitStatesIn(t, m.reg, c.fqdn, map[string]string{nick: "retired"})
	progress(t, "assertion ok: %s: %s left the brewery and is retired: %s", e, nick, lastLine(out))
	rec.note = fmt.Sprintf("%s stand-in, %s format", e.Era(), e.Format())
	if pin := e.Versions()[jitsi.PkgJVB]; pin != "" {
		rec.note = fmt.Sprintf("%s stand-in (pinned %s), %s format", e.Era(), pin, e.Format())
	}
	v.Stop() // its CPU goes to the next row
}

// jmsRow: boot the row's JMS and a bridge issued for it (the same OS's
// bridge image when the matrix baked one); the JMS's prosody must take the
// bridge account (the checker logs in with the secret) and the bridge must
// log in and join the JMS's brewery, both reported active.
func (m *matrixRun) jmsRow(t *testing.T, rec *rowRecord, e matrixEntry, image string, jvbImages map[string]string) {
	t.Helper()
	jvbImage, jvbOS := jvbImages[e.OS], e.OS
	for _, o := range append([]string{ciOS}, osNames()...) {
		if jvbImage == "" && jvbImages[o] != "" {
			jvbImage, jvbOS = jvbImages[o], o
		}
	}
	if jvbImage == "" {
		if r, ok := clusterImage("jvb"); ok {
			jvbImage, jvbOS = r.image, ciOS
		} else {
			rec.fail(t, "bridge image", fmt.Errorf("no bridge image was baked in this run to log in to the JMS with"))
		}
	}
	rec.at(t, "issue")
	fqdn := "meet-" + strings.ReplaceAll(e.OS, ".", "-") + ".e2e.test"
	name := vmName("jms", e.OS)
	c := m.issueJMS(t, fqdn, name)
	nick := issuedNodes(t, m.issue(t, fqdn, "--role", "jvb", "--secret-file", c.secret, "--out", filepath.Join(m.nodesDir, name+"-jvb.yaml"), "--json"))[0]

	rec.at(t, "first boot of the JMS and a "+jvbOS+" bridge")
	start := time.Now()
	c.jms = m.bootJMS(t, c, image, name)
	v, _ := m.bootBridge(t, c, vmName("jvb", jvbOS)+"-"+nick, jvbImage, filepath.Join(m.nodesDir, name+"-jvb.yaml"))
	bootAll(t, 20*time.Minute, c.jms, v)
	prosody := prosodyVersion(t, c.jms)
	progress(t, "matrix %s: prosody %s", e, prosody)
	rec.at(t, "prosody takes the bridge account")
	m.joinBrewery(t, c, start)
	rec.at(t, "bridge "+nick+" joins")
	waitOccupantsFor(t, c.check, c.brewery, 5*time.Minute, nick+" in the brewery", func(o map[string]xmppc.Occupant) bool { _, in := o[nick]; return in })
	rec.row.BootS = seconds(time.Since(start))
	waitStatesIn(t, m.reg, fqdn, map[string]string{node.JMSNickname: "active", nick: "active"})
	rec.note = "prosody " + prosody + "; bridge " + jvbOS
	progress(t, "assertion ok: %s: %s's prosody (%s) took %s@%s and %s joined %s", e, fqdn, prosody, jitsi.BridgeUser, jitsi.AuthDomain(fqdn), nick, c.brewery)
}

// vmName is a guest's name and hostname: role-os without dots.
func vmName(role, osName string) string { return role + "-" + strings.ReplaceAll(osName, ".", "") }
