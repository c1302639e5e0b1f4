package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Apply configures the node from /etc/jitsi-node, on every boot: cloud-init
// runs it once (runcmd), then jitsi-node.service. It is idempotent: a run
// with nothing changed writes nothing and restarts nothing. It reports the
// node `active`, or `failed` with the reason, to the registry when the node
// has one, and records the outcome under /var/lib/jitsi-node.
func (a *Agent) Apply(ctx context.Context) error {
	began := a.clock.Now()
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if !a.fs.Exists(jitsi.RanState) {
		if _, err := a.fs.Write(system.File{Path: jitsi.RanState, Owner: jitsi.RootOwner, Mode: stateModePublic,
			Content: []byte("jitsi-node apply ran on this instance: " + jitsi.AgentUnit + " applies at every boot\n")}); err != nil {
			return err
		}
	}
	l, err := a.load(ctx)
	if err != nil {
		a.recordFailure(err)
		return err
	}
	img, err := a.loadImage(ctx, l.spec.Role)
	if err != nil {
		a.recordFailure(err)
		return err
	}
	if l.spec.Role == node.RoleJVB && a.fs.Exists(jitsi.DrainedState) {
		a.log.printf("this bridge was drained and retired (%s): not starting it; remove the file to start it again", jitsi.DrainedState)
		return nil
	}
	var prev applied
	if _, err := a.readJSON(jitsi.AppliedState, &prev); err != nil {
		a.log.printf("%v: applying from scratch", err)
		prev = applied{}
	}
	// Until a group bridge has claimed its identity it cannot report:
	// its group's token only claims.
	link := l.spec.Registry
	if l.spec.Group != "" {
		link = nil
	}
	if _, err := a.installUnits(ctx, true); err != nil {
		return a.fail(ctx, link, err)
	}
	var (
		state   applied
		started bool
		startUp time.Duration
	)
	switch l.spec.Role {
	case node.RoleJVB:
		var run bridgeRun
		err = a.applyBridge(ctx, l, prev, &run)
		state, started, startUp = run.state, run.started, run.start
		if run.link != nil {
			link = run.link
		}
	case node.RoleJMS:
		_, err = a.applyJMS(ctx, l, img, prev)
		state = applied{Role: node.RoleJMS, Nickname: node.JMSNickname, Config: l.digest, Agent: a.opts.Version}
	}
	if err == nil {
		err = a.applyFirewall(ctx, img, l.spec)
	}
	if err != nil {
		return a.fail(ctx, link, err)
	}
	if err := a.writeJSON(jitsi.AppliedState, stateModePublic, state); err != nil {
		return a.fail(ctx, link, err)
	}
	_ = a.fs.Remove(jitsi.FailedState)
	total := a.clock.Now().Sub(began)
	if started {
		a.log.printf("applied in %s (+ %s start %s)", round(total-startUp), jitsi.SvcJVB, round(startUp))
	} else {
		a.log.printf("applied in %s", round(total))
	}
	a.reportWith(ctx, link, regapi.StateActive, "")
	return nil
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// fail records err on the node and in the registry, and returns it.
func (a *Agent) fail(ctx context.Context, link *node.RegistryLink, err error) error {
	a.recordFailure(err)
	if link != nil {
		a.reportWith(ctx, link, regapi.StateFailed, err.Error())
	}
	return err
}

// recordFailure leaves the reason in FailedState (root 0644, redacted).
func (a *Agent) recordFailure(err error) {
	if errors.Is(err, errNoConfig) {
		return
	}
	msg := a.log.redact(err.Error())
	if _, werr := a.fs.Write(system.File{Path: jitsi.FailedState, Owner: jitsi.RootOwner, Mode: stateModePublic,
		Content: []byte("failed: " + msg + "\n")}); werr != nil {
		a.log.printf("record the failure: %v", werr)
	}
}

// installUnits writes the agent's units and enables jitsi-node.service;
// with systemd running it reloads it when a unit changed.
func (a *Agent) installUnits(ctx context.Context, reload bool) ([]string, error) {
	changed, err := a.writeFiles(jitsi.AgentUnits())
	if err != nil {
		return nil, err
	}
	link, target := jitsi.AgentUnitEnabled(jitsi.AgentUnit)
	if _, err := a.fs.Link(target, link); err != nil {
		return nil, err
	}
	if reload && len(changed) > 0 && a.sd.Running() {
		if err := a.sd.DaemonReload(ctx); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// lock keeps two changing runs (a manual apply during boot's) apart.
func (a *Agent) lock() (func(), error) {
	p := a.fs.Path(jitsi.LockFile)
	if err := os.MkdirAll(a.fs.Path(jitsi.StateDir), 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, stateModeSecret)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() { f.Close() }, nil
}
