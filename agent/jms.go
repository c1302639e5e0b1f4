package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// aptEnv makes apt and debconf ask nothing.
var aptEnv = []string{"DEBIAN_FRONTEND=noninteractive"}

// applyJMS configures a JMS: debconf answers first (the packages' postinsts
// read the FQDN and secrets from there), the Jitsi packages from the
// image's apt cache, its own self-signed certificate, coturn with the
// node's TURN secret, the bridge account's password, then its services.
// Restarts happen when the config, the packages or the TURN server
// changed; otherwise the services are only started.
func (a *Agent) applyJMS(ctx context.Context, l loaded, img nodeconfig.Image, prev applied) ([]string, error) {
	s := l.spec
	web := img.WebServer
	var changed []string
	if prev.Config != l.digest {
		changed = append(changed, "node config")
	}
	turnSecret, made, err := a.turnSecret()
	if err != nil {
		return changed, err
	}
	if made {
		changed = append(changed, "TURN secret")
	}
	if _, err := a.run.Run(ctx, system.Cmd{Name: "debconf-set-selections", Stdin: jitsi.DebconfSeed(s)}); err != nil {
		return changed, fmt.Errorf("preseed debconf: %w", err)
	}
	var missing []string
	for _, p := range jitsi.JMSPackages(web) {
		if !a.installed(ctx, p) {
			missing = append(missing, p)
		}
	}
	if !a.fs.Exists(jitsi.SnakeoilState) {
		if _, err := a.run.LookPath(jitsi.SnakeoilRenew[0]); err == nil {
			if _, err := a.run.Run(ctx, system.Cmd{Name: jitsi.SnakeoilRenew[0], Args: jitsi.SnakeoilRenew[1:]}); err != nil {
				return changed, fmt.Errorf("renew the self-signed certificate: %w", err)
			}
			if _, err := a.fs.Write(system.File{Path: jitsi.SnakeoilState, Owner: jitsi.RootOwner, Mode: stateModePublic}); err != nil {
				return changed, err
			}
			changed = append(changed, "self-signed certificate")
		}
	}
	if len(missing) > 0 {
		// As on a plain install, prosody runs while jitsi-meet-prosody
		// configures: its postinst restarts it and registers the focus and
		// jvb accounts through it (prosody 13's prosodyctl needs the
		// running server; a disabled service is not started by invoke-rc.d).
		if a.sd.Running() && a.sd.UnitExists(ctx, jitsi.SvcProsody+".service") {
			if err := a.service(ctx, jitsi.SvcProsody+".service", false); err != nil {
				return changed, err
			}
		}
		if err := a.installJMS(ctx, s, web, missing, turnSecret); err != nil {
			return changed, err
		}
		changed = append(changed, "packages")
	}
	turn, err := a.applyTurn(ctx, s, turnSecret)
	if err != nil {
		return changed, err
	}
	changed = append(changed, turn...)
	if !a.sd.Running() {
		a.log.printf("systemd is not running: packages configured, services not started")
		return changed, nil
	}
	restart := len(changed) > 0
	for _, step := range JMSUnitSteps(s, web) {
		if step.IfPresent && !a.sd.UnitExists(ctx, step.Unit) {
			continue
		}
		switch step.Action {
		case UnitRun:
			if err := a.service(ctx, step.Unit, restart); err != nil {
				return changed, err
			}
		case UnitStop:
			if err := a.sd.Disable(ctx, step.Unit, true); err != nil {
				return changed, err
			}
			a.log.printf("local bridge stopped and disabled: bridges join %s", jitsi.BreweryJID(s.JMSFQDN))
		}
		// The bridge account is set on the running prosody.
		if step.Unit == jitsi.SvcProsody+".service" && (restart || !a.fs.Exists(jitsi.AppliedState)) {
			if err := a.setBridgeAccount(ctx, s); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// installJMS installs the cached Jitsi packages with the TURN secret in
// debconf for their postinsts, and takes it out of debconf again whatever
// the install's outcome.
func (a *Agent) installJMS(ctx context.Context, s node.Spec, web jitsi.WebServer, missing []string, turnSecret string) (err error) {
	if _, err := a.run.Run(ctx, system.Cmd{Name: "debconf-set-selections", Stdin: jitsi.TurnSecretSeed(turnSecret)}); err != nil {
		return fmt.Errorf("preseed debconf: %w", err)
	}
	defer func() {
		if ferr := a.forgetDebconfTurnSecret(ctx, turnSecret); ferr != nil && err == nil {
			err = ferr
		}
	}()
	a.log.printf("installing %s for %s (web server %s)", strings.Join(missing, " "), s.JMSFQDN, web)
	args := append([]string{"install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=600"}, missing...)
	if _, err := a.run.Run(ctx, system.Cmd{Name: "apt-get", Args: args, Env: aptEnv}); err != nil {
		return fmt.Errorf("install %s: %w", strings.Join(missing, " "), err)
	}
	return nil
}

// service enables unit and restarts it (or only starts it).
func (a *Agent) service(ctx context.Context, unit string, restart bool) error {
	if err := a.sd.Enable(ctx, unit, false); err != nil {
		return err
	}
	if restart {
		return a.sd.Restart(ctx, unit)
	}
	return a.sd.Start(ctx, unit)
}

// setBridgeAccount makes jvb@auth.<fqdn>'s password the secret: prosodyctl
// passwd, or adduser for a new account, the password twice on stdin.
// Prosody ≥ 13 does both through the running server, which may still be
// starting: that is retried for a while.
func (a *Agent) setBridgeAccount(ctx context.Context, s node.Spec) error {
	jid := jitsi.BridgeAccount(s.JMSFQDN)
	stdin := []byte(s.Secret + "\n" + s.Secret + "\n")
	deadline := a.clock.Now().Add(30 * time.Second)
	// prosodyctl ≥ 13 prints its connection error on stdout.
	notRunning := func(out []byte, err error) bool {
		return err != nil && (strings.Contains(string(out), jitsi.ProsodyNotRunning) || strings.Contains(err.Error(), jitsi.ProsodyNotRunning))
	}
	for {
		verb := "passwd"
		out, err := a.run.Run(ctx, system.Cmd{Name: jitsi.ProsodyCtl, Args: []string{verb, jid}, Stdin: stdin})
		if err != nil && !notRunning(out, err) {
			verb = "adduser"
			out, err = a.run.Run(ctx, system.Cmd{Name: jitsi.ProsodyCtl, Args: []string{verb, jid}, Stdin: stdin})
		}
		if err == nil {
			a.log.printf("bridge account %s: %s done", jid, verb)
			return nil
		}
		if !notRunning(out, err) || !a.clock.Now().Before(deadline) {
			return fmt.Errorf("set the password of %s with prosodyctl %s: %v %s", jid, verb, a.log.redact(err.Error()),
				a.log.redact(lastLines(string(out), 2)))
		}
		if err := a.clock.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}
