// Package fleettest makes large fleets in a registry for tests and
// benchmarks (a TEST HELPER: nothing outside tests imports it).
package fleettest

import (
	"context"
	"fmt"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Shards are the JMSs a fleet's bridges are spread over.
var Shards = []string{"meet-a.example.org", "meet-b.example.org", "meet-c.example.org", "meet-d.example.org"}

// Images are the images a fleet's bridges booted from, in turn.
var Images = []string{"ami-0aaaaaaaaaaaaaaaa", "ami-0bbbbbbbbbbbbbbbb", ""}

// Fill records n bridges in s, spread over Shards and Images, a page of
// claims at a time; then every 100th is failed (with a reason) and every
// 100th (offset 50) retired, so a listing sees every kind of row.
func Fill(ctx context.Context, s regapi.Store, n int) error {
	var ids []int64
	for done := 0; done < n; {
		k := min(regapi.MaxClaimsPerRequest, n-done)
		reqs := make([]regapi.ClaimRequest, k)
		for i := range reqs {
			j := done + i
			reqs[i] = regapi.ClaimRequest{Shard: Shards[j%len(Shards)], Role: "jvb", Nickname: regapi.AutoNickname,
				ImageID: Images[j%len(Images)]}
		}
		nodes, err := s.Claim(ctx, reqs...)
		if err != nil {
			return fmt.Errorf("fill fleet: %w", err)
		}
		for _, nd := range nodes {
			ids = append(ids, nd.ID)
		}
		done += k
	}
	for i := 0; i < len(ids); i += 100 {
		if _, err := s.SetState(ctx, regapi.NodeRef{ID: ids[i]}, regapi.StateFailed,
			"the JMS refused the bridge's XMPP login (not-authorized): the secret differs from the JMS's"); err != nil {
			return fmt.Errorf("fill fleet: %w", err)
		}
		if j := i + 50; j < len(ids) {
			if _, err := s.SetState(ctx, regapi.NodeRef{ID: ids[j]}, regapi.StateRetired, "scaled in"); err != nil {
				return fmt.Errorf("fill fleet: %w", err)
			}
		}
	}
	return nil
}

// FillDir makes an embedded registry in dir holding a fleet of n.
func FillDir(ctx context.Context, dir string, n int) error {
	r, err := registry.Open(ctx, dir)
	if err != nil {
		return err
	}
	if err := Fill(ctx, r, n); err != nil {
		r.Close()
		return err
	}
	return r.Close()
}
