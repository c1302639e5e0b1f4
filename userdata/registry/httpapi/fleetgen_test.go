package httpapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// A TEST FIXTURE fleet, recorded through the registry's own verbs: images
// (an old and a new bridge image, a JMS image), shards, a group with
// members, and n issued bridges spread over the shards and images, of
// which 1% failed (with a reason), 1% draining and 1% retired.

var (
	fleetShards = []string{"meet-a.example.org", "meet-b.example.org", "meet-c.example.org", "meet-d.example.org"}
	fleetBuilt  = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	fleetImages = []regapi.Image{
		{ArtifactID: "eu-west-1:ami-0aaaaaaaaaaaaaaaa", BuildID: "b-20261101t100000z-aaaaaaaaaaaaaaaa", Role: "jvb", OS: "debian-12", Arch: "amd64",
			Versions: map[string]string{"jitsi-videobridge2": "2.3-160-g1"}, Built: fleetBuilt, AgentVersion: "0.2.0"},
		{ArtifactID: "eu-west-1:ami-0bbbbbbbbbbbbbbbb", BuildID: "b-20261115t100000z-bbbbbbbbbbbbbbbb", Role: "jvb", OS: "debian-12", Arch: "amd64",
			Versions: map[string]string{"jitsi-videobridge2": "2.3-174-g2"}, Built: fleetBuilt.AddDate(0, 0, 14), AgentVersion: "0.3.0"},
		{ArtifactID: "eu-west-1:ami-0cccccccccccccccc", Role: "jms", OS: "debian-12", Arch: "amd64",
			Versions: map[string]string{"jitsi-meet": "2.0.9955-1"}, Built: fleetBuilt, AgentVersion: "0.3.0"},
	}
)

// fleetImageOf is the image id the i-th bridge booted from: by artifact
// id, by build id (what a group member's agent sends), or none.
func fleetImageOf(i int) string {
	switch i % 4 {
	case 0:
		return fleetImages[0].ArtifactID
	case 1:
		return fleetImages[0].BuildID
	case 2:
		return fleetImages[1].ArtifactID
	}
	return ""
}

const fleetReason = "the JMS refused the bridge's XMPP login (not-authorized): the secret differs from the JMS's"

// fillFleet records the fixture fleet of n issued bridges in reg.
func fillFleet(tb testing.TB, reg *registry.Registry, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	for _, img := range fleetImages {
		if _, err := reg.RecordImage(ctx, img); err != nil {
			tb.Fatal(err)
		}
	}
	var ids []int64
	for done := 0; done < n; {
		k := min(regapi.MaxClaimsPerRequest, n-done)
		reqs := make([]regapi.ClaimRequest, k)
		for i := range reqs {
			j := done + i
			reqs[i] = regapi.ClaimRequest{Shard: fleetShards[j%len(fleetShards)], Role: "jvb", Nickname: regapi.AutoNickname, ImageID: fleetImageOf(j)}
		}
		nodes, err := reg.Claim(ctx, reqs...)
		if err != nil {
			tb.Fatalf("fill fleet: %v", err)
		}
		for _, nd := range nodes {
			ids = append(ids, nd.ID)
		}
		done += k
	}
	for i, id := range ids {
		to, reason := regapi.StateActive, ""
		switch i % 100 {
		case 7:
			to, reason = regapi.StateFailed, fleetReason
		case 11:
			to = regapi.StateDraining
		case 13:
			to, reason = regapi.StateRetired, "scaled in"
		case 17, 19, 23:
			continue // issued: never reported
		default:
			// Big fleets: most stay issued (a write per node would take
			// minutes); a fifth of 10 000 is active.
			if n > 2000 && (i%100 >= 20 || n > 20_000) {
				continue
			}
		}
		if _, err := reg.SetState(ctx, regapi.NodeRef{ID: id}, to, reason); err != nil {
			tb.Fatalf("fill fleet: %v", err)
		}
	}
	tb.Logf("recorded a fleet of %d bridges in %s", n, time.Since(start).Round(time.Millisecond))
}

// tally counts the registry's nodes by shard and state from its listing,
// which the aggregates must match.
func tally(tb testing.TB, reg *registry.Registry) map[string]int {
	tb.Helper()
	all, err := reg.Nodes(context.Background(), regapi.Filter{})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, n := range all {
		out[fmt.Sprintf("%s/%s/%s", n.Shard, n.Role, n.State)]++
	}
	return out
}
