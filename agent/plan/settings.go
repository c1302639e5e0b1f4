package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// The keys a file sets are read back from the file's content the way its
// reader reads it (HOCON like Typesafe Config, properties like Java, the
// shell config like a POSIX shell, units like systemd), so the plan shows
// what Jitsi will see, not what the writer meant.

// fileSettings returns the keys content sets, by the file's format.
func fileSettings(path string, content []byte) (map[string]string, error) {
	text := string(content)
	switch {
	case path == jitsi.JVBConf:
		m, err := readback.HOCON(text)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		flattenHOCON(out, "", m)
		return out, nil
	case path == jitsi.JVBProperties:
		return readback.JavaProperties(text)
	case path == jitsi.JVBShellConfig:
		return shellSettings(text)
	case strings.HasPrefix(path, jitsi.SystemdDir+"/"):
		return unitSettings(text), nil
	case strings.HasSuffix(path, ".yaml"):
		var doc map[string]any
		if err := yaml.Unmarshal(content, &doc); err != nil {
			return nil, fmt.Errorf("%s: %v", path, firstLineNumber(err.Error()))
		}
		out := map[string]string{}
		flattenYAML(out, "", doc)
		return out, nil
	}
	return nil, nil
}

// flattenHOCON writes nested objects as dotted keys; arrays and their
// objects as JSON.
func flattenHOCON(out map[string]string, prefix string, m map[string]any) {
	for k, v := range m {
		key := joinKey(prefix, hoconKey(k))
		switch v := v.(type) {
		case map[string]any:
			flattenHOCON(out, key, v)
		case string:
			out[key] = v
		default:
			out[key] = compactJSON(v)
		}
	}
}

// hoconKey quotes a path element that holds a dot.
func hoconKey(k string) string {
	if strings.ContainsAny(k, ". ") {
		return `"` + k + `"`
	}
	return k
}

func flattenYAML(out map[string]string, prefix string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			flattenYAML(out, joinKey(prefix, k), e)
		}
	case []any:
		if allScalars(v) {
			out[prefix] = compactJSON(v)
			return
		}
		for i, e := range v {
			flattenYAML(out, fmt.Sprintf("%s[%d]", prefix, i), e)
		}
	case nil:
		out[prefix] = ""
	default:
		s := fmt.Sprint(v)
		if strings.Contains(strings.TrimSpace(s), "\n") {
			s = fmt.Sprintf("<%d lines>", strings.Count(strings.TrimSpace(s), "\n")+1)
		}
		out[prefix] = s
	}
}

func allScalars(xs []any) bool {
	for _, x := range xs {
		switch x.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// compactJSON writes arrays and objects on one line, keys sorted.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// unitSettings reads a unit file as "Section.Key" = value (a key given
// twice keeps both values, joined with "; ").
func unitSettings(text string) map[string]string {
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			key := joinKey(section, strings.TrimSpace(k))
			if prev, ok := out[key]; ok {
				v = prev + "; " + strings.TrimSpace(v)
			}
			out[key] = strings.TrimSpace(v)
		}
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shellSettings are the variables the shell file sets: the interpreter's
// own (HOME, IFS, PWD, …) are those an empty file leaves as they are.
func shellSettings(text string) (map[string]string, error) {
	vars, err := readback.ShellAssignments(text)
	if err != nil {
		return nil, err
	}
	before, err := readback.ShellAssignments("")
	if err != nil {
		return nil, err
	}
	for k, v := range before {
		if vars[k] == v {
			delete(vars, k)
		}
	}
	return vars, nil
}
