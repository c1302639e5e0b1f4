package agent

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// Bake prepares an image, as root on the machine being baked (the Packer
// provisioner runs it once the role's packages are installed): it removes
// the per-node identity the Jitsi packages wrote at install (the shard, its
// secret, a random nickname every clone would share; debconf's copy of the
// secret), checks none is left under /etc/jitsi, removes any agent state,
// installs the image config the provisioner made (imageConfig, a path on
// the machine; "" for none) and the agent's units with jitsi-node.service
// enabled (the drain unit is enabled by apply, on bridges).
func (a *Agent) Bake(ctx context.Context, imageConfig string) error {
	for _, p := range jitsi.IdentityFiles {
		content, err := a.fs.ReadFile(p)
		if err != nil {
			continue // the role does not have it (a JMS's bridge is only cached)
		}
		clean, changed := jitsi.ScrubIdentity(p, content)
		if !changed {
			continue
		}
		owner, mode, err := a.fs.Stat(p)
		if err != nil {
			return fmt.Errorf("bake: %w", err)
		}
		if _, err := a.fs.Write(system.File{Path: p, Owner: owner, Mode: mode, Content: clean}); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
		a.log.printf("bake: removed the per-node identity from %s", p)
	}
	if err := a.resetDebconfSecret(ctx); err != nil {
		return err
	}
	if left := a.identityLeft(); len(left) > 0 {
		return fmt.Errorf("bake: per-node identity left in: %s", strings.Join(left, ", "))
	}
	for _, p := range []string{jitsi.NodeDir, jitsi.StateDir} {
		if err := a.fs.Remove(p); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
	}
	if imageConfig != "" {
		img, err := a.installImage(imageConfig)
		if err != nil {
			return fmt.Errorf("bake: %w", err)
		}
		if err := a.checkWebServer(ctx, img); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
		a.log.printf("bake: %s: %s", jitsi.ImageConfig, describeImage(img))
	}
	if _, err := a.installUnits(ctx, false); err != nil {
		return fmt.Errorf("bake: %w", err)
	}
	if a.fs.Exists(jitsi.JVBConfigDir) {
		// A videobridge image: its drop-in is the same on every node.
		if _, err := a.writeFiles([]jitsi.File{jitsi.JVBDropInFile()}); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
	}
	if a.sd.Running() {
		if err := a.sd.DaemonReload(ctx); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
	}
	a.log.printf("bake: no per-node identity; %s installed and enabled, %s installed", jitsi.AgentUnit, jitsi.DrainUnit)
	return nil
}

// checkWebServer: a JMS image has its web server and not the other one,
// which jitsi-meet-web-config would configure instead (nginx wins when both
// are there).
func (a *Agent) checkWebServer(ctx context.Context, img nodeconfig.Image) error {
	if img.Role != node.RoleJMS {
		return nil
	}
	if !a.installed(ctx, img.WebServer.Package()) {
		return fmt.Errorf("the image is for %s but %s is not installed", img.WebServer, img.WebServer.Package())
	}
	for _, other := range jitsi.WebServers {
		if other != img.WebServer && a.installed(ctx, other.Package()) {
			return fmt.Errorf("the image is for %s but %s is installed too: jitsi-meet-web-config would configure %s; bake on an image without it",
				img.WebServer, other.Package(), jitsi.WebNginx)
		}
	}
	return nil
}

// resetDebconfSecret forgets debconf's copy of the bridge secret.
func (a *Agent) resetDebconfSecret(ctx context.Context) error {
	if _, err := a.run.LookPath("debconf-communicate"); err != nil {
		return nil // no debconf: nothing kept there
	}
	shown, _ := a.run.Run(ctx, system.Cmd{Name: "debconf-show", Args: []string{jitsi.PkgJVB}})
	if !strings.Contains(string(shown), jitsi.QJVBSecret) {
		return nil
	}
	comm := func(cmd string) (string, error) {
		out, err := a.run.Run(ctx, system.Cmd{Name: "debconf-communicate", Args: []string{jitsi.PkgJVB}, Stdin: []byte(cmd + "\n")})
		return strings.TrimSpace(string(out)), err
	}
	if _, err := comm("RESET " + jitsi.QJVBSecret); err != nil {
		return fmt.Errorf("bake: reset debconf %s: %w", jitsi.QJVBSecret, err)
	}
	// "0" (or "0 " and nothing): the value is empty now.
	if left, _ := comm("GET " + jitsi.QJVBSecret); strings.TrimSpace(strings.TrimPrefix(left, "0")) != "" {
		return fmt.Errorf("bake: debconf still holds %s", jitsi.QJVBSecret)
	}
	a.log.printf("bake: debconf's %s reset", jitsi.QJVBSecret)
	return nil
}

// identityLeft lists files under /etc/jitsi that still hold an identity.
func (a *Agent) identityLeft() []string {
	var left []string
	root := a.fs.Path(jitsi.JitsiConfigDir)
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && jitsi.HasIdentity(data) {
			rel, _ := filepath.Rel(a.fs.Root, p)
			left = append(left, "/"+rel)
		}
		return nil
	})
	return left
}
