package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// cloud-init's record of the instance id: one line, from 18.2 to 26.x.
const instanceIDFile = "/var/lib/cloud/data/instance-id"

// instanceID is cloud-init's id of this instance: the file cloud-init
// writes, else `cloud-init query instance_id` (18.4+).
func (a *Agent) instanceID(ctx context.Context) (string, error) {
	id := ""
	if data, err := a.fs.ReadFile(instanceIDFile); err == nil {
		id = strings.TrimSpace(string(data))
	}
	if id == "" {
		out, err := a.run.Run(ctx, system.Cmd{Name: "cloud-init", Args: []string{"query", "instance_id"}})
		if err != nil {
			return "", fmt.Errorf("read the instance id (%s, cloud-init query instance_id): %w", instanceIDFile, err)
		}
		id = strings.TrimSpace(string(out))
	}
	if id == "" || len(id) > regapi.MaxInstanceIDLen || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", fmt.Errorf("read the instance id: %q is not an instance id", id)
	}
	return id, nil
}

// groupIdentity returns this group bridge's identity: the one it claimed on
// this instance before, or a new claim from the registry. The claim is
// retried while the registry is unreachable, busy or failing (connection
// errors, 429, 5xx), with a capped exponential backoff, for at most
// ClaimTimeout; any other refusal fails at once. It never invents a name: a
// bridge without a claimed nickname is not started.
func (a *Agent) groupIdentity(ctx context.Context, s node.Spec) (identity, error) {
	iid, err := a.instanceID(ctx)
	if err != nil {
		return identity{}, err
	}
	var id identity
	ok, err := a.readJSON(jitsi.IdentityState, &id)
	if err != nil {
		return identity{}, err
	}
	if ok && id.InstanceID == iid && id.Shard == s.JMSFQDN {
		a.log.secret(id.Credential)
		return id, nil
	}
	if ok {
		a.log.printf("identity of instance %s found on instance %s (a copied disk?): claiming a new one", id.InstanceID, iid)
	}
	key, err := a.claimKey(iid)
	if err != nil {
		return identity{}, err
	}
	client, err := a.registryClient(s.Registry, s.Registry.Credential)
	if err != nil {
		return identity{}, err
	}
	defer client.Close()

	image := a.imageID()
	deadline := a.clock.Now().Add(a.opts.ClaimTimeout)
	backoff := a.opts.ClaimBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, a.opts.RegistryAttempt)
		res, err := client.ClaimInGroup(actx, regapi.GroupClaim{InstanceID: iid, ClaimKey: key.Key, ImageID: image})
		cancel()
		if err == nil {
			return a.keepIdentity(s, iid, res)
		}
		if ctx.Err() != nil {
			return identity{}, ctx.Err()
		}
		if !retryable(err) {
			return identity{}, fmt.Errorf("registry refused the claim of group %s: %s: no nickname claimed, bridge not started",
				s.Group, a.log.redact(err.Error()))
		}
		if !a.clock.Now().Add(backoff).Before(deadline) {
			return identity{}, fmt.Errorf("registry %s unreachable for %s (%d attempts; last: %s): no nickname claimed, bridge not started",
				s.Registry.URL, a.opts.ClaimTimeout, attempt, a.log.redact(err.Error()))
		}
		a.log.printf("registry not reachable (%s); retrying the claim in %s", a.log.redact(err.Error()), backoff)
		if err := a.clock.Sleep(ctx, backoff); err != nil {
			return identity{}, err
		}
		backoff = min(2*backoff, a.opts.ClaimBackoffMax)
	}
}

// retryable: the registry is unreachable, overloaded or failing, so the
// same claim may succeed later.
func retryable(err error) bool {
	var ae *regapi.Error
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	return true // no answer: connection refused, timeout, TLS on a starting server
}

// claimKey returns this instance's claim key, made and saved (root 0600)
// before the first attempt.
func (a *Agent) claimKey(iid string) (claimKey, error) {
	var k claimKey
	ok, err := a.readJSON(jitsi.ClaimKeyState, &k)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if ok && k.InstanceID == iid && k.Key != "" {
		a.log.secret(k.Key)
		return k, nil
	}
	k = newClaimKey(iid)
	a.log.secret(k.Key)
	if err := a.writeJSON(jitsi.ClaimKeyState, stateModeSecret, k); err != nil {
		return k, fmt.Errorf("save the claim key: %w", err)
	}
	return k, nil
}

// keepIdentity checks the registry's answer and saves it (root 0600).
func (a *Agent) keepIdentity(s node.Spec, iid string, res regapi.ClaimResult) (identity, error) {
	a.log.secret(res.Credential)
	n := res.Node
	switch {
	case node.NicknameProblem(n.Nickname) != "":
		return identity{}, fmt.Errorf("registry answered the claim with nickname %q: %s", n.Nickname, node.NicknameProblem(n.Nickname))
	case n.Shard != s.JMSFQDN:
		return identity{}, fmt.Errorf("registry answered the claim with shard %q, but this node serves %q: check the group's record", n.Shard, s.JMSFQDN)
	case regapi.CheckToken(res.Credential) != nil:
		return identity{}, fmt.Errorf("registry answered the claim without a usable node credential")
	}
	id := identity{InstanceID: iid, Shard: n.Shard, Nickname: n.Nickname, NodeID: n.ID, Credential: res.Credential}
	if err := a.writeJSON(jitsi.IdentityState, stateModeSecret, id); err != nil {
		return identity{}, fmt.Errorf("save the claimed identity: %w", err)
	}
	a.log.printf("claimed nickname %s in group %s (node %d, instance %s)", n.Nickname, s.Group, n.ID, iid)
	return id, nil
}
