// Package jvbconf reads a videobridge's XMPP shards and private HTTP API
// settings from /etc/jitsi/videobridge the way jitsi-videobridge2 does. It
// serves the e2e stand-in bridge (a TEST FIXTURE, see e2e/README.md): the
// point is that the e2e fails where a real bridge would, so the rules below
// are Jitsi's own:
//
//   - Modern shards: jvb.conf (HOCON), videobridge.apis.xmpp-client.configs.<id>
//     { hostname, port, domain, username, password, muc_jids, muc_nickname,
//     disable_certificate_verification }. Field names are case-insensitive.
//   - Legacy shards: sip-communicator.properties,
//     org.jitsi.videobridge.xmpp.user.<id>.<FIELD> (FIELD case-insensitive).
//   - Precedence: the legacy source is read first; when it yields at least
//     one COMPLETE shard, the legacy shards are used and jvb.conf's are not
//     read at all; when every legacy entry is incomplete (a stale key alone),
//     they are dropped and jvb.conf's shards are used.
//   - An entry missing hostname, username, password, muc_jids or muc_nickname
//     is ignored (the real bridge does so silently; Config.Ignored lists them
//     so the stand-in can say so).
//   - domain defaults to hostname, port to 5222.
//
// The HOCON and properties syntax is read by internal/readback, the project's
// one reader of those formats; ${VAR} and ${?VAR} substitutions are resolved
// against the file's own paths, then the process environment, as Typesafe
// Config does.
package jvbconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
)

// Files of /etc/jitsi/videobridge the bridge reads.
const (
	ModernFile = "jvb.conf"
	LegacyFile = "sip-communicator.properties"
)

// legacyPrefix starts every legacy XMPP shard key.
const legacyPrefix = "org.jitsi.videobridge.xmpp.user."

// propRESTShutdown is the legacy name of videobridge.rest.shutdown.enabled.
const propRESTShutdown = "org.jitsi.videobridge.ENABLE_REST_SHUTDOWN"

// DefaultHTTPAddr is where the real bridge's private HTTP server listens.
const DefaultHTTPAddr = "127.0.0.1:8080"

// Shard is one XMPP connection of the bridge: one JMS it serves.
type Shard struct {
	ID       string
	Hostname string
	Port     int
	Domain   string
	Username string
	Password string
	MUCJIDs  []string
	Nickname string
	// InsecureTLS is disable_certificate_verification.
	InsecureTLS bool
	// Source is the file the shard came from (ModernFile or LegacyFile).
	Source string
}

// Config is what the stand-in bridge acts on.
type Config struct {
	Shards []Shard
	// Ignored names each incomplete shard and what it lacks.
	Ignored []string
	// HTTPAddr is videobridge.http-servers.private host:port.
	HTTPAddr string
	// RESTEnabled is videobridge.apis.rest.enabled (default false): it gates
	// /colibri/stats and POST /colibri/shutdown. (Bridges before stable 8044
	// let a --apis command-line argument override it: see the stand-in.)
	RESTEnabled bool
	// ShutdownEnabled is videobridge.rest.shutdown.enabled (default false):
	// POST /colibri/shutdown needs it AND RESTEnabled.
	ShutdownEnabled bool
	// DrainEnabled is videobridge.rest.drain.enabled (default true; the
	// endpoint exists from stable 6865).
	DrainEnabled bool
	// Harvest is the address discovery ice4j would do.
	Harvest Harvest
	// Health is what the health checker reads.
	Health Health
}

// Load reads dir/jvb.conf and dir/sip-communicator.properties; a missing
// file counts as empty, as it does for the bridge.
func Load(dir string, getenv func(string) string) (Config, error) {
	modern, err := readOptional(filepath.Join(dir, ModernFile))
	if err != nil {
		return Config{}, err
	}
	legacy, err := readOptional(filepath.Join(dir, LegacyFile))
	if err != nil {
		return Config{}, err
	}
	return Parse(modern, legacy, getenv)
}

func readOptional(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}

// Parse is Load on the files' contents.
func Parse(jvbConf, sipProps string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	tree, err := readback.HOCON(jvbConf)
	if err != nil {
		return Config{}, fmt.Errorf("parse %s: %w", ModernFile, err)
	}
	props, err := readback.JavaProperties(sipProps)
	if err != nil {
		return Config{}, fmt.Errorf("parse %s: %w", LegacyFile, err)
	}
	h := hocon{root: tree, getenv: getenv}
	cfg := Config{
		HTTPAddr:        DefaultHTTPAddr,
		RESTEnabled:     h.boolAt(false, "videobridge", "apis", "rest", "enabled"),
		ShutdownEnabled: h.boolAt(false, "videobridge", "rest", "shutdown", "enabled"),
		DrainEnabled:    h.boolAt(true, "videobridge", "rest", "drain", "enabled"),
		Health:          Health{RequireValidAddress: h.boolAt(true, "videobridge", "health", "require-valid-address")},
	}
	// The legacy name of the shutdown switch wins, as every legacy key does.
	if v, ok := props[propRESTShutdown]; ok {
		cfg.ShutdownEnabled = strings.EqualFold(strings.TrimSpace(v), "true")
	}
	if cfg.Harvest, err = h.harvest(props); err != nil {
		return Config{}, err
	}
	host, port := "127.0.0.1", "8080"
	if v, ok := h.stringAt("videobridge", "http-servers", "private", "host"); ok {
		host = v
	}
	if v, ok := h.stringAt("videobridge", "http-servers", "private", "port"); ok {
		port = v
	}
	cfg.HTTPAddr = host + ":" + port

	// The legacy source is read first; it wins only with at least one
	// complete entry (XmppClientConnectionConfig drops incomplete ones and,
	// when none is left, falls back to jvb.conf).
	legacy, ignored, err := complete(legacyShards(props))
	if err != nil {
		return Config{}, err
	}
	cfg.Ignored = ignored
	if len(legacy) > 0 {
		cfg.Shards = legacy
		return cfg, nil
	}
	entries, err := h.modernShards()
	if err != nil {
		return Config{}, err
	}
	modern, ignored, err := complete(entries)
	if err != nil {
		return Config{}, err
	}
	cfg.Shards, cfg.Ignored = modern, append(cfg.Ignored, ignored...)
	return cfg, nil
}

// complete keeps the entries that have every required field and names the
// others with what they lack.
func complete(entries []rawShard) (shards []Shard, ignored []string, err error) {
	for _, e := range entries {
		s, missing, err := e.shard()
		if err != nil {
			return nil, nil, err
		}
		if len(missing) > 0 {
			ignored = append(ignored, fmt.Sprintf("%s shard %q lacks %s", e.source, e.id, strings.Join(missing, ", ")))
			continue
		}
		shards = append(shards, s)
	}
	return shards, ignored, nil
}

// rawShard is one shard entry as strings, field names lower-cased.
type rawShard struct {
	id, source string
	fields     map[string]string
}

func legacyShards(props map[string]string) []rawShard {
	byID := map[string]*rawShard{}
	for k, v := range props {
		rest, ok := strings.CutPrefix(k, legacyPrefix)
		if !ok {
			continue
		}
		id, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		e := byID[id]
		if e == nil {
			e = &rawShard{id: id, source: LegacyFile, fields: map[string]string{}}
			byID[id] = e
		}
		e.fields[strings.ToLower(field)] = v
	}
	return sortedShards(byID)
}

func sortedShards(byID map[string]*rawShard) []rawShard {
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]rawShard, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	return out
}

func (e rawShard) shard() (Shard, []string, error) {
	var missing []string
	for _, f := range []string{"hostname", "username", "password", "muc_jids", "muc_nickname"} {
		if strings.TrimSpace(e.fields[f]) == "" {
			missing = append(missing, f)
		}
	}
	s := Shard{
		ID:          e.id,
		Source:      e.source,
		Hostname:    strings.TrimSpace(e.fields["hostname"]),
		Domain:      strings.TrimSpace(e.fields["domain"]),
		Username:    e.fields["username"],
		Password:    e.fields["password"],
		Nickname:    e.fields["muc_nickname"],
		Port:        5222,
		InsecureTLS: strings.EqualFold(strings.TrimSpace(e.fields["disable_certificate_verification"]), "true"),
	}
	if s.Domain == "" {
		s.Domain = s.Hostname
	}
	if p := strings.TrimSpace(e.fields["port"]); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Shard{}, nil, fmt.Errorf("%s shard %q: port %q is not a TCP port (1-65535)", e.source, e.id, p)
		}
		s.Port = n
	}
	for _, j := range strings.Split(e.fields["muc_jids"], ",") {
		if j = strings.TrimSpace(j); j != "" {
			s.MUCJIDs = append(s.MUCJIDs, j)
		}
	}
	return s, missing, nil
}
