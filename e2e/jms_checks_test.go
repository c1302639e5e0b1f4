package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/vm"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/xmppc"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// jmsClient is how a client reaches the JMS's XMPP server: its own domain,
// through the 5222 forward.
func jmsClient(g *vm.VM, fqdn string) xmppc.Account {
	return xmppc.Account{Host: "127.0.0.1", Port: g.Forwards[jitsi.XMPPPort], Domain: fqdn, InsecureTLS: true}
}

// checkWebServer: GET https://<fqdn>/ through the 443 forward answers the
// Jitsi Meet page from the variant's web server, with a self-signed
// certificate for the FQDN made on this node (not in the image).
func checkWebServer(t *testing.T, g *vm.VM, v jmsVariant) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", g.Forwards[443])
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: &tls.Config{ServerName: v.fqdn, InsecureSkipVerify: true}, // #nosec G402 -- the JMS's self-signed certificate, checked below
	}}
	resp, err := client.Get("https://" + v.fqdn + "/")
	if err != nil {
		t.Fatalf("assertion %s serves https://%s/ on 443: %v (serial log %s)", v.web, v.fqdn, err, g.Serial)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	server := map[jitsi.WebServer]string{jitsi.WebNginx: "nginx", jitsi.WebApache: "Apache"}[v.web]
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "stand-in jitsi-meet-web package") ||
		!strings.HasPrefix(resp.Header.Get("Server"), server) {
		t.Errorf("assertion %s serves the Jitsi Meet page: %s, Server %q, body %.120q", v.web, resp.Status, resp.Header.Get("Server"), body)
	}
	cert := resp.TLS.PeerCertificates[0]
	if cert.Subject.CommonName != v.fqdn || cert.Issuer.String() != cert.Subject.String() || time.Since(cert.NotBefore) > 2*time.Hour {
		t.Errorf("assertion the certificate is the node's own self-signed one for %s: subject %s, issuer %s, not before %s",
			v.fqdn, cert.Subject, cert.Issuer, cert.NotBefore)
	}
	progress(t, "assertion ok: %s serves %s on 443 (Server %s, self-signed for %s)", v.web, v.fqdn, resp.Header.Get("Server"), cert.Subject.CommonName)
}

// checkTURNListens: coturn runs and listens on 3478/udp and 5349/tcp, and
// the JMS's services are active.
func checkTURNListens(t *testing.T, g *vm.VM) {
	t.Helper()
	out := run(t, g, time.Minute, fmt.Sprintf(`echo "udp $(ss -Hlnu 'sport = :%d' | wc -l) tcp $(ss -Hlnt 'sport = :%d' | wc -l)"
for s in coturn prosody jicofo nginx apache2; do printf '%%s=%%s ' "$s" "$(systemctl is-active "$s" 2>/dev/null || true)"; done`, jitsi.TurnPort, jitsi.TurnsPort))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], " 0") || !strings.Contains(lines[1], "coturn=active ") ||
		!strings.Contains(lines[1], "prosody=active ") || !strings.Contains(lines[1], "jicofo=active ") {
		t.Errorf("assertion coturn listens on %d/udp and %d/tcp, services active: %q (serial log %s)", jitsi.TurnPort, jitsi.TurnsPort, out, g.Serial)
		return
	}
	progress(t, "assertion ok: %s: sockets on 3478/udp and 5349/tcp (%s); %s", g.Name(), lines[0], lines[1])
}

// checkTurnSecretKept: the node's TURN secret is root-only; coturn's and
// prosody's copies are readable by their group only; no world-readable
// file under the places configuration, caches and logs live holds it
// (debconf's databases included); the serial console (kernel, cloud-init
// and every service's journal) never shows it.
func checkTurnSecretKept(t *testing.T, g *vm.VM) {
	t.Helper()
	fqdn := strings.TrimSpace(run(t, g, time.Minute, "sed -n 's/^jms_fqdn: //p' "+jitsi.NodeConfig))
	out := run(t, g, 5*time.Minute, fmt.Sprintf(`set -eu
f=%s
stat -c '%%n %%a %%U:%%G' "$f" %s %s %s/%s.key
find /etc /var /root /home /tmp /run /usr/local /srv /opt -xdev -type f -perm -o=r -size -20M -print0 2>/dev/null |
	xargs -0 grep -lF -f "$f" 2>/dev/null | sed 's/^/world-readable: /' || true`,
		jitsi.TurnSecretState, jitsi.TurnServerConfig, jitsi.ProsodyHostConfig(fqdn), jitsi.CoturnCertDir, fqdn))
	for _, want := range []string{
		jitsi.TurnSecretState + " 600 root:root", jitsi.TurnServerConfig + " 640 root:turnserver",
		jitsi.ProsodyHostConfig(fqdn) + " 640 root:prosody", jitsi.CoturnCertDir + "/" + fqdn + ".key 640 root:turnserver",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("assertion %s: want %q in:\n%s", g.Name(), want, out)
		}
	}
	if strings.Contains(out, "world-readable: ") {
		t.Errorf("assertion %s: world-readable files hold the TURN secret:\n%s", g.Name(), out)
	}
	secret := strings.TrimSpace(run(t, g, time.Minute, "cat "+jitsi.TurnSecretState))
	if jitsi.TurnSecretProblem(secret) != "" || strings.Contains(g.SerialLog(), secret) {
		t.Errorf("assertion %s: the TURN secret is well-formed and not in the serial log (%s)", g.Name(), g.Serial)
	}
	progress(t, "assertion ok: %s: TURN secret root-only, copies group-only, in no world-readable file or log", g.Name())
}

// checkJMSActive: the JMS reported itself active to the registry.
func checkJMSActive(t *testing.T, reg []string, fqdn string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		states := nodeStates(t, cli(t, append([]string{"nodes", "--shard", fqdn, "--json"}, reg...)...))
		if states["jms"] == "active" {
			progress(t, "assertion ok: registry: jms of %s active", fqdn)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("assertion registry: jms of %s is %q, want active", fqdn, states["jms"])
		}
		time.Sleep(3 * time.Second)
	}
}

// checkFirewall: first boot found no ufw and said so; with ufw installed, an
// apply adds the rules (5222 from the bridges' network only) and a second
// adds none; once ufw is enabled (SSH allowed first, as an operator
// would), web and TURN still answer and 5222 is closed to the harness,
// whose connections come from qemu's 10.0.2.2.
func checkFirewall(t *testing.T, g *vm.VM, v jmsVariant, turns xmppc.Service) {
	t.Helper()
	if !strings.Contains(g.SerialLog(), "jitsi-node: firewall: ufw is not installed: no rules written") {
		t.Errorf("assertion first boot without ufw says it wrote no rules (%s)", g.Serial)
	}
	out := run(t, g, 10*time.Minute, `set -eu
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q ufw >/dev/null
`+jitsi.AgentBinary+` apply 2>&1
echo ---
`+jitsi.AgentBinary+` apply 2>&1
echo ---
ufw show added`)
	parts := strings.Split(out, "---\n")
	added := "ufw rules added: 80/tcp, 443/tcp, 5222/tcp from " + v.bridgeNetwork + ", 3478/udp, 5349/tcp"
	if len(parts) != 3 || !strings.Contains(parts[0], added) || !strings.Contains(parts[0], "ufw is not active") ||
		!strings.Contains(parts[1], "ufw already has the rules") {
		t.Fatalf("assertion apply with ufw present adds the rules once:\n%s", out)
	}
	for _, rule := range []string{"ufw allow 80/tcp", "ufw allow 443/tcp", "ufw allow 3478/udp", "ufw allow 5349/tcp"} {
		if !strings.Contains(parts[2], rule) {
			t.Errorf("assertion ufw has %q:\n%s", rule, parts[2])
		}
	}
	// `ufw show added` prints a rule in its own order (ufw 0.36: "allow from
	// NET to any port 5222 proto tcp"), whatever order it was added in.
	xmppRule := regexp.MustCompile(`(?m)^ufw allow (proto tcp from ` + regexp.QuoteMeta(v.bridgeNetwork) + ` to any port 5222|from ` +
		regexp.QuoteMeta(v.bridgeNetwork) + ` to any port 5222 proto tcp)\b`)
	if !xmppRule.MatchString(parts[2]) {
		t.Errorf("assertion ufw allows 5222/tcp from %s:\n%s", v.bridgeNetwork, parts[2])
	}
	if strings.Contains(parts[2], "ufw allow 5222") {
		t.Errorf("assertion 5222 is open to the bridges' network only:\n%s", parts[2])
	}
	progress(t, "assertion ok: %s: ufw rules added by apply, none added again:\n%s", g.Name(), strings.TrimSpace(parts[2]))

	status := run(t, g, 2*time.Minute, "ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null && ufw status")
	if !strings.Contains(status, "Status: active") || !strings.Contains(status, "5222/tcp") || !strings.Contains(status, v.bridgeNetwork) {
		t.Fatalf("assertion ufw enabled with the rules:\n%s", status)
	}
	checkWebServer(t, g, v)
	checkAllocation(t, "TURN over TLS with ufw enabled", dialTLS(fmt.Sprintf("127.0.0.1:%d", g.Forwards[jitsi.TurnsPort]), v.fqdn), turns)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := xmppc.Dial(ctx, jmsClient(g, v.fqdn)); err == nil {
		c.Close()
		t.Errorf("assertion with ufw enabled, 5222 is closed to 10.0.2.2 (outside %s): a client logged in", v.bridgeNetwork)
	} else {
		progress(t, "assertion ok: with ufw enabled, 5222 refuses the harness: %v", err)
	}
}
