package agent

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
)

// applyFirewall opens the role's ports when the image asks for firewall
// rules and the firewall is installed: `ufw allow`, one rule per port (and
// source network), which ufw skips when it already has it. It never
// enables ufw: where it is inactive the rules wait for the operator to
// enable it, SSH allowed.
func (a *Agent) applyFirewall(ctx context.Context, img nodeconfig.Image, s node.Spec) error {
	fw := img.Firewall
	if fw == nil {
		return nil
	}
	if _, err := a.run.LookPath(jitsi.FirewallUFW); err != nil {
		a.log.printf("firewall: %s is not installed: no rules written (the image asks for %s rules; install it and run jitsi-node apply)", jitsi.FirewallUFW, jitsi.FirewallUFW)
		return nil
	}
	var added, kept []string
	for _, p := range jitsi.RolePorts(s.Role, s.LocalBridge) {
		for _, args := range ufwRules(p, fw.BridgeNetworks) {
			out, err := a.run.Run(ctx, system.Cmd{Name: jitsi.FirewallUFW, Args: args})
			if err != nil {
				return fmt.Errorf("firewall: %s %s: %v: %s", jitsi.FirewallUFW, strings.Join(args, " "), err, lastLines(string(out), 2))
			}
			what := p.String()
			if p.BridgesOnly && len(fw.BridgeNetworks) > 0 {
				what += " from " + args[4]
			}
			if strings.Contains(string(out), "Skipping") {
				kept = append(kept, what)
			} else {
				added = append(added, what)
			}
		}
		if p.BridgesOnly && len(fw.BridgeNetworks) == 0 {
			a.log.printf("firewall: %s (%s) is open to any address: bake the image with firewall_bridge_networks to open it to the bridges only", p, p.What)
		}
	}
	switch {
	case len(added) > 0:
		a.log.printf("firewall: %s rules added: %s", jitsi.FirewallUFW, strings.Join(added, ", "))
	default:
		a.log.printf("firewall: %s already has the rules: %s", jitsi.FirewallUFW, strings.Join(kept, ", "))
	}
	status, _ := a.run.Run(ctx, system.Cmd{Name: jitsi.FirewallUFW, Args: []string{"status"}})
	if !strings.Contains(string(status), "Status: active") {
		a.log.printf("firewall: %s is not active: the rules apply once you enable it (allow SSH first)", jitsi.FirewallUFW)
	}
	return nil
}

// ufwRules are the `ufw` arguments that open p: from anywhere, or, for a
// port only bridges use, from each of their networks when given.
func ufwRules(p jitsi.Port, bridgeNetworks []string) [][]string {
	comment := jitsi.UFWCommentPrefix + p.What
	if !p.BridgesOnly || len(bridgeNetworks) == 0 {
		return [][]string{{"allow", p.String(), "comment", comment}}
	}
	rules := make([][]string, 0, len(bridgeNetworks))
	for _, n := range bridgeNetworks {
		rules = append(rules, []string{"allow", "proto", p.Proto, "from", n, "to", "any", "port", strconv.Itoa(p.Number), "comment", comment})
	}
	return rules
}
