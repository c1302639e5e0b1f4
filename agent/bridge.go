package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// bridgeRun is what applying a bridge found and did.
type bridgeRun struct {
	state   applied
	link    *node.RegistryLink // how the node reports (its own credential)
	changed []string
	started bool
	start   time.Duration // restart → healthy
}

// applyBridge claims the group identity, resolves the NAT mapping, writes
// the bridge's files from the role model, (re)starts it when something
// changed and waits for its health.
func (a *Agent) applyBridge(ctx context.Context, l loaded, prev applied, run *bridgeRun) error {
	s := l.spec
	run.state = applied{Role: s.Role, Nickname: s.Nickname, Config: l.digest, Agent: a.opts.Version}
	if s.Group == "" {
		run.link = s.Registry
	} else {
		id, err := a.groupIdentity(ctx, s)
		if err != nil {
			return err
		}
		run.state.Nickname = id.Nickname
		run.link = &node.RegistryLink{URL: s.Registry.URL, CA: s.Registry.CA, Credential: id.Credential}
		if a.sd.Running() {
			if err := a.sd.SetHostname(ctx, id.Nickname); err != nil {
				a.log.printf("hostname: %v", err)
			}
		}
	}
	if err := a.resolveNAT(ctx, s, prev, &run.state); err != nil {
		return err
	}
	files, err := jitsi.BridgeFiles(s, run.state.boot())
	if err != nil {
		return err
	}
	changed, err := a.writeFiles(files)
	if err != nil {
		return err
	}
	run.changed = append(run.changed, changed...)
	// Before any start: the bridge's ExecStartPre (apply --check) rewrites
	// its files from this record, so it must already be this run's.
	if err := a.writeJSON(jitsi.AppliedState, stateModePublic, run.state); err != nil {
		return err
	}
	if !a.sd.Running() {
		a.log.printf("systemd is not running: files written, %s not started", jitsi.SvcJVB)
		return nil
	}
	if slices.Contains(run.changed, jitsi.JVBDropIn) {
		if err := a.sd.DaemonReload(ctx); err != nil {
			return err
		}
	}
	for _, step := range BridgeUnitSteps() {
		switch step.Action {
		case UnitRun:
			if err := a.sd.Enable(ctx, step.Unit, false); err != nil {
				return err
			}
			since := a.clock.Now()
			logFrom := a.fs.Size(jitsi.JVBLogFile) // what the bridge logs from now on is this start's
			// A bridge that runs and keeps its files is not started again:
			// it joined its breweries before, and logs no new join.
			rooms := breweries(s)
			if len(run.changed) == 0 && a.sd.IsActive(ctx, step.Unit) {
				rooms = nil
			}
			if len(run.changed) > 0 {
				a.log.printf("restarting %s: %s changed", jitsi.SvcJVB, strings.Join(run.changed, ", "))
				err = a.sd.Restart(ctx, step.Unit)
			} else {
				err = a.sd.Start(ctx, step.Unit)
			}
			if err != nil {
				return fmt.Errorf("start %s: %w", jitsi.SvcJVB, err)
			}
			if err := a.waitHealthy(ctx, since, logFrom, rooms); err != nil {
				return err
			}
			run.started, run.start = true, a.clock.Now().Sub(since)
		case UnitEnableNow:
			// Drain before the bridge stops (scale-in, shutdown): from now on.
			if err := a.sd.Enable(ctx, step.Unit, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveNAT fills the NAT mapping of st from the spec's mode.
func (a *Agent) resolveNAT(ctx context.Context, s node.Spec, prev applied, st *applied) error {
	plan := PlanNAT(s)
	switch plan.Mode {
	case node.NATNone:
		return nil
	case node.NATStatic:
		st.PublicAddress, st.NATSource = plan.Public, "static"
		if plan.Local != "" {
			st.LocalAddress = plan.Local
			return nil
		}
		local, err := a.opts.NAT.RouteSourceOrDefault()()
		if err != nil {
			return fmt.Errorf("find this node's local address for the NAT mapping (give --local-ip when issuing): %w", err)
		}
		st.LocalAddress = local.String()
		return nil
	}
	stun := plan.STUN
	r, err := a.nat(ctx, a.opts.NAT, stun)
	if err != nil {
		return fmt.Errorf("find the public address: %w", err)
	}
	switch {
	case r.Mapped():
		st.LocalAddress, st.PublicAddress, st.NATSource = r.Local.String(), r.Public.String(), r.Source
		a.log.printf("NAT: %s maps to %s (%s)", st.LocalAddress, st.PublicAddress, r.Source)
	case r.Public.IsValid():
		st.NATSource = r.Source
		a.log.printf("NAT: this node holds its public address %s itself: no mapping needed", r.Public)
	case prev.PublicAddress != "" && prev.NATSource != "static":
		st.LocalAddress, st.PublicAddress, st.NATSource = prev.LocalAddress, prev.PublicAddress, prev.NATSource
		a.log.printf("NAT: no public address found this boot (%s); keeping last boot's %s → %s", r.Summary(), st.LocalAddress, st.PublicAddress)
	default:
		return fmt.Errorf("no public address found (%s): give the bridge's address when issuing (--public-ip), "+
			"or --nat none for a private-only deployment", r.Summary())
	}
	st.AWSHarvester = r.Cloud == nat.EC2
	return nil
}

// writeFiles writes each file that differs and returns what changed.
func (a *Agent) writeFiles(files []jitsi.File) ([]string, error) {
	var changed []string
	for _, f := range files {
		d, err := a.fs.Write(system.File{Path: f.Path, Owner: f.Owner, Mode: f.Mode, Content: f.Content})
		if err != nil {
			return changed, err
		}
		if d.Changed() {
			changed = append(changed, f.Path)
		}
	}
	return changed, nil
}

// waitHealthy waits, bounded, for the bridge to be healthy (its health
// endpoint: about addresses) AND in every brewery it serves (jicoco's
// "Joined MUC" line in its log: the XMPP login worked). A refused XMPP login
// (the secret is not the JMS's) or a failed unit ends the wait with that
// reason. The bridge's log is its log file from logFrom on, and the unit's
// journal since since.
func (a *Agent) waitHealthy(ctx context.Context, since time.Time, logFrom int64, breweries []string) error {
	deadline := a.clock.Now().Add(a.opts.HealthTimeout)
	last := "no answer yet"
	healthy := false
	for {
		journal, _ := a.sd.Journal(ctx, jitsi.SvcJVB, since)
		logged := journal + "\n" + a.fs.Tail(jitsi.JVBLogFile, logFrom)
		if strings.Contains(logged, jitsi.XMPPLoginRefused) {
			return fmt.Errorf("the JMS refused the bridge's XMPP login (%s): the secret differs from the JMS's, "+
				"or its account jvb@auth.<JMS> is missing", jitsi.XMPPLoginRefused)
		}
		if a.sd.IsFailed(ctx, jitsi.SvcJVB+".service") {
			why := lastLines(logged, 3)
			if why == "" {
				why = "see " + jitsi.JVBLogFile + " and journalctl -u " + jitsi.SvcJVB
			}
			return fmt.Errorf("%s failed: %s", jitsi.SvcJVB, why)
		}
		if !healthy {
			code, body, err := a.get(ctx, jitsi.HealthPath)
			switch {
			case err == nil && code == http.StatusOK:
				healthy = true
			case err == nil:
				last = fmt.Sprintf("HTTP %d %s", code, strings.TrimSpace(body))
			default:
				last = err.Error()
			}
		}
		missing := notJoined(logged, breweries)
		if healthy && len(missing) == 0 {
			return nil
		}
		if !a.clock.Now().Before(deadline) {
			if !healthy {
				return fmt.Errorf("%s not healthy at %s%s after %s: %s", jitsi.SvcJVB, a.opts.BridgeAPI, jitsi.HealthPath, a.opts.HealthTimeout, last)
			}
			return fmt.Errorf("%s is healthy but not in %s after %s: its XMPP login did not complete (is the JMS reachable on port %d, its prosody running?)",
				jitsi.SvcJVB, strings.Join(missing, ", "), a.opts.HealthTimeout, jitsi.XMPPPort)
		}
		if err := a.clock.Sleep(ctx, a.opts.HealthPoll); err != nil {
			return err
		}
	}
}

// breweries are the brewery rooms a bridge joins: one per shard.
func breweries(s node.Spec) []string {
	var out []string
	for _, sh := range s.Shards() {
		out = append(out, jitsi.BreweryJID(sh.JMSFQDN))
	}
	return out
}

// notJoined lists the rooms of which logged has no "Joined MUC" line.
func notJoined(logged string, rooms []string) []string {
	lower := strings.ToLower(logged)
	var out []string
	for _, r := range rooms {
		if !strings.Contains(lower, strings.ToLower(jitsi.MUCJoined+r)) {
			out = append(out, r)
		}
	}
	return out
}

// get asks the bridge's private API; the body is cut to a line's worth.
func (a *Agent) get(ctx context.Context, path string) (int, string, error) {
	return a.call(ctx, http.MethodGet, path, "")
}

func (a *Agent) call(ctx context.Context, method, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.opts.BridgeAPI+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(data), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
