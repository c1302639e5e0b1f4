package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
)

const clusterFQDN = "meet.e2e.test"

// bakeProgress picks Packer's lines worth a progress line.
var bakeProgress = regexp.MustCompile(`jitsi: |jitsi-registry: |Build '|Waiting for SSH|Connected to SSH|Gracefully halting|[Ee]rror`)

// TestVMCluster is the pipeline end to end: bake both role images with
// Packer and the plugin (qemu, TCG), issue a JMS and bridges from the
// embedded registry, boot them with that user-data, and check the cluster
// forms through the host's loopback only.
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
	reg := []string{"--registry", api.url, "--token-file", api.operatorToken}
	nodeReg := []string{"--node-registry-url", "http://" + guestRegistryIP, "--node-token-file", api.nodeToken}
	secret := writeSecret(t, filepath.Join(out, "jvb.secret"), "e2e#Secret=1:"+fmt.Sprint(time.Now().UnixNano()))
	wrong := writeSecret(t, filepath.Join(out, "wrong.secret"), "not-the-jms-secret")
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
		if n != "jms" && n != badNick && !slices.Contains(issued, n) && st != "retired" {
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

	// First boot reports to the registry: active, or failed for the wrong secret.
	wantStates := map[string]string{badNick: "failed"}
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

// bakeResult is one role's baked image, or why there is none.
type bakeResult struct {
	image string
	err   error
}

// startBakes bakes the JVB and JMS images with two Packer runs at once and
// returns a channel per role that gets its qcow2 path.
func startBakes(t *testing.T, out, base, jitsiRepo, registryDir string, relay []string, repoPort int, key *vm.SSHKey) map[string]<-chan bakeResult {
	t.Helper()
	baseDir := filepath.Join(out, "base-images")
	if err := os.MkdirAll(baseDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "disk.qcow2"), filepath.Join(baseDir, "debian-12.qcow2")); err != nil {
		t.Fatal(err)
	}
	pk := newPackerEnv(t, filepath.Join(out, "packer"))
	netdev := fmt.Sprintf(",restrict=on,guestfwd=tcp:%s:%d-cmd:%s 127.0.0.1:%d", vm.GuestRepoIP, vm.GuestRepoPort, strings.Join(relay, " "), repoPort)
	output := filepath.Join(out, "output")
	t.Cleanup(func() {
		// Baked images are large: kept when the test fails or E2E_KEEP_IMAGES=1
		// (for E2E_REUSE_BAKE), removed otherwise.
		if !t.Failed() && os.Getenv("E2E_KEEP_IMAGES") != "1" {
			_ = os.RemoveAll(output)
		}
	})
	chans := map[string]<-chan bakeResult{}
	for _, role := range []string{"jvb", "jms"} {
		ch := make(chan bakeResult, 1)
		chans[role] = ch
		go func() {
			start := time.Now()
			err := pk.run(t, "build-"+role, 40*time.Minute, bakeProgress, "build", "-color=false", "-timestamp-ui", "-only="+role+".*",
				"-var", "os=debian-12", "-var", "base_image_dir="+baseDir, "-var", "output_dir="+output,
				"-var", "ssh_private_key_file="+key.Private, "-var", "ssh_public_key="+key.Public,
				"-var", "apt_repo_url=http://"+vm.GuestRepoIP+"/jitsi", "-var", "apt_key_file="+filepath.Join(jitsiRepo, "jitsi-key.gpg.key"),
				"-var", "registry_dir="+registryDir, "-var", "qemu_netdev_extra="+netdev,
				"-var", "cpus=1", "-var", "memory=1024",
				filepath.Join(repoRoot(), "images"))
			image := filepath.Join(output, role+"-"+"debian-12", role+"-debian-12.qcow2")
			if err == nil {
				_, err = os.Stat(image)
			}
			if err == nil {
				progress(t, "bake: %s image in %s", role, time.Since(start).Round(time.Second))
				// Kept for E2E_REUSE_BAKE.
				if cerr := exec.Command("cp", "-a", registryDir, filepath.Join(out, "registry-baked-"+role)).Run(); cerr != nil {
					progress(t, "bake: could not keep a copy of the registry: %v", cerr)
				}
			}
			ch <- bakeResult{image: image, err: err}
		}()
	}
	return chans
}

// awaitBake waits for one role's bake and fails the test if it failed.
func awaitBake(t *testing.T, ch <-chan bakeResult) string {
	t.Helper()
	r := <-ch
	if r.err != nil {
		t.Fatalf("assertion bake: %v", r.err)
	}
	return r.image
}

// reuseBake takes the images of an earlier TestVMCluster output folder
// (E2E_REUSE_BAKE) instead of baking; the registry starts empty.
func reuseBake(t *testing.T, prev, registryDir string) map[string]<-chan bakeResult {
	t.Helper()
	chans := map[string]<-chan bakeResult{}
	for _, role := range []string{"jvb", "jms"} {
		p := filepath.Join(prev, "output", role+"-debian-12", role+"-debian-12.qcow2")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("E2E_REUSE_BAKE: no %s image: %v", role, err)
		}
		ch := make(chan bakeResult, 1)
		ch <- bakeResult{image: p}
		chans[role] = ch
	}
	progress(t, "reusing the images baked in %s", prev)
	return chans
}

// issuedNodes reads `issue --json` output: the nicknames, in order.
func issuedNodes(t *testing.T, out string) []string {
	t.Helper()
	var nodes []struct {
		Nickname string `json:"nickname"`
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		var one struct {
			Nickname string `json:"nickname"`
		}
		if err1 := json.Unmarshal([]byte(out), &one); err1 != nil || one.Nickname == "" {
			t.Fatalf("issue --json printed %q: %v", out, err)
		}
		return []string{one.Nickname}
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Nickname)
	}
	return names
}

// nodeStates reads `nodes --json`: nickname → state.
func nodeStates(t *testing.T, out string) map[string]string {
	t.Helper()
	var nodes []struct {
		Nickname string `json:"nickname"`
		State    string `json:"state"`
		Updated  string `json:"updated"`
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		t.Fatalf("nodes --json printed %q: %v", out, err)
	}
	states := map[string]string{}
	for _, n := range nodes {
		// A retired nickname can be issued again: the latest row wins.
		if states[n.Nickname] == "" || n.State != "retired" {
			states[n.Nickname] = n.State
		}
	}
	return states
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

// guestRegistryIP is where guests see the registry API (a guestfwd to the
// `registry serve` the test runs on 127.0.0.1).
const guestRegistryIP = "10.0.2.102"

// registryAPI is a `registry serve` run by the test.
type registryAPI struct {
	url, operatorToken, nodeToken string
	port                          int
}

// startRegistry runs `packer-plugin-jitsi registry serve` on dataDir with its
// API on 127.0.0.1 (plain HTTP: loopback only) and stops it by PID at the end.
func startRegistry(t *testing.T, out, dataDir string) registryAPI {
	t.Helper()
	port, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The bakes' post-processor made dataDir an embedded registry, whose node
	// keeps the address it was given for life: serve it there.
	raftAddr := ""
	if b, err := os.ReadFile(filepath.Join(dataDir, "raft-address")); err == nil {
		raftAddr = strings.TrimSpace(string(b))
	} else {
		p, err := vm.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		raftAddr = fmt.Sprintf("127.0.0.1:%d", p)
	}
	api := registryAPI{url: fmt.Sprintf("http://127.0.0.1:%d", port), port: port,
		operatorToken: writeSecret(t, filepath.Join(out, "operator.token"), randomToken(t)),
		nodeToken:     writeSecret(t, filepath.Join(out, "node.token"), randomToken(t))}
	logf, err := os.Create(filepath.Join(out, "registry-serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pluginBin(t), "registry", "serve", "--data-dir", dataDir,
		"--address", raftAddr, "--api-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--operator-token-file", api.operatorToken, "--node-token-file", api.nodeToken)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start registry serve: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("registry serve exited: see %s", filepath.Join(out, "registry-serve.log"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry serve: no API on %s after a minute (log %s)", api.url, filepath.Join(out, "registry-serve.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	progress(t, "registry: serving %s on %s (API %s)", dataDir, raftAddr, api.url)
	return api
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitStates polls `nodes --json` until every named node is in its wanted
// state (bounded) and returns the last states seen.
func waitStates(t *testing.T, reg []string, want map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		states := nodeStates(t, cli(t, append([]string{"nodes", "--shard", clusterFQDN, "--json"}, reg...)...))
		var wrong []string
		for n, w := range want {
			if states[n] != w {
				wrong = append(wrong, fmt.Sprintf("%s is %q, want %q", n, states[n], w))
			}
		}
		if len(wrong) == 0 {
			progress(t, "assertion ok: registry states %v", want)
			return states
		}
		if time.Now().After(deadline) {
			sort.Strings(wrong)
			t.Fatalf("assertion registry states: %s (all: %v)", strings.Join(wrong, "; "), states)
		}
		time.Sleep(3 * time.Second)
	}
}
