package jvbconf

import (
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
)

// Harvest is what ice4j reads of the bridge's address discovery, with
// ice4j's precedence (read from its sources, see e2e/README.md):
//
//   - static mappings: jvb.conf's ice4j.harvest.mapping.static-mappings
//     [{ local-address, public-address, name }] AND the legacy pair
//     org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS / _PUBLIC_ADDRESS of
//     sip-communicator.properties: the union of both;
//   - STUN servers: the legacy STUN_MAPPING_HARVESTER_ADDRESSES wins over
//     ice4j.harvest.mapping.stun.addresses;
//   - the AWS harvester: the legacy DISABLE_AWS_HARVESTER (inverted) wins
//     over ice4j.harvest.mapping.aws.enabled, whose default is true (the
//     package's jvb.conf sets it false).
type Harvest struct {
	StaticMappings []Mapping
	STUNServers    []string
	// STUNSource is the file the STUN servers came from ("" when none).
	STUNSource string
	AWSEnabled bool
	// AWSSource is where AWSEnabled came from: a file, or "ice4j default".
	AWSSource string
}

// Mapping is one static NAT mapping: the bridge advertises Public for
// candidates gathered on Local.
type Mapping struct {
	Name   string
	Local  string
	Public string
	Source string
}

// Health is what JvbHealthChecker reads.
type Health struct {
	// RequireValidAddress is videobridge.health.require-valid-address
	// (default true, bridges since stable 9220): without an address that is
	// not site-local, link-local or loopback — on an interface or as the
	// public side of a mapping — the bridge is unhealthy.
	RequireValidAddress bool
}

// Legacy property names ice4j reads from sip-communicator.properties (they
// become system properties and win over jvb.conf).
const (
	propNATLocal  = "org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS"
	propNATPublic = "org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS"
	propSTUN      = "org.ice4j.ice.harvest.STUN_MAPPING_HARVESTER_ADDRESSES"
	propNoAWS     = "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER"
)

func (h hocon) harvest(props map[string]string) (Harvest, error) {
	out := Harvest{AWSEnabled: true, AWSSource: "ice4j default"}
	maps, err := h.staticMappings()
	if err != nil {
		return Harvest{}, err
	}
	out.StaticMappings = maps
	if local, public := strings.TrimSpace(props[propNATLocal]), strings.TrimSpace(props[propNATPublic]); local != "" && public != "" {
		out.StaticMappings = append(out.StaticMappings, Mapping{Name: "legacy", Local: local, Public: public, Source: LegacyFile})
	}
	if v, ok := props[propSTUN]; ok {
		out.STUNServers, out.STUNSource = splitList(v), LegacyFile
	} else if list, ok := h.stringsAt("ice4j", "harvest", "mapping", "stun", "addresses"); ok {
		out.STUNServers, out.STUNSource = list, ModernFile
	}
	if v, ok := props[propNoAWS]; ok {
		out.AWSEnabled, out.AWSSource = !strings.EqualFold(strings.TrimSpace(v), "true"), LegacyFile
	} else if _, ok := h.stringAt("ice4j", "harvest", "mapping", "aws", "enabled"); ok {
		out.AWSEnabled, out.AWSSource = h.boolAt(true, "ice4j", "harvest", "mapping", "aws", "enabled"), ModernFile
	}
	return out, nil
}

// staticMappings reads ice4j.harvest.mapping.static-mappings; an entry
// without both addresses is dropped, as ice4j drops it.
func (h hocon) staticMappings() ([]Mapping, error) {
	v, ok := readback.Lookup(h.root, "ice4j", "harvest", "mapping", "static-mappings")
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: ice4j.harvest.mapping.static-mappings is not a list", ModernFile)
	}
	var out []Mapping
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: ice4j.harvest.mapping.static-mappings[%d] is not an object", ModernFile, i)
		}
		field := func(k string) (string, error) {
			fv, ok := obj[k]
			if !ok {
				return "", nil
			}
			s, _, err := h.resolve(fv, 0)
			if err != nil {
				return "", fmt.Errorf("%s: static-mappings[%d].%s: %w", ModernFile, i, k, err)
			}
			return strings.TrimSpace(s), nil
		}
		m := Mapping{Source: ModernFile}
		var err error
		if m.Name, err = field("name"); err != nil {
			return nil, err
		}
		if m.Local, err = field("local-address"); err != nil {
			return nil, err
		}
		if m.Public, err = field("public-address"); err != nil {
			return nil, err
		}
		if m.Local != "" && m.Public != "" {
			out = append(out, m)
		}
	}
	return out, nil
}

// stringsAt reads a list of strings (or one comma-separated string).
func (h hocon) stringsAt(keys ...string) ([]string, bool) {
	v, ok := readback.Lookup(h.root, keys...)
	if !ok {
		return nil, false
	}
	if list, ok := v.([]any); ok {
		var out []string
		for _, e := range list {
			if s, ok, err := h.resolve(e, 0); ok && err == nil && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return out, true
	}
	s, ok := h.stringAt(keys...)
	return splitList(s), ok
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
