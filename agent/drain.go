package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Drain takes a bridge out of service without dropping calls, within
// timeout (DrainTimeout when 0): it reports `draining`, stops new
// conferences and waits for the running ones to end — the REST drain
// where the bridge has it (stable 6865+) and its conference count; else the
// package's graceful_shutdown.sh (bounded here: it has no timeout); else a
// wait on the conference count alone — then the bridge leaves the brewery
// (it is stopped) and the node reports `retired`.
//
// onShutdown is the ExecStop of jitsi-node-drain.service: systemd stops the
// bridge right after, so it is not stopped here; and a reboot reports
// `draining` only, so the node comes back `active`.
func (a *Agent) Drain(ctx context.Context, timeout time.Duration, onShutdown bool) error {
	if timeout <= 0 {
		timeout = a.opts.DrainTimeout
	}
	l, err := a.load(ctx)
	if errors.Is(err, errNoConfig) && onShutdown {
		return nil
	}
	if err != nil {
		return err
	}
	if l.spec.Role != node.RoleJVB {
		return fmt.Errorf("drain: this node is a %s: only bridges drain", l.spec.Role)
	}
	link := a.reportLink(l.spec)
	down := ""
	if onShutdown {
		down = a.sd.ShuttingDownFor(ctx)
	}
	a.reportWith(ctx, link, regapi.StateDraining, "drain: "+orDefault(down, "scale-in"))
	deadline := a.clock.Now().Add(timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	switch code, _, err := a.call(ctx, http.MethodPost, jitsi.DrainEnablePath, ""); {
	case err != nil:
		a.log.printf("drain: the bridge does not answer (%v): no conference to wait for", err)
	case code == http.StatusOK:
		a.log.printf("drain: no new conferences on this bridge")
		a.waitConferences(ctx, deadline)
	case code == http.StatusNotFound && a.gracefulShutdown(ctx):
		// The script waited for the participants and the bridge's exit.
	default:
		a.log.printf("drain: no REST drain (HTTP %d): waiting on the conference count", code)
		a.waitConferences(ctx, deadline)
	}

	if down == "reboot" {
		a.log.printf("drain: rebooting: the node stays in the registry and comes back active")
		return nil
	}
	if !onShutdown || down == "" {
		// Leave the brewery and stay down: a later boot does not start it.
		if err := a.sd.Disable(context.WithoutCancel(ctx), jitsi.SvcJVB+".service", true); err != nil {
			a.log.printf("drain: stop %s: %v", jitsi.SvcJVB, err)
		}
		if _, err := a.fs.Write(system.File{Path: jitsi.DrainedState, Owner: jitsi.RootOwner, Mode: stateModePublic, Content: []byte("drained\n")}); err != nil {
			a.log.printf("drain: %v", err)
		}
	}
	a.reportWith(context.WithoutCancel(ctx), link, regapi.StateRetired, "drained")
	a.log.printf("drain: done")
	return nil
}

// reportLink is how the node reports: a group bridge with its claimed
// credential, any other with the one in its secrets.
func (a *Agent) reportLink(s node.Spec) *node.RegistryLink {
	if s.Registry == nil {
		return nil
	}
	if s.Group == "" {
		return s.Registry
	}
	var id identity
	if ok, _ := a.readJSON(jitsi.IdentityState, &id); !ok {
		a.log.printf("drain: no claimed identity: the registry is not told")
		return nil
	}
	a.log.secret(id.Credential)
	return &node.RegistryLink{URL: s.Registry.URL, CA: s.Registry.CA, Credential: id.Credential}
}

// waitConferences polls the bridge's conference count until it is 0, the
// bridge stops answering, or the deadline.
func (a *Agent) waitConferences(ctx context.Context, deadline time.Time) {
	for {
		n, err := a.conferences(ctx)
		switch {
		case err != nil:
			a.log.printf("drain: conference count unavailable (%v): not waiting", err)
			return
		case n == 0:
			a.log.printf("drain: no conference left")
			return
		}
		if !a.clock.Now().Add(a.opts.DrainPoll).Before(deadline) {
			a.log.printf("drain: %d conference(s) still running at the end of the drain bound: leaving anyway", n)
			return
		}
		a.log.printf("drain: %d conference(s) still running", n)
		if a.clock.Sleep(ctx, a.opts.DrainPoll) != nil {
			return
		}
	}
}

// conferences reads the count from /colibri/stats.
func (a *Agent) conferences(ctx context.Context) (int, error) {
	code, body, err := a.get(ctx, jitsi.StatsPath)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d", code)
	}
	var stats map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &stats); err != nil {
		return 0, fmt.Errorf("stats: %v", err)
	}
	var n int
	if err := json.Unmarshal(stats[jitsi.StatsConferences], &n); err != nil {
		return 0, fmt.Errorf("stats have no %q count", jitsi.StatsConferences)
	}
	return n, nil
}

// gracefulShutdown runs the package's script under ctx's bound, when it and
// what it runs are there; it reports whether it did the job.
func (a *Agent) gracefulShutdown(ctx context.Context) bool {
	if !a.fs.Exists(jitsi.GracefulShutdownScript) {
		return false
	}
	for _, p := range jitsi.GracefulShutdownNeeds {
		if _, err := a.run.LookPath(p); err != nil {
			a.log.printf("drain: %s needs %s, which is missing", jitsi.GracefulShutdownScript, p)
			return false
		}
	}
	a.log.printf("drain: graceful shutdown with %s", jitsi.GracefulShutdownScript)
	if _, err := a.run.Run(ctx, system.Cmd{Name: a.fs.Path(jitsi.GracefulShutdownScript)}); err != nil {
		a.log.printf("drain: %s: %v", jitsi.GracefulShutdownScript, err)
		return false
	}
	return true
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
