package jitsi

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
)

// ParseOSRelease reads os-release(5) content: KEY=value lines, values
// optionally in single or double quotes (with \-escapes inside double quotes).
func ParseOSRelease(content string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[k] = unquoteOSRelease(v)
	}
	return out
}

func unquoteOSRelease(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// DetectOS maps os-release content to a supported release, or explains why
// the machine cannot be baked.
func DetectOS(osRelease string) (jitsi.OS, error) {
	kv := ParseOSRelease(osRelease)
	id, ver := kv["ID"], kv["VERSION_ID"]
	if o, ok := jitsi.LookupOS(id, ver); ok {
		return o, nil
	}
	if r, ok := jitsi.LookupRetired(id, ver); ok {
		return jitsi.OS{}, fmt.Errorf("detect operating system: %s (%s) is no longer supported: %s", r.OS, r.Codename, r.Why)
	}
	name := strings.TrimSpace(id + " " + ver)
	if pretty := kv["PRETTY_NAME"]; pretty != "" {
		name = fmt.Sprintf("%s (%s)", name, pretty)
	}
	if id == "" {
		name = "an operating system without ID in /etc/os-release"
	}
	return jitsi.OS{}, fmt.Errorf("detect operating system: %s is not supported; the jitsi provisioner bakes %s",
		name, jitsi.SupportedOSList())
}
