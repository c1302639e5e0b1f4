package jvbconf

import (
	"fmt"
	"sort"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
)

// hocon answers lookups in a parsed jvb.conf, resolving substitutions.
type hocon struct {
	root   map[string]any
	getenv func(string) string
}

// resolve turns a value into a string: scalars as they are, substitutions
// from the file's own paths then the environment. ok is false for an unset
// optional substitution, an object or an array.
func (h hocon) resolve(v any, depth int) (string, bool, error) {
	switch x := v.(type) {
	case string:
		return x, true, nil
	case readback.Substitution:
		path := string(x)
		optional := strings.HasPrefix(path, "?")
		path = strings.TrimPrefix(path, "?")
		if depth > 8 {
			return "", false, fmt.Errorf("substitution ${%s}: too deeply nested (a cycle?)", path)
		}
		if target, ok := readback.Lookup(h.root, strings.Split(path, ".")...); ok {
			return h.resolve(target, depth+1)
		}
		if env := h.getenv(path); env != "" {
			return env, true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, fmt.Errorf("substitution ${%s}: no such setting or environment variable", path)
	}
	return "", false, nil
}

func (h hocon) stringAt(keys ...string) (string, bool) {
	v, ok := readback.Lookup(h.root, keys...)
	if !ok {
		return "", false
	}
	s, ok, err := h.resolve(v, 0)
	return s, ok && err == nil
}

func (h hocon) boolAt(def bool, keys ...string) bool {
	s, ok := h.stringAt(keys...)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	return def
}

// modernShards reads videobridge.apis.xmpp-client.configs.
func (h hocon) modernShards() ([]rawShard, error) {
	v, ok := readback.Lookup(h.root, "videobridge", "apis", "xmpp-client", "configs")
	if !ok {
		return nil, nil
	}
	configs, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: videobridge.apis.xmpp-client.configs is not an object", ModernFile)
	}
	byID := map[string]*rawShard{}
	ids := make([]string, 0, len(configs))
	for id := range configs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		obj, ok := configs[id].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: videobridge.apis.xmpp-client.configs.%s is not an object", ModernFile, id)
		}
		e := &rawShard{id: id, source: ModernFile, fields: map[string]string{}}
		for k, fv := range obj {
			s, ok, err := h.resolve(fv, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: xmpp-client.configs.%s.%s: %w", ModernFile, id, k, err)
			}
			if ok {
				e.fields[strings.ToLower(k)] = s
			}
		}
		byID[id] = e
	}
	return sortedShards(byID), nil
}
