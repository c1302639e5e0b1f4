package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// TestBakeInstallsTheImageConfig: `bake --image-config` checks the
// provisioner's file, installs it (root 0644) where apply reads it, and
// refuses a JMS image whose web server is missing or has a rival that
// jitsi-meet-web-config would configure instead.
func TestBakeInstallsTheImageConfig(t *testing.T) {
	const staged = "/tmp/packer-jitsi/image.yaml"
	jms := "version: 1\nrole: jms\nweb_server: apache\nfirewall:\n  tool: ufw\n  bridge_networks: [10.0.0.0/16]\n"
	for _, tc := range []struct {
		name, content string
		installed     []string
		err           string
	}{
		{"apache", jms, []string{"apache2"}, ""},
		{"bridge", "version: 1\nrole: jvb\n", nil, ""},
		{"no apache", jms, []string{"nginx"}, "the image is for apache but apache2 is not installed"},
		{"both", jms, []string{"apache2", "nginx"}, "nginx is installed too: jitsi-meet-web-config would configure nginx"},
		{"bad", "version: 1\nrole: jms\nweb_server: lighttpd\nfirewall:\n  tool: nft\n  bridge_networks: [10.0.0.1/16]\n", nil,
			`web_server: "lighttpd" is not one of nginx, apache` + "\n" + `image.yaml: firewall.tool: "nft" is not "ufw"` + "\n" +
				`image.yaml: firewall.bridge_networks[0]: "10.0.0.1/16" has host bits set: write 10.0.0.0/16`},
		{"newer", "version: 2\nrole: jms\n", nil, "image.yaml version 2 is newer than this agent (knows 1)"},
		{"unknown field", "version: 1\nrole: jms\nweb_server: nginx\nturn: off\n", nil, "field turn not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, nat.Unknown)
			n.write(staged, tc.content, 0o600)
			n.run.handler = func(c system.Cmd) ([]byte, error) {
				if c.Name == "dpkg-query" {
					for _, p := range tc.installed {
						if c.Args[len(c.Args)-1] == p {
							return []byte("install ok installed"), nil
						}
					}
					return []byte("unknown ok not-installed"), errors.New("exit status 1")
				}
				return nil, nil
			}
			err := n.agent().Bake(context.Background(), staged)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("bake: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("bake: %v\n%s", err, n.log)
			}
			got := n.read(jitsi.ImageConfig)
			if !strings.HasPrefix(got, "# What packer-plugin-jitsi baked") || !strings.Contains(got, "\nrole: ") {
				t.Errorf("image.yaml:\n%s", got)
			}
			if mode, _, _ := n.stat(jitsi.ImageConfig); mode != 0o644 {
				t.Errorf("image.yaml mode %o", mode)
			}
		})
	}
}
