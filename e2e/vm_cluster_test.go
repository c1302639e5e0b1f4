package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
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

const clusterFQDN = "meet.e2e.test"

// TestVMCluster is the pipeline end to end: serve the registry (HTTPS),
// bake both role images with Packer and the plugin (qemu, TCG; the
// post-processor records them through the API), issue a JMS, bridges and an
// autoscaling group's user-data, boot them with that user-data — every guest
// on a network where 169.254.169.254 leads to a fake EC2 metadata service
// (TEST FIXTURE) of its own — and check what the node agent did: the cluster
// forms, group bridges advertise the public address the metadata gave, a
// package script's rewrite is undone on restart, a drain waits for a running
// conference, a node's credential cannot touch another node. Guests reach
// each other and the host only through the host's loopback.
func TestVMCluster(t *testing.T) {
	requireVM(t)
	pr := newPipelineRun(t, vm.MetadataNetwork)
	start, base, jitsiRepo, out, repo := pr.start, pr.base, pr.jitsiRepo, pr.out, pr.repo
	relay, key, network, api, reg := pr.relay, pr.key, pr.network, pr.api, pr.reg

	// --- bake (in the background: the images arrive on channels)
	var bakes map[string]<-chan bakeResult
	if prev := os.Getenv("E2E_REUSE_BAKE"); prev != "" {
		bakes = reuseBake(t, prev) // a development aid: boots an earlier run's images
	} else {
		bakes = startBakes(t, out, base, jitsiRepo, api, relay, repo.Port, key)
	}

	// --- issue, while the images bake. Nodes reach the registry through a
	// guestfwd, over HTTPS with the test's CA.
	nodeReg := []string{"--node-registry-url", api.guestURL, "--node-registry-ca", api.ca}
	nodesDir := filepath.Join(out, "nodes")
	if err := os.MkdirAll(nodesDir, 0o700); err != nil {
		t.Fatal(err)
	}
	issue := func(args ...string) string {
		return cli(t, append(append(append([]string{"issue", "--jms-fqdn", clusterFQDN}, args...), reg...), nodeReg...)...)
	}
	secret := filepath.Join(out, "jvb.secret")
	issue("--role", "jms", "--generate-secret", secret, "--out", filepath.Join(nodesDir, "jms.yaml"))
	issued := issuedNodes(t, issue("--role", "jvb", "--secret-file", secret, "--count", "2", "--out-dir", nodesDir, "--json"))
	if len(issued) != 2 || issued[0] == issued[1] {
		t.Fatalf("assertion: issue --count 2 gave nicknames %v, want two distinct ones", issued)
	}
	issue("--role", "jvb", "--secret-file", secret, "--group", "e2e-asg", "--max-size", "2", "--out", filepath.Join(nodesDir, "group.yaml"))
	// The registry notices a bridge issued with another secret than its JMS's.
	wrong := filepath.Join(out, "wrong.secret")
	if _, stderr, code := cliCode(t, append(append([]string{"issue", "--jms-fqdn", clusterFQDN, "--role", "jvb", "--generate-secret", wrong,
		"--out", filepath.Join(out, "refused.yaml")}, reg...), nodeReg...)...); code == 0 {
		t.Error("assertion: issue with a secret other than the JMS's was accepted without --new-secret")
	} else {
		progress(t, "issue with another secret refused as expected: %s", firstLineOf(stderr))
	}
	badNick := issuedNodes(t, issue("--role", "jvb", "--secret-file", wrong, "--new-secret", "--out", filepath.Join(nodesDir, "bad.yaml"), "--json"))[0]
	progress(t, "issued: jms, bridges %v, wrong-secret bridge %s, group e2e-asg (max 2)", issued, badNick)

	jvbBake, jmsBake := awaitBake(t, bakes["jvb"]), awaitBake(t, bakes["jms"])
	jvbImage, jmsImage := jvbBake.image, jmsBake.image
	shareClusterImages(jvbBake, jmsBake) // the matrix, in the same run, boots them too
	progress(t, "bake: both images after %s", time.Since(start).Round(time.Second))

	// --- boot
	jmsXMPP, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	guestJMS := network.IP(100)
	hosts := guestJMS + " " + clusterFQDN
	publicIPs := map[string]string{}
	var n byte
	boot := func(name, image, userData string, mem int, bridge bool, hfwd []vm.HostForward) *vm.VM {
		ud, err := os.ReadFile(userData)
		if err != nil {
			t.Fatal(err)
		}
		fwd := []vm.GuestForward{{GuestIP: network.IP(102), GuestPort: 443, HostPort: api.port}}
		var smbios []string
		hostsLine := ""
		if bridge {
			// Each bridge is an EC2 instance with a metadata service of its
			// own, and a public address the test knows.
			n++
			public := fmt.Sprintf("203.0.113.%d", 10+n)
			publicIPs[name] = public
			md, err := fakecloud.ServeMetadata(&fakecloud.FakeMetadata{Cloud: nat.EC2, PrivateIP: network.DHCPStart, PublicIP: public}, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { md.Close() })
			fwd = append(fwd,
				vm.GuestForward{GuestIP: guestJMS, GuestPort: 5222, HostPort: jmsXMPP},
				vm.GuestForward{GuestIP: vm.MetadataIP, GuestPort: 80, HostPort: portOf(t, md.URL)})
			smbios = vm.EC2SMBIOS(fmt.Sprintf("%012d", n))
			hostsLine = hosts
		}
		return bootVM(t, vm.Config{
			Name: name, Image: image, Dir: filepath.Join(out, "vm-"+name), MemoryMB: mem, Network: network, SMBIOS: smbios,
			UserData: ud, VendorData: vendorData(key.Public, hostsLine), InstanceID: "i-e2e-" + name, Hostname: name,
			SSHKey: key, SSHUser: "root", HostForwards: hfwd, GuestForwards: fwd, Relay: relay,
		})
	}
	bootStart := time.Now()
	jms := boot("jms", jmsImage, filepath.Join(nodesDir, "jms.yaml"), 1024, false, []vm.HostForward{{Host: jmsXMPP, Guest: 5222}})
	// The bridges boot once the JMS's first boot is done, as an operator
	// brings a cluster up: each bridge's login is done by Jitsi's libraries
	// in a JVM (the stand-in package), and five JVMs starting under qemu's
	// TCG on the host's two cores would starve the JMS's package
	// installation past the agent's 3-minute wait for the brewery.
	waitBooted(t, jms, 15*time.Minute)
	progress(t, "jms: first boot done after %s; booting the bridges", time.Since(bootStart).Round(time.Second))
	bridges := map[string]*vm.VM{}
	for _, nick := range issued {
		bridges[nick] = boot(nick, jvbImage, filepath.Join(nodesDir, nick+".yaml"), 512, true, nil)
	}
	bad := boot(badNick, jvbImage, filepath.Join(nodesDir, "bad.yaml"), 512, true, nil)
	group := []*vm.VM{
		boot("asg-1", jvbImage, filepath.Join(nodesDir, "group.yaml"), 512, true, nil),
		boot("asg-2", jvbImage, filepath.Join(nodesDir, "group.yaml"), 512, true, nil),
	}

	// The wrong-secret bridge's first boot ends in error: that is its point.
	badBooted := make(chan error, 1)
	go func() { badBooted <- booted(bad, 15*time.Minute, "done", "error") }()
	bootAll(t, 15*time.Minute, jms, bridges[issued[0]], bridges[issued[1]], group[0], group[1])
	if err := <-badBooted; err != nil {
		t.Fatal(err)
	}

	// --- the cluster formed
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secretValue := strings.TrimSpace(readFile(t, secret))
	check, err := xmppc.Dial(ctx, xmppc.Account{Host: "127.0.0.1", Port: jmsXMPP, Domain: "auth." + clusterFQDN, Username: "jvb", Password: secretValue, InsecureTLS: true})
	if err != nil {
		t.Fatalf("assertion jvb@auth.%s exists with the JMS's secret: %v (JMS serial log %s)", clusterFQDN, err, jms.Serial)
	}
	defer check.Close()
	brewery := "jvbbrewery@internal.auth." + clusterFQDN
	if err := check.Join(ctx, brewery, "e2e-checker", nil); err != nil {
		t.Fatal(err)
	}
	// The group's bridges claimed their nicknames at boot: the registry says which.
	var claimed []string
	for _, nd := range registryNodes(t, reg) {
		if nd.Group == "e2e-asg" && nd.State != "retired" {
			claimed = append(claimed, nd.Nickname)
		}
	}
	sort.Strings(claimed)
	if len(claimed) != 2 || claimed[0] == claimed[1] || slices.Contains(issued, claimed[0]) || slices.Contains(issued, claimed[1]) {
		t.Errorf("assertion: the group's two bridges claimed %v, want two nicknames of their own", claimed)
	}
	want := append(append([]string{"e2e-checker"}, issued...), claimed...)
	sort.Strings(want)
	occ := waitOccupantsFor(t, check, brewery, 3*time.Minute, "exactly the issued and claimed bridges "+strings.Join(want, ","), func(o map[string]xmppc.Occupant) bool {
		got := nicks(o)
		sort.Strings(got)
		return strings.Join(got, ",") == strings.Join(want, ",")
	})
	progress(t, "assertion ok: brewery %s holds %v, %s after the boots began", brewery, nicks(occ), time.Since(bootStart).Round(time.Second))

	// First boot reports to the registry: active (the JMS too), or failed
	// for the wrong secret.
	wantStates := map[string]string{badNick: "failed", node.JMSNickname: "active"}
	for _, nick := range append(append([]string(nil), issued...), claimed...) {
		wantStates[nick] = "active"
	}
	waitStates(t, reg, wantStates)
	// The bridge runs on (its MUC client retries, as the real one's does),
	// but the agent saw the refusal in its log and reported failed.
	if log := run(t, bad, time.Minute, "grep -c 'not-authorized' "+jitsi.JVBLogFile+" || true"); strings.TrimSpace(log) == "0" {
		t.Errorf("assertion wrong-secret bridge %s: no not-authorized in %s", badNick, jitsi.JVBLogFile)
	}
	if nd := nodeNamed(t, reg, badNick); !strings.Contains(nd.Reason, "refused the bridge's XMPP login") {
		t.Errorf("assertion wrong-secret bridge %s: registry reason %q, want the refused login", badNick, nd.Reason)
	}
	if _, in := check.Occupants(brewery)[badNick]; in {
		t.Errorf("assertion: the wrong-secret bridge %s is in the brewery", badNick)
	}

	// --- what the agent did on each bridge
	for _, v := range append([]*vm.VM{bridges[issued[0]], bridges[issued[1]]}, group...) {
		checkMapping(t, v, network.DHCPStart, publicIPs[v.Name()])
	}
	reportApplyTimes(t, append([]*vm.VM{bridges[issued[0]], bridges[issued[1]]}, group...)...)
	checkCredentialsScoped(t, api, bridges[issued[1]], group[0], nodesDir)
	checkPackageScriptUndone(t, bridges[issued[1]], issued[1], check, brewery)
	measureApply(t, bridges[issued[1]])
	checkDrainWaitsForConference(t, reg, bridges[issued[0]], issued[0], check, brewery)
	waitStates(t, reg, map[string]string{issued[0]: "retired", issued[1]: "active"})
	progress(t, "whole run %s", time.Since(start).Round(time.Second))
}

func waitOccupantsFor(t *testing.T, c *xmppc.Client, room string, limit time.Duration, what string, cond func(map[string]xmppc.Occupant) bool) map[string]xmppc.Occupant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	occ, err := c.WaitOccupants(ctx, room, cond)
	if err != nil {
		t.Fatalf("assertion brewery %s: %s: %v; occupants: %v", room, what, err, nicks(occ))
	}
	return occ
}

// reportApplyTimes prints the agent's own timing of each bridge's first
// boot: apply excluding the bridge's start (target ≤ 2 s), and the start.
func reportApplyTimes(t *testing.T, vms ...*vm.VM) {
	t.Helper()
	re := regexp.MustCompile(`jitsi-node: applied in ([0-9][0-9.hmµn]*s)[^\n]*`)
	for _, v := range vms {
		if m := re.FindStringSubmatch(v.SerialLog()); m != nil {
			progress(t, "agent: %s: %s", v.Name(), strings.TrimSpace(m[0]))
		} else {
			t.Errorf("assertion: %s's serial log has no \"jitsi-node: applied in\" line (%s)", v.Name(), v.Serial)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
