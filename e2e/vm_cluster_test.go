package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

const clusterFQDN = "meet.e2e.test"

// TestVMCluster is the pipeline end to end: bake both role images with
// Packer and the plugin (qemu, TCG), serve the registry the post-processor
// wrote, issue a JMS, bridges and an autoscaling group's user-data through
// its API, boot them with that user-data, and check the cluster forms and
// reports itself — guests reaching each other and the host only through the
// host's loopback.
func TestVMCluster(t *testing.T) {
	requireVM(t)
	start := time.Now()
	base, jitsiRepo := baseImage(t), fixtureRepo(t)
	out := outDir(t)
	repo := repoServer(t, base, jitsiRepo)
	relay, err := vm.RelayCommand()
	if err != nil {
		t.Fatal(err)
	}
	key, err := vm.NewSSHKey(out)
	if err != nil {
		t.Fatal(err)
	}
	registryDir := filepath.Join(out, "registry")

	// --- bake (in the background: the images arrive on channels)
	var bakes map[string]<-chan bakeResult
	if prev := os.Getenv("E2E_REUSE_BAKE"); prev != "" {
		// A development aid: boot the images (and registry) an earlier run baked.
		bakes = reuseBake(t, prev, registryDir)
	} else {
		bakes = startBakes(t, out, base, jitsiRepo, registryDir, relay, repo.Port, key)
	}

	// Everything boots together once both images exist: a bridge's first
	// boot waits (bounded, 180 s) for its login to the JMS, as in production
	// where the JMS is up first.
	jvbImage, jmsImage := awaitBake(t, bakes["jvb"]), awaitBake(t, bakes["jms"])
	progress(t, "bake: both images after %s", time.Since(start).Round(time.Second))

	// --- registry API, then issue. The API serves the data dir the bakes'
	// post-processor wrote; nodes reach it through a guestfwd.
	api := startRegistry(t, out, registryDir)
	reg := []string{"--registry", api.url, "--token-file", api.operatorToken, "--registry-ca", api.ca}
	nodeReg := []string{"--node-registry-url", "https://" + guestRegistryIP + ":80", "--node-registry-ca", api.ca}
	secret := writeSecret(t, filepath.Join(out, "jvb.secret"), "e2e#Secret=1:"+fmt.Sprint(time.Now().UnixNano()))
	wrong := writeSecret(t, filepath.Join(out, "wrong.secret"), "not-the-jms-secret:"+fmt.Sprint(time.Now().UnixNano()))
	nodesDir := filepath.Join(out, "nodes")
	if err := os.MkdirAll(nodesDir, 0o700); err != nil {
		t.Fatal(err)
	}
	issue := func(args ...string) string {
		return cli(t, append(append(append([]string{"issue", "--jms-fqdn", clusterFQDN}, args...), reg...), nodeReg...)...)
	}
	issue("--role", "jms", "--secret-file", secret, "--out", filepath.Join(nodesDir, "jms.yaml"))
	issued := issuedNodes(t, issue("--role", "jvb", "--secret-file", secret, "--count", "2", "--out-dir", nodesDir, "--json"))
	if len(issued) != 2 || issued[0] == issued[1] {
		t.Fatalf("assertion: issue --count 2 gave nicknames %v, want two distinct ones", issued)
	}
	// The registry notices a bridge issued with another secret than its JMS's.
	if _, stderr, code := cliCode(t, append(append([]string{"issue", "--jms-fqdn", clusterFQDN, "--role", "jvb", "--secret-file", wrong,
		"--out", filepath.Join(out, "refused.yaml")}, reg...), nodeReg...)...); code == 0 {
		t.Error("assertion: issue with a secret other than the JMS's was accepted without --new-secret")
	} else {
		progress(t, "issue with another secret refused as expected: %s", firstLineOf(stderr))
	}
	badNick := issuedNodes(t, issue("--role", "jvb", "--secret-file", wrong, "--new-secret", "--out", filepath.Join(nodesDir, "bad.yaml"), "--json"))[0]
	// One user-data for an autoscaling group: each bridge claims its nickname at boot.
	issue("--role", "jvb", "--secret-file", secret, "--group", "e2e-asg", "--out", filepath.Join(nodesDir, "group.yaml"))
	progress(t, "issued: jms, bridges %v, wrong-secret bridge %s, group e2e-asg", issued, badNick)

	// --- boot
	jmsXMPP, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	boot := func(name, image, userData string, mem int, fwd []vm.GuestForward, hosts string, hfwd []vm.HostForward) *vm.VM {
		ud, err := os.ReadFile(userData)
		if err != nil {
			t.Fatal(err)
		}
		return bootVM(t, vm.Config{
			Name: name, Image: image, Dir: filepath.Join(out, "vm-"+name), MemoryMB: mem,
			UserData: ud, VendorData: vendorData(key.Public, hosts), InstanceID: "e2e-" + name, Hostname: name,
			SSHKey: key, SSHUser: "root", HostForwards: hfwd,
			GuestForwards: append([]vm.GuestForward{repo.GuestForward(), {GuestIP: guestRegistryIP, GuestPort: 80, HostPort: api.port}}, fwd...),
			Relay:         relay,
		})
	}
	toJMS := []vm.GuestForward{{GuestIP: guestJMSIP, GuestPort: 5222, HostPort: jmsXMPP}}
	hosts := guestJMSIP + " " + clusterFQDN
	bootStart := time.Now()
	jms := boot("jms", jmsImage, filepath.Join(nodesDir, "jms.yaml"), 1024, nil, "", []vm.HostForward{{Host: jmsXMPP, Guest: 5222}})
	bridges := map[string]*vm.VM{}
	for _, n := range issued {
		bridges[n] = boot(n, jvbImage, filepath.Join(nodesDir, n+".yaml"), 512, toJMS, hosts, nil)
	}
	bad := boot(badNick, jvbImage, filepath.Join(nodesDir, "bad.yaml"), 512, toJMS, hosts, nil)
	group := []*vm.VM{
		boot("asg-1", jvbImage, filepath.Join(nodesDir, "group.yaml"), 512, toJMS, hosts, nil),
		boot("asg-2", jvbImage, filepath.Join(nodesDir, "group.yaml"), 512, toJMS, hosts, nil),
	}

	// The wrong-secret bridge's first boot may end in error: that is its point.
	badBooted := make(chan error, 1)
	go func() { badBooted <- booted(bad, 15*time.Minute, "done", "error") }()
	bootAll(t, 15*time.Minute, jms, bridges[issued[0]], bridges[issued[1]], group[0], group[1])
	if err := <-badBooted; err != nil {
		t.Fatal(err)
	}

	// --- assertions
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
	var groupNicks []string
	for n, st := range nodeStates(t, cli(t, append([]string{"nodes", "--shard", clusterFQDN, "--json"}, reg...)...)) {
		if n != node.JMSNickname && n != badNick && !slices.Contains(issued, n) && st != "retired" {
			groupNicks = append(groupNicks, n)
		}
	}
	if len(groupNicks) != 2 {
		t.Errorf("assertion: the group's two bridges claimed %v, want two nicknames", groupNicks)
	}
	want := append(append([]string{"e2e-checker"}, issued...), groupNicks...)
	sort.Strings(want)
	occ := waitOccupantsFor(t, check, brewery, 3*time.Minute, "exactly the issued and claimed bridges "+strings.Join(want, ","), func(o map[string]xmppc.Occupant) bool {
		got := nicks(o)
		sort.Strings(got)
		return strings.Join(got, ",") == strings.Join(want, ",")
	})
	progress(t, "assertion ok: brewery %s holds %v, %s after the boots began", brewery, nicks(occ), time.Since(bootStart).Round(time.Second))

	// First boot reports to the registry: active (the JMS too, under the
	// name it was recorded with), or failed for the wrong secret.
	wantStates := map[string]string{badNick: "failed", node.JMSNickname: "active"}
	for _, n := range append(append([]string(nil), issued...), groupNicks...) {
		wantStates[n] = "active"
	}
	waitStates(t, reg, wantStates)

	failed := run(t, bad, 3*time.Minute, `for i in $(seq 90); do systemctl is-failed -q jitsi-videobridge2 && break; sleep 2; done
systemctl is-failed jitsi-videobridge2 || true`)
	if !strings.HasPrefix(failed, "failed") || !strings.Contains(bad.SerialLog(), "SASL not-authorized") {
		t.Errorf("assertion wrong-secret bridge %s ends failed with SASL not-authorized in its log: unit %q (serial log %s)", badNick, strings.TrimSpace(failed), bad.Serial)
	}
	if _, in := check.Occupants(brewery)[badNick]; in {
		t.Errorf("assertion: the wrong-secret bridge %s is in the brewery", badNick)
	}

	// Scale-in: the node drains itself (jitsi-node-apply --drain, as an
	// autoscaling lifecycle hook would run it): it leaves the brewery and
	// reports itself retired.
	gone := issued[0]
	run(t, bridges[gone], 3*time.Minute, "jitsi-node-apply --drain")
	waitOccupantsFor(t, check, brewery, time.Minute, gone+" to leave", func(o map[string]xmppc.Occupant) bool { _, in := o[gone]; return !in })
	states := waitStates(t, reg, map[string]string{gone: "retired", issued[1]: "active"})
	progress(t, "registry: %v; whole run %s", states, time.Since(start).Round(time.Second))
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
