package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// jmsVariant is one JMS image of TestVMJMS.
type jmsVariant struct {
	name string
	web  jitsi.WebServer
	fqdn string
	// vars are the Packer variables of its bake beyond the common ones.
	vars []string
	// bridgeNetwork is firewall_bridge_networks' one entry, when the image
	// asks for ufw rules.
	bridgeNetwork string
}

// jmsVariants: nginx (the default) without firewall settings; Apache with
// ufw rules and 5222 open to a network the harness is not in (TEST-NET-1).
var jmsVariants = []jmsVariant{
	{name: "nginx", web: jitsi.WebNginx, fqdn: "meet-nginx.e2e.test"},
	{name: "apache-ufw", web: jitsi.WebApache, fqdn: "meet-apache.e2e.test", bridgeNetwork: "192.0.2.0/24",
		vars: []string{"jms_web_server=apache", "firewall=ufw", `firewall_bridge_networks=["192.0.2.0/24"]`}},
}

// TestVMJMS bakes a JMS image for each web server with Packer and the plugin
// (both at once), issues each a JMS user-data through the registry, boots
// both and checks what a client of the JMS meets: its web server serves the
// site on 443 with the node's own self-signed certificate; coturn listens on
// 3478/udp and 5349/tcp; prosody advertises the TURN server to an anonymous
// client (XEP-0215) with credentials that allocate a relay over TLS (a
// small TURN client over the 5349 forward) while a wrong password is
// refused; the TURN secret is in no world-readable file and never in the
// logs; the registry shows the JMS active. The firewall variant boots
// without ufw (the agent says it wrote no rules), gets ufw, re-applies and
// has the rules; once ufw is enabled, HTTPS and TURN still answer and 5222
// is closed to the harness.
func TestVMJMS(t *testing.T) {
	requireVM(t)
	pr := newPipelineRun(t, vm.DefaultNetwork)
	start, base, jitsiRepo, out, repo := pr.start, pr.base, pr.jitsiRepo, pr.out, pr.repo
	relay, key, network, api, reg := pr.relay, pr.key, pr.network, pr.api, pr.reg

	bakes := map[string]<-chan bakeResult{}
	for _, v := range jmsVariants {
		bakes[v.name] = bakeJMS(t, out, base, jitsiRepo, api, relay, repo.Port, key, v)
	}
	nodesDir := filepath.Join(out, "nodes")
	if err := os.MkdirAll(nodesDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, v := range jmsVariants {
		cli(t, append([]string{"issue", "--role", "jms", "--jms-fqdn", v.fqdn,
			"--generate-secret", filepath.Join(out, v.name+".secret"), "--out", filepath.Join(nodesDir, v.name+".yaml"),
			"--node-registry-url", api.guestURL, "--node-registry-ca", api.ca}, reg...)...)
	}
	images := map[string]string{}
	for _, v := range jmsVariants {
		images[v.name] = awaitBake(t, bakes[v.name]).image
	}
	progress(t, "bake: both JMS images after %s", time.Since(start).Round(time.Second))

	bootStart := time.Now()
	var vms []*vm.VM
	for _, v := range jmsVariants {
		ud, err := os.ReadFile(filepath.Join(nodesDir, v.name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		vms = append(vms, bootVM(t, vm.Config{
			Name: "jms-" + v.name, Image: images[v.name], Dir: filepath.Join(out, "vm-jms-"+v.name), MemoryMB: 1024, Network: network,
			UserData: ud, VendorData: vendorData(key.Public, ""), InstanceID: "i-e2e-jms-" + v.name, Hostname: "jms-" + v.name,
			SSHKey: key, SSHUser: "root", Relay: relay,
			HostForwards:  []vm.HostForward{{Guest: 443}, {Guest: jitsi.XMPPPort}, {Guest: jitsi.TurnsPort}},
			GuestForwards: []vm.GuestForward{{GuestIP: network.IP(102), GuestPort: 443, HostPort: api.port}, repo.GuestForward()},
		}))
	}
	bootAll(t, 15*time.Minute, vms...)
	progress(t, "boot: both JMSs through first boot in %s", time.Since(bootStart).Round(time.Second))
	reportApplyTimes(t, vms...)

	for i, v := range jmsVariants {
		t.Run(v.name, func(t *testing.T) {
			g := vms[i]
			checkWebServer(t, g, v)
			checkTURNListens(t, g)
			turn, turns := advertisedTURN(t, jmsClient(g, v.fqdn))
			checkAllocation(t, "TURN over TLS on "+v.name, dialTLS(fmt.Sprintf("127.0.0.1:%d", g.Forwards[jitsi.TurnsPort]), v.fqdn), turns)
			checkUDPAllocationInGuest(t, "TURN over UDP on "+v.name, g, turn)
			checkTurnSecretKept(t, g)
			checkJMSActive(t, reg, v.fqdn)
			if v.bridgeNetwork != "" {
				checkFirewall(t, g, v, turns)
			} else if strings.Contains(g.SerialLog(), "jitsi-node: firewall") {
				t.Errorf("assertion an image without firewall settings writes no rules: %s", g.Serial)
			}
		})
	}
	progress(t, "whole run %s", time.Since(start).Round(time.Second))
}

// bakeJMS bakes one JMS variant with Packer (images/, -only=jms.*) in the
// background; the channel gets its qcow2.
func bakeJMS(t *testing.T, out, base, jitsiRepo string, api registryAPI, relay []string, repoPort int, key *vm.SSHKey, v jmsVariant) <-chan bakeResult {
	t.Helper()
	b := newBaker(t, filepath.Join(out, "bake-"+v.name), jitsiRepo, api, relay, key)
	ch := make(chan bakeResult, 1)
	go func() {
		image, took, err := b.bake(t, bakeJob{Role: "jms", OS: "debian-12", Base: base, RepoPort: repoPort, Vars: v.vars, Label: v.name})
		ch <- bakeResult{image: image, took: took, err: err}
	}()
	return ch
}
