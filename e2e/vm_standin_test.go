package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
)

// Where a bridge guest sees the JMS's XMPP port: a guestfwd to the host's
// hostfwd into the JMS guest.
const guestJMSIP = "10.0.2.100"

// TestVMStandinPackages installs the stand-in Jitsi packages (test fixtures)
// from their signed repository on real Debian guests, by hand as an operator
// of the seed procedure would, and checks the cluster forms across VMs that
// reach each other only through the host's loopback: a JMS (jitsi-meet with
// Apache, prosody, jicofo), a bridge that joins the JMS's brewery, and a
// bridge with a wrong secret that fails visibly. The pipeline (bake, issue,
// first boot) is tested on the same footing by TestVMCluster.
func TestVMStandinPackages(t *testing.T) {
	requireVM(t)
	base, jitsiRepo := baseImage(t), fixtureRepo(t)
	out := outDir(t)
	repo := repoServer(t, base, jitsiRepo)
	key, err := vm.NewSSHKey(out)
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := os.ReadFile(filepath.Join(jitsiRepo, "jitsi-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	const fqdn, secret = "meet.e2e.test", "vm-secret-#1=ok"
	jitsiSource := []ciFile{
		{Path: "/usr/share/keyrings/jitsi-keyring.gpg", Content: base64.StdEncoding.EncodeToString(keyring), Encoding: "b64"},
		{Path: "/etc/apt/sources.list.d/jitsi.list", Content: "deb [signed-by=/usr/share/keyrings/jitsi-keyring.gpg] http://10.0.2.101/jitsi stable/\n"},
	}
	image := filepath.Join(base, "disk.qcow2")

	jmsXMPP, err := vm.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	jmsUD := cloudConfig{
		Hostname: "meet", FQDN: fqdn, SSHAuthorizedKeys: []string{key.Public},
		WriteFiles: append(jitsiSource, ciFile{Path: "/root/jms.seed", Permissions: "0600", Content: fmt.Sprintf(
			"jitsi-videobridge2 jitsi-videobridge/jvb-hostname string %s\njitsi-meet-prosody jitsi-videobridge/jvbsecret password %s\njitsi-meet-web-config jitsi-meet/cert-choice select Generate a new self-signed certificate\n", fqdn, secret)}),
		RunCmd: [][]string{{"bash", "-euxc", strings.Join([]string{
			"apt-get update -q",
			"DEBIAN_FRONTEND=noninteractive apt-get install -y -q apache2",
			"debconf-set-selections /root/jms.seed",
			"DEBIAN_FRONTEND=noninteractive apt-get install -y -q jitsi-meet",
			"systemctl disable --now jitsi-videobridge2",
		}, "; ")}},
	}
	jms := bootVM(t, vm.Config{
		Name: "jms", Image: image, Dir: filepath.Join(out, "jms"), MemoryMB: 1024,
		UserData: jmsUD.render(t), InstanceID: "e2e-jms", Hostname: "meet", SSHKey: key,
		HostForwards:  []vm.HostForward{{Host: jmsXMPP, Guest: 5222}},
		GuestForwards: []vm.GuestForward{repo.GuestForward()},
	})

	bridge := func(name, password string) *vm.VM {
		ud := cloudConfig{
			Hostname: name, SSHAuthorizedKeys: []string{key.Public},
			WriteFiles: append(jitsiSource,
				ciFile{Path: "/root/jvb.seed", Permissions: "0600", Content: fmt.Sprintf("jitsi-videobridge2 jitsi-videobridge/jvb-hostname string %s\n", fqdn)},
				ciFile{Path: "/root/jvb.conf", Permissions: "0600", Content: fmt.Sprintf(`videobridge {
  apis.xmpp-client.configs.shard {
    hostname = %q, port = 5222, domain = "auth.%s", username = jvb, password = %q
    muc_jids = "jvbbrewery@internal.auth.%s", muc_nickname = %q
    disable_certificate_verification = true
  }
  apis.rest.enabled = true
  rest.shutdown.enabled = true
}
`, fqdn, fqdn, password, fqdn, name)}),
			RunCmd: [][]string{{"bash", "-euxc", strings.Join([]string{
				"echo '" + guestJMSIP + " " + fqdn + "' >> /etc/hosts",
				"apt-get update -q",
				"debconf-set-selections /root/jvb.seed",
				"DEBIAN_FRONTEND=noninteractive apt-get install -y -q jitsi-videobridge2",
				// What the pipeline's first boot does: this node's shard, no legacy keys.
				"install -o jvb -g jitsi -m 0640 /root/jvb.conf /etc/jitsi/videobridge/jvb.conf",
				"sed -i '/^org\\.jitsi\\.videobridge\\.xmpp\\.user\\./d' /etc/jitsi/videobridge/sip-communicator.properties",
				"systemctl restart jitsi-videobridge2",
			}, "; ")}},
		}
		return bootVM(t, vm.Config{
			Name: name, Image: image, Dir: filepath.Join(out, name), MemoryMB: 512,
			UserData: ud.render(t), InstanceID: "e2e-" + name, Hostname: name, SSHKey: key,
			GuestForwards: []vm.GuestForward{repo.GuestForward(), {GuestIP: guestJMSIP, GuestPort: 5222, HostPort: jmsXMPP}},
		})
	}
	good := bridge("jvb-vm-1", secret)
	bad := bridge("jvb-vm-bad", "wrong-"+secret)

	bootAll(t, 12*time.Minute, jms, good, bad)

	// The host's checker logs in to the JMS through its hostfwd, as jvb: the
	// account exists with the secret the JMS was installed with.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check, err := xmppc.Dial(ctx, xmppc.Account{Host: "127.0.0.1", Port: jmsXMPP, Domain: "auth." + fqdn, Username: "jvb", Password: secret, InsecureTLS: true})
	if err != nil {
		t.Fatalf("jvb@auth.%s cannot log in to the JMS: %v", fqdn, err)
	}
	defer check.Close()
	brewery := "jvbbrewery@internal.auth." + fqdn
	if err := check.Join(ctx, brewery, "e2e-checker", nil); err != nil {
		t.Fatal(err)
	}
	occ := waitOccupants(t, check, brewery, "jvb-vm-1", hasNick("jvb-vm-1"))
	progress(t, "brewery %s: %v", brewery, nicks(occ))
	if _, in := occ["jvb-vm-bad"]; in {
		t.Error("the bridge with a wrong secret is in the brewery")
	}

	// The bad bridge may still be retrying a JMS that came up late: give it
	// a bounded while to reach the failed state.
	got := run(t, bad, 3*time.Minute, `for i in $(seq 90); do systemctl is-failed -q jitsi-videobridge2 && break; sleep 2; done
systemctl is-failed jitsi-videobridge2 || true; journalctl -u jitsi-videobridge2 --no-pager | grep -m1 'SASL not-authorized' || true`)
	if !strings.HasPrefix(got, "failed") || !strings.Contains(got, "SASL not-authorized") {
		t.Errorf("wrong secret: want the unit failed and SASL not-authorized in its journal, got:\n%s", got)
	}

	// Scale-in: the packaged graceful_shutdown.sh drains the bridge out of the
	// brewery and the unit stays stopped.
	run(t, good, 2*time.Minute, "/usr/share/jitsi-videobridge/graceful_shutdown.sh -t 60")
	waitOccupants(t, check, brewery, "jvb-vm-1 to leave", func(o map[string]xmppc.Occupant) bool { _, in := o["jvb-vm-1"]; return !in })
	if got := run(t, good, time.Minute, "systemctl is-active jitsi-videobridge2 || true"); !strings.HasPrefix(got, "inactive") {
		t.Errorf("after graceful shutdown the unit is %q, want inactive", strings.TrimSpace(got))
	}
}
