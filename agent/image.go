package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// loadImage reads image.yaml, what the bake decided for every node of the
// image, and checks it against the node's role. An image baked without one
// gets what its packages show: the web server jitsi-meet-web-config would
// configure (nginx when installed, as its postinst decides), no firewall.
func (a *Agent) loadImage(ctx context.Context, role node.Role) (nodeconfig.Image, error) {
	data, err := a.fs.ReadFile(jitsi.ImageConfig)
	if errors.Is(err, fs.ErrNotExist) {
		img := nodeconfig.Image{Version: nodeconfig.ImageVersion, Role: role}
		if role == node.RoleJMS {
			img.WebServer = jitsi.WebApache
			if a.installed(ctx, jitsi.PkgNginx) {
				img.WebServer = jitsi.WebNginx
			}
		}
		a.log.printf("no %s (an image baked without one): %s", jitsi.ImageConfig, describeImage(img))
		return img, nil
	}
	if err != nil {
		return nodeconfig.Image{}, fmt.Errorf("read image config: %w", err)
	}
	img, err := nodeconfig.ParseImage(data)
	if err != nil {
		return nodeconfig.Image{}, fmt.Errorf("%s: %w", jitsi.ImageConfig, err)
	}
	if img.Role != role {
		return nodeconfig.Image{}, fmt.Errorf("%s: this is a %s image but %s makes the node a %s: boot a %s image with this user-data",
			jitsi.ImageConfig, img.Role, jitsi.NodeConfig, role, role)
	}
	return img, nil
}

// installImage checks the image config the provisioner uploaded and makes
// it the image's (root 0644: it holds no secret).
func (a *Agent) installImage(path string) (nodeconfig.Image, error) {
	data, err := a.fs.ReadFile(path)
	if err != nil {
		return nodeconfig.Image{}, fmt.Errorf("read image config: %w", err)
	}
	img, err := nodeconfig.ParseImage(data)
	if err != nil {
		return nodeconfig.Image{}, fmt.Errorf("%s: %w", path, err)
	}
	canonical, err := img.Marshal()
	if err != nil {
		return nodeconfig.Image{}, err
	}
	if _, err := a.fs.Write(system.File{Path: jitsi.ImageConfig, Owner: jitsi.RootOwner, Mode: 0o644, Content: canonical}); err != nil {
		return nodeconfig.Image{}, err
	}
	return img, nil
}

// installed reports whether the Debian package p is installed.
func (a *Agent) installed(ctx context.Context, p string) bool {
	out, _ := a.run.Run(ctx, system.Cmd{Name: "dpkg-query", Args: []string{"-W", "-f=${Status}", p}})
	return strings.TrimSpace(string(out)) == "install ok installed"
}

// describeImage is the image config in a log line.
func describeImage(img nodeconfig.Image) string {
	var parts []string
	parts = append(parts, string(img.Role)+" image")
	if img.WebServer != "" {
		parts = append(parts, "web server "+string(img.WebServer))
	}
	if f := img.Firewall; f != nil {
		fw := "firewall " + f.Tool
		if len(f.BridgeNetworks) > 0 {
			fw += " (bridges from " + strings.Join(f.BridgeNetworks, ", ") + ")"
		}
		parts = append(parts, fw)
	} else {
		parts = append(parts, "no firewall rules")
	}
	return strings.Join(parts, ", ")
}
